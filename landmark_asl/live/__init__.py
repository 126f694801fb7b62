"""Live spelling: the frame loop (`loop`), the speller (`speller`), hand motion and word suggestions.

The settings are imported eagerly (the CLI reads their defaults at import time, standard library
only); the loop lazily, as it loads NumPy.
"""

from __future__ import annotations

from landmark_asl._util import lazy_attributes
from landmark_asl.live.settings import LiveSettings

_LAZY = {"LiveRecognizer": "landmark_asl.live.loop", "Speller": "landmark_asl.live.speller"}

__all__ = ["LiveRecognizer", "LiveSettings", "Speller"]

__getattr__ = lazy_attributes(__name__, _LAZY)
