"""Honest ASL fingerspelling recognition from MediaPipe hand landmarks."""

from __future__ import annotations

from landmark_asl._util import lazy_attributes

__version__ = "0.1.0"

# Public names, imported lazily so that `import landmark_asl` (and `--help`)
# does not pay for mediapipe, xgboost or torch. `load_model` is the recognizer's
# (a model plus its hand extractor); `landmark_asl.model.store.load_model` loads the bare model.
_PUBLIC = {
    # Recognise letters: load once, predict on any image.
    "load_model": "landmark_asl.model.recognizer",
    "Recognizer": "landmark_asl.model.recognizer",
    "Prediction": "landmark_asl.model.recognizer",
    "evaluate_images": "landmark_asl.model.recognizer",
    # Landmarks and labels.
    "HandLandmarks": "landmark_asl.hands.landmarks",
    "HandLandmarkExtractor": "landmark_asl.hands.extractor",
    "ExtractorSettings": "landmark_asl.hands.extractor",
    "CANONICAL_LABELS": "landmark_asl.labels",
    "normalize_label": "landmark_asl.labels",
    # Build models.
    "load_manifest": "landmark_asl.data.datasets",
    "LandmarkNormalizer": "landmark_asl.estimators.features",
    "make_estimator": "landmark_asl.estimators.registry",
    "save_model": "landmark_asl.model.store",
    "train_model": "landmark_asl.training.train",
    "adapt_model": "landmark_asl.training.adapt",
    "LandmarkASLError": "landmark_asl.exceptions",
}

__all__ = ["__version__", *sorted(_PUBLIC)]

__getattr__ = lazy_attributes(__name__, _PUBLIC)
