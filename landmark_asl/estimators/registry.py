"""Estimator registry: name -> :class:`EstimatorSpec` (factory of an unfitted estimator, and what it takes as input)."""

from __future__ import annotations

import json
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from landmark_asl.estimators.features import LandmarkNormalizer
from landmark_asl.estimators.trees import FastRandomForestClassifier, XGBLandmarkClassifier
from landmark_asl.exceptions import LandmarkASLError

#: What a model classifies: 127 raw landmark features of a detected hand, or an image's pixels.
InputKind = Literal["landmarks", "pixels"]


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
    normalizer = _split_normalizer(params)
    return Pipeline([("normalizer", LandmarkNormalizer(**normalizer)), ("clf", XGBLandmarkClassifier(**params))])


def _split_normalizer(params: dict[str, Any]) -> dict[str, Any]:
    """Take the ``LandmarkNormalizer`` parameters (e.g. ``handshape``) out of ``params``."""
    names = set(LandmarkNormalizer().get_params())
    return {k: params.pop(k) for k in list(params) if k in names}


def _make_mlp(**params: Any) -> Pipeline:
    from landmark_asl.estimators.mlp import MLPLandmarkClassifier

    normalizer = _split_normalizer(params)
    return Pipeline([("normalizer", LandmarkNormalizer(**normalizer)), ("clf", MLPLandmarkClassifier(**params))])


def _make_rf_mlp(**params: Any) -> Pipeline:
    from landmark_asl.estimators.mlp import ForestMLPClassifier

    normalizer = _split_normalizer(params)
    return Pipeline([("normalizer", LandmarkNormalizer(**normalizer)), ("clf", ForestMLPClassifier(**params))])


def _make_cnn(**params: Any) -> BaseEstimator:
    try:
        from landmark_asl.cnn import PixelCNNClassifier
    except ImportError as exc:
        from landmark_asl.exceptions import MissingExtraError

        raise MissingExtraError(f"the 'cnn' model needs torch ({exc}): pip install 'landmark_asl[cnn]'") from exc
    return PixelCNNClassifier(**params)


@dataclass(frozen=True)
class EstimatorSpec:
    """What a registry entry is.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``'rf'``.
    factory : callable
        Keyword parameters -> unfitted estimator (classifier and, for landmark models,
        ``LandmarkNormalizer`` parameters).
    input_kind : {'landmarks', 'pixels'}
        ``'landmarks'``: raw landmark rows of shape (n, 127) of detected hands, so an image
        without a hand gets no prediction (the NOTHING rule applies); ``'pixels'``: images
        of shape (n, H, W[, 3]), every image gets a prediction.
    """

    name: str
    factory: Callable[..., BaseEstimator]
    input_kind: InputKind


#: Registry name -> spec.
REGISTRY: dict[str, EstimatorSpec] = {
    "rf": EstimatorSpec("rf", _make_rf, "landmarks"),
    "xgb": EstimatorSpec("xgb", _make_xgb, "landmarks"),
    "mlp": EstimatorSpec("mlp", _make_mlp, "landmarks"),
    "rf_mlp": EstimatorSpec("rf_mlp", _make_rf_mlp, "landmarks"),
    "cnn": EstimatorSpec("cnn", _make_cnn, "pixels"),
}


def get_spec(name: str) -> EstimatorSpec:
    """The registry entry ``name``.

    Raises
    ------
    LandmarkASLError
        If ``name`` is not registered.
    """
    try:
        return REGISTRY[name]
    except KeyError:
        raise LandmarkASLError(f"unknown model {name!r}: choose one of {', '.join(sorted(REGISTRY))}") from None


def make_estimator(name: str, **params: Any) -> BaseEstimator:
    """Build an unfitted estimator by registry name.

    Parameters
    ----------
    name : {'rf', 'xgb', 'mlp', 'rf_mlp', 'cnn'}
    **params
        Passed to the factory (classifier and, for landmark models, normalizer parameters).

    Returns
    -------
    estimator
        ``Pipeline([("normalizer", LandmarkNormalizer), ("clf", ...)])`` for the landmark models
        (input: raw landmarks of shape (n, 127)); ``PixelCNNClassifier`` for cnn.

    Raises
    ------
    LandmarkASLError
        If ``name`` is not registered.
    """
    return get_spec(name).factory(**params)


def build_estimator(name: str, *, random_state: int = 0, n_jobs: int = 1, params: dict[str, Any] | None = None):
    """Unfitted estimator ``name`` with ``random_state`` and ``n_jobs`` set wherever it has them.

    ``params`` go to the registry factory (e.g. ``{"n_estimators": 50}`` for ``rf``).

    Raises
    ------
    LandmarkASLError
        A parameter the model does not take, or a value it cannot use (checked here,
        before any data is read or fitted).
    """
    try:
        estimator = make_estimator(name, **(params or {}))
    except TypeError as exc:
        raise LandmarkASLError(f"bad parameters {params} for model {name!r}: {exc}") from exc
    names = estimator.get_params()
    updates = {
        key: (random_state if key.endswith("random_state") else n_jobs)
        for key in names
        if key.split("__")[-1] in ("random_state", "n_jobs")
    }
    estimator.set_params(**updates)
    check_params(name, estimator)
    return estimator


#: Upper limits of size parameters, checked for every model (a forest of 5,000 trees is 100 times
#: the shipped one's 50).
SIZE_LIMITS = {"n_estimators": 5000, "max_depth": 200}


def check_params(name: str, estimator: BaseEstimator) -> None:
    """Validate every parameter of ``estimator`` (and of its pipeline steps) without fitting.

    Uses scikit-learn's parameter constraints where a class declares them and the class's
    own ``_check_params`` otherwise.

    Raises
    ------
    LandmarkASLError
        Naming the model and the parameter, e.g. ``n_estimators must be an int in the range [1, inf)``.
    """
    steps = [step for _, step in estimator.steps] if hasattr(estimator, "steps") else [estimator]
    for step in steps:
        try:
            if getattr(step, "_parameter_constraints", None):
                step._validate_params()
            if hasattr(step, "_check_params"):
                step._check_params()
        except (ValueError, TypeError) as exc:
            message = str(exc).replace(f"of {type(step).__name__} ", "")
            raise LandmarkASLError(f"bad parameter for model {name!r}: {message}") from None
        # Sizes no one means: a card or --param asking for them would fit for days (or never end).
        for key, high in SIZE_LIMITS.items():
            value = step.get_params(deep=False).get(key)
            if isinstance(value, numbers.Real) and not isinstance(value, bool) and value > high:
                raise LandmarkASLError(f"bad parameter for model {name!r}: {key} must be at most {high:,}; got {value:,}")


def parse_params(items: Sequence[str], *, per_model: bool) -> dict[str, Any]:
    """Parse ``NAME=VALUE`` (or ``MODEL.NAME=VALUE`` with ``per_model``) strings.

    Values are read as JSON where they parse (``50``, ``0.5``, ``null``, ``true``), else kept as text.

    Returns
    -------
    dict
        ``{name: value}``, or ``{model: {name: value}}`` with ``per_model``.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        model, dot, name = key.partition(".") if per_model else ("", ".", key)
        if not sep or not dot or not name.strip() or (per_model and not model.strip()):
            expected = "MODEL.NAME=VALUE, e.g. rf.n_estimators=50" if per_model else "NAME=VALUE, e.g. n_estimators=50"
            raise LandmarkASLError(f"bad parameter {item!r}: expected {expected}")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        target = out.setdefault(model.strip(), {}) if per_model else out
        target[name.strip()] = value
    return out
