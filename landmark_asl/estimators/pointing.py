"""Letters told apart by where the index points: a second look at pairs with one handshape.

G and Q share a handshape (index and thumb out, parallel); G points level, Q points down. K and P
share one too (index up, middle finger forward, thumb between); K points up, P forward or down.
The forest sees where the index points, but also everything else about the hand, and a signer
whose letter differs in anything else gets its neighbour: on the dev protocol borisgraudt's Q
(pointing straight down) was read as G 326 times in a seed, a model trained without asl2text read
32 of asl2text's 228 G photos (pointing level) as Q and 170 of its 226 P as K.

:class:`PointingGate` is a logistic regression on one number, how far below level the index
points (:func:`index_pointing`), fitted on the training rows of its two letters, every dataset
weighing the same. Where a model's most likely letter is one of the pair, the pair's probability
mass is shared out again: as the gate says (``mode='share'``, G/Q), or as the model's odds times
the gate's (``mode='odds'``, K/P). No other letter's probability moves (so where a gate shares a
pair evenly, a third letter can come out on top), and every other row is left as it was.
:data:`DEFAULT_GATES` are the shipped recipe's; :func:`fit_gates` fits them, :func:`apply_gates`
applies them in turn. Measured in docs/experiments.md (2026-12-07, "G or Q by where the index
points", and "K or P too").

Example
-------
>>> import numpy as np
>>> gate = PointingGate(letters=("G", "Q"), intercept=-2.0, slope=0.15)
>>> round(float(gate.share_of_second(np.array([0.0, 60.0]))[1]), 3)  # pointing 60 degrees down: Q
0.999
"""

from __future__ import annotations

import math
import numbers
import reprlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

#: The pair a gate separates by default: (the letter pointing higher, the letter pointing lower).
DEFAULT_LETTERS = ("G", "Q")
#: How a gate shares its pair's probability: 'share' as the gate says, 'odds' as the model's odds
#: times the gate's.
MODES = ("share", "odds")
#: The shipped recipe's gates, in the order they apply: (letters, mode), each mode chosen on the
#: dev protocol and the sources never trained on (docs/experiments.md, 2026-12-07).
DEFAULT_GATES: tuple[tuple[tuple[str, str], str], ...] = ((("G", "Q"), "share"), (("K", "P"), "odds"))
#: Most gates a card may hold.
MAX_GATES = 8
#: Landmarks of the index finger's knuckle (MCP) and tip.
_INDEX_MCP, _INDEX_TIP = 5, 8
#: Largest |slope| (per degree) and |intercept| a saved gate may hold: a fitted one is near 0.15
#: and -2; beyond these a card is corrupt or crafted (exp() of them must stay finite).
MAX_SLOPE, MAX_INTERCEPT = 10.0, 100.0


def index_pointing(X: np.ndarray) -> np.ndarray:
    """How far below level the index points, in degrees, for each row of raw features.

    Parameters
    ----------
    X : ndarray of shape (n, 127)
        Raw features (:func:`~landmark_asl.estimators.features.raw_features`; y already in the
        unit of x, so the angle is the one in the photo).

    Returns
    -------
    ndarray of shape (n,)
        From -90 (straight up) through 0 (level, towards either side) to 90 (straight down):
        the direction knuckle -> tip of the index in the image plane.
    """
    X = np.asarray(X, dtype=np.float64)
    dx = X[:, 3 * _INDEX_TIP] - X[:, 3 * _INDEX_MCP]
    dy = X[:, 3 * _INDEX_TIP + 1] - X[:, 3 * _INDEX_MCP + 1]
    return np.degrees(np.arctan2(dy, np.abs(dx)))


