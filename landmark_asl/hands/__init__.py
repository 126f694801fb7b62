"""Hands: the landmark value type, the MediaPipe extractor, reading images, and several views of one photo.

The settings are imported eagerly (the CLI reads their defaults at import time, standard library
only); the rest lazily, as it loads NumPy and OpenCV.
"""

from __future__ import annotations

from landmark_asl._util import lazy_attributes
from landmark_asl.hands.settings import ExtractorSettings

_LAZY = {
    "HandLandmarkExtractor": "landmark_asl.hands.extractor",
    "HandLandmarks": "landmark_asl.hands.landmarks",
    "image_files": "landmark_asl.hands.images",
    "read_image": "landmark_asl.hands.images",
}

__all__ = ["ExtractorSettings", "HandLandmarkExtractor", "HandLandmarks", "image_files", "read_image"]
__getattr__ = lazy_attributes(__name__, _LAZY)
