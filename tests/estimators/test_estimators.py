"""Tests for landmark_asl.estimators.registry: the registry of model specs and its contract (fit, predict, save, load)."""

from __future__ import annotations

import numpy as np
import pytest

from landmark_asl.estimators.registry import REGISTRY, make_estimator
from landmark_asl.exceptions import LandmarkASLError
from landmark_asl.model.store import load_model, save_model

LANDMARK_MODELS = tuple(name for name, spec in REGISTRY.items() if spec.input_kind == "landmarks")

# Small, fast settings per registry entry: the contract is about behaviour, not accuracy.
_FAST_PARAMS = {
    "rf": {"n_estimators": 10},
    "xgb": {"n_estimators": 10, "device": "cpu"},
    "mlp": {"epochs": 30},
    "rf_mlp": {"n_estimators": 10, "epochs": 30},
    "cnn": {"epochs": 2, "image_size": 16, "validation_fraction": 0.0, "batch_size": 32},
}


def _synthetic_images(n_per_class: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Tiny RGB images (n, 16, 16, 3): a bright square whose position depends on the class."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for k, label in enumerate(("A", "B", "NOTHING")):
        for _ in range(n_per_class):
            img = rng.integers(0, 40, size=(16, 16, 3), dtype=np.uint8)
            img[2 + 4 * k : 6 + 4 * k, 3:9] = 220
            images.append(img)
            labels.append(label)
    return np.asarray(images), np.asarray(labels)


def test_registry_names():
    assert set(LANDMARK_MODELS) <= set(REGISTRY)
    assert sorted(REGISTRY) == ["cnn", "mlp", "rf", "rf_mlp", "xgb"]


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registry_contract(name, synthetic_landmarks, tmp_path):
    """Shapes, probabilities summing to 1, string labels, save -> load giving identical predictions."""
    if name in LANDMARK_MODELS:
        X, y = synthetic_landmarks
    else:
        X, y = _synthetic_images()
    model = make_estimator(name, **_FAST_PARAMS[name]).fit(X, y)
    np.testing.assert_array_equal(model.classes_, np.unique(y))
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), len(np.unique(y)))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    pred = model.predict(X)
    assert pred.shape == (len(X),) and set(pred) <= set(y)
    np.testing.assert_array_equal(pred, model.classes_[proba.argmax(axis=1)])
    assert (pred == y).mean() > 0.8

    loaded = load_model(save_model(model, tmp_path / name, name=name, training={"note": "contract"}))
    assert loaded.name == name and list(loaded.classes) == list(model.classes_)
    np.testing.assert_allclose(loaded.predict_proba(X), proba, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(loaded.predict(X), pred)
    one = loaded.predict_proba_one(X[0])
    assert one.shape == (len(model.classes_),)
    np.testing.assert_allclose(one, proba[0], atol=1e-6)


def test_unknown_model_lists_choices():
    with pytest.raises(LandmarkASLError, match=r"unknown model 'svm': choose one of cnn, mlp, rf, rf_mlp, xgb"):
        make_estimator("svm")


def test_factories_pass_normalizer_and_classifier_params():
    rf = make_estimator("rf", n_estimators=7, distances="tips", random_state=3)
    assert rf.named_steps["normalizer"].distances == "tips"
    assert rf.named_steps["clf"].n_estimators == 7 and rf.named_steps["clf"].random_state == 3
    assert rf.named_steps["clf"].n_jobs == 1
    xgb = make_estimator("xgb", max_depth=3, world=True)
    assert xgb.named_steps["normalizer"].world is True and xgb.named_steps["clf"].max_depth == 3
