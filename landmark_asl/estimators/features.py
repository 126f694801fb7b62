"""Landmark features: the raw (n, 127) model input and the pure-NumPy normalisation that makes a handshape look the same whoever signs it and however the camera sees it."""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from landmark_asl.hands.landmarks import IMAGE_COLUMNS, N_LANDMARKS, WORLD_COLUMNS

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from landmark_asl.hands.landmarks import HandLandmarks

#: Bumped whenever :class:`LandmarkNormalizer` output changes for the same input and
#: parameters; saved models record it and loading refuses a mismatch.
FEATURE_VERSION = "3"

#: Names of the 127 raw input columns of every landmark model: image coordinates
#: x0, y0, z0 .. z20, world coordinates wx0 .. wz20 (NaN when absent) and ``is_left``.
RAW_FEATURE_NAMES: tuple[str, ...] = (*IMAGE_COLUMNS, *WORLD_COLUMNS, "is_left")
N_RAW_FEATURES = len(RAW_FEATURE_NAMES)

WRIST = 0
#: Knuckles (MCP joints) of index, middle, ring and little finger: they span the palm.
PALM_POINTS = (5, 9, 13, 17)
MIDDLE_MCP = 9
FINGERS = ((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20))
TIPS = (4, 8, 12, 16, 20)
_FINGER_BASES = (1, 5, 9, 13, 17)

_PAIRS_I, _PAIRS_J = np.triu_indices(N_LANDMARKS, k=1)
# Tips against every other point: 90 of the 210 pairs, those that carry the handshape.
_TIP_MASK = np.isin(_PAIRS_I, TIPS) | np.isin(_PAIRS_J, TIPS)
_TIP_I, _TIP_J = _PAIRS_I[_TIP_MASK], _PAIRS_J[_TIP_MASK]


