"""Tests of the pixel CNN baseline (landmark_asl.cnn) on small real Sign-MNIST-style images."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from landmark_asl.cnn import CONFIG_FILE, STATE_FILE, PixelCNNClassifier, load_pixels
from landmark_asl.exceptions import ModelLoadError
from tests.conftest import pick_images

# Three letters with clearly different hand shapes (fist, L, thumb-and-little-finger).
LETTERS = ("A", "L", "Y")
FAST = {"epochs": 8, "batch_size": 32, "validation_fraction": 0.0, "random_state": 0}


@pytest.fixture(scope="module")
def letters(data_dir: Path) -> dict[str, np.ndarray]:
    """40 real 28x28 gray images per letter (every 5th file): 30 to train, 10 to test each."""
    paths = [p for p in pick_images(data_dir / "sign_mnist_style_28", 40, step=5) if p.parent.name in LETTERS]
    images = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths])
    labels = np.array([p.parent.name for p in paths])
    is_train = np.tile(np.arange(40) < 30, len(LETTERS))
    return {
        "X_train": images[is_train],
        "y_train": labels[is_train],
        "X_test": images[~is_train],
        "y_test": labels[~is_train],
    }


@pytest.fixture(scope="module")
def fitted(letters: dict[str, np.ndarray]) -> PixelCNNClassifier:
    return PixelCNNClassifier(**FAST).fit(letters["X_train"], letters["y_train"])


def test_fit_predict_shapes_and_probabilities(fitted: PixelCNNClassifier, letters) -> None:
    X = letters["X_test"]
    assert list(fitted.classes_) == list(LETTERS)
    assert fitted.grayscale_ is True and fitted.image_size_ == 28
    assert fitted.input_shape_ == (28, 28)
    predicted = fitted.predict(X)
    assert predicted.shape == (len(X),)
    assert set(predicted) <= set(LETTERS)
    proba = fitted.predict_proba(X)
    assert proba.shape == (len(X), len(LETTERS))
    assert proba.dtype == np.float64
    assert np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(predicted, fitted.classes_[proba.argmax(axis=1)])


def test_learns_real_letters_well_above_chance(fitted: PixelCNNClassifier, letters) -> None:
    accuracy = np.mean(fitted.predict(letters["X_test"]) == letters["y_test"])
    assert accuracy >= 0.8, f"accuracy {accuracy:.2f} on 3 letters (chance 0.33)"


def test_same_random_state_gives_identical_model(fitted: PixelCNNClassifier, letters) -> None:
    again = PixelCNNClassifier(**FAST).fit(letters["X_train"], letters["y_train"])
    np.testing.assert_array_equal(again.predict_proba(letters["X_test"]), fitted.predict_proba(letters["X_test"]))
    other = PixelCNNClassifier(**{**FAST, "random_state": 1}).fit(letters["X_train"], letters["y_train"])
    assert not np.array_equal(other.predict_proba(letters["X_test"]), fitted.predict_proba(letters["X_test"]))


def test_early_stopping_keeps_best_epoch(letters) -> None:
    clf = PixelCNNClassifier(epochs=6, patience=2, validation_fraction=0.2, random_state=0)
    clf.fit(letters["X_train"], letters["y_train"])
    losses = [h["val_loss"] for h in clf.history_]
    assert 1 <= clf.best_epoch_ <= len(clf.history_) <= 6
    assert losses[clf.best_epoch_ - 1] == min(losses)


def test_colour_input_is_accepted_by_a_gray_model(fitted: PixelCNNClassifier, letters) -> None:
    gray = letters["X_test"]
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    np.testing.assert_allclose(fitted.predict_proba(rgb), fitted.predict_proba(gray), atol=1e-6)
    # Any image size is resized to image_size_.
    big = np.stack([cv2.resize(img, (56, 56), interpolation=cv2.INTER_NEAREST) for img in gray])
    assert fitted.predict_proba(big).shape == (len(gray), len(LETTERS))


def test_image_standardization_ignores_exposure_and_contrast(letters) -> None:
    clf = PixelCNNClassifier(**{**FAST, "epochs": 2, "standardize": "image"})
    clf.fit(letters["X_train"], letters["y_train"])
    dim = letters["X_test"] // 2
    np.testing.assert_allclose(clf.predict_proba(dim * 2), clf.predict_proba(dim), atol=1e-5)
    # The default (training-set statistics) does see the difference.
    default = PixelCNNClassifier(**{**FAST, "epochs": 2}).fit(letters["X_train"], letters["y_train"])
    assert not np.allclose(default.predict_proba(dim * 2), default.predict_proba(dim), atol=1e-5)


def test_auto_colour_and_size(letters) -> None:
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(12, 40, 40, 3), dtype=np.uint8)
    y = np.array(["A", "B"] * 6)
    clf = PixelCNNClassifier(image_size=None, epochs=1, validation_fraction=0.0).fit(X, y)
    assert clf.grayscale_ is False and clf.image_size_ == 64
    assert clf.predict_proba(X[:3]).shape == (3, 2)
    # Gray input to a colour model is replicated to three channels.
    assert clf.predict(letters["X_test"][:2]).shape == (2,)


def test_save_load_round_trip_gives_identical_predictions(fitted: PixelCNNClassifier, letters, tmp_path) -> None:
    written = fitted.save_artifact(tmp_path)
    assert sorted(written) == sorted([STATE_FILE, CONFIG_FILE])
    assert all((tmp_path / name).is_file() for name in written)
    loaded = PixelCNNClassifier.load_artifact(tmp_path, fitted.get_params())
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.classes_, fitted.classes_)
    np.testing.assert_array_equal(loaded.predict_proba(letters["X_test"]), fitted.predict_proba(letters["X_test"]))


def test_persistence_save_model_load_model_round_trip(fitted: PixelCNNClassifier, letters, tmp_path) -> None:
    from landmark_asl.model.store import load_model, save_model

    save_model(fitted, tmp_path / "cnn", name="cnn")
    loaded = load_model(tmp_path / "cnn")
    assert isinstance(loaded.estimator, PixelCNNClassifier)
    assert list(loaded.classes) == list(LETTERS)
    np.testing.assert_array_equal(loaded.predict(letters["X_test"]), fitted.predict(letters["X_test"]))


def test_load_artifact_errors(fitted: PixelCNNClassifier, tmp_path) -> None:
    with pytest.raises(ModelLoadError, match="cannot read the CNN config"):
        PixelCNNClassifier.load_artifact(tmp_path, {})
    fitted.save_artifact(tmp_path)
    config = json.loads((tmp_path / CONFIG_FILE).read_text())
    (tmp_path / CONFIG_FILE).write_text(json.dumps({**config, "artifact_version": 99}))
    with pytest.raises(ModelLoadError, match="artefact version 99 .* not supported"):
        PixelCNNClassifier.load_artifact(tmp_path, {})
    (tmp_path / CONFIG_FILE).write_text(json.dumps(config))
    (tmp_path / STATE_FILE).write_bytes(b"not a torch file")
    with pytest.raises(ModelLoadError, match="cannot load the CNN weights"):
        PixelCNNClassifier.load_artifact(tmp_path, {})


def test_predict_before_fit_raises_not_fitted(letters) -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        PixelCNNClassifier().predict(letters["X_test"])


@pytest.mark.parametrize(
    ("X", "match"),
    [
        (
            np.zeros((5, 127), dtype=np.float32),
            r"shape \(n, H, W, 3\).*got X of shape \(5, 127\).*not landmark features",
        ),
        (np.zeros((5, 28, 28, 4), dtype=np.uint8), r"got X of shape \(5, 28, 28, 4\)"),
        (np.zeros((5, 28, 28), dtype=np.float64), "must have dtype uint8.*got float64"),
        (np.zeros((0, 28, 28), dtype=np.uint8), "empty X"),
    ],
)
def test_wrong_input_is_rejected_with_a_clear_message(fitted: PixelCNNClassifier, X, match) -> None:
    with pytest.raises(ValueError, match=match):
        fitted.predict(X)
    with pytest.raises(ValueError, match=match):
        PixelCNNClassifier(**FAST).fit(X, ["A"] * len(X))


def test_bad_labels_and_params_are_rejected(letters) -> None:
    X = letters["X_train"]
    with pytest.raises(ValueError, match="one label per image"):
        PixelCNNClassifier(**FAST).fit(X, letters["y_train"][:-1])
    with pytest.raises(ValueError, match="at least 2 classes"):
        PixelCNNClassifier(**FAST).fit(X, ["A"] * len(X))
    with pytest.raises(ValueError, match="grayscale must be"):
        PixelCNNClassifier(grayscale="yes").fit(X, letters["y_train"])
    with pytest.raises(ValueError, match="standardize must be"):
        PixelCNNClassifier(standardize="global").fit(X, letters["y_train"])
    with pytest.raises(ValueError, match="device must be"):
        PixelCNNClassifier(**FAST, device="tpu").fit(X, letters["y_train"])


def test_n_jobs_sets_threads_only_inside_fit_and_predict() -> None:
    import os

    import torch

    from landmark_asl.cnn import _torch_threads

    before = torch.get_num_threads()
    with _torch_threads(-1):
        assert torch.get_num_threads() == os.cpu_count()
    with _torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_tiny_classes_train_without_validation_split_and_warn() -> None:
    X = np.random.default_rng(0).integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    with pytest.warns(UserWarning, match="too few images for a stratified validation split"):
        clf = PixelCNNClassifier(epochs=2, batch_size=4).fit(X, ["A", "B", "C", "C"])
    assert len(clf.history_) == 2


# Why not parametrize_with_checks: scikit-learn's generic checks feed 2-D float tables
# (n_samples, n_features) such as iris or blobs with negative values; a CNN on pixels takes
# uint8 image batches (n, H, W[, 3]) and rejects those by design, so nearly every check
# would fail on input validation, not on real estimator faults. The checks below are the
# ones that apply to any estimator regardless of its input (constructor and params API).
@pytest.mark.parametrize(
    "check",
    [
        check_no_attributes_set_in_init,
        check_get_params_invariance,
        check_set_params,
        check_parameters_default_constructible,
    ],
)
def test_scikit_learn_api_checks(check) -> None:
    check("PixelCNNClassifier", PixelCNNClassifier())


def test_clone_keeps_params_and_drops_fitted_state(fitted: PixelCNNClassifier) -> None:
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "model_")


def test_load_pixels_reads_resizes_and_reports_failures(data_dir: Path, tmp_path) -> None:
    real = pick_images(data_dir / "asl2text" / "test", 1)[:2]
    corrupt = tmp_path / "broken.jpg"
    corrupt.write_bytes(b"this is not a jpeg")
    sources = [str(real[0]), str(corrupt), str(real[1])]
    with pytest.warns(UserWarning, match="1 of 3 images could not be read.*broken.jpg"):
        pixels, failed = load_pixels(sources, image_size=32, grayscale=False, return_failed=True)
    assert pixels.shape == (3, 32, 32, 3) and pixels.dtype == np.uint8
    np.testing.assert_array_equal(failed, [False, True, False])
    assert pixels[1].max() == 0 and pixels[0].max() > 0
    gray = load_pixels([str(real[0])], image_size=28, grayscale=True)
    assert gray.shape == (1, 28, 28)


def test_missing_torch_names_the_extra() -> None:
    code = "import sys; sys.modules['torch'] = None; import landmark_asl.cnn"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert 'pip install "landmark_asl[cnn]"' in result.stderr


@pytest.mark.gpu
def test_trains_and_predicts_on_cuda(letters, tmp_path) -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.fail("`pytest -m gpu` needs a CUDA GPU; torch sees none")
    clf = PixelCNNClassifier(**{**FAST, "device": "cuda"}).fit(letters["X_train"], letters["y_train"])
    assert clf.device_.startswith("cuda")
    assert next(clf.model_.parameters()).is_cuda
    proba = clf.predict_proba(letters["X_test"])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    clf.save_artifact(tmp_path)
    on_cpu = PixelCNNClassifier.load_artifact(tmp_path, {**clf.get_params(), "device": "cpu"})
    np.testing.assert_allclose(on_cpu.predict_proba(letters["X_test"]), proba, atol=1e-4)
