"""Hand landmarks: the HandLandmarks value type (validated when built) and the hand it shows (handedness)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_LANDMARKS = 21

#: Column names of a landmark table (see ``landmark_asl.data.extraction``):
#: normalised image coordinates x0, y0, z0 ... x20, y20, z20 and world coordinates
#: wx0, wy0, wz0 ... wx20, wy20, wz20 (metres, origin near the hand's centre).
IMAGE_COLUMNS: tuple[str, ...] = tuple(f"{a}{i}" for i in range(N_LANDMARKS) for a in "xyz")
WORLD_COLUMNS: tuple[str, ...] = tuple(f"w{a}{i}" for i in range(N_LANDMARKS) for a in "xyz")


def _checked(name: str, value: object) -> np.ndarray:
    array = np.asarray(value, dtype=np.float32)
    if array.shape != (N_LANDMARKS, 3):
        raise ValueError(f"{name} must have shape (21, 3); got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite; got NaN or inf")
    return array


@dataclass(frozen=True)
class HandLandmarks:
    """One detected hand.

    Attributes
    ----------
    image : ndarray of shape (21, 3), float32
        x and y normalised to [0, 1] by image width and height, z relative depth.
    world : ndarray of shape (21, 3), float32
        Metric 3D coordinates with origin at the hand's approximate centre.
    handedness : {'Left', 'Right'}
        Which hand this is (see docs/guide/extraction.md, "Handedness").
    handedness_score : float
        MediaPipe's confidence in ``handedness``.
    image_size : (int, int) or None
        ``(width, height)`` of the image the hand was found in, or None when unknown.
        MediaPipe divides x by the width and y by the height, so on a non-square image
        the features need it to undo the stretch.
    """

    image: np.ndarray
    world: np.ndarray
    handedness: str
    handedness_score: float
    image_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "image", _checked("image", self.image))
        object.__setattr__(self, "world", _checked("world", self.world))
        if self.handedness not in ("Left", "Right"):
            raise ValueError(f"handedness must be 'Left' or 'Right'; got {self.handedness!r}")
        score = float(self.handedness_score)
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"handedness_score must be in [0, 1]; got {score}")
        object.__setattr__(self, "handedness_score", score)
        if self.image_size is not None:
            width, height = (int(v) for v in self.image_size)
            if width <= 0 or height <= 0:
                raise ValueError(f"image_size must be (width, height) > 0; got {self.image_size}")
            object.__setattr__(self, "image_size", (width, height))


#: Knuckles (MCP) and the joints below the fingertips (DIP) of index, middle, ring, little finger.
_MCPS, _DIPS = (5, 9, 13, 17), (7, 11, 15, 19)


def geometric_handedness(image: np.ndarray) -> str:
    """Which hand the landmarks' 3D shape is: 'Left' or 'Right', in MediaPipe's convention.

    A left and a right hand are mirror images, so the sign of the triple product
    ``(index knuckle - wrist) x (little knuckle - wrist) . (finger joints - knuckles)`` (the palm
    normal against the side the fingers bend to) tells them apart. Unlike MediaPipe's handedness
    score it flips exactly when the frame is mirrored, so a model that mirrors left hands to right
    ones gives the same answer on a mirrored and a plain camera. Scaling x or y (a non-square
    frame) does not change the sign. On the cached datasets it agrees with MediaPipe's own label
    on 91-99.8% of hands (docs/guide/extraction.md, "Handedness"); they disagree mostly on flat hands (W, C, 4).

    Parameters
    ----------
    image : ndarray of shape (21, 3)
        ``HandLandmarks.image``.

    Returns
    -------
    {'Left', 'Right'}
        What the hand looks like in the frame as given, the convention of ``HandLandmarks``
        (docs/guide/extraction.md, "Handedness"): a signer's right hand is 'Right' on a plain camera and 'Left'
        on a mirrored one.
    """
    # Plain float arithmetic: it runs on every live frame, where NumPy's per-call cost on
    # 3-vectors is most of the time.
    p = np.asarray(image, dtype=np.float64)[[0, 5, 17, *_MCPS, *_DIPS]].tolist()
    (wx, wy, wz), (ax, ay, az), (bx, by, bz) = p[0], p[1], p[2]
    ax, ay, az, bx, by, bz = ax - wx, ay - wy, az - wz, bx - wx, by - wy, bz - wz
    normal = (ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx)
    # mean(DIPs) - mean(MCPs): the wrist cancels.
    bend = [sum(q[k] for q in p[7:11]) - sum(q[k] for q in p[3:7]) for k in range(3)]
    return "Left" if normal[0] * bend[0] + normal[1] * bend[1] + normal[2] * bend[2] <= 0.0 else "Right"


#: Segments of the palm whose 3D length does not change as the hand moves or the fingers bend.
RIGID_SEGMENTS = ((0, 5), (0, 9), (0, 13), (0, 17), (5, 9), (9, 13), (13, 17), (5, 17), (0, 1))
#: Frame sizes (width, height) of common cameras: 16:9 and 4:3 landscape, square, 3:4 and 9:16 portrait.
COMMON_FRAME_SIZES: tuple[tuple[int, int], ...] = ((1280, 720), (640, 480), (480, 480), (480, 640), (720, 1280))
#: Their aspects, height / width.
COMMON_ASPECTS: tuple[float, ...] = tuple(h / w for w, h in COMMON_FRAME_SIZES)


def rigid_segments(image: np.ndarray) -> np.ndarray:
    """The vectors of :data:`RIGID_SEGMENTS` of each usable row, shape (n_usable, 9, 3).

    Rows that are not finite, or where a palm segment is shorter than 5% of the row's median one
    (a knuckle on the wrist, all zeros), are left out.

    Raises
    ------
    ValueError
        If ``image`` is not of shape (n, 21, 3).
    """
    points = np.asarray(image, dtype=np.float64)
    if points.ndim != 3 or points.shape[1:] != (N_LANDMARKS, 3):
        raise ValueError(f"image must have shape (n, 21, 3); got {points.shape}")
    first, second = zip(*RIGID_SEGMENTS, strict=True)
    points = points[np.isfinite(points).all(axis=(1, 2))]
    delta = points[:, list(first)] - points[:, list(second)]  # (n, segments, 3)
    lengths = np.linalg.norm(delta, axis=2)
    median = np.median(lengths, axis=1, keepdims=True) if len(points) else lengths[:, :1]
    return delta[((lengths >= 0.05 * median) & (median > 0)).all(axis=1)]


def estimate_frame_aspect(image: np.ndarray, *, snap: bool = True) -> float | None:
    """Estimate the frame aspect (height / width) that many hands' landmarks were found in.

    MediaPipe divides x by the frame's width and y by its height, so landmarks saved without
    the frame size (landmark CSVs) are stretched by an unknown factor. The palm's rigid segments
    (wrist to knuckles, knuckle to knuckle) keep their 3D length as a hand turns, so the
    aspect that rescales y to make those lengths most constant across the rows (relative to
    each hand's own size; z is in units of the width, as x) is the frame's. On photos of known
    size it comes within 5% of the truth (asl2text and massey, square: 1.025 and 0.981;
    ml_slr, 4:3: 0.718; docs/experiments.md, 2026-12-06). It needs many hands in varied poses:
    a few hundred rows of several letters (100 rows of one source spread from 0.47 to 0.68).

    Parameters
    ----------
    image : ndarray of shape (n, 21, 3)
        Image landmarks of many hands from one camera. Rows that are not finite, or where a
        palm segment is shorter than 5% of the row's median one (a knuckle on the wrist, all
        zeros), are left out.
    snap : bool, default=True
        Return the nearest of :data:`COMMON_ASPECTS` (on a log scale) instead of the estimate.

    Returns
    -------
    float or None
        Height / width; None when the rows do not tell (fewer than two usable rows, every
        aspect fitting as well, or the best at the edge of the search, 1:4 to 4:1).

    Raises
    ------
    ValueError
        If ``image`` is not of shape (n, 21, 3).
    """
    delta = rigid_segments(image)
    if len(delta) < 2:
        return None
    delta = delta[:: max(1, len(delta) // 5000)]  # every k-th row: the estimate needs a few thousand at most
    across = delta[..., 0] ** 2 + delta[..., 2] ** 2
    along = delta[..., 1] ** 2
    grid = np.exp(np.linspace(np.log(0.25), np.log(4.0), 445))  # steps of about 0.6%
    spread = np.empty(len(grid))
    for k, aspect in enumerate(grid):
        log_length = 0.5 * np.log(across + aspect * aspect * along)
        log_length -= log_length.mean(axis=1, keepdims=True)  # each hand relative to its own size
        spread[k] = log_length.std(axis=0).mean()
    best = int(np.argmin(spread))
    if best in (0, len(grid) - 1) or spread.max() - spread[best] < 1e-6:  # at the edge, or flat: one pose
        return None
    estimate = float(grid[best])
    if not snap:
        return estimate
    return min(COMMON_ASPECTS, key=lambda a: abs(np.log(a / estimate)))
