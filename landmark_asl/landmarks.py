"""Hand landmarks: the HandLandmarks value type and the extractor over MediaPipe's HandLandmarker.

This is the only module that imports mediapipe.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_LANDMARKS = 21

#: Column names of a landmark table (see ``landmark_asl.extraction``):
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
        Which hand this is (see README, "Handedness").
    handedness_score : float
        MediaPipe's confidence in ``handedness``.
    """

    image: np.ndarray
    world: np.ndarray
    handedness: str
    handedness_score: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "image", _checked("image", self.image))
        object.__setattr__(self, "world", _checked("world", self.world))
        if self.handedness not in ("Left", "Right"):
            raise ValueError(f"handedness must be 'Left' or 'Right'; got {self.handedness!r}")
        score = float(self.handedness_score)
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"handedness_score must be in [0, 1]; got {score}")
        object.__setattr__(self, "handedness_score", score)
