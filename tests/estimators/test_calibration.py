"""Tests for landmark_asl.estimators.calibration and the training recipe: temperature scaling, stored with the model; dataset balance; augmentation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from landmark_asl.estimators.calibration import TemperatureScaling
from landmark_asl.estimators.features import augment_landmarks
from landmark_asl.estimators.registry import make_estimator
from landmark_asl.evaluation.metrics import calibration_metrics
from landmark_asl.exceptions import DatasetError, LandmarkASLError, ModelLoadError
from landmark_asl.model.card import METADATA_FILE
from landmark_asl.model.store import load_model, save_model
from landmark_asl.training.recipe import Recipe
from landmark_asl.training.train import dataset_weights, fit_estimator, out_of_fold_proba

from conftest import synthetic_table


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _underconfident(n: int = 4000, k: int = 10, seed: int = 0):
    """Labels drawn from softmax(z) (the truth), and the flattened probabilities softmax(z / 3)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 3.0, size=(n, k))
    truth = _softmax(z)
    y = np.array([rng.choice(k, p=p) for p in truth])
    classes = [f"c{i}" for i in range(k)]
    return np.asarray(classes, dtype=object)[y], _softmax(z / 3.0), classes


def test_fitted_temperature_undoes_underconfidence_and_keeps_the_label():
    y, flat, classes = _underconfident()
    scaling = TemperatureScaling.fit(y, flat, classes, smoothing=0.0)
    assert scaling.temperature == pytest.approx(1 / 3, rel=0.1)
    scaled = scaling.apply(flat)
    np.testing.assert_allclose(scaled.sum(axis=1), 1.0)
    np.testing.assert_array_equal(scaled.argmax(axis=1), flat.argmax(axis=1))
    before, after = calibration_metrics(y, flat, classes)["ece"], calibration_metrics(y, scaled, classes)["ece"]
    assert after < 0.03 < before


def test_smoothing_keeps_zero_votes_finite():
    scaled = TemperatureScaling(temperature=0.5, smoothing=1e-3).apply(np.array([[1.0, 0.0, 0.0]]))
    assert np.isfinite(scaled).all() and scaled[0, 1] > 0 and scaled[0, 0] > 0.99


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"method": "platt", "temperature": 1.0, "smoothing": 0.0}, "method 'temperature'"),
        ({"method": "temperature", "temperature": -1.0, "smoothing": 0.0}, "temperature must be > 0"),
        ({"method": "temperature", "temperature": float("nan"), "smoothing": 0.0}, "finite number"),
        ({"method": "temperature", "temperature": "1", "smoothing": 0.0}, "finite number"),
        ({"method": "temperature", "temperature": 1.0, "smoothing": -0.1}, r"smoothing must be in \[0, 0.1\]"),
        ({"method": "temperature", "temperature": 1.0, "smoothing": 1.0}, r"smoothing must be in \[0, 0.1\]"),
        ({"method": "temperature", "temperature": 1e-300, "smoothing": 0.0}, r"temperature must be in \[0.001, 1000\]"),
        ({"method": "temperature", "temperature": 1.0, "smoothing": 0.0, "code": "x"}, "unknown keys"),
    ],
)
def test_bad_calibration_is_refused(data, message):
    with pytest.raises(ValueError, match=message):
        TemperatureScaling.from_dict(data)


def test_calibration_is_stored_with_the_model_and_applied_on_load(synthetic_landmarks, tmp_path):
    X, y = synthetic_landmarks
    model = make_estimator("rf", n_estimators=8).fit(X, y)
    scaling = TemperatureScaling(temperature=0.4)
    directory = save_model(model, tmp_path / "rf", name="rf", calibration={**scaling.to_dict(), "fitted_on": "test"})
    loaded = load_model(directory)
    raw = model.predict_proba(X)
    np.testing.assert_allclose(loaded.predict_proba(X), scaling.apply(raw), atol=1e-6)
    np.testing.assert_allclose(loaded.predict_proba_one(X[0]), scaling.apply(raw[0]), atol=1e-6)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    resaved = load_model(save_model(loaded, tmp_path / "again", name="rf"))
    assert resaved.card.calibration["temperature"] == pytest.approx(0.4)
    meta = json.loads((directory / METADATA_FILE).read_text())
    meta["calibration"] = {"method": "temperature", "temperature": 0, "smoothing": 0}
    (directory / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="bad calibration: calibration temperature must be > 0"):
        load_model(directory)


def test_out_of_fold_proba_never_uses_the_rows_own_group(synthetic_landmarks):
    X, y = synthetic_landmarks
    # Group "b" holds every C: a model trained without it cannot predict C there.
    groups = np.where(y == "C", "b", np.where(np.arange(len(y)) % 2 == 0, "a", "c"))
    table = synthetic_table(X, y, list(groups))
    classes = sorted(set(y))
    proba = out_of_fold_proba(Recipe.plain("rf", {"n_estimators": 8}), table, groups=groups, classes=classes)
    assert proba.shape == (len(y), len(classes))
    assert np.all(proba[y == "C", classes.index("C")] == 0)
    with pytest.raises(DatasetError, match="at least two signers"):
        out_of_fold_proba(Recipe.plain("rf"), table, groups=["a"] * len(y), classes=classes)


