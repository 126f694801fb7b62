"""Tree ensembles: the XGBoost wrapper, the random forest, and both compiled into flat NumPy arrays.

The compiled arrays serve two purposes: one-row prediction in tens of microseconds (no
per-tree Python work), and storage. A forest is saved as those arrays in an ``.npz`` read
with ``allow_pickle=False`` and comes back as :class:`CompiledForestClassifier`, so loading
a model runs no code from the file; XGBoost models use xgboost's own UBJ format.
"""

from __future__ import annotations

import json
import re
import warnings
import zipfile
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from landmark_asl._util import gpu_available, import_extra, load_json
from landmark_asl.exceptions import LandmarkASLError, ModelLoadError

_DEVICES = ("auto", "cpu", "cuda")
_XGB_FILE = "xgb_model.ubj"
_TREES_FILE = "trees.npz"
#: Version of the layout of :data:`_TREES_FILE`.
TREES_ARTIFACT_VERSION = 1
#: Most bytes the arrays of one ``trees.npz`` may declare (the shipped forest's take about 40 MB).
MAX_TREES_BYTES = 1 << 30
#: Largest |sum of leaf values| of an XGBoost class (a margin): beyond it probabilities overflow float32.
MAX_XGB_MARGIN = 1e30
#: The arrays of ``trees.npz``: name -> dtype kinds accepted ('i' signed int, 'u' unsigned, 'f' float, 'b' bool, 'U' text).
_TREES_ARRAYS = {
    "artifact_version": "iu", "classes": "U", "n_features_in": "iu", "depth": "iu", "feature": "iu",
    "threshold": "f", "child": "iu", "missing_left": "b", "leaf": "f", "roots": "iu",
}


def _xgboost_has_cuda() -> bool:
    """Whether the installed xgboost was built with CUDA (``xgboost-cpu``, the ``xgb`` extra, is not)."""
    xgb = import_extra("xgboost", extra="xgb", purpose="xgb models")
    return bool(xgb.build_info().get("USE_CUDA"))


def _resolve_device(device: str, tree_method: str) -> tuple[str, str]:
    """Map (device, tree_method) to what xgboost 3 accepts: ('cpu'|'cuda', 'hist'|'approx'|'exact')."""
    if device not in _DEVICES:
        raise ValueError(f"device must be one of {_DEVICES}; got {device!r}")
    if tree_method == "gpu_hist":
        warnings.warn(
            "tree_method='gpu_hist' is deprecated (an error in xgboost 3): using tree_method='hist' "
            "with device='cuda'. Pass tree_method='hist', device='cuda' instead.",
            FutureWarning,
            stacklevel=3,
        )
        return "cuda", "hist"
    if tree_method not in ("hist", "approx", "exact", "auto"):
        raise ValueError(f"tree_method must be 'hist', 'approx', 'exact' or 'gpu_hist'; got {tree_method!r}")
    if device == "auto":
        device = "cuda" if gpu_available() and _xgboost_has_cuda() else "cpu"
    return device, ("hist" if tree_method == "auto" else tree_method)


