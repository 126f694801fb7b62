"""Tests of landmark_asl.live.speller (smoothing and spelling on synthetic streams) and of LiveSettings."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from landmark_asl.live.settings import LiveSettings
from landmark_asl.live.speller import ProbabilitySmoother, Speller

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
    # The hand gone restarts it too.
    assert spell(["A", "A", "", "A", "A"]) == ("", [])


def test_a_frame_below_threshold_pauses_the_count():
    # A held letter the model is unsure of (E against O on the alphabet suite) is shown on some
    # frames only: the frames in between neither count nor restart the count.
    assert spell(["A", "A", None, None, "A"]) == ("A", ["A"])
    assert spell(["A", None, "A", None]) == ("", [])


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
        "smoothing_window": 3, "threshold": 0.3, "stable_frames": 7, "release_frames": 2, "mirror": False,
        "margin": 0.05, "max_speed": 0.06, "slide_distance": 0.3, "motion_letters": True,
        "handedness": "geometry", "motion_distance": 0.2, "reuse_still": 3, "recover_every": 10,
    }  # fmt: skip
    with pytest.raises(ValueError, match="reuse_still must be an integer >= 0"):
        LiveSettings(reuse_still=-1)
    # Counts are whole numbers, kept as ints (the summary is JSON); anything else is one ValueError.
    import numpy as np

    assert type(LiveSettings(recover_every=5.0).recover_every) is int
    assert type(LiveSettings(recover_every=np.int64(5)).recover_every) is int
    for bad in (float("inf"), float("nan"), "abc", None, True, 2.5, -1, 1001):
        with pytest.raises(ValueError, match=r"recover_every must be an integer >= 0 and <= 1000"):
            LiveSettings(recover_every=bad)
    with pytest.raises(ValueError, match="handedness must be one of"):
        LiveSettings(handedness="selfie")
    with pytest.raises(ValueError, match="stable_frames must be an integer >= 1"):
        LiveSettings(stable_frames=0)
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\]"):
        LiveSettings(threshold=1.5)
