"""A small neural network on the handshape features, and the forest and the network blended.

The network is trained with torch (the ``mlp`` extra) and predicts with NumPy alone. It is saved
as plain arrays in ``mlp.npz``, read back with ``allow_pickle=False`` and every array checked, so
loading a model runs no code from the file and needs no torch. On the dev protocol the blend
(the forest's probabilities weighted 0.7, the network's 0.3) raised the mean by 1.3 points but
lowered the worst signer's fold, so the shipped model stays the forest (docs/experiments.md,
2026-12-06, issue 21).
"""

from __future__ import annotations

import math
import reprlib
import warnings
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from landmark_asl._util import import_extra
from landmark_asl.estimators.trees import (
    NPZ_READ_ERRORS,
    CompiledForestClassifier,
    FastRandomForestClassifier,
    read_checked_npz,
)
from landmark_asl.exceptions import LandmarkASLError, ModelLoadError

_MLP_FILE = "mlp.npz"
#: Version of the layout of :data:`_MLP_FILE`.
MLP_ARTIFACT_VERSION = 1
#: Most hidden layers, widest layer and most bytes of one ``mlp.npz`` (the recipe's: 2, 256, 0.3 MB): at
#: most about 4 million weights, 34 MB once read as float64, whatever dtype a crafted file declares.
MAX_HIDDEN_LAYERS = 4
MAX_WIDTH = 1024
MAX_MLP_BYTES = 1 << 26
#: Most training epochs a card or ``--param`` may ask for.
MAX_EPOCHS = 1000
#: Largest |weight|, |bias| and |mean| and the range of a scale that a saved network may hold: a
#: trained one stays far inside; beyond them a crafted one could overflow to NaN probabilities.
MAX_VALUE = 1e6
MIN_SCALE = 1e-6


def _check_weight(weight: Any) -> float:
    """``mlp_weight`` as a float from 0 to 1, or ValueError."""
    try:
        value = float(weight) if isinstance(weight, Real) and not isinstance(weight, bool) else math.nan
    except OverflowError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"mlp_weight must be a number from 0 to 1; got {reprlib.repr(weight)}")
    return value

_NETWORK_PARAMS = ("hidden", "dropout", "epochs", "batch_size", "learning_rate", "weight_decay", "label_smoothing")
_FOREST_PARAMS = ("n_estimators", "max_depth", "min_samples_leaf", "max_features")


def _check_hidden(hidden: Any) -> tuple[int, ...]:
    """``hidden`` as a tuple of layer widths, or ValueError."""
    if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__len__"):
        raise ValueError(f"hidden must be a list of layer widths, e.g. [256, 128]; got {reprlib.repr(hidden)}")
    widths = tuple(hidden)
    if not 1 <= len(widths) <= MAX_HIDDEN_LAYERS or not all(
            isinstance(w, Integral) and not isinstance(w, bool) and 1 <= w <= MAX_WIDTH for w in widths):
        raise ValueError(f"hidden must list 1 to {MAX_HIDDEN_LAYERS} widths from 1 to {MAX_WIDTH}; "
                         f"got {reprlib.repr(hidden)}")
    return tuple(int(w) for w in widths)