class XGBLandmarkClassifier(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees (xgboost) as a scikit-learn classifier with string labels.

    Labels are encoded once from the sorted label set to 0..K-1; ``classes_`` holds the
    labels and predictions are labels. Single-row prediction uses
    ``Booster.inplace_predict`` on CPU, which skips building a DMatrix.

    Parameters
    ----------
    n_estimators : int, default=200
        Boosting rounds (each grows one tree per class).
    max_depth : int, default=4
    learning_rate : float, default=0.1
    subsample : float, default=0.8
    colsample_bytree : float, default=0.3
    min_child_weight : float, default=1.0
    reg_lambda : float, default=1.0
    tree_method : {'hist', 'approx', 'exact', 'gpu_hist'}, default='hist'
        ``'gpu_hist'`` (removed in xgboost 3) is mapped to ``'hist'`` on CUDA with a
        FutureWarning.
    device : {'auto', 'cpu', 'cuda'}, default='auto'
        Training device; ``'auto'`` picks CUDA when a GPU is visible. Prediction always
        runs on CPU (inputs are NumPy arrays).
    n_jobs : int, default=1
        Training threads.
    random_state : int, default=0

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted labels.
    booster_ : xgboost.Booster
    n_features_in_ : int
    device_ : str
        Device actually used for training.
    """

    #: Storage kind written into a model card, and the files :meth:`load_artifact` reads.
    STORAGE = "xgboost-ubj"
    ARTIFACT_FILES = (_XGB_FILE,)

    _parameter_constraints: dict = {
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "max_depth": [Interval(Integral, 0, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "subsample": [Interval(Real, 0, 1, closed="right")],
        "colsample_bytree": [Interval(Real, 0, 1, closed="right")],
        "min_child_weight": [Interval(Real, 0, None, closed="left")],
        "reg_lambda": [Interval(Real, 0, None, closed="left")],
        "tree_method": [StrOptions({"hist", "approx", "exact", "gpu_hist"})],
        "device": [StrOptions({"auto", "cpu", "cuda"}), str],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_estimators: int = 200,
        max_depth: int = 4,
        learning_rate: float = 0.1,
        subsample: float = 0.8,
        colsample_bytree: float = 0.3,
        min_child_weight: float = 1.0,
        reg_lambda: float = 1.0,
        tree_method: str = "hist",
        device: str = "auto",
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.tree_method = tree_method
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _xgb_params(self, device: str, tree_method: str, n_classes: int) -> dict[str, Any]:
        return {
            "objective": "multi:softprob",
            "num_class": n_classes,
            "max_depth": self.max_depth,
            "learning_rate": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "min_child_weight": self.min_child_weight,
            "reg_lambda": self.reg_lambda,
            "tree_method": tree_method,
            "device": device,
            "nthread": self.n_jobs,
            "seed": self.random_state,
            "verbosity": 1,
        }

    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> XGBLandmarkClassifier:
        """Fit the booster.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            NaN is treated as missing.
        y : array-like of shape (n_samples,)
            Labels (strings or any sortable values).
        sample_weight : array-like of shape (n_samples,), optional
            Per-row weights (e.g. ``training.dataset_weights``).

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, train=None)

    def fit_distributed(self, X: np.ndarray, y: np.ndarray, train, sample_weight: np.ndarray | None = None
                        ) -> XGBLandmarkClassifier:
        """Fit with another trainer, e.g. ``xgboost.dask`` on a cluster (:mod:`landmark_asl.data.distributed`).

        ``train(X, codes, weight, params)`` gets the validated float32 inputs, the label codes
        0..K-1, the weights (or None) and the booster parameters (``n_estimators`` included),
        and returns an ``xgboost.Booster``. Everything else is as :meth:`fit`.
        """
        return self._fit(X, y, sample_weight, train=train)

    def _fit(self, X, y, sample_weight, *, train) -> XGBLandmarkClassifier:
        xgb = import_extra("xgboost", extra="xgb", purpose="xgb models")

        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float32)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"XGBLandmarkClassifier needs at least 2 classes in y; got 1 class: {self.classes_[0]!r}"
            )
        device, tree_method = _resolve_device(self.device, self.tree_method)
        self.device_ = device
        params = self._xgb_params(device, tree_method, len(self.classes_))
        weight = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float32)
        if weight is not None and weight.shape != (X.shape[0],):
            raise ValueError(f"sample_weight must have shape ({X.shape[0]},); got {weight.shape}")
        if train is not None:
            self.booster_ = train(X, codes, weight, {**params, "n_estimators": self.n_estimators})
        else:
            matrix = xgb.QuantileDMatrix if tree_method == "hist" else xgb.DMatrix
            dtrain = matrix(X, label=codes, weight=weight)
            self.booster_ = xgb.train(params, dtrain, num_boost_round=self.n_estimators)
        # Predict on CPU with one thread: inputs are NumPy rows, and threads cost more than
        # they save for the one-row live path.
        self.booster_.set_param({"device": "cpu", "nthread": 1})
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        check_is_fitted(self, "booster_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float32)
        return self.predict_proba_array(X)

    def predict_proba_array(self, X: np.ndarray) -> np.ndarray:
        """:meth:`predict_proba` without validation; X float32 of shape (n_samples, n_features)."""
        proba = self.booster_.inplace_predict(X)
        return proba.reshape(X.shape[0], len(self.classes_))

    def predict_proba_one(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for one row x of shape (n_features,), shape (n_classes,).

        Uses the booster compiled to NumPy arrays (:class:`CompiledTrees`), which avoids
        xgboost's per-call overhead; same probabilities as :meth:`predict_proba` up to
        float rounding.
        """
        check_is_fitted(self, "booster_")
        compiled = getattr(self, "compiled_", None)
        if compiled is None:
            compiled = self.compiled_ = CompiledTrees.from_xgboost(self.booster_, len(self.classes_))
        return compiled.predict_proba_one(x)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted labels, ndarray of shape (n_samples,)."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    # Persistence hooks (see landmark_asl.model.store): xgboost's own UBJ format, no pickle.
    def save_artifact(self, directory: str | Path) -> list[str]:
        """Write the booster (with classes and feature count as attributes) to ``directory``.

        Returns
        -------
        list of str
            File names written, relative to ``directory``.
        """
        check_is_fitted(self, "booster_")
        _check_before_saving(CompiledTrees.from_xgboost(self.booster_, len(self.classes_)), self.n_features_in_)
        self.booster_.set_attr(
            landmark_asl_classes=json.dumps([str(c) for c in self.classes_]),
            landmark_asl_n_features=str(self.n_features_in_),
        )
        self.booster_.save_model(str(Path(directory) / _XGB_FILE))
        return [_XGB_FILE]

    @classmethod
    def load_artifact(cls, directory: str | Path, params: dict[str, Any]) -> XGBLandmarkClassifier:
        """Rebuild a fitted classifier from :meth:`save_artifact` output and its params."""
        xgb = import_extra("xgboost", extra="xgb", purpose="xgb models")


        path = Path(directory) / _XGB_FILE
        model = cls(**params)
        booster = xgb.Booster()
        try:
            data = path.read_bytes() if path.stat().st_size <= MAX_TREES_BYTES else b""
            check_ubjson(data)  # xgboost allocates whatever a length in the file declares
            booster.load_model(bytearray(data))
        except ValueError as exc:
            raise ModelLoadError(f"cannot read the XGBoost model {path}: {exc}; the file is corrupt: "
                                 "save the model again") from exc
        except xgb.core.XGBoostError as exc:
            raise ModelLoadError(f"cannot read the XGBoost model {path}: {_xgboost_reason(exc)}; "
                                 "the file is corrupt: save the model again") from exc
        booster.set_param({"device": "cpu", "nthread": 1})
        try:
            classes = load_json(booster.attr("landmark_asl_classes") or "null")
            if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
                raise ValueError("its landmark_asl_classes attribute is not a list of two or more labels")
            n_features = int(booster.attr("landmark_asl_n_features") or "")
            if n_features != booster.num_features():
                raise ValueError(f"it says {n_features} features but its trees take {booster.num_features()}")
            compiled = CompiledTrees.from_xgboost(booster, len(classes))
            compiled.check(n_features)
        except (ValueError, KeyError, TypeError, IndexError, xgb.core.XGBoostError) as exc:
            reason = _xgboost_reason(exc) if isinstance(exc, xgb.core.XGBoostError) else exc
            raise ModelLoadError(f"the XGBoost model {path} is not a valid landmark_asl model: {reason}; "
                                 "save the model again") from exc
        model.booster_ = booster
        model.classes_ = np.asarray(classes)
        model.n_features_in_ = n_features
        model.compiled_ = compiled
        model.device_ = "cpu"
        return model

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


_UBJ_SIZES = {"i": 1, "U": 1, "C": 1, "I": 2, "l": 4, "d": 4, "L": 8, "D": 8, "Z": 0, "N": 0, "T": 0, "F": 0}
_UBJ_INTS = {"i": ">i1", "U": ">u1", "I": ">i2", "l": ">i4", "L": ">i8"}


def check_ubjson(data: bytes, *, max_depth: int = 64) -> None:
    """Walk a UBJSON document (XGBoost's ``.ubj``) and raise ValueError unless every length fits the data.

    XGBoost trusts the lengths and counts in the file and allocates what they declare, so a
    few crafted bytes can ask for terabytes; here each string length and container count
    must fit in the bytes that remain, containers nest at most ``max_depth`` deep, and the
    document is one complete value.
    """
    if not data:
        raise ValueError("the file is empty or larger than a model can be")
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        if n < 0 or pos + n > len(data):
            raise ValueError(f"byte {pos}: a length of {n:,} runs past the end of the file ({len(data):,} bytes)")
        pos += n
        return data[pos - n:pos]

    def marker() -> str:
        char = chr(take(1)[0])
        while char == "N":
            char = chr(take(1)[0])
        return char

    def integer(kind: str) -> int:
        if kind not in _UBJ_INTS:
            raise ValueError(f"byte {pos}: expected an integer length, found marker {kind!r}")
        return int(np.frombuffer(take(_UBJ_SIZES[kind]), dtype=_UBJ_INTS[kind])[0])

    def value(kind: str, depth: int) -> None:
        if kind in _UBJ_SIZES:
            take(_UBJ_SIZES[kind])
        elif kind in "SH":
            take(integer(marker()))
        elif kind in "[{":
            if depth >= max_depth:
                raise ValueError(f"containers nested deeper than {max_depth}")
            container(kind, depth + 1)
        else:
            raise ValueError(f"byte {pos - 1}: unknown UBJSON marker {kind!r}")

    def container(kind: str, depth: int) -> None:
        nonlocal pos
        typed = count = None
        if data[pos:pos + 1] == b"$":
            take(1)
            typed = chr(take(1)[0])
        if data[pos:pos + 1] == b"#":
            take(1)
            count = integer(marker())
            if count < 0 or count * max(_UBJ_SIZES.get(typed, 1), 1) > len(data) - pos:
                raise ValueError(f"byte {pos}: a count of {count:,} does not fit in the file")
        elif typed is not None:
            raise ValueError(f"byte {pos}: a typed container needs a count")
        end = "]" if kind == "[" else "}"
        done = 0
        while count is None or done < count:
            if count is None:
                next_marker = marker()
                if next_marker == end:
                    return
                pos -= 1
            if kind == "{":
                take(integer(marker()))  # the key
            value(typed if typed is not None else marker(), depth)
            done += 1

    value(marker(), 0)
    if pos != len(data):
        raise ValueError(f"{len(data) - pos:,} bytes follow the end of the document")


def _xgboost_reason(exc: Exception) -> str:
    """The first line of an XGBoostError without its time stamp and source position (not its native stack trace)."""

    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return re.sub(r"^\[[\d:]+\] \S+: ", "", first)[:200]


def _flatten_trees(trees: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate trees into flat arrays laid out so that a node's right child follows its left.

    Each tree is a dict of per-node arrays ``left``, ``right`` (-1 at leaves), ``feature``,
    ``threshold`` (go right when ``x > threshold``), ``missing_left`` (bool) and ``leaf``
    (leaf value(s), shape (n_nodes,) or (n_nodes, k)). Internal node number k of a tree
    gets its children at positions 1 + 2k and 2 + 2k, so one step is
    ``node = child[node] + (x[feature[node]] > threshold[node])``; a leaf is its own child
    with threshold +inf, so extra steps leave it in place.
    """
    feature, threshold, child, missing_left, leaf, roots = [], [], [], [], [], []
    offset = 0
    for t in trees:
        left, right = t["left"], t["right"]
        n = len(left)
        internal = left >= 0
        ordinal = np.cumsum(internal) - 1
        pos = np.zeros(n, dtype=np.intp)
        ids = np.flatnonzero(internal)
        pos[left[ids]] = 1 + 2 * ordinal[ids]
        pos[right[ids]] = 2 + 2 * ordinal[ids]
        f = np.zeros(n, dtype=np.intp)
        thr = np.full(n, np.inf)
        ch = np.empty(n, dtype=np.intp)
        ml = np.ones(n, dtype=bool)
        f[pos[ids]] = t["feature"][ids]
        thr[pos[ids]] = t["threshold"][ids]
        ml[pos[ids]] = t["missing_left"][ids]
        ch[pos] = np.where(internal, 1 + 2 * ordinal, pos)
        value = np.empty_like(t["leaf"])
        value[pos] = t["leaf"]
        feature.append(f), threshold.append(thr), child.append(ch + offset)
        missing_left.append(ml), leaf.append(value), roots.append(offset)
        offset += n
    return {
        "feature": np.concatenate(feature),
        "threshold": np.concatenate(threshold),
        "child": np.concatenate(child),
        "missing_left": np.concatenate(missing_left),
        "leaf": np.concatenate(leaf),
        "roots": np.asarray(roots, dtype=np.intp),
    }


class CompiledTrees:
    """Tree ensemble flattened into NumPy arrays: one-row prediction traverses all trees at once.

    Built by :meth:`from_sklearn` (random forest: mean of normalised leaf class
    distributions, same probabilities as ``predict_proba``) or :meth:`from_xgboost`
    (softmax of per-class sums of leaf values, same as ``Booster.predict``). Each step
    gathers every tree's current node and moves left or right; the cost is a handful of
    NumPy calls per tree level instead of Python work per tree.
    """

    def __init__(self, arrays: dict[str, np.ndarray], depth: int, kind: str, n_classes: int) -> None:
        self.feature = arrays["feature"]
        self.threshold = arrays["threshold"]
        self.child = arrays["child"]
        self.missing_left = arrays["missing_left"]
        self.leaf = arrays["leaf"]
        self.roots = arrays["roots"]
        self.depth = int(depth)
        self.kind = kind
        self.n_classes = int(n_classes)
        self.is_leaf = np.isinf(self.threshold)
        self._mean_weights = np.full(len(self.roots), 1.0 / max(len(self.roots), 1))  # no trees: check() says so
        if kind == "xgb":
            self.tree_class = arrays["tree_class"]

    @classmethod
    def from_sklearn(cls, forest: RandomForestClassifier) -> CompiledTrees:
        """Compile a fitted single-output ``RandomForestClassifier``."""
        check_is_fitted(forest)
        trees = []
        for est in forest.estimators_:
            t = est.tree_
            v = t.value[:, 0, :]
            trees.append(
                {
                    "left": t.children_left.astype(np.intp),
                    "right": t.children_right.astype(np.intp),
                    "feature": t.feature.astype(np.intp),
                    # scikit-learn goes left when float32(x) <= threshold
                    "threshold": t.threshold,
                    "missing_left": t.missing_go_to_left.astype(bool),
                    "leaf": v / np.maximum(v.sum(axis=1, keepdims=True), 1e-300),
                }
            )
        depth = max(est.tree_.max_depth for est in forest.estimators_)
        return cls(_flatten_trees(trees), depth, "sklearn", len(forest.classes_))

    @classmethod
    def from_xgboost(cls, booster: Any, n_classes: int) -> CompiledTrees:
        """Compile a ``multi:softprob`` xgboost Booster (numerical splits only)."""
        model = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]
        trees = []
        depth = 0
        for t in model["trees"]:
            left = np.asarray(t["left_children"], dtype=np.intp)
            cond = np.asarray(t["split_conditions"], dtype=np.float32)
            # xgboost goes left when float32(x) < cond, i.e. right when x > the float32 below cond
            below = np.nextafter(cond, np.float32(-np.inf)).astype(np.float64)
            trees.append(
                {
                    "left": left,
                    "right": np.asarray(t["right_children"], dtype=np.intp),
                    "feature": np.asarray(t["split_indices"], dtype=np.intp),
                    "threshold": below,
                    "missing_left": np.asarray(t["default_left"], dtype=bool),
                    "leaf": cond.astype(np.float64),
                }
            )
            depth = max(depth, _tree_depth(left, trees[-1]["right"]))
        arrays = _flatten_trees(trees)
        arrays["tree_class"] = np.asarray(model["tree_info"], dtype=np.intp)
        return cls(arrays, depth, "xgb", n_classes)

    def predict_proba_one(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for one row.

        Parameters
        ----------
        x : ndarray of shape (n_features,)

        Returns
        -------
        ndarray of shape (n_classes,)
        """
        x = np.asarray(x).astype(np.float32).astype(np.float64)
        node = self.roots
        feature, threshold, child, is_leaf = self.feature, self.threshold, self.child, self.is_leaf
        has_nan = np.isnan(x).any()
        missing_left = self.missing_left
        for step in range(self.depth):
            if has_nan:
                v = x[feature[node]]
                node = child[node] + ((v > threshold[node]) | (np.isnan(v) & ~missing_left[node]))
            else:
                node = child[node] + (x[feature[node]] > threshold[node])
            # Most paths end well before the deepest leaf: check now and then.
            if step % 4 == 3 and is_leaf[node].all():
                break
        if self.kind == "sklearn":
            return self._mean_weights @ self.leaf[node]
        margin = np.bincount(self.tree_class, weights=self.leaf[node], minlength=self.n_classes)
        e = np.exp(margin - margin.max())
        return e / e.sum()

    def predict_proba(self, X: np.ndarray, *, chunk: int = 4096) -> np.ndarray:
        """Probabilities for many rows (``kind='sklearn'`` forests).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        if self.kind != "sklearn":
            raise ValueError("batch prediction of compiled trees is implemented for forests only")
        X = np.asarray(X).astype(np.float32).astype(np.float64)
        out = np.empty((len(X), self.n_classes))
        for start in range(0, len(X), chunk):
            x = X[start:start + chunk]
            rows = np.arange(len(x))[:, None]
            node = np.broadcast_to(self.roots, (len(x), len(self.roots)))
            nan = np.isnan(x).any()
            for _ in range(self.depth):
                v = x[rows, self.feature[node]]
                go_right = v > self.threshold[node]
                if nan:
                    go_right |= np.isnan(v) & ~self.missing_left[node]
                node = self.child[node] + go_right
            out[start:start + chunk] = self.leaf[node].mean(axis=1)
        return out

    def check(self, n_features: int) -> None:
        """Raise ValueError unless the arrays form valid trees over ``n_features`` features with finite answers.

        Shapes and index ranges are checked, and the values: thresholds are numbers (+inf
        marks a leaf), leaf values are finite (a forest's are class distributions, an
        XGBoost class's sum stays below :data:`MAX_XGB_MARGIN`), so every prediction is a
        finite probability.
        """
        n = len(self.feature)
        for name in ("feature", "threshold", "child", "missing_left", "roots"):
            if getattr(self, name).ndim != 1:
                raise ValueError(f"{name} must be one-dimensional; got shape {getattr(self, name).shape}")
        if not (len(self.threshold) == len(self.child) == len(self.missing_left) == len(self.leaf) == n):
            raise ValueError("tree arrays differ in length")
        expected = (n, self.n_classes) if self.kind == "sklearn" else (n,)
        if self.leaf.shape != expected:
            raise ValueError(f"leaf values must have shape {expected}; got {self.leaf.shape}")
        if n == 0 or len(self.roots) == 0:
            raise ValueError("no trees")
        if n_features < 1:
            raise ValueError(f"n_features_in must be >= 1; got {n_features}")
        internal = ~self.is_leaf
        for name, values, high in (("child", self.child, n), ("roots", self.roots, n), ("feature", self.feature, n_features)):
            if values.min() < 0 or values.max() >= high:
                raise ValueError(f"{name} indices out of range")
        if internal.any() and self.child[internal].max() + 1 >= n:
            raise ValueError("child indices out of range")
        if self.depth < 0 or self.depth > min(n, 10_000):
            raise ValueError(f"implausible tree depth {self.depth} for {n} nodes")
        if np.isnan(self.threshold).any() or (self.threshold == -np.inf).any():
            raise ValueError("thresholds hold NaN or -inf")
        if not np.isfinite(self.leaf).all():
            raise ValueError("leaf values hold NaN or inf")
        if self.kind == "sklearn":
            if self.leaf.min() < 0 or self.leaf.max() > 1 or self.leaf.sum(axis=1).max() > 1 + 1e-6:
                raise ValueError("leaf values must be class distributions (numbers from 0 to 1 summing to at most 1)")
        else:
            if self.tree_class.shape != self.roots.shape or self.tree_class.min() < 0 \
                    or self.tree_class.max() >= self.n_classes:
                raise ValueError("tree classes out of range")
            largest = np.abs(self.leaf[self.is_leaf]).max(initial=0.0)
            if largest * len(self.roots) > MAX_XGB_MARGIN:
                raise ValueError(f"leaf values too large (|{largest:.3g}|): probabilities would overflow")


def _tree_depth(left: np.ndarray, right: np.ndarray) -> int:
    """Depth of a tree given child arrays (-1 at leaves), level by level."""
    frontier = np.array([0])
    depth = 0
    while True:
        frontier = frontier[left[frontier] >= 0]
        if frontier.size == 0:
            return depth
        frontier = np.concatenate([left[frontier], right[frontier]])
        depth += 1


class FastRandomForestClassifier(RandomForestClassifier):
    """``RandomForestClassifier`` with a fast single-row ``predict_proba_one`` (:class:`CompiledTrees`).

    Same parameters and results as scikit-learn's forest; ``predict_proba_one`` costs tens
    of microseconds instead of milliseconds (no per-tree Python overhead, no thread pool).
    Saved as the compiled arrays; it loads back as a :class:`CompiledForestClassifier`.
    """

    STORAGE = "trees-npz"
    ARTIFACT_FILES = (_TREES_FILE,)

    def fit(self, X, y, sample_weight=None):  # noqa: D102  (same as the parent)
        super().fit(X, y, sample_weight=sample_weight)
        self.compiled_ = CompiledTrees.from_sklearn(self)
        return self

    def predict_proba_one(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for one row x of shape (n_features,), shape (n_classes,)."""
        check_is_fitted(self, "estimators_")
        compiled = getattr(self, "compiled_", None)
        if compiled is None:
            compiled = self.compiled_ = CompiledTrees.from_sklearn(self)
        return compiled.predict_proba_one(x)

    def save_artifact(self, directory: str | Path) -> list[str]:
        """Write the compiled trees to ``trees.npz`` (NumPy arrays only, no pickle)."""
        check_is_fitted(self, "estimators_")
        compiled = getattr(self, "compiled_", None) or CompiledTrees.from_sklearn(self)
        return _save_trees(compiled, self.classes_, self.n_features_in_, directory)

    @classmethod
    def load_artifact(cls, directory: str | Path, params: dict[str, Any]) -> CompiledForestClassifier:
        """Read ``trees.npz`` back, as a :class:`CompiledForestClassifier` (same probabilities)."""
        return CompiledForestClassifier.load_artifact(directory, params)


class CompiledForestClassifier(ClassifierMixin, BaseEstimator):
    """A fitted random forest read back from its compiled arrays: predicts, cannot be refitted.

    Probabilities equal those of the ``RandomForestClassifier`` it was compiled from (the
    same sums of the same float64 leaf distributions).

    Parameters
    ----------
    params : dict, optional
        The forest's parameters at save time, kept for the model card.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    compiled_ : CompiledTrees
    """

    STORAGE = "trees-npz"
    ARTIFACT_FILES = (_TREES_FILE,)

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.params = params

    def fit(self, X, y):  # noqa: D102
        raise TypeError(
            "a CompiledForestClassifier is a saved forest and cannot be refitted: "
            "train a new one with make_estimator('rf')"
        )

    def get_params(self, deep: bool = True) -> dict[str, Any]:  # noqa: D102  (the forest's, for the card)
        return dict(self.params or {})

    def predict_proba_one(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for one row x of shape (n_features,), shape (n_classes,)."""
        return self.compiled_.predict_proba_one(x)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, ndarray of shape (n_samples, n_classes) for X of shape (n_samples, n_features)."""
        check_is_fitted(self, "compiled_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float32)
        return self.compiled_.predict_proba(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted labels, ndarray of shape (n_samples,)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def save_artifact(self, directory: str | Path) -> list[str]:
        """Write the arrays again (a re-save)."""
        check_is_fitted(self, "compiled_")
        return _save_trees(self.compiled_, self.classes_, self.n_features_in_, directory)

    @classmethod
    def load_artifact(cls, directory: str | Path, params: dict[str, Any]) -> CompiledForestClassifier:
        """Read ``trees.npz`` with ``allow_pickle=False``.

        Raises
        ------
        ModelLoadError
            Missing, corrupt or inconsistent arrays.
        """
        path = Path(directory) / _TREES_FILE
        try:
            arrays = _read_trees_npz(path)
            version = int(arrays.pop("artifact_version"))
            if version != TREES_ARTIFACT_VERSION:
                raise ModelLoadError(
                    f"{path} has trees layout version {version}; this landmark_asl reads version "
                    f"{TREES_ARTIFACT_VERSION}: upgrade landmark_asl or retrain the model"
                )
            classes = arrays.pop("classes").astype(str)
            if classes.ndim != 1 or len(classes) < 2:
                raise ValueError(f"classes must list two or more labels; got shape {classes.shape}")
            n_features = int(arrays.pop("n_features_in"))
            depth = int(arrays.pop("depth"))
            compiled = CompiledTrees(arrays, depth, "sklearn", len(classes))
            compiled.check(n_features)
        except ModelLoadError:
            raise
        except NPZ_READ_ERRORS as exc:
            raise ModelLoadError(f"cannot read the forest {path}: {exc}; the file is missing or corrupt") from exc
        model = cls(params=params)
        model.classes_ = classes
        model.n_features_in_ = n_features
        model.compiled_ = compiled
        return model

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def _read_trees_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a ``trees.npz`` (:func:`read_checked_npz` with the forest's arrays)."""
    return read_checked_npz(path, _TREES_ARRAYS, MAX_TREES_BYTES, "a forest")


#: What reading and checking a crafted or damaged ``.npz`` of model arrays may raise; a loader turns
#: each into one :class:`ModelLoadError` line naming the file.
NPZ_READ_ERRORS = (OSError, ValueError, KeyError, TypeError, EOFError, ArithmeticError, IndexError,
                   zipfile.BadZipFile)


def read_checked_npz(path: Path, kinds: dict[str, str], max_bytes: int, what: str) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz``, each checked by its header (name, dtype, size) before it is read.

    A crafted header could declare a shape of terabytes, which ``np.load`` would try to
    allocate; here each array's declared size must fit the member's size in the archive and
    all together ``max_bytes``.

    Parameters
    ----------
    path : Path
    kinds : dict
        Every array the file must hold (and no other): name -> the dtype kinds accepted
        ('i' signed int, 'u' unsigned, 'f' float, 'b' bool, 'U' text).
    max_bytes : int
    what : str
        What the file holds, for the message (e.g. ``'a forest'``).

    Raises
    ------
    ValueError
        An unexpected or missing member, a wrong dtype, or a declared size that is too large.
    """
    total = 0
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        names = sorted(info.filename.removesuffix(".npy") for info in infos)
        if names != sorted(kinds):
            raise ValueError(f"expected the arrays {', '.join(sorted(kinds))}; found {', '.join(names[:20])}")
        for info in infos:
            name = info.filename.removesuffix(".npy")
            with archive.open(info) as member:
                version = npy.read_magic(member)
                read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
                shape, _, dtype = read_header(member)
            if dtype.kind not in kinds[name]:
                raise ValueError(f"array {name!r} has dtype {dtype}; expected kind {kinds[name]!r}")
            size = int(np.prod(shape, dtype=object)) * dtype.itemsize
            total += size
            if size > info.file_size or total > max_bytes:
                raise ValueError(f"array {name!r} declares shape {shape} ({size:,} bytes), more than the file "
                                 f"holds ({info.file_size:,} bytes) or than {what} needs ({max_bytes:,})")
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _check_before_saving(compiled: CompiledTrees, n_features: int) -> None:
    """Refuse to write trees that could not be loaded back (e.g. NaN leaves of a fit on overflowing weights)."""

    try:
        compiled.check(int(n_features))
    except ValueError as exc:
        raise LandmarkASLError(f"refusing to save the fitted trees: {exc}; the fit overflowed, "
                               "use smaller sample weights") from exc


def _save_trees(compiled: CompiledTrees, classes: np.ndarray, n_features: int, directory: str | Path) -> list[str]:
    _check_before_saving(compiled, n_features)
    np.savez_compressed(
        Path(directory) / _TREES_FILE,
        artifact_version=np.int64(TREES_ARTIFACT_VERSION),
        classes=np.asarray([str(c) for c in classes]),
        n_features_in=np.int64(n_features),
        depth=np.int64(compiled.depth),
        feature=compiled.feature.astype(np.int32),
        threshold=compiled.threshold,
        child=compiled.child.astype(np.int64),
        missing_left=compiled.missing_left,
        leaf=compiled.leaf,
        roots=compiled.roots.astype(np.int64),
    )
    return [_TREES_FILE]