def test_dataset_balance_weighs_every_dataset_the_same():
    rows = pd.DataFrame({"dataset": ["big"] * 90 + ["small"] * 10})
    weight = dataset_weights(rows)
    assert weight[:90].sum() == pytest.approx(weight[90:].sum()) and weight.mean() == pytest.approx(1.0)


def test_balance_and_augmentation_change_the_fit_and_bad_recipes_fail(synthetic_landmarks):
    X, y = synthetic_landmarks
    table = synthetic_table(X, y, ["big"] * 100 + ["small"] * 20)
    plain, info = fit_estimator(Recipe.plain("rf", {"n_estimators": 8}), table)
    weighted, info_w = fit_estimator(Recipe.plain("rf", {"n_estimators": 8}).replace(
        balance="dataset", augment={"n_copies": 1, "stretch": 0.3}), table)
    assert info_w["balance"] == "dataset" and info_w["augment"] == {"n_copies": 1, "stretch": 0.3}
    assert not np.allclose(plain.predict_proba(X), weighted.predict_proba(X))
    with pytest.raises(LandmarkASLError, match="balance must be one of"):
        fit_estimator(Recipe.plain("rf").replace(balance="signer"), table)
    with pytest.raises(LandmarkASLError, match=r"unknown augmentation parameter\(s\) \['angle'\]"):
        fit_estimator(Recipe.plain("rf").replace(augment={"angle": 3}), table)
    with pytest.raises(LandmarkASLError, match="landmark models only"):
        fit_estimator(Recipe.plain("cnn").replace(balance="dataset"), table)
    with pytest.raises(LandmarkASLError, match="n_copies must be an integer from 0 to 10"):
        fit_estimator(Recipe.plain("rf").replace(augment={"n_copies": 1_000_000}), table)
    with pytest.raises(LandmarkASLError, match="stretch must be a number from 0 to 4; got nan"):
        fit_estimator(Recipe.plain("rf").replace(augment={"stretch": float("nan")}), table)
    with pytest.raises(LandmarkASLError, match="n_copies must be an integer from 0 to 10; got 'x'"):
        fit_estimator(Recipe.plain("rf").replace(augment={"n_copies": "x"}), table)
    with pytest.raises(ValueError, match="n_copies must be an integer >= 0; got -1"):
        augment_landmarks(X, y, n_copies=-1)


def test_stretch_scales_image_y_about_the_wrist_only(synthetic_landmarks):
    X, y = synthetic_landmarks
    out, _ = augment_landmarks(X, y, n_copies=1, max_angle=0.0, scale=0.0, jitter=0.0, mirror=False, stretch=0.5)
    copy = out[len(X):]
    np.testing.assert_allclose(copy[:, 0:63:3], X[:, 0:63:3], atol=1e-6)  # x unchanged
    np.testing.assert_allclose(copy[:, 63:126], X[:, 63:126], atol=1e-6)  # world unchanged
    ratio = (copy[:, 28] - copy[:, 1]) / (X[:, 28] - X[:, 1])  # landmark 9's y about the wrist
    assert np.all((ratio >= 1 / 1.5 - 1e-4) & (ratio <= 1.5 + 1e-4)) and ratio.std() > 0.05


def test_depth_stretch_scales_image_z_about_the_wrist_only_and_leaves_other_copies_alone(synthetic_landmarks):
    X, y = synthetic_landmarks
    X = X.copy()
    X[:, 2:63:3] += np.linspace(0.0, 0.2, 21)  # a depth that varies over the hand
    out, _ = augment_landmarks(X, y, n_copies=1, max_angle=0.0, scale=0.0, jitter=0.0, mirror=False, depth_stretch=0.5)
    copy = out[len(X):]
    np.testing.assert_allclose(copy[:, 0:63:3], X[:, 0:63:3], atol=1e-6)  # x unchanged
    np.testing.assert_allclose(copy[:, 1:63:3], X[:, 1:63:3], atol=1e-6)  # y unchanged
    np.testing.assert_allclose(copy[:, 63:126], X[:, 63:126], atol=1e-6)  # world unchanged
    ratio = (copy[:, 29] - copy[:, 2]) / (X[:, 29] - X[:, 2])  # landmark 9's z about the wrist
    assert np.all((ratio >= 1 / 1.5 - 1e-4) & (ratio <= 1.5 + 1e-4)) and ratio.std() > 0.05
    full = dict(n_copies=2, max_angle=30.0, stretch=0.3, random_state=0)
    without = augment_landmarks(X, y, **full)[0]
    assert np.array_equal(without, augment_landmarks(X, y, **full, depth_stretch=0.0)[0])  # no extra draws
    with pytest.raises(ValueError, match="depth_stretch must be a number from 0 to 4; got -1"):
        augment_landmarks(X, y, depth_stretch=-1)


def test_a_huge_integer_temperature_is_a_short_value_error():
    with pytest.raises(ValueError, match="finite number") as info:
        TemperatureScaling.from_dict({"method": "temperature", "temperature": 10**400, "smoothing": 0.001})
    assert len(str(info.value)) < 200
