"""Tests of landmark_asl.live: smoothing and spelling on synthetic streams, the loop on real video."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from landmark_asl.exceptions import ModelLoadError, SourceError
from landmark_asl.landmarks import HandLandmarks
from landmark_asl.live import (
    LiveRecognizer,
    LiveSettings,
    ProbabilitySmoother,
    Speller,
    open_source,
)

# --- pure parts: synthetic label and probability streams ------------------------------------------


def spell(stream, stable_frames=3, release_frames=2):
    """Feed a stream of labels ('' = no hand, None = hand but below threshold); return text and commits."""
    speller = Speller(stable_frames=stable_frames, release_frames=release_frames)
    commits = []
    for label in stream:
        committed = speller.update(label or None, hand=label != "")
        if committed:
            commits.append(committed)
    return speller.text, commits


def test_letter_commits_after_stable_frames_only():
    assert spell(["A", "A"]) == ("", [])
    assert spell(["A", "A", "A"]) == ("A", ["A"])
    # Held on: still one commit.
    assert spell(["A"] * 20) == ("A", ["A"])


def test_flicker_restarts_the_count():
    assert spell(["A", "A", "B", "A", "A"]) == ("", [])
    assert spell(["A", "A", None, "A", "A"]) == ("", [])


def test_repeated_letter_needs_a_release():
    # No release: one L however long it is held, even through low-confidence frames.
    assert spell(["L"] * 5 + [None] * 4 + ["L"] * 5)[0] == "L"
    # One hand-free frame is not a release when release_frames is 2 (a detection drop).
    assert spell(["L"] * 5 + [""] + ["L"] * 5)[0] == "L"
    # The hand leaves: two L.
    assert spell(["L"] * 5 + ["", ""] + ["L"] * 5)[0] == "LL"
    # A different, unstable shape in between also releases.
    assert spell(["L"] * 5 + ["K", "K"] + ["L"] * 5)[0] == "LL"
    # NOTHING releases as well.
    assert spell(["L"] * 5 + ["NOTHING", "NOTHING"] + ["L"] * 5)[0] == "LL"


def test_word_with_a_double_letter():
    stream = ["H"] * 4 + ["E"] * 4 + ["L"] * 4 + [""] * 2 + ["L"] * 4 + ["O"] * 4
    assert spell(stream) == ("HELLO", ["H", "E", "L", "L", "O"])


def test_space_and_del_edit_the_text():
    stream = ["H"] * 3 + ["I"] * 3 + ["SPACE"] * 3 + ["A"] * 3 + ["DEL"] * 3
    assert spell(stream) == ("HI ", ["H", "I", "SPACE", "A", "DEL"])
    # DEL twice needs a release too, then deletes again; DEL on empty text is harmless.
    stream = ["A"] * 3 + ["DEL"] * 6 + [""] * 2 + ["DEL"] * 3 + [""] * 2 + ["DEL"] * 3
    assert spell(stream) == ("", ["A", "DEL", "DEL", "DEL"])


def test_nothing_never_commits():
    assert spell(["NOTHING"] * 50) == ("", [])


def test_clear_forgets_text_and_held_letter():
    speller = Speller(stable_frames=2, release_frames=2)
    for label in ["A", "A"]:
        speller.update(label)
    speller.clear()
    assert speller.text == ""
    # After a clear the same letter can be spelled again without a release.
    assert [speller.update("A") for _ in range(2)] == [None, "A"]


def test_smoother_averages_the_window_and_resets():
    smoother = ProbabilitySmoother(n_classes=2, window=3)
    np.testing.assert_allclose(smoother.update(np.array([1.0, 0.0])), [1.0, 0.0])
    np.testing.assert_allclose(smoother.update(np.array([0.0, 1.0])), [0.5, 0.5])
    smoother.update(np.array([0.0, 1.0]))
    # The first frame has left the window of 3.
    np.testing.assert_allclose(smoother.update(np.array([0.0, 1.0])), [0.0, 1.0])
    smoother.reset()
    np.testing.assert_allclose(smoother.update(np.array([0.2, 0.8])), [0.2, 0.8])


def test_settings_validate_and_serialise():
    assert dataclasses.asdict(LiveSettings()) == {
        "smoothing_window": 5, "threshold": 0.5, "stable_frames": 8, "release_frames": 2, "mirror": False,
    }  # fmt: skip
    with pytest.raises(ValueError, match="stable_frames must be an integer >= 1"):
        LiveSettings(stable_frames=0)
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\]"):
        LiveSettings(threshold=1.5)


# --- the recognizer on synthetic hands and a fake classifier --------------------------------------


class FakeClassifier:
    """Returns the probabilities queued in ``script``, one row per call."""

    classes = ("A", "B", "NOTHING")

    def __init__(self, script):
        self.script = list(script)
        self.rows = []

    def predict_proba_one(self, x):
        self.rows.append(x)
        return np.asarray(self.script.pop(0), dtype=float)


def make_hand(handedness="Right"):
    rng = np.random.default_rng(0)
    image = rng.uniform(0.2, 0.8, size=(21, 3)).astype(np.float32)
    return HandLandmarks(image, image - 0.5, handedness, 0.9)


def test_recognizer_thresholds_smooths_and_spells():
    hand = make_hand()
    confident_a, weak_b = [0.9, 0.05, 0.05], [0.3, 0.4, 0.3]
    model = FakeClassifier([confident_a] * 3 + [weak_b] * 3)
    recognizer = LiveRecognizer(model, LiveSettings(smoothing_window=2, threshold=0.5, stable_frames=3))
    results = [recognizer.process(hand, i, i * 33) for i in range(3)]
    assert [r.label for r in results] == ["A", "A", "A"]
    assert results[-1].committed == "A" and results[-1].text == "A"
    # Smoothing: the first weak frame is averaged with the last A (0.6 for A)...
    assert recognizer.process(hand).label == "A"
    # ... then B's 0.4 is below threshold: nothing shown, nothing committed.
    assert recognizer.process(hand).label is None
    # No hand: no classifier call, no label, the window is emptied.
    result = recognizer.process(None)
    assert (result.label, result.confidence, result.hand) == (None, 0.0, None)
    assert len(model.rows) == 5
    # The classifier received the 127 raw features, with is_left last.
    assert model.rows[0].shape == (127,) and model.rows[0][-1] == 0.0
    assert recognizer.stats.n_frames == 6 and recognizer.stats.n_frames_with_hand == 5


def test_left_hand_is_flagged_for_the_features():
    model = FakeClassifier([[1.0, 0.0, 0.0]])
    LiveRecognizer(model).process(make_hand("Left"))
    assert model.rows[0][-1] == 1.0


def test_recognizer_refuses_a_non_classifier():
    with pytest.raises(ModelLoadError, match="needs a model with .classes and .predict_proba_one"):
        LiveRecognizer(object())


# --- sources --------------------------------------------------------------------------------------


def test_missing_source_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="not found: expected a camera index"):
        open_source(tmp_path / "nope.avi")


def test_corrupt_video_is_a_source_error(tmp_path):
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"this is not a video" * 100)
    with pytest.raises(SourceError, match="bad.avi"):
        with open_source(bad) as source:
            next(source.frames())


def test_empty_folder_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="holds no images"):
        open_source(tmp_path)
