"""Honest ASL fingerspelling recognition from MediaPipe hand landmarks."""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# Public names, imported lazily so that `import landmark_asl` (and `--help`)
# does not pay for mediapipe, xgboost or torch.
_PUBLIC = {
    "LandmarkASLError": "landmark_asl.exceptions",
    "HandLandmarks": "landmark_asl.landmarks",
    "HandLandmarkExtractor": "landmark_asl.landmarks",
    "ExtractorSettings": "landmark_asl.landmarks",
    "CANONICAL_LABELS": "landmark_asl.labels",
    "normalize_label": "landmark_asl.labels",
    "load_manifest": "landmark_asl.datasets",
    "LandmarkNormalizer": "landmark_asl.features",
    "make_estimator": "landmark_asl.estimators",
    "save_model": "landmark_asl.persistence",
    "load_model": "landmark_asl.persistence",
}

__all__ = ["__version__", *sorted(_PUBLIC)]


def __getattr__(name: str):
    try:
        module = _PUBLIC[name]
    except KeyError:
        raise AttributeError(f"module 'landmark_asl' has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), name)
