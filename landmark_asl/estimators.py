"""Estimator registry: name -> factory returning an unfitted estimator (``rf``, ``xgb``, ``cnn``), plus the XGBoost wrapper and the compiled random forest used for fast single-row prediction."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from landmark_asl.exceptions import LandmarkASLError
from landmark_asl.features import LandmarkNormalizer

#: Registry names of the models that take raw landmarks (n, 127) as input.
LANDMARK_MODELS: tuple[str, ...] = ("rf", "xgb")

_DEVICES = ("auto", "cpu", "cuda")
_XGB_FILE = "xgb_model.ubj"


def gpu_available() -> bool:
    """Whether an NVIDIA GPU looks visible, checked cheaply (no CUDA initialisation).

    Returns
    -------
    bool
        True when ``/dev/nvidia0`` exists or ``nvidia-smi`` is on the PATH, and
        ``CUDA_VISIBLE_DEVICES`` does not hide every device.
    """
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return os.path.exists("/dev/nvidia0") or shutil.which("nvidia-smi") is not None


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
        device = "cuda" if gpu_available() else "cpu"
    return device, ("hist" if tree_method == "auto" else tree_method)


class XGBLandmarkClassifier(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees (xgboost) as a scikit-learn classifier with string labels.

    Labels are encoded once from the sorted label set to 0..K-1; ``classes_`` holds the
    labels and predictions are labels. Single-row prediction uses
    ``Booster.inplace_predict`` on CPU, which skips building a DMatrix.

    Parameters
    ----------
    n_estimators : int, default=300
        Boosting rounds.
    max_depth : int, default=6
    learning_rate : float, default=0.1
    subsample : float, default=0.8
    colsample_bytree : float, default=0.5
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

    def __init__(
        self,
        n_estimators: int = 300,
        max_depth: int = 6,
        learning_rate: float = 0.1,
        subsample: float = 0.8,
        colsample_bytree: float = 0.5,
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

    def fit(self, X: np.ndarray, y: np.ndarray) -> XGBLandmarkClassifier:
        """Fit the booster.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            NaN is treated as missing.
        y : array-like of shape (n_samples,)
            Labels (strings or any sortable values).

        Returns
        -------
        self
        """
        import xgboost as xgb

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
        dtrain = xgb.QuantileDMatrix(X, label=codes) if tree_method == "hist" else xgb.DMatrix(X, label=codes)
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

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted labels, ndarray of shape (n_samples,)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    # Persistence hooks (see landmark_asl.persistence): xgboost's own UBJ format, no pickle.
    def save_artifact(self, directory: str | Path) -> list[str]:
        """Write the booster (with classes and feature count as attributes) to ``directory``.

        Returns
        -------
        list of str
            File names written, relative to ``directory``.
        """
        check_is_fitted(self, "booster_")
        self.booster_.set_attr(
            landmark_asl_classes=json.dumps([str(c) for c in self.classes_]),
            landmark_asl_n_features=str(self.n_features_in_),
        )
        self.booster_.save_model(str(Path(directory) / _XGB_FILE))
        return [_XGB_FILE]

    @classmethod
    def load_artifact(cls, directory: str | Path, params: dict[str, Any]) -> XGBLandmarkClassifier:
        """Rebuild a fitted classifier from :meth:`save_artifact` output and its params."""
        import xgboost as xgb

        model = cls(**params)
        booster = xgb.Booster()
        booster.load_model(str(Path(directory) / _XGB_FILE))
        booster.set_param({"device": "cpu", "nthread": 1})
        model.booster_ = booster
        model.classes_ = np.asarray(json.loads(booster.attr("landmark_asl_classes")))
        model.n_features_in_ = int(booster.attr("landmark_asl_n_features"))
        model.device_ = "cpu"
        return model

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class CompiledForest:
    """A fitted ``RandomForestClassifier`` flattened into NumPy arrays for fast one-row prediction.

    All trees are traversed at once: each step gathers every tree's current node, compares
    the row's feature with the threshold (as float32, like scikit-learn) and moves left or
    right; leaves point to themselves. It gives the same probabilities as
    ``forest.predict_proba`` (averaged normalised leaf values).

    Parameters
    ----------
    forest : RandomForestClassifier
        Fitted, single-output.
    """

    def __init__(self, forest: RandomForestClassifier) -> None:
        check_is_fitted(forest)
        trees = [est.tree_ for est in forest.estimators_]
        offsets = np.cumsum([0] + [t.node_count for t in trees[:-1]])
        feature, threshold, left, right, missing_left, values = [], [], [], [], [], []
        for off, t in zip(offsets, trees):
            idx = np.arange(t.node_count)
            leaf = t.children_left == -1
            feature.append(np.where(leaf, 0, t.feature))
            # Leaves: threshold +inf sends every value "left", to the leaf itself.
            threshold.append(np.where(leaf, np.inf, t.threshold))
            left.append(np.where(leaf, idx, t.children_left) + off)
            right.append(np.where(leaf, idx, t.children_right) + off)
            missing_left.append(np.where(leaf, True, t.missing_go_to_left.astype(bool)))
            v = t.value[:, 0, :]
            values.append(v / np.maximum(v.sum(axis=1, keepdims=True), 1e-300))
        self.feature = np.concatenate(feature).astype(np.intp)
        self.threshold = np.concatenate(threshold)
        self.left = np.concatenate(left).astype(np.intp)
        self.right = np.concatenate(right).astype(np.intp)
        self.missing_left = np.concatenate(missing_left)
        self.value = np.concatenate(values)
        self.roots = offsets.astype(np.intp)
        self.depth = max(t.max_depth for t in trees)
        self.n_trees = len(trees)
        self.classes_ = forest.classes_

    def predict_proba_one(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for one row.

        Parameters
        ----------
        x : ndarray of shape (n_features,)

        Returns
        -------
        ndarray of shape (n_classes,)
        """
        x = np.asarray(x, dtype=np.float32).astype(np.float64)
        node = self.roots
        feature, threshold, left, right = self.feature, self.threshold, self.left, self.right
        if np.isnan(x).any():
            missing_left = self.missing_left
            for _ in range(self.depth):
                v = x[feature[node]]
                go_left = (v <= threshold[node]) | (np.isnan(v) & missing_left[node])
                node = np.where(go_left, left[node], right[node])
        else:
            for _ in range(self.depth):
                node = np.where(x[feature[node]] <= threshold[node], left[node], right[node])
        return self.value[node].mean(axis=0)