def _joint_triples() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, c) index triples of the 15 finger joint angles (angle at b) and 4 spread angles."""
    a, b, c = [], [], []
    for finger in FINGERS:
        chain = (WRIST, *finger)
        for k in range(1, 4):
            a.append(chain[k - 1]), b.append(chain[k]), c.append(chain[k + 1])
    # Spread between neighbouring fingers: angle at the wrist between their tips.
    for f1, f2 in zip(FINGERS[:-1], FINGERS[1:]):
        a.append(f1[-1]), b.append(WRIST), c.append(f2[-1])
    return np.array(a), np.array(b), np.array(c)


_ANG_A, _ANG_B, _ANG_C = _joint_triples()
_QUARTER = np.full(len(PALM_POINTS), 1.0 / len(PALM_POINTS))  # mean by matmul: cheaper than .mean()
_DISTANCE_CHOICES = ("all", "tips", "none")
_ROTATE_CHOICES = ("plane", "3d", "none")


def raw_features(table: pd.DataFrame) -> np.ndarray:
    """Build the raw model input from a landmark table.

    Parameters
    ----------
    table : pandas.DataFrame
        A landmark table (``landmark_asl.data.extraction.TABLE_COLUMNS`` or a subset): image
        columns ``x0 .. z20`` are required; world columns ``wx0 .. wz20`` become NaN when
        absent; ``handedness`` ('Left'/'Right') sets ``is_left`` (0 when absent).
        Keep only rows with a detected hand: undetected rows have NaN image coordinates,
        which :class:`LandmarkNormalizer` refuses.

    Returns
    -------
    ndarray of shape (n_rows, 127), float32
        Columns :data:`RAW_FEATURE_NAMES`.

    Raises
    ------
    ValueError
        If image columns are missing.
    """
    missing = [c for c in IMAGE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(
            f"landmark table lacks image columns {missing[:3]}{'...' if len(missing) > 3 else ''}"
            f" ({len(missing)} of 63): expected x0, y0, z0 .. z20 as written by extract_table"
        )
    n = len(table)
    out = np.full((n, N_RAW_FEATURES), np.nan, dtype=np.float32)
    out[:, :63] = table.loc[:, list(IMAGE_COLUMNS)].to_numpy(dtype=np.float32, na_value=np.nan)
    present = [c for c in WORLD_COLUMNS if c in table.columns]
    if len(present) == len(WORLD_COLUMNS):
        out[:, 63:126] = table.loc[:, list(WORLD_COLUMNS)].to_numpy(dtype=np.float32, na_value=np.nan)
    if "handedness" in table.columns:
        out[:, 126] = (table["handedness"].astype(str) == "Left").to_numpy(dtype=np.float32)
    else:
        out[:, 126] = 0.0
    if "image_width" in table.columns and "image_height" in table.columns:
        _undo_aspect(out, table["image_width"].to_numpy(np.float32), table["image_height"].to_numpy(np.float32))
    return out


def raw_features_from_hands(hands: Sequence[HandLandmarks]) -> np.ndarray:
    """Build the raw model input from detected hands.

    Parameters
    ----------
    hands : sequence of HandLandmarks
        Detected hands (no ``None``: filter undetected frames first).

    Returns
    -------
    ndarray of shape (len(hands), 127), float32
        Columns :data:`RAW_FEATURE_NAMES`.
    """
    out = np.empty((len(hands), N_RAW_FEATURES), dtype=np.float32)
    for row, hand in zip(out, hands):
        if hand is None:
            raise ValueError("hands must not contain None: drop frames without a detected hand first")
        row[:63] = hand.image.reshape(-1)
        row[63:126] = hand.world.reshape(-1)
        row[126] = 1.0 if hand.handedness == "Left" else 0.0
        if hand.image_size is not None and hand.image_size[0] != hand.image_size[1]:
            row[1:63:3] *= hand.image_size[1] / hand.image_size[0]
    return out


def _undo_aspect(out: np.ndarray, width: np.ndarray, height: np.ndarray) -> None:
    """Rescale y by height / width in place, so x and y share one unit on non-square images.

    MediaPipe divides x by the image width and y by its height: on a 640x480 frame a hand
    looks stretched compared with the square training photos. Rows of unknown size
    (0 or NaN, e.g. landmark CSVs) are left as they are.
    """
    known = (width > 0) & (height > 0) & (width != height)
    if np.any(known):
        out[known, 1:63:3] *= (height[known] / width[known])[:, None]


def canonical_points(points: np.ndarray, left: np.ndarray, rotate: str, mirror: bool) -> tuple[np.ndarray, np.ndarray]:
    """Wrist-centred, mirrored, palm-scaled and (optionally) rotated points (see LandmarkNormalizer).

    Returns the points, shape (n, 21, 3), the wrist->middle-knuckle unit vector in the
    mirrored image plane, shape (n, 2) (the hand's orientation), and the points before
    rotation, shape (n, 21, 3).
    Written with few NumPy calls: it runs on the one-row live path.
    """
    p = points - points[:, WRIST : WRIST + 1]
    if mirror:
        p[:, :, 0] *= (1.0 - 2.0 * left)[:, None]
    knuckles = p[:, PALM_POINTS]
    palm = np.sqrt(np.einsum("nkc,nkc->nk", knuckles, knuckles)) @ _QUARTER
    p *= (1.0 / np.maximum(palm, 1e-9))[:, None, None]
    v = p[:, MIDDLE_MCP, :2]
    up = v * (1.0 / np.maximum(np.sqrt(np.einsum("nc,nc->n", v, v)), 1e-12))[:, None]
    plain = p
    if rotate == "plane":
        # Rotation taking up = (vx, vy) to (0, -1): wrist -> middle knuckle points "up" in image axes.
        vx, vy = up[:, 0:1], up[:, 1:2]
        x, y = p[:, :, 0], p[:, :, 1]
        p = p.copy()
        p[:, :, 0], p[:, :, 1] = vx * y - vy * x, -(vx * x + vy * y)
    elif rotate == "3d":
        p = p @ hand_frame(p).transpose(0, 2, 1)
    return p, up, plain


def hand_frame(p: np.ndarray) -> np.ndarray:
    """Rows: across the palm, wrist -> middle knuckle, palm normal; shape (n, 3, 3), orthonormal."""
    u = p[:, MIDDLE_MCP]
    u = u * (1.0 / np.maximum(np.sqrt(np.einsum("nc,nc->n", u, u)), 1e-12))[:, None]
    a = p[:, 5] - p[:, 17]
    a = a - np.einsum("nc,nc->n", a, u)[:, None] * u
    a = a * (1.0 / np.maximum(np.sqrt(np.einsum("nc,nc->n", a, a)), 1e-12))[:, None]
    return np.stack([a, u, _cross(a, u)], axis=1)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product of two (n, 3) arrays (``np.cross`` costs ~60 us a call on one row)."""
    return a[:, [1, 2, 0]] * b[:, [2, 0, 1]] - a[:, [2, 0, 1]] * b[:, [1, 2, 0]]


def _angles(p: np.ndarray) -> np.ndarray:
    """Cosines of the 19 joint and spread angles, shape (n, 19)."""
    u = p[:, _ANG_A] - p[:, _ANG_B]
    w = p[:, _ANG_C] - p[:, _ANG_B]
    num = np.einsum("nkc,nkc->nk", u, w)
    den = np.sqrt(np.einsum("nkc,nkc->nk", u, u) * np.einsum("nkc,nkc->nk", w, w))
    return num / np.maximum(den, 1e-12)


def _distances(p: np.ndarray, which: str) -> np.ndarray:
    """Euclidean distances between landmark pairs, shape (n, 210) or (n, 90)."""
    i, j = (_PAIRS_I, _PAIRS_J) if which == "all" else (_TIP_I, _TIP_J)
    d = p[:, i] - p[:, j]
    return np.sqrt(np.einsum("nkc,nkc->nk", d, d))


#: Finger joints (MCP, PIP, DIP, tip) of index, middle, ring and little finger.
_LONG_FINGERS = np.array(FINGERS[1:])
_THUMB_TIP = 4
#: The long fingers' bones (MCP-PIP, PIP-DIP, DIP-tip), finger by finger.
_BONE_STARTS, _BONE_ENDS = _LONG_FINGERS[:, :-1].ravel(), _LONG_FINGERS[:, 1:].ravel()
#: Joint chains of the five fingers, base to tip (curl).
_CHAINS = np.array(FINGERS)


def _coordinate_pairs(*pairs: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices (joint * 3 + axis) of coordinate differences ``(joint_a, axis_a, joint_b, axis_b)``."""
    return np.array([a * 3 + i for a, i, _, _ in pairs]), np.array([b * 3 + j for _, _, b, j in pairs])


# Axes of the hand frame: 0 across the palm, 1 up (wrist -> middle knuckle), 2 palm normal.
_HS_A, _HS_B = _coordinate_pairs(
    *[(_THUMB_TIP, 0, k, 0) for k in (5, 9, 13, 17, 6, 10, 14, 18)],  # thumb across knuckles / middle joints
    *[(_THUMB_TIP, 2, k, 2) for k in (6, 10, 14, 18)],  # thumb in front of / behind middle joints
    *[(_THUMB_TIP, 1, k, 1) for k in (6, 10, 14, 18)],  # thumb above / below middle joints
    (8, 0, 12, 0), (7, 0, 11, 0), (12, 0, 16, 0),  # finger crossing
    (8, 2, 12, 2), (7, 2, 6, 2), (8, 1, 6, 1),  # end-joint depth order, index hook
)
_TIP_DEPTH = np.array(TIPS) * 3 + 2


def _segment_distance(point: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from points of shape (n, 3) to segments a-b of shape (n, k, 3), shape (n, k)."""
    ab = b - a
    t = np.einsum("nkc,nkc->nk", point[:, None] - a, ab) / np.maximum(np.einsum("nkc,nkc->nk", ab, ab), 1e-12)
    closest = a + np.clip(t, 0.0, 1.0)[:, :, None] * ab
    d = point[:, None] - closest
    return np.sqrt(np.einsum("nkc,nkc->nk", d, d))


def _handshape(plain: np.ndarray) -> np.ndarray:
    """Descriptors of the confusable handshapes, in the hand's own 3D frame, shape (n, 36).

    - where the thumb tip lies across the palm relative to each finger's knuckle and middle
      joint (8: under which fingers, M/N/S/T/A/E), in front of or behind each finger's middle
      joint (4) and above or below it (4);
    - the thumb tip's distance to the nearest bone of each finger (4: contact, O/C/F);
    - finger crossing, across-palm order of neighbouring tips and end joints (3: R/U);
    - curl of each finger, tip-to-base distance over its length (5: the X hook);
    - depth of each fingertip along the palm normal (5);
    - the two finger-end joints' depth order for index and middle (3).
    """
    q = plain @ hand_frame(plain).transpose(0, 2, 1)  # columns: across, up, normal
    n = len(q)
    # Every difference of two coordinates at once, by flat index (this runs for one row per
    # live frame, where NumPy's per-call overhead, not arithmetic, is the cost).
    diff = (flat := q.reshape(n, 63))[:, _HS_A] - flat[:, _HS_B]
    bones = _segment_distance(q[:, _THUMB_TIP], q[:, _BONE_STARTS], q[:, _BONE_ENDS]).reshape(n, 4, 3).min(axis=2)
    seg = np.sqrt(((q[:, _CHAINS[:, 1:]] - q[:, _CHAINS[:, :-1]]) ** 2).sum(axis=3)).sum(axis=2)
    reach = np.sqrt(((q[:, _CHAINS[:, -1]] - q[:, _CHAINS[:, 0]]) ** 2).sum(axis=2))
    curl = reach / np.maximum(seg, 1e-12)
    return np.concatenate([diff[:, :16], bones, diff[:, 16:19], curl, flat[:, _TIP_DEPTH], diff[:, 19:]], axis=1)


_HANDSHAPE_NAMES = (
    [f"thumb_across_{k}" for k in (5, 9, 13, 17, 6, 10, 14, 18)]
    + [f"thumb_front_{k}" for k in (6, 10, 14, 18)]
    + [f"thumb_above_{k}" for k in (6, 10, 14, 18)]
    + [f"thumb_contact_{f}" for f in ("index", "middle", "ring", "little")]
    + ["cross_8_12", "cross_7_11", "cross_12_16"]
    + [f"curl_{f}" for f in ("thumb", "index", "middle", "ring", "little")]
    + [f"depth_{t}" for t in TIPS]
    + ["depth_8_12", "depth_7_6", "hook_8_6"]
)


def _palm_normal(p: np.ndarray) -> np.ndarray:
    """Unit normal of the palm plane (wrist at the origin, index and little knuckles), shape (n, 3)."""
    n = _cross(p[:, 5] - p[:, WRIST], p[:, 17] - p[:, WRIST])
    return n * (1.0 / np.maximum(np.sqrt(np.einsum("nc,nc->n", n, n)), 1e-12))[:, None]


class LandmarkNormalizer(TransformerMixin, BaseEstimator):
    """Turn raw landmarks into signer- and camera-invariant handshape features.

    Steps, all per row and stateless: wrist to the origin, left hands mirrored to right
    (``is_left``), scaled by palm size (mean wrist-knuckle distance), rotated in the image
    plane so that wrist -> middle knuckle points up. Then optional descriptors that do not
    depend on rotation: pairwise distances and joint-angle cosines; the hand's original
    orientation (so that H/U, K/P, G/Q, which differ mostly by orientation, stay apart);
    and the same geometry computed on the world landmarks when present.

    Parameters
    ----------
    rotate : {'plane', '3d', 'none'}, default='plane'
        Canonical rotation of the coordinates: 'plane' rotates in the image plane so that
        wrist -> middle knuckle points up; '3d' expresses them in the hand's own frame
        (across the palm, up the palm, palm normal); 'none' keeps image axes.
    mirror : bool, default=True
        Mirror left hands (``is_left > 0.5``) to right hands.
    coords : bool, default=True
        Include the 60 normalised coordinates of landmarks 1..20.
    distances : {'tips', 'all', 'none'}, default='tips'
        Pairwise 3D distances: the 90 pairs involving a fingertip, all 210 pairs, or none.
        'tips' measured better than 'all' on every evaluation (docs/experiments.md, 2026-11-21).
    angles : bool, default=True
        Include cosines of the 15 finger-joint angles and 4 finger-spread angles.
    orientation : bool, default=True
        Include the wrist -> middle-knuckle unit vector (2) and the palm normal (3).
    finger_directions : bool, default=True
        Include each finger's base -> tip unit vector in the (mirrored) image plane before
        rotation (10): where the fingers point, e.g. P (down) against G (sideways).
    world : bool, default=False
        Include world-landmark distances and angles (NaN where world is NaN, e.g. landmark
        CSVs). Off by default: see the feature table in docs/experiments.md for the measurement.

    Attributes
    ----------
    n_features_in_ : int
        Always 127.
    n_features_out_ : int
        Number of output features.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((4, 127))
    >>> LandmarkNormalizer().fit_transform(X).shape
    (4, 184)
    """

    def __init__(
        self,
        rotate: str = "plane",
        mirror: bool = True,
        coords: bool = True,
        distances: str = "tips",
        angles: bool = True,
        orientation: bool = True,
        finger_directions: bool = True,
        world: bool = False,
        handshape: bool = False,
    ) -> None:
        self.rotate = rotate
        self.mirror = mirror
        self.coords = coords
        self.distances = distances
        self.angles = angles
        self.orientation = orientation
        self.finger_directions = finger_directions
        self.world = world
        self.handshape = handshape

    def _check_params(self) -> None:
        for name in ("mirror", "coords", "angles", "orientation", "finger_directions", "world", "handshape"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be true or false; got {getattr(self, name)!r}")
        if self.rotate not in _ROTATE_CHOICES:
            raise ValueError(f"rotate must be one of {_ROTATE_CHOICES}; got {self.rotate!r}")
        if self.distances not in _DISTANCE_CHOICES:
            raise ValueError(f"distances must be one of {_DISTANCE_CHOICES}; got {self.distances!r}")

    def _check_shape(self, X: object) -> None:
        shape = getattr(X, "shape", None)
        if shape is not None and len(shape) == 2 and shape[1] != N_RAW_FEATURES:
            hint = (
                ": pass raw_features(table), not flattened coordinates"
                if shape[1] in (42, 63)
                else ": pass raw_features(table) or raw_features_from_hands(hands)"
            )
            raise ValueError(
                f"landmarks must have shape (n, {N_RAW_FEATURES}) raw features; got (n, {shape[1]}){hint}"
            )

    def fit(self, X: np.ndarray, y: object = None) -> LandmarkNormalizer:
        """Validate parameters and input; nothing is learned.

        Parameters
        ----------
        X : array-like of shape (n_samples, 127)
            Raw features (:func:`raw_features`).
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        self._check_shape(X)
        self.n_features_out_ = len(self._names())
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Compute the features.

        Parameters
        ----------
        X : array-like of shape (n_samples, 127)
            Raw features (:func:`raw_features`); image columns must be finite.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out_), float64
        """
        check_is_fitted(self, "n_features_out_")
        self._check_shape(X)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        bad = ~np.isfinite(X[:, :63]).all(axis=1)
        if bad.any():
            rows = np.flatnonzero(bad)
            raise ValueError(
                f"image landmarks (first 63 columns) must be finite; rows {rows[:5].tolist()} "
                f"({bad.sum()} in all) have NaN or inf: drop rows without a detected hand"
            )
        return self.transform_array(X)

    def transform_array(self, X: np.ndarray) -> np.ndarray:
        """Fast path of :meth:`transform` without validation (single-row prediction).

        Parameters
        ----------
        X : ndarray of shape (n_samples, 127), float
            Already-validated raw features.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out_), float64
        """
        n = X.shape[0]
        left = X[:, 126] > 0.5
        image = X[:, :63].reshape(n, N_LANDMARKS, 3).astype(np.float64)
        p, up, plain = canonical_points(image, left, self.rotate, self.mirror)
        parts = []
        if self.coords:
            parts.append(p[:, 1:].reshape(n, -1))
        if self.distances != "none":
            parts.append(_distances(p, self.distances))
        if self.angles:
            parts.append(_angles(p))
        if self.orientation:
            normal = _palm_normal(p)
            parts.extend((up, normal))
        if self.finger_directions:
            d = plain[:, TIPS, :2] - plain[:, _FINGER_BASES, :2]
            norm = np.sqrt(np.einsum("nkc,nkc->nk", d, d))
            parts.append((d * (1.0 / np.maximum(norm, 1e-12))[:, :, None]).reshape(n, 10))
        if self.handshape:
            parts.append(_handshape(plain))
        if self.world:
            w = X[:, 63:126].reshape(n, N_LANDMARKS, 3).astype(np.float64)
            pw, _, _ = canonical_points(w, left, "none", self.mirror)
            parts.append(_distances(pw, "tips"))
            parts.append(_angles(pw))
        return np.concatenate(parts, axis=1)

    def _names(self) -> list[str]:
        names: list[str] = []
        if self.coords:
            names += [f"n{a}{i}" for i in range(1, N_LANDMARKS) for a in "xyz"]
        if self.distances != "none":
            i, j = (_PAIRS_I, _PAIRS_J) if self.distances == "all" else (_TIP_I, _TIP_J)
            names += [f"d{a}_{b}" for a, b in zip(i, j)]
        if self.angles:
            names += [f"cos{a}_{b}_{c}" for a, b, c in zip(_ANG_A, _ANG_B, _ANG_C)]
        if self.orientation:
            names += ["up_x", "up_y", "normal_x", "normal_y", "normal_z"]
        if self.finger_directions:
            names += [f"dir{t}_{a}" for t in TIPS for a in "xy"]
        if self.handshape:
            names += _HANDSHAPE_NAMES
        if self.world:
            names += [f"wd{a}_{b}" for a, b in zip(_TIP_I, _TIP_J)]
            names += [f"wcos{a}_{b}_{c}" for a, b, c in zip(_ANG_A, _ANG_B, _ANG_C)]
        return names

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """Names of the output features, ndarray of shape (n_features_out_,) of str."""
        check_is_fitted(self, "n_features_out_")
        return np.asarray(self._names(), dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # world columns are NaN for landmark CSVs
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags


#: Largest value of each perturbation of :func:`augment_landmarks`: a turn of 180 degrees, a scale
#: of 1 +- 0.9, jitter of a palm size, a stretch by 5 times. Beyond them a copy is no hand (or
#: overflows: stretch=1e308 makes inf coordinates).
AUGMENT_LIMITS = {"max_angle": 180.0, "scale": 0.9, "jitter": 1.0, "stretch": 4.0, "max_yaw": 180.0, "max_roll": 180.0,
                  "depth_stretch": 4.0}


def augment_landmarks(
    X: np.ndarray,
    y: np.ndarray,
    *,
    n_copies: int = 2,
    max_angle: float = 15.0,
    scale: float = 0.1,
    jitter: float = 0.01,
    mirror: bool = True,
    stretch: float = 0.0,
    max_yaw: float = 0.0,
    yaw_labels: Sequence[str] | None = None,
    max_roll: float | None = None,
    roll_labels: Sequence[str] | None = None,
    down_labels: Sequence[str] | None = None,
    depth_stretch: float = 0.0,
    random_state: int | np.random.RandomState | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Training-time augmentation: the input plus ``n_copies`` perturbed copies of each row.

    Each copy is rotated in 3D about the wrist (angles up to ``max_angle`` degrees about
    each axis; about the camera's axis up to ``max_roll`` when given), scaled by
    ``1 +- scale``, jittered per point by ``jitter`` times the palm size, and (with
    ``mirror``) mirrored with its ``is_left`` flag flipped, which leaves
    the normalised features of a perfect mirror unchanged and so teaches nothing new
    except robustness to handedness mistakes. World columns get the same rotation.

    Parameters
    ----------
    X : ndarray of shape (n_samples, 127)
        Raw features.
    y : ndarray of shape (n_samples,)
        Labels.
    n_copies : int, default=2
    max_angle, scale, jitter : float
    mirror : bool, default=True
    stretch : float, default=0.0
        Image y about the wrist times a factor log-uniform in ``[1 / (1 + stretch), 1 + stretch]``.
    max_yaw : float, default=0.0
        A further turn about the image's vertical axis through the wrist, uniform in
        ``+-max_yaw`` degrees: the hand seen from another side (180: from behind), with the
        direction of gravity kept, so P and Q still point down. Some sources photograph G and H
        from the other side (docs/experiments.md, 2026-12-06).
    yaw_labels : sequence of str, optional
        Only the rows of these labels get the ``max_yaw`` turn (None: every row); labels are
        compared as text, exactly (``"G"``, not ``"g"``), and a label not in ``y`` turns nothing,
        so one recipe fits any set of letters. The turn is drawn for every row either way, so
        the other rows' copies do not depend on the list.
    max_roll : float, optional
        The limit of the rotation about the camera's axis (the roll in the image plane, which
        changes where the fingers point relative to gravity: G against Q, K against P), in
        degrees; None: ``max_angle``, like the other two axes. The random draws are the same
        whatever its value, so only the roll changes.
    roll_labels : sequence of str, optional
        Only the rows of these labels get the ``max_roll`` limit; the others roll up to
        ``max_angle`` (None: every row gets ``max_roll``). For the letters told apart by where
        they point (P and Q point down): their copies keep the direction, the others still
        learn a tilted hand. Compared as text, exactly, like ``yaw_labels``; needs ``max_roll``.
    down_labels : sequence of str, optional
        The copies of these labels' rows are first turned in the image plane about the wrist a
        random part of the way (uniform) towards pointing straight down (the knuckle -> tip of
        the index, image y down): P and Q, which sources photograph anywhere from level to
        straight down. Compared as text, exactly, like ``yaw_labels``. The turn is drawn for
        every row, so the other rows' copies do not depend on the list (but differ from those
        of ``down_labels=None``).
    depth_stretch : float, default=0.0
        Image z about the wrist times a factor log-uniform in ``[1 / (1 + depth_stretch),
        1 + depth_stretch]``, after the turns: MediaPipe's depth is flatter than x and y by a
        factor that differs from camera to camera (1.1-1.7 on the sources here,
        docs/experiments.md, 2026-12-07). Drawn only when above 0, so the other copies stay
        as they were.
    random_state : int, RandomState or None, default=0

    Returns
    -------
    X_aug : ndarray of shape (n_samples * (1 + n_copies), 127), float32
    y_aug : ndarray of shape (n_samples * (1 + n_copies),)
    """
    if isinstance(n_copies, bool) or not isinstance(n_copies, (int, np.integer)) or n_copies < 0:
        raise ValueError(f"n_copies must be an integer >= 0; got {n_copies!r}")
    for name, value in (("max_angle", max_angle), ("scale", scale), ("jitter", jitter), ("stretch", stretch),
                        ("max_yaw", max_yaw), ("max_roll", max_angle if max_roll is None else max_roll),
                        ("depth_stretch", depth_stretch)):
        high = AUGMENT_LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= high:
            raise ValueError(f"{name} must be a number from 0 to {high:g}; got {value!r}")
    for name, value in (("yaw_labels", yaw_labels), ("roll_labels", roll_labels), ("down_labels", down_labels)):
        _check_labels(name, value)
    if yaw_labels is not None and not max_yaw:
        raise ValueError("yaw_labels needs max_yaw above 0: without a turn it changes nothing")
    if roll_labels is not None and max_roll is None:
        raise ValueError("roll_labels needs max_roll: without it every row rolls up to max_angle")
    rng = check_random_state(random_state)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    n = X.shape[0]
    if y.shape != (n,):
        raise ValueError(f"y must hold one label per row of X ({n}); got shape {y.shape}")
    turned = None if yaw_labels is None else _rows_of(y, yaw_labels)
    # rng.uniform(-a, a) is -a + 2a * u, bit for bit: the same draws whatever the roll's limit.
    limits = np.array([max_angle, max_angle, max_angle if max_roll is None else max_roll], dtype=np.float64)
    if roll_labels is not None:  # per row: max_roll for the listed labels, max_angle for the rest
        limits = np.full((n, 3), float(max_angle))
        limits[_rows_of(y, roll_labels), 2] = max_roll
    down = None
    if down_labels is not None:
        # The signed in-plane turn (radians) that makes the index (knuckle 5 -> tip 8) point straight
        # down, 0 for the rows of other labels or without a direction (NaN, or an index shorter than
        # a thousandth of the wrist -> middle knuckle).
        d = X[:, 8 * 3 : 8 * 3 + 2] - X[:, 5 * 3 : 5 * 3 + 2]
        palm = X[:, 9 * 3 : 9 * 3 + 2] - X[:, :2]
        to_down = np.angle(np.exp(1j * (np.pi / 2 - np.arctan2(d[:, 1], d[:, 0]))))
        with np.errstate(invalid="ignore"):
            pointless = ~(np.hypot(d[:, 0], d[:, 1]) > 1e-3 * np.hypot(palm[:, 0], palm[:, 1]))
        to_down[~_rows_of(y, down_labels) | pointless | ~np.isfinite(to_down)] = 0.0
        down = np.zeros((n, 3))
    out, labels = [X.astype(np.float32)], [y]
    for _ in range(n_copies):
        angles = np.deg2rad(-limits + 2 * limits * rng.random_sample((n, 3)))
        rot = _rotation_matrices(angles)
        if down is not None:  # drawn only when asked, so the copies without it stay as they were
            down[:, 2] = to_down * rng.random_sample(n)
            rot = rot @ _rotation_matrices(down)
        if max_yaw:  # drawn only when asked, so the copies of max_yaw=0 stay as they were
            yaw = np.zeros((n, 3))
            yaw[:, 1] = np.deg2rad(rng.uniform(-max_yaw, max_yaw, size=n))
            if turned is not None:
                yaw[~turned, 1] = 0.0
            rot = _rotation_matrices(yaw) @ rot
        s = 1.0 + rng.uniform(-scale, scale, size=(n, 1, 1))
        copy = X.copy()
        for start in (0, 63):
            pts = X[:, start : start + 63].reshape(n, N_LANDMARKS, 3)
            origin = pts[:, :1]
            moved = np.einsum("nij,nkj->nki", rot, pts - origin) * s
            size = np.sqrt((moved[:, PALM_POINTS] ** 2).sum(axis=2)).mean(axis=1)[:, None, None]
            moved = moved + rng.normal(0.0, jitter, size=moved.shape) * np.nan_to_num(size)
            copy[:, start : start + 63] = (moved + origin).reshape(n, 63)
        if mirror:
            flip = rng.random(n) < 0.5
            for start in (0, 63):
                xs = copy[flip, start : start + 63 : 3]
                copy[flip, start : start + 63 : 3] = 2 * xs[:, :1] - xs
            copy[flip, 126] = 1.0 - (copy[flip, 126] > 0.5)
        if stretch:
            # Anisotropic image stretch (a non-square frame resized to a square, or landmarks
            # normalised by an unknown frame size): image y about the wrist times a factor
            # log-uniform in [1 / (1 + stretch), 1 + stretch]. World coordinates are metric.
            factor = np.exp(rng.uniform(-1.0, 1.0, size=(n, 1)) * np.log1p(stretch))
            ys = copy[:, 1:63:3]
            copy[:, 1:63:3] = ys[:, :1] + (ys - ys[:, :1]) * factor
        if depth_stretch:
            factor = np.exp(rng.uniform(-1.0, 1.0, size=(n, 1)) * np.log1p(depth_stretch))
            zs = copy[:, 2:63:3]
            copy[:, 2:63:3] = zs[:, :1] + (zs - zs[:, :1]) * factor
        out.append(copy.astype(np.float32))
        labels.append(y)
    return np.concatenate(out), np.concatenate(labels)


#: The most labels ``augment_landmarks``'s label lists take, and the longest label: a card or the CLI
#: cannot make it compare against megabytes of text.
MAX_AUGMENT_LABELS, MAX_LABEL_LENGTH = 1000, 64


def _check_labels(name: str, labels: object) -> None:
    """One-line refusal of a label list that is not a short non-empty list of short strings."""
    if labels is None:
        return
    if (isinstance(labels, str) or not isinstance(labels, (list, tuple)) or not labels
            or len(labels) > MAX_AUGMENT_LABELS
            or not all(isinstance(label, str) and len(label) <= MAX_LABEL_LENGTH for label in labels)):
        raise ValueError(f"{name} must be a non-empty list of at most {MAX_AUGMENT_LABELS} labels (strings of at "
                         f"most {MAX_LABEL_LENGTH} characters), e.g. [\"P\", \"Q\"], or None; "
                         f"got {reprlib.repr(labels)}")


def _rows_of(y: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """Boolean mask of the rows of ``y`` whose label, as text, is one of ``labels``."""
    wanted = set(labels)
    return np.fromiter((str(v) in wanted for v in y.tolist()), dtype=bool, count=len(y))


def _rotation_matrices(angles: np.ndarray) -> np.ndarray:
    """Rotation matrices R = Rz @ Ry @ Rx for angles of shape (n, 3), shape (n, 3, 3)."""
    cx, cy, cz = np.cos(angles).T
    sx, sy, sz = np.sin(angles).T
    one, zero = np.ones_like(cx), np.zeros_like(cx)
    rx = np.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], axis=1).reshape(-1, 3, 3)
    ry = np.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], axis=1).reshape(-1, 3, 3)
    rz = np.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], axis=1).reshape(-1, 3, 3)
    return rz @ ry @ rx