@dataclass(frozen=True)
class PointingGate:
    """Share two letters' probability by how far below level the index points.

    Attributes
    ----------
    letters : tuple of two str
        The letter pointing higher and the one pointing lower, e.g. ``("G", "Q")``, ``("K", "P")``.
    intercept, slope : float
        The logistic regression: P(second letter | the pair) = 1 / (1 + exp(-(intercept + slope * degrees))).
    mode : {'share', 'odds'}
        Where one of the pair leads, its mass is shared as the gate says ('share'), or as the
        model's odds times the gate's ('odds').
    """

    letters: tuple[str, str] = DEFAULT_LETTERS
    intercept: float = 0.0
    slope: float = 0.0
    mode: str = "share"
    #: The cue's unit in the fitted regression (degrees / 30 keeps the regularised problem well
    #: scaled); the stored slope is per unit of :meth:`cue`.
    cue_scale: ClassVar[float] = 30.0

    @staticmethod
    def cue(X: np.ndarray) -> np.ndarray:
        """The one number a gate reads of each row: :func:`index_pointing` (a subclass may read
        another; ``experiments/exp_pointing_gates.py`` measures some)."""
        return index_pointing(X)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"a pointing gate's mode is one of {MODES}; got {reprlib.repr(self.mode)}")

    @classmethod
    def fit(cls, X: np.ndarray, labels: Sequence[str], groups: Sequence[str] | None = None,
            letters: tuple[str, str] = DEFAULT_LETTERS, mode: str = "share") -> PointingGate | None:
        """Fit a gate on the rows of the two letters.

        Parameters
        ----------
        X : ndarray of shape (n, 127)
            Raw features of the training rows (no augmented copies: a copy turned in the image
            plane points elsewhere).
        labels : sequence of str of length n
        groups : sequence of str of length n, optional
            Weigh each group alike (the recipe's balance: every dataset alike); None: every row.
        letters : tuple of two str
        mode : {'share', 'odds'}

        Returns
        -------
        PointingGate or None
            None when the rows lack one of the two letters with finite landmarks (a model that
            cannot answer both needs no gate).
        """
        from sklearn.linear_model import LogisticRegression

        labels = np.asarray(labels, dtype=object).astype(str)
        mine = np.isin(labels, list(letters))
        if not all((labels[mine] == letter).any() for letter in letters):
            return None
        weight = None
        if groups is not None:
            g = np.asarray(groups, dtype=object).astype(str)[mine]
            _, inverse, counts = np.unique(g, return_inverse=True, return_counts=True)
            weight = len(g) / (len(counts) * counts[inverse])
        degrees = cls.cue(np.asarray(X)[mine])
        keep = np.isfinite(degrees)
        if not all((labels[mine][keep] == letter).any() for letter in letters):
            return None
        model = LogisticRegression().fit(degrees[keep, None] / cls.cue_scale, labels[mine][keep] == letters[1],
                                         sample_weight=None if weight is None else weight[keep])
        intercept, slope = float(model.intercept_[0]), float(model.coef_[0, 0]) / cls.cue_scale
        # Letters that never overlap give a very steep fit: soften it to within what a card may hold,
        # keeping its boundary.
        scale = min(1.0, MAX_INTERCEPT / max(abs(intercept), 1e-300), MAX_SLOPE / max(abs(slope), 1e-300))
        return cls(letters=(str(letters[0]), str(letters[1])), intercept=intercept * scale, slope=slope * scale,
                   mode=mode)

    def share_of_second(self, degrees: np.ndarray) -> np.ndarray:
        """P(the second letter | one of the pair) at each angle."""
        z = np.clip(self.intercept + self.slope * np.asarray(degrees, dtype=np.float64), -50.0, 50.0)
        return 1.0 / (1.0 + np.exp(-z))

    def share_of_second_one(self, x: np.ndarray) -> float:
        """:meth:`share_of_second` of one raw row, in plain Python arithmetic (the live loop's path)."""
        if type(self).cue is not PointingGate.cue:  # a subclass reading another cue
            return float(np.nan_to_num(self.share_of_second(self.cue(np.asarray(x)[None]))[0], nan=0.5))
        dx = abs(float(x[3 * _INDEX_TIP]) - float(x[3 * _INDEX_MCP]))
        dy = float(x[3 * _INDEX_TIP + 1]) - float(x[3 * _INDEX_MCP + 1])
        z = self.intercept + self.slope * math.degrees(math.atan2(dy, dx))
        if not math.isfinite(z):
            return 0.5
        return 1.0 / (1.0 + math.exp(-min(50.0, max(-50.0, z))))

    def describe(self) -> str:
        """The gate in words, e.g. 'Q rather than G where the index points lower than 17 degrees below level'."""
        boundary = self.boundary
        if self.slope <= 0 or boundary is None or not -90 <= boundary <= 90:
            return f"{'/'.join(self.letters)} by the index's angle (intercept {self.intercept:.3g}, slope {self.slope:.3g})"
        where = f"{boundary:.0f} degrees below level" if boundary >= 0 else f"{-boundary:.0f} degrees above level"
        return f"{self.letters[1]} rather than {self.letters[0]} where the index points lower than {where}"

    @property
    def boundary(self) -> float | None:
        """The angle (degrees below level) where the two letters are equally likely; None if flat."""
        return None if self.slope == 0 else -self.intercept / self.slope

    def apply(self, proba: np.ndarray, X: np.ndarray, classes: Sequence[str]) -> np.ndarray:
        """``proba`` with the pair's mass shared out again where the most likely letter is one of the pair.

        Parameters
        ----------
        proba : ndarray of shape (n, n_classes)
        X : ndarray of shape (n, 127)
            The raw features the probabilities were predicted from.
        classes : sequence of str
            The columns of ``proba``; a model without both letters is returned unchanged.

        Returns
        -------
        ndarray of shape (n, n_classes)
            A new array (``proba`` is not changed); each row still sums to what it summed to.
        """
        names = [str(c) for c in classes]
        if not all(letter in names for letter in self.letters) or len(proba) == 0:
            return proba
        first, second = names.index(self.letters[0]), names.index(self.letters[1])
        top = proba.argmax(axis=1)
        rows = np.flatnonzero((top == first) | (top == second))
        if not len(rows):
            return proba
        out = np.array(proba, dtype=np.float64, copy=True)
        mass = out[rows, first] + out[rows, second]
        share = self.share_of_second(self.cue(np.asarray(X)[rows]))
        share = np.where(np.isfinite(share), share, 0.5)
        if self.mode == "odds":
            a, b = out[rows, second] * share, out[rows, first] * (1.0 - share)
            total = a + b
            share = np.divide(a, total, out=np.full(len(rows), 0.5), where=total > 0)
        out[rows, second] = mass * share
        out[rows, first] = mass * (1.0 - share)
        return out

    def apply_one(self, proba: np.ndarray, x: np.ndarray, first: int, second: int) -> np.ndarray:
        """:meth:`apply` for one row, its pair at columns ``first`` and ``second`` (the live loop's path:
        a few microseconds, where the batch path takes tens)."""
        top = int(proba.argmax())
        if top != first and top != second:
            return proba
        share = self.share_of_second_one(x)
        proba = np.array(proba, dtype=np.float64)
        mass = proba[first] + proba[second]
        if self.mode == "odds":
            a, b = proba[second] * share, proba[first] * (1.0 - share)
            share = a / (a + b) if a + b > 0 else 0.5
        proba[first], proba[second] = mass * (1.0 - share), mass * share
        return proba

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in a model card (``metadata.json`` ``pointing``); ``boundary_degrees``
        is for the reader (recomputed from the two numbers, never read back; None when beyond +-180)."""
        boundary = self.boundary
        return {"letters": list(self.letters), "intercept": self.intercept, "slope": self.slope, "mode": self.mode,
                "boundary_degrees": boundary if boundary is not None and abs(boundary) <= 180 else None}

    @classmethod
    def from_dict(cls, data: Any, classes: Sequence[str] | None = None) -> PointingGate:
        """Build a gate from :meth:`to_dict`'s form, refusing anything else.

        Raises
        ------
        ValueError
            Not an object of two distinct letters (among ``classes`` when given) and two finite
            numbers within :data:`MAX_INTERCEPT` and :data:`MAX_SLOPE`; or a gate of a subclass
            reading another cue (a card stores where-the-index-points gates only).
        """
        if isinstance(data, PointingGate):
            if type(data).cue is not PointingGate.cue:
                raise ValueError(f"only gates that read where the index points go on a card; "
                                 f"{type(data).__name__} reads another cue")
            data = data.to_dict()
        if not isinstance(data, dict) or set(data) - {"letters", "intercept", "slope", "mode", "boundary_degrees"}:
            raise ValueError("a pointing gate is an object with letters, intercept, slope and mode")
        mode = data.get("mode", "share")
        if mode not in MODES:
            raise ValueError(f"a pointing gate's mode is one of {MODES}; got {reprlib.repr(mode)}")
        letters = data.get("letters")
        if (not isinstance(letters, (list, tuple)) or len(letters) != 2
                or not all(isinstance(c, str) and 0 < len(c) <= 64 for c in letters) or letters[0] == letters[1]):
            raise ValueError(f"a pointing gate's letters are two different labels; got {reprlib.repr(letters)}")
        if classes is not None and not set(letters) <= {str(c) for c in classes}:
            raise ValueError(f"a pointing gate's letters {list(letters)} must be classes of the model")
        values = {}
        for key, high in (("intercept", MAX_INTERCEPT), ("slope", MAX_SLOPE)):
            value = data.get(key)
            try:
                number = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else None
            except OverflowError:  # an integer too large for a float
                number = None
            if number is None or not math.isfinite(number) or abs(number) > high:
                raise ValueError(f"a pointing gate's {key} must be a number from -{high:g} to {high:g}; "
                                 f"got {reprlib.repr(value)}")
            values[key] = number
        return cls(letters=(letters[0], letters[1]), mode=mode, **values)


def fit_gates(X: np.ndarray, labels: Sequence[str], groups: Sequence[str] | None = None,
              gates: Sequence[tuple] = DEFAULT_GATES) -> tuple[PointingGate, ...]:
    """Fit each of ``gates`` on the rows; a pair the rows lack is left out.

    ``gates``: ``(letters, mode)`` pairs, or ``(letters, mode, cls)`` with ``cls`` a subclass of
    :class:`PointingGate` that reads another cue (the experiments' gates).
    """
    fitted = ((spec[2] if len(spec) > 2 else PointingGate).fit(X, labels, groups, letters=spec[0], mode=spec[1])
              for spec in gates)
    return tuple(gate for gate in fitted if gate is not None)


def apply_gates(gates: Sequence[PointingGate], proba: np.ndarray, X: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """``proba`` through each gate in turn (:meth:`PointingGate.apply`)."""
    for gate in gates:
        proba = gate.apply(proba, X, classes)
    return proba


def gates_to_list(gates: Sequence[PointingGate]) -> list[dict[str, Any]]:
    """The card's ``pointing``: a list of :meth:`PointingGate.to_dict`."""
    return [gate.to_dict() for gate in gates]


def gates_from_list(data: Any, classes: Sequence[str] | None = None) -> tuple[PointingGate, ...]:
    """Read a card's ``pointing`` back (a list of at most :data:`MAX_GATES` gates, or one gate alone).

    Raises
    ------
    ValueError
        Not a list of gates, or a gate :meth:`PointingGate.from_dict` refuses.
    """
    if isinstance(data, (dict, PointingGate)):
        data = [data]
    if not isinstance(data, (list, tuple)) or not 1 <= len(data) <= MAX_GATES:
        raise ValueError(f"pointing is a list of 1 to {MAX_GATES} gates; got {reprlib.repr(data)}")
    return tuple(PointingGate.from_dict(item, classes) for item in data)
