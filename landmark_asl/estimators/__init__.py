"""Estimators: landmark features, the estimator registry, tree ensembles and probability calibration."""

from landmark_asl.estimators.calibration import TemperatureScaling
from landmark_asl.estimators.features import LandmarkNormalizer, raw_features
from landmark_asl.estimators.registry import REGISTRY, get_spec, make_estimator

__all__ = ["REGISTRY", "LandmarkNormalizer", "TemperatureScaling", "get_spec", "make_estimator", "raw_features"]