class MLPLandmarkClassifier(ClassifierMixin, BaseEstimator):
    """A multi-layer perceptron on the normalised landmark features (ReLU, dropout, AdamW).

    Inputs are standardised with the training rows' mean and spread; a missing feature (NaN)
    counts as the mean. Training needs torch; prediction is NumPy only.

    Parameters
    ----------
    hidden : sequence of int, default=(256, 128)
        Widths of the hidden layers.
    dropout : float, default=0.2
    epochs : int, default=30
    batch_size : int, default=256
    learning_rate : float, default=0.002
        Peak of the one-cycle schedule.
    weight_decay : float, default=1e-4
    label_smoothing : float, default=0.05
    n_jobs : int, default=1
        Torch threads while training.
    random_state : int, default=0

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    mean_, scale_ : ndarray of shape (n_features_in_,)
    layers_ : list of (weights, biases)
        Weights of shape (inputs, outputs), float32.
    """

    #: Storage kind written into a model card, and the files :meth:`load_artifact` reads.
    STORAGE = "mlp-npz"
    ARTIFACT_FILES = (_MLP_FILE,)

    _parameter_constraints: dict = {
        "hidden": ["array-like"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "epochs": [Interval(Integral, 1, MAX_EPOCHS, closed="both")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(self, hidden=(256, 128), dropout: float = 0.2, epochs: int = 30, batch_size: int = 256,
                 learning_rate: float = 2e-3, weight_decay: float = 1e-4, label_smoothing: float = 0.05,
                 n_jobs: int | None = 1, random_state: int = 0) -> None:
        self.hidden = hidden
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.label_smoothing = label_smoothing
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _check_params(self) -> None:
        _check_hidden(self.hidden)

    def fit(self, X, y, sample_weight=None):
        """Fit on features X of shape (n, d) and labels y; ``sample_weight`` weighs each row's loss."""
        self._validate_params()
        hidden = _check_hidden(self.hidden)
        torch = import_extra("torch", extra="mlp", purpose="the mlp model's training")
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float32)
        self.classes_, target = np.unique(np.asarray(y).astype(str), return_inverse=True)
        if len(self.classes_) < 2:
            raise LandmarkASLError(f"the mlp model needs two or more classes; got {list(self.classes_)}")
        weight = np.ones(len(X), np.float32) if sample_weight is None else np.asarray(sample_weight, np.float32)
        if weight.shape != (len(X),) or not np.isfinite(weight).all() or weight.min() < 0 or weight.sum() <= 0:
            raise LandmarkASLError(f"sample_weight must hold {len(X)} finite non-negative numbers, not all 0")
        with warnings.catch_warnings():  # a feature NaN on every row: "Mean of empty slice"
            warnings.simplefilter("ignore", RuntimeWarning)
            self.mean_ = np.nan_to_num(np.nanmean(X, axis=0)).astype(np.float32)
            scale = np.nan_to_num(np.nanstd(X, axis=0), nan=1.0)
        self.scale_ = np.where(scale > 1e-6, scale, 1.0).astype(np.float32)
        seed = self.random_state if isinstance(self.random_state, Integral) else \
            int(check_random_state(self.random_state).randint(2**31))
        threads = torch.get_num_threads()
        torch.set_num_threads(max(1, int(self.n_jobs or 1)))
        try:
            with torch.random.fork_rng(devices=[]):  # the caller's torch random state is left as it was
                torch.manual_seed(seed)
                self.layers_ = _train(torch, self._standardise(X), target, weight, hidden, len(self.classes_), self,
                                      torch.Generator().manual_seed(seed))
        finally:
            torch.set_num_threads(threads)
        return self

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        Z = (np.asarray(X, np.float32) - self.mean_) / self.scale_
        return np.nan_to_num(Z, nan=0.0, posinf=0.0, neginf=0.0)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes)."""
        check_is_fitted(self, "layers_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float32)
        return self._forward(X)

    def predict_proba_one(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for one row x of shape (n_features,), shape (n_classes,).

        Tens of microseconds: ``einsum`` keeps the small products off BLAS's thread pool, which
        costs milliseconds a call on a busy machine.
        """
        h = self._standardise(np.asarray(x, np.float32)).astype(np.float64)
        for i, (weights, biases) in enumerate(self.layers_):
            h = np.einsum("i,ij->j", h, weights) + biases
            if i < len(self.layers_) - 1:
                np.maximum(h, 0.0, out=h)
        return _softmax(h[None])[0]

    def predict(self, X) -> np.ndarray:
        """Predicted labels, shape (n_samples,)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def _forward(self, X: np.ndarray) -> np.ndarray:
        h = self._standardise(X).astype(np.float64)
        for i, (weights, biases) in enumerate(self.layers_):
            h = h @ weights + biases
            if i < len(self.layers_) - 1:
                np.maximum(h, 0.0, out=h)
        return _softmax(h)

    def save_artifact(self, directory: str | Path) -> list[str]:
        """Write ``mlp.npz``: NumPy arrays only, no pickle."""
        check_is_fitted(self, "layers_")
        arrays = {f"{kind}{i}": array.astype(np.float32) for i, (w, b) in enumerate(self.layers_)
                  for kind, array in (("w", w), ("b", b))}
        np.savez_compressed(Path(directory) / _MLP_FILE, artifact_version=np.int64(MLP_ARTIFACT_VERSION),
                            classes=np.asarray([str(c) for c in self.classes_]), mean=self.mean_, scale=self.scale_,
                            **arrays)
        return [_MLP_FILE]

    @classmethod
    def load_artifact(cls, directory: str | Path, params: dict[str, Any]) -> MLPLandmarkClassifier:
        """Read ``mlp.npz`` with ``allow_pickle=False``; ``params`` (the card's) give the layer widths.

        Raises
        ------
        ModelLoadError
            Missing, corrupt or inconsistent arrays, or parameters that do not describe them.
        """
        path = Path(directory) / _MLP_FILE
        try:
            hidden = _check_hidden(params.get("hidden", (256, 128)))
            kinds = {"artifact_version": "iu", "classes": "U", "mean": "f", "scale": "f"}
            kinds.update({f"{kind}{i}": "f" for i in range(len(hidden) + 1) for kind in "wb"})
            arrays = read_checked_npz(path, kinds, MAX_MLP_BYTES, "a network")
            version = int(arrays["artifact_version"])
            if version != MLP_ARTIFACT_VERSION:
                raise ModelLoadError(f"{path} has network layout version {version}; this landmark_asl reads version "
                                     f"{MLP_ARTIFACT_VERSION}: upgrade landmark_asl or retrain the model")
            model = cls(**{k: v for k, v in params.items() if k in cls._parameter_constraints})
            model._validate_params()  # a card's parameters that could not be trained are refused here, not in adapt
            model.hidden = hidden
            model.classes_ = _check_classes(arrays["classes"])
            model.mean_, model.scale_ = arrays["mean"].astype(np.float32), arrays["scale"].astype(np.float32)
            model.layers_ = [(arrays[f"w{i}"].astype(np.float64), arrays[f"b{i}"].astype(np.float64))
                             for i in range(len(hidden) + 1)]
            model._check_arrays(hidden)
        except ModelLoadError:
            raise
        except NPZ_READ_ERRORS as exc:
            raise ModelLoadError(f"cannot read the network {path}: {exc}; the file is missing or corrupt") from exc
        return model

    def _check_arrays(self, hidden: tuple[int, ...]) -> None:
        """Shapes that chain from the inputs through ``hidden`` to the classes; finite values; scale > 0."""
        n = self.mean_.shape[0] if self.mean_.ndim == 1 else -1
        if n < 1 or self.scale_.shape != (n,):
            raise ValueError(f"mean and scale must be two vectors of one length; got {self.mean_.shape}, {self.scale_.shape}")
        widths = [n, *hidden, len(self.classes_)]
        for i, (weights, biases) in enumerate(self.layers_):
            if weights.shape != (widths[i], widths[i + 1]) or biases.shape != (widths[i + 1],):
                raise ValueError(f"layer {i} has weights {weights.shape} and biases {biases.shape}; expected "
                                 f"{(widths[i], widths[i + 1])} and {(widths[i + 1],)}")
        values = [self.mean_, *(a for layer in self.layers_ for a in layer)]
        if not all(np.isfinite(a).all() and np.abs(a).max(initial=0.0) <= MAX_VALUE for a in values):
            raise ValueError(f"weights or mean hold NaN, inf or values beyond {MAX_VALUE:g}")
        if not np.isfinite(self.scale_).all() or self.scale_.min() < MIN_SCALE or self.scale_.max() > MAX_VALUE:
            raise ValueError(f"a scale is not a number from {MIN_SCALE:g} to {MAX_VALUE:g}")
        self.n_features_in_ = n

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def _softmax(h: np.ndarray) -> np.ndarray:
    h = h - h.max(axis=1, keepdims=True)
    np.exp(h, out=h)
    return h / h.sum(axis=1, keepdims=True)


def _check_classes(classes: np.ndarray) -> np.ndarray:
    classes = classes.astype(str)
    if classes.ndim != 1 or len(classes) < 2 or len(set(classes)) != len(classes):
        raise ValueError(f"classes must list two or more distinct labels; got shape {classes.shape}")
    return classes


def _train(torch, Z: np.ndarray, target: np.ndarray, weight: np.ndarray, hidden: tuple[int, ...], n_classes: int,
           params: MLPLandmarkClassifier, generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """The network's layers after ``params.epochs`` of AdamW on a one-cycle schedule (weighted cross-entropy)."""
    layers, width = [], Z.shape[1]
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU(), torch.nn.Dropout(params.dropout)]
        width = h
    net = torch.nn.Sequential(*layers, torch.nn.Linear(width, n_classes))
    inputs, labels = torch.from_numpy(Z), torch.from_numpy(target.astype(np.int64))
    weights = torch.from_numpy(weight)
    batch = int(params.batch_size)
    optimiser = torch.optim.AdamW(net.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay)
    steps = int(params.epochs) * -(-len(Z) // batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=params.learning_rate, total_steps=steps)
    loss_of = torch.nn.CrossEntropyLoss(reduction="none", label_smoothing=params.label_smoothing)
    net.train()
    for _ in range(int(params.epochs)):
        order = torch.randperm(len(Z), generator=generator)
        for start in range(0, len(Z), batch):
            rows = order[start:start + batch]
            w = weights[rows]
            loss = (loss_of(net(inputs[rows]), labels[rows]) * w).sum() / w.sum().clamp_min(1e-12)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    linear = [m for m in net if isinstance(m, torch.nn.Linear)]
    return [(m.weight.detach().numpy().T.astype(np.float64), m.bias.detach().numpy().astype(np.float64))
            for m in linear]


class ForestMLPClassifier(ClassifierMixin, BaseEstimator):
    """The random forest and the network on the same features, their probabilities blended.

    ``predict_proba = (1 - mlp_weight) * forest + mlp_weight * network``. Saved as the forest's
    ``trees.npz`` and the network's ``mlp.npz``; read back, the forest is a
    :class:`~landmark_asl.estimators.trees.CompiledForestClassifier`.

    Parameters
    ----------
    n_estimators, max_depth, min_samples_leaf, max_features
        The forest's (:class:`~landmark_asl.estimators.trees.FastRandomForestClassifier`).
    hidden, dropout, epochs, batch_size, learning_rate, weight_decay, label_smoothing
        The network's (:class:`MLPLandmarkClassifier`).
    mlp_weight : float, default=0.3
        The network's share of the probabilities, from 0 (the forest alone) to 1.
    n_jobs : int, default=1
    random_state : int, default=0

    Attributes
    ----------
    forest_ : FastRandomForestClassifier or CompiledForestClassifier
    mlp_ : MLPLandmarkClassifier
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    """

    STORAGE = "forest-mlp-npz"
    ARTIFACT_FILES = (*FastRandomForestClassifier.ARTIFACT_FILES, _MLP_FILE)

    _parameter_constraints: dict = {
        **{k: FastRandomForestClassifier._parameter_constraints[k] for k in _FOREST_PARAMS},
        **{k: MLPLandmarkClassifier._parameter_constraints[k] for k in _NETWORK_PARAMS},
        "mlp_weight": [Interval(Real, 0, 1, closed="both")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(self, n_estimators: int = 50, max_depth: int | None = None, min_samples_leaf: int = 5,
                 max_features: str | float = "sqrt", hidden=(256, 128), dropout: float = 0.2, epochs: int = 30,
                 batch_size: int = 256, learning_rate: float = 2e-3, weight_decay: float = 1e-4,
                 label_smoothing: float = 0.05, mlp_weight: float = 0.3, n_jobs: int | None = 1,
                 random_state: int = 0) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.hidden = hidden
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.label_smoothing = label_smoothing
        self.mlp_weight = mlp_weight
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _check_params(self) -> None:
        _check_hidden(self.hidden)

    def part_params(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The forest's and the network's parameters (``n_jobs`` and ``random_state`` in both)."""
        shared = {"n_jobs": self.n_jobs, "random_state": self.random_state}
        return ({**{k: getattr(self, k) for k in _FOREST_PARAMS}, **shared},
                {**{k: getattr(self, k) for k in _NETWORK_PARAMS}, **shared})

    def fit(self, X, y, sample_weight=None):
        """Fit the forest and the network on the same rows and weights."""
        self._validate_params()
        forest, network = self.part_params()
        y = np.asarray(y).astype(str)  # one label order for both parts (the network's classes are text)
        self.mlp_ = MLPLandmarkClassifier(**network).fit(X, y, sample_weight=sample_weight)
        self.forest_ = FastRandomForestClassifier(**forest).fit(X, y, sample_weight=sample_weight)
        if list(self.forest_.classes_) != list(self.mlp_.classes_):
            raise LandmarkASLError("the forest and the network learnt different classes")
        self.classes_ = self.forest_.classes_
        self.n_features_in_ = self.forest_.n_features_in_
        return self

    def predict_proba(self, X) -> np.ndarray:
        """The blend's probabilities, shape (n_samples, n_classes)."""
        check_is_fitted(self, "mlp_")
        w = float(self.mlp_weight)
        forest = self.forest_.predict_proba(X)
        return forest if w == 0.0 else (1.0 - w) * forest + w * self.mlp_.predict_proba(X)

    def predict_proba_one(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for one row x of shape (n_features,), shape (n_classes,)."""
        w = float(self.mlp_weight)
        forest = self.forest_.predict_proba_one(x)
        return forest if w == 0.0 else (1.0 - w) * forest + w * self.mlp_.predict_proba_one(x)

    def predict(self, X) -> np.ndarray:
        """Predicted labels, shape (n_samples,)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    @classmethod
    def from_parts(cls, forest: Any, network: MLPLandmarkClassifier, **params: Any) -> ForestMLPClassifier:
        """The blend of a fitted forest and a fitted network of the same classes and features
        (e.g. a personal forest beside the base model's network, :func:`landmark_asl.training.adapt_model`)."""
        if list(forest.classes_) != list(network.classes_) or forest.n_features_in_ != network.n_features_in_:
            raise LandmarkASLError("the forest and the network to blend must have the same classes and features")
        model = cls(**params)
        model._validate_params()
        model.forest_, model.mlp_ = forest, network
        model.classes_, model.n_features_in_ = forest.classes_, forest.n_features_in_
        return model

    def save_artifact(self, directory: str | Path) -> list[str]:
        """Write ``trees.npz`` and ``mlp.npz``."""
        check_is_fitted(self, "mlp_")
        return [*self.forest_.save_artifact(directory), *self.mlp_.save_artifact(directory)]

    @classmethod
    def load_artifact(cls, directory: str | Path, params: dict[str, Any]) -> ForestMLPClassifier:
        """Read both parts back (no pickle); they must agree on classes and features.

        Raises
        ------
        ModelLoadError
            A part that cannot be read, parts that disagree, or an ``mlp_weight`` outside [0, 1].
        """
        known = {k: v for k, v in params.items() if k in cls._parameter_constraints}
        try:
            _check_weight(known.get("mlp_weight", 0.3))
            model = cls(**known)
            model._validate_params()
            model._check_params()
        except (ValueError, TypeError) as exc:
            raise ModelLoadError(f"{Path(directory)}: bad parameters of the blend: {exc}") from None
        forest, network = model.part_params()
        model.forest_ = CompiledForestClassifier.load_artifact(directory, forest)
        model.mlp_ = MLPLandmarkClassifier.load_artifact(directory, network)
        if list(model.forest_.classes_) != list(model.mlp_.classes_) \
                or model.forest_.n_features_in_ != model.mlp_.n_features_in_:
            raise ModelLoadError(f"{Path(directory)}: the forest and the network disagree on classes or features: "
                                 "the model directory is corrupt or tampered with; save it again")
        model.classes_ = model.forest_.classes_
        model.n_features_in_ = model.forest_.n_features_in_
        return model

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
