"""Tests for landmark_asl.hands.views: several landmark estimates of one photo, mapped back and averaged."""

from __future__ import annotations

import numpy as np
import pytest

from landmark_asl.estimators.features import raw_features_from_hands
from landmark_asl.hands.extractor import HandLandmarkExtractor, map_back
from landmark_asl.hands.images import read_image
from landmark_asl.hands.landmarks import HandLandmarks
from landmark_asl.hands.views import (
    VIEWS,
    VIEWS_BELOW,
    check_views,
    estimate_view,
    hand_views,
    mean_probabilities,
    photo_probabilities,
)
from landmark_asl.model.store import load_model


@pytest.fixture(scope="module")
def extractor():
    with HandLandmarkExtractor() as ex:
        yield ex


@pytest.fixture(scope="module")
def photo(data_dir):
    """A real ml_slr photo (320x240, a hand found by the plain pass)."""
    return read_image(data_dir / "ml_slr" / "user_5" / "D" / "D0.jpg")


def _hand(xs: np.ndarray, handedness: str = "Right") -> HandLandmarks:
    image = np.column_stack([xs, np.linspace(0.2, 0.8, 21), np.linspace(0.0, -0.1, 21)]).astype(np.float32)
    world = np.column_stack([np.linspace(-0.05, 0.05, 21), np.zeros(21), np.zeros(21)]).astype(np.float32)
    return HandLandmarks(image, world, handedness, 0.9, (100, 100))


def test_map_back_undoes_a_mirror_and_a_window():
    hand = _hand(np.linspace(0.1, 0.5, 21))
    back = map_back(hand, x0=0, y0=0, width=100, height=100, full_size=(100, 100), mirrored=True)
    np.testing.assert_allclose(back.image[:, 0], 1.0 - hand.image[:, 0], atol=1e-6)
    np.testing.assert_allclose(back.world[:, 0], -hand.world[:, 0])
    assert back.handedness == "Left"
    # A hand found in the window x 50..150, y -20..80 of a 200x100 photo, stretched to any size.
    moved = map_back(hand, x0=50, y0=-20, width=100, height=100, full_size=(200, 100))
    np.testing.assert_allclose(moved.image[:, 0], (hand.image[:, 0] * 100 + 50) / 200, atol=1e-6)
    np.testing.assert_allclose(moved.image[:, 1], (hand.image[:, 1] * 100 - 20) / 100, atol=1e-6)
    np.testing.assert_allclose(moved.image[:, 2], hand.image[:, 2] * 0.5, atol=1e-6)
    assert moved.handedness == "Right" and moved.image_size == (200, 100)


def test_unknown_views_are_refused_with_the_known_ones():
    assert check_views(["mirror", "crop"]) == ("mirror", "crop")
    with pytest.raises(ValueError, match="unknown view.*'flip'.*mirror"):
        check_views(["flip"])


def test_every_view_finds_the_same_hand_in_the_photo(extractor, photo):
    detection, hands = hand_views(extractor, photo, VIEWS)
    assert detection.detected and hands[0] is detection.landmarks
    assert len(hands) == 1 + len(VIEWS)
    for hand in hands[1:]:
        # Mapped back into the photo: the same hand, the same side, within a few percent of the photo.
        assert hand.handedness == hands[0].handedness
        assert hand.image_size == (photo.shape[1], photo.shape[0])
        assert np.abs(hand.image[:, :2] - hands[0].image[:, :2]).mean() < 0.03


def test_the_mirror_view_of_a_mirrored_photo_is_the_photo(extractor, photo):
    flipped = np.ascontiguousarray(photo[:, ::-1])
    plain = extractor.detect(photo)
    mirror_of_flipped = estimate_view(extractor, flipped, extractor.detect(flipped), "mirror")
    # The mirror view of the flipped photo runs the detector on the photo itself, then flips back.
    np.testing.assert_allclose(1.0 - mirror_of_flipped.image[:, 0], plain.image[:, 0], atol=1e-5)
    assert mirror_of_flipped.handedness != plain.handedness


def test_no_hand_no_view(extractor):
    detection, hands = hand_views(extractor, np.zeros((120, 160, 3), dtype=np.uint8), VIEWS)
    assert not detection.detected and hands == []


def test_mean_probabilities_is_the_mean_of_each_estimate(extractor, photo):
    model = load_model()
    _, hands = hand_views(extractor, photo, ("mirror", "crop"))
    proba = mean_probabilities(model, hands)
    each = model.predict_proba(raw_features_from_hands(hands))
    np.testing.assert_allclose(proba, each.mean(axis=0))
    assert proba.shape == (len(model.classes),) and proba.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least one"):
        mean_probabilities(model, [])


def test_photo_probabilities_uses_the_views_only_when_unsure(extractor, photo):
    model = load_model()
    views = ("mirror", "zoom_out")
    _, every, proba = photo_probabilities(model, extractor, photo, views, below=1.01)  # always unsure
    assert len(every) == 3
    np.testing.assert_allclose(proba, mean_probabilities(model, every))
    _, first, alone = photo_probabilities(model, extractor, photo, views, below=0.0)  # always sure
    assert len(first) == 1
    np.testing.assert_allclose(alone, model.predict_proba_one(raw_features_from_hands(first)[0]))
    # At the default threshold the views come in exactly when the first answer is under it.
    _, hands, _ = photo_probabilities(model, extractor, photo, views)
    assert (len(hands) == 3) == (alone.max() < VIEWS_BELOW)
    detection, none, nothing = photo_probabilities(model, extractor, np.zeros((90, 120, 3), np.uint8), views)
    assert not detection.detected and none == [] and nothing is None


def test_the_recognizer_answers_what_photo_probabilities_says(extractor, data_dir):
    from landmark_asl.model.recognizer import load_model as load_recognizer

    model = load_model()
    path = data_dir / "ml_slr" / "user_9" / "T" / "T0.jpg"
    with load_recognizer(model, views=("crop",)) as recognizer:
        result = recognizer.predict(path)
    detection, hands, proba = photo_probabilities(model, extractor, read_image(path), ("crop",))
    assert result.label == model.classes[proba.argmax()]
    assert result.confidence == pytest.approx(proba.max())
    assert result.detected and result.handedness == hands[0].handedness
    assert result.strategy == detection.strategy


def test_predict_cli_refuses_an_unknown_view(data_dir):
    from click.testing import CliRunner

    from landmark_asl.cli import main

    image = data_dir / "ml_slr" / "user_5" / "D" / "D0.jpg"
    result = CliRunner(mix_stderr=False).invoke(main, ["predict", "--views", "mirror,flip", str(image)])
    assert result.exit_code == 2 and "flip" in result.stderr
    result = CliRunner(mix_stderr=False).invoke(main, ["predict", "--views", "none", "--json", str(image)])
    assert result.exit_code == 0, result.stderr
