"""Calibrated confidence: temperature scaling of a model's probabilities, fitted on signers the model never saw.

A random forest's probabilities are vote shares spread over ~29 classes: too low where it is
right (under-confident). Temperature scaling maps them to ``(p + s) ** (1 / T)``, renormalised,
with one temperature ``T`` (and a small smoothing ``s`` so that a zero vote share stays
finite) fitted by maximum likelihood on out-of-fold predictions: each training group
(signer, session or dataset) is predicted by a model trained without it, which is what a
new signer looks like. The map is monotonic, so the predicted label never changes; only
the confidence does. It is stored in the model card as plain numbers.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar

#: Smoothing added to every probability before the temperature: about one vote in a 50-tree forest
#: spread over 20 classes, so that a class with no vote keeps a small, finite log-probability.
DEFAULT_SMOOTHING = 1e-3
_LOG_T_BOUNDS = (-4.0, 4.0)
#: Temperatures a card may hold: beyond these the map overflows to NaN or is meaningless.
_T_RANGE = (1e-3, 1e3)
#: The most smoothing a card may hold: 1.0 would flatten every answer to about 1 / n_classes.
_MAX_SMOOTHING = 0.1


def _finite(value: float) -> bool:
    """``math.isfinite`` that also says no to an integer too large for a float (a JSON card may hold one)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


@dataclass(frozen=True)
class TemperatureScaling:
    """The map ``p -> (p + smoothing) ** (1 / temperature)``, renormalised per row.

    Parameters
    ----------
    temperature : float, default=1.0
        Below 1 sharpens (more confident), above 1 flattens.
    smoothing : float, default=DEFAULT_SMOOTHING

    Examples
    --------
    >>> import numpy as np
    >>> TemperatureScaling(temperature=0.5, smoothing=0.0).apply(np.array([[0.6, 0.3, 0.1]])).round(3)
    array([[0.783, 0.196, 0.022]])
    """

    temperature: float = 1.0
    smoothing: float = DEFAULT_SMOOTHING

    def __post_init__(self) -> None:
        for name in ("temperature", "smoothing"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
                raise ValueError(f"calibration {name} must be a finite number; got {reprlib.repr(value)}")
        if self.temperature <= 0:
            raise ValueError(f"calibration temperature must be > 0; got {self.temperature!r}")
        if not _T_RANGE[0] <= self.temperature <= _T_RANGE[1]:
            raise ValueError(f"calibration temperature must be in [{_T_RANGE[0]:g}, {_T_RANGE[1]:g}]; got {self.temperature!r}")
        if not 0 <= self.smoothing <= _MAX_SMOOTHING:
            raise ValueError(f"calibration smoothing must be in [0, {_MAX_SMOOTHING:g}]; got {self.smoothing!r}")

    def apply(self, proba: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, same shape as ``proba`` (n_samples, n_classes) or (n_classes,)."""
        proba = np.asarray(proba, dtype=np.float64)
        if self.temperature == 1.0 and self.smoothing == 0.0:
            return proba
        logits = np.log(np.maximum(proba, 0.0) + self.smoothing + 1e-300) / self.temperature
        logits -= logits.max(axis=-1, keepdims=True)
        out = np.exp(logits)
        out /= out.sum(axis=-1, keepdims=True)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in a model card."""
        return {"method": "temperature", "temperature": float(self.temperature), "smoothing": float(self.smoothing)}

    @classmethod
    def from_dict(cls, data: Any) -> TemperatureScaling:
        """Read the card's ``calibration`` object back.

        Raises
        ------
        ValueError
            If it is not ``{"method": "temperature", "temperature": T, "smoothing": s}`` with
            finite numbers, T > 0 and s >= 0.
        """
        if not isinstance(data, dict) or data.get("method") != "temperature":
            raise ValueError(f"calibration must be an object with method 'temperature'; got {data!r}")
        unknown = set(data) - {"method", "temperature", "smoothing", "fitted_on"}
        if unknown:
            raise ValueError(f"calibration has unknown keys {sorted(unknown)}")
        return cls(temperature=data.get("temperature"), smoothing=data.get("smoothing"))

    @classmethod
    def fit(cls, y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str], *,
            smoothing: float = DEFAULT_SMOOTHING) -> TemperatureScaling:
        """The temperature of least negative log-likelihood on held-out predictions.

        Parameters
        ----------
        y_true : sequence of str of length n_samples
            True labels; rows whose label is not in ``classes`` are ignored.
        proba : ndarray of shape (n_samples, n_classes)
            Out-of-fold probabilities (columns in ``classes`` order).
        classes : sequence of str
        smoothing : float

        Returns
        -------
        TemperatureScaling

        Raises
        ------
        ValueError
            If no row has a label in ``classes`` or ``proba`` has the wrong shape.
        """

        proba = np.asarray(proba, dtype=np.float64)
        classes = list(classes)
        if proba.ndim != 2 or proba.shape[1] != len(classes) or proba.shape[0] != len(y_true):
            raise ValueError(f"proba must have shape ({len(y_true)}, {len(classes)}); got {proba.shape}")
        index = {c: i for i, c in enumerate(classes)}
        target = np.array([index.get(label, -1) for label in y_true])
        keep = target >= 0
        if not keep.any():
            raise ValueError("no held-out row has a label among the model's classes: cannot fit a temperature")
        log_p = np.log(np.maximum(proba[keep], 0.0) + smoothing + 1e-300)
        rows = np.arange(int(keep.sum()))

        def nll(log_t: float) -> float:
            z = log_p / math.exp(log_t)
            z = z - z.max(axis=1, keepdims=True)
            return float(-(z[rows, target[keep]] - np.log(np.exp(z).sum(axis=1))).mean())

        best = minimize_scalar(nll, bounds=_LOG_T_BOUNDS, method="bounded")
        return cls(temperature=float(math.exp(best.x)), smoothing=smoothing)