class FastRandomForestClassifier(RandomForestClassifier):
    """``RandomForestClassifier`` whose single-row ``predict_proba`` uses :class:`CompiledForest`.

    Same parameters and results as scikit-learn's forest; ``predict_proba_one`` costs tens
    of microseconds instead of milliseconds (no per-tree Python overhead, no thread pool).
    """

    def fit(self, X, y, sample_weight=None):  # noqa: D102  (same as the parent)
        super().fit(X, y, sample_weight=sample_weight)
        self.compiled_ = CompiledForest(self)
        return self

    def predict_proba_one(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for one row x of shape (n_features,), shape (n_classes,)."""
        check_is_fitted(self, "estimators_")
        compiled = getattr(self, "compiled_", None)
        if compiled is None:
            compiled = self.compiled_ = CompiledForest(self)
        return compiled.predict_proba_one(x)


def _make_rf(
    n_estimators: int = 200,
    max_depth: int | None = None,
    min_samples_leaf: int = 1,
    max_features: str | float = "sqrt",
    n_jobs: int = 1,
    random_state: int = 0,
    **normalizer: Any,
) -> Pipeline:
    clf = FastRandomForestClassifier(
        n_estimators=n_estimators,
        max_depth=max_depth,
        min_samples_leaf=min_samples_leaf,
        max_features=max_features,
        n_jobs=n_jobs,
        random_state=random_state,
    )
    return Pipeline([("normalizer", LandmarkNormalizer(**normalizer)), ("clf", clf)])


def _make_xgb(**params: Any) -> Pipeline:
    normalizer_names = set(LandmarkNormalizer().get_params())
    normalizer = {k: params.pop(k) for k in list(params) if k in normalizer_names}
    return Pipeline([("normalizer", LandmarkNormalizer(**normalizer)), ("clf", XGBLandmarkClassifier(**params))])


def _make_cnn(**params: Any) -> BaseEstimator:
    try:
        from landmark_asl.cnn import PixelCNNClassifier
    except ImportError as exc:
        raise ImportError(
            f"the 'cnn' model needs torch ({exc}): pip install 'landmark_asl[cnn]'"
        ) from exc
    return PixelCNNClassifier(**params)


#: Registry name -> factory returning an unfitted estimator. Factory keyword arguments
#: are classifier parameters; for rf/xgb also LandmarkNormalizer parameters.
REGISTRY: dict[str, Callable[..., BaseEstimator]] = {"rf": _make_rf, "xgb": _make_xgb, "cnn": _make_cnn}


def make_estimator(name: str, **params: Any) -> BaseEstimator:
    """Build an unfitted estimator by registry name.

    Parameters
    ----------
    name : {'rf', 'xgb', 'cnn'}
    **params
        Passed to the factory (classifier and, for rf/xgb, normalizer parameters).

    Returns
    -------
    estimator
        ``Pipeline([("normalizer", LandmarkNormalizer), ("clf", ...)])`` for rf/xgb
        (input: raw landmarks of shape (n, 127)); ``PixelCNNClassifier`` for cnn.

    Raises
    ------
    LandmarkASLError
        If ``name`` is not registered.
    """
    try:
        factory = REGISTRY[name]
    except KeyError:
        raise LandmarkASLError(f"unknown model {name!r}: choose one of {', '.join(sorted(REGISTRY))}") from None
    return factory(**params)
