"""Tests of the live commit rule, double letters and the motion letters J and Z (landmark_asl.live.speller, landmark_asl.live.loop, landmark_asl.live.motion)."""

from __future__ import annotations

import numpy as np
import pytest

from landmark_asl.hands.landmarks import HandLandmarks
from landmark_asl.live.loop import LiveRecognizer
from landmark_asl.live.motion import TEMPLATES, HandMotion, match_trajectory, resample
from landmark_asl.live.settings import LiveSettings
from landmark_asl.live.sources import FrameSource
from landmark_asl.live.speller import Speller

WIDTH, HEIGHT = 640, 480
CLASSES = ("A", "B", "D", "I", "J", "L", "Z", "NOTHING")


def feed(speller, frames):
    """Feed (label, moving, moved) triples; return the commits."""
    commits = []
    for label, moving, moved in frames:
        committed = speller.update(label, moving=moving, moved=moved)
        if committed:
            commits.append(committed)
    return commits


# --- the commit rule on synthetic label streams ---------------------------------------------------


def test_hold_commits_once_and_reports_progress():
    speller = Speller(stable_frames=4, release_frames=2)
    progress = []
    for _ in range(12):
        speller.update("A")
        progress.append((speller.candidate, speller.progress))
    assert speller.text == "A"
    assert progress[:4] == [("A", 0.25), ("A", 0.5), ("A", 0.75), ("A", 1.0)]
    assert progress[-1] == ("A", 1.0)  # committed and still held


def test_transition_frames_commit_nothing():
    speller = Speller(stable_frames=3, release_frames=2)
    # A moving hand shows confident letters but holds none of them.
    assert feed(speller, [(label, True, False) for label in "AAAAABBBBBAAAA"]) == []
    assert speller.text == "" and speller.progress == 0.0
    # Once it settles, the letter commits after stable_frames held frames.
    assert feed(speller, [("B", False, False)] * 3) == ["B"]


def test_slide_commits_a_double_letter_and_jitter_does_not():
    speller = Speller(stable_frames=3, release_frames=2)
    held = [("L", False, False)] * 5
    slide = [("L", True, False)] * 4
    settled = [("L", False, True)] + [("L", False, False)] * 4
    assert feed(speller, held + slide + settled) == ["L", "L"]
    # The same moves without having slid away (a wobble in place): one L.
    speller = Speller(stable_frames=3, release_frames=2)
    assert feed(speller, held + slide + [("L", False, False)] * 5) == ["L"]


def test_motion_letter_replaces_the_handshape_committed_before_the_stroke():
    speller = Speller(stable_frames=3, release_frames=2)
    feed(speller, [("A", False, False)] * 3 + [("I", False, False)] * 3)
    assert speller.text == "AI"
    assert speller.commit_motion("J", shape="I") == "J"
    assert speller.text == "AJ"
    # Settling on the I handshape after the stroke commits nothing.
    assert feed(speller, [("I", False, False)] * 6) == []
    # A second J appends (the last commit is J, not I).
    speller.commit_motion("J", shape="I")
    assert speller.text == "AJJ"


def test_the_caller_decides_whether_the_handshape_is_replaced():
    # The recognizer knows when the I was committed: one held long before the stroke is a letter of its own.
    speller = Speller(stable_frames=3, release_frames=2)
    feed(speller, [("I", False, False)] * 3)
    speller.commit_motion("J", shape="I", replace=False)
    assert speller.text == "IJ"
    speller = Speller(stable_frames=3, release_frames=2)
    feed(speller, [("I", False, False)] * 3 + [("Y", False, False)])  # another shape showed meanwhile
    speller.commit_motion("J", shape="I", replace=True)
    assert speller.text == "J"


def test_motion_letter_after_another_shape_appends():
    speller = Speller(stable_frames=3, release_frames=2)
    feed(speller, [("I", False, False)] * 3 + [("B", False, False)] * 3)
    speller.commit_motion("J", shape="I")
    assert speller.text == "IBJ"


# --- J and Z from trajectories ----------------------------------------------------------------------


def stroke(letter, n=24, size=150.0, mirror=False, noise=0.0, seed=0):
    """A fingertip path (pixels) tracing ``letter``'s template."""
    template = TEMPLATES[letter][1][1 if mirror else 0]
    rng = np.random.default_rng(seed)
    return resample(template * size + 300.0, n) + rng.normal(0.0, noise, size=(n, 2))


@pytest.mark.parametrize("letter", ["J", "Z"])
@pytest.mark.parametrize("mirror", [False, True])
def test_templates_match_their_own_letter_only(letter, mirror):
    path = stroke(letter, mirror=mirror, noise=3.0)
    other = "Z" if letter == "J" else "J"
    assert match_trajectory(letter, path, 60.0, max_distance=0.15, min_extent=1.0) is not None
    assert match_trajectory(other, path, 60.0, max_distance=0.15, min_extent=1.0) is None


def test_lines_circles_and_small_strokes_match_nothing():
    line = np.stack([np.linspace(100, 300, 20), np.linspace(100, 140, 20)], axis=1)
    theta = np.linspace(0, 2 * np.pi, 30)
    circle = np.stack([200 + 80 * np.cos(theta), 200 + 80 * np.sin(theta)], axis=1)
    for letter in ("J", "Z"):
        assert match_trajectory(letter, line, 60.0, max_distance=0.15, min_extent=1.0) is None
        assert match_trajectory(letter, circle, 60.0, max_distance=0.15, min_extent=1.0) is None
        # The right shape, but a tenth of a palm across: a still hand's jitter, not a letter.
        tiny = stroke(letter, size=6.0)
        assert match_trajectory(letter, tiny, 60.0, max_distance=0.15, min_extent=1.0) is None


def test_hand_motion_speed_and_moves_in_palm_lengths():
    motion = HandMotion(max_speed=0.06)
    points = hand_points(100.0, 100.0)
    assert motion.update(points) == 0.0  # a hand's first frame
    motion.mark()
    assert motion.update(points + [15.0, 0.0]) == pytest.approx(0.25)  # palm length 60 px
    motion.update(points + [30.0, 0.0])
    assert motion.moved() == 0.0  # still moving: the move is not over
    motion.update(points + [30.0, 0.0])
    assert motion.moved() == pytest.approx(0.5)
    motion.mark()
    # A one-frame jump (a detector glitch) and slow drift are not moves.
    motion.update(points + [60.0, 0.0])
    for k in range(1, 30):
        motion.update(points + [60.0 + k, 0.0])
    assert motion.moved() == 0.0
    motion.update(None)
    assert motion.moved() == 0.0


# --- the recognizer on synthetic hands and a classifier keyed by handshape -----------------------


#: A fixed hand in pixels: wrist at the origin, the middle knuckle 60 px above (palm length 60).
_BASE = np.random.default_rng(3).uniform(-40, 40, size=(21, 2))
_BASE[0], _BASE[9] = (0.0, 0.0), (0.0, -60.0)


def hand_points(x: float, y: float, shape: np.ndarray = _BASE) -> np.ndarray:
    return shape + np.array([x, y])


def hand_at(x: float, y: float, shape: np.ndarray = _BASE) -> HandLandmarks:
    points = hand_points(x, y, shape)
    image = np.zeros((21, 3), np.float32)
    image[:, 0], image[:, 1] = points[:, 0] / WIDTH, points[:, 1] / HEIGHT
    return HandLandmarks(image, image - 0.5, "Right", 0.9, image_size=(WIDTH, HEIGHT))


class ShapeClassifier:
    """Gives one letter 0.9 on every frame (the hand's shape is set by the test)."""

    classes = CLASSES

    def __init__(self, letter: str):
        self.letter = letter

    def predict_proba_one(self, x):
        proba = np.full(len(CLASSES), 0.1 / (len(CLASSES) - 1))
        proba[CLASSES.index(self.letter)] = 0.9
        return proba


def spell(letter, positions, settings=None, shapes=None):
    """Text spelled by a hand the classifier calls ``letter``, at ``positions`` (pixels), frame by frame."""
    recognizer = LiveRecognizer(ShapeClassifier(letter), settings or LiveSettings())
    results = []
    for i, (x, y) in enumerate(positions):
        hand = hand_at(x, y, shapes[i] if shapes is not None else _BASE)
        results.append(recognizer.process(hand, i, i * 33))
    return recognizer.text, results


def still(n, x=300.0, y=300.0):
    return [(x, y)] * n


def glide(start, end, n):
    return [tuple(p) for p in np.linspace(start, end, n + 1)[1:]]


def trace(letter, start=(300.0, 150.0), size=150.0, n=20, mirror=False):
    return [tuple(p) for p in stroke(letter, n=n, size=size, mirror=mirror) - stroke(letter, n=n, size=size,
                                                                                       mirror=mirror)[0] + start]


def test_recognizer_holds_commits_once_and_exposes_candidate_and_progress():
    text, results = spell("A", still(30))
    assert text == "A"
    stable = LiveSettings().stable_frames
    assert [r.candidate for r in results[:3]] == ["A"] * 3
    assert results[0].progress == pytest.approx(1 / stable)
    assert results[stable - 1].committed == "A" and results[stable - 1].progress == 1.0
    assert results[-1].progress == 1.0


def test_recognizer_transition_frames_commit_nothing():
    # The landmarks change shape every frame (a transition) while the classifier is confident.
    rng = np.random.default_rng(0)
    shapes = [_BASE + rng.normal(0.0, 15.0, size=(21, 2)) for _ in range(40)]
    text, results = spell("A", still(40), shapes=shapes)
    assert text == "" and all(r.committed is None for r in results)


def test_recognizer_slide_commits_a_double_letter():
    positions = still(15) + glide((300, 300), (336, 300), 5) + still(15, 336)  # 0.6 palm lengths
    assert spell("L", positions)[0] == "LL"
    # A bounce: up and back down to the same place.
    bounce = still(15) + glide((300, 300), (300, 264), 3) + glide((300, 264), (300, 300), 3) + still(15)
    assert spell("L", bounce)[0] == "LL"
    # A small move (0.2 palm lengths) or a slow drift (1.5 palm lengths over 3 s) is the same letter held.
    small = still(15) + glide((300, 300), (312, 300), 5) + still(15, 312)
    assert spell("L", small)[0] == "L"
    assert spell("L", still(10) + glide((300, 300), (390, 300), 90))[0] == "L"


@pytest.mark.parametrize("mirror", [False, True])
def test_recognizer_j_and_z_from_motion(mirror):
    assert spell("I", still(4, 300, 150) + trace("J", mirror=mirror) + still(8, *trace("J", mirror=mirror)[-1]))[0] == "J"
    z = trace("Z", mirror=mirror)
    assert spell("D", still(4, 300, 150) + z + still(8, *z[-1]))[0] == "Z"


def test_handshape_held_before_the_stroke_is_replaced():
    j = trace("J")
    text, results = spell("I", still(20, 300, 150) + j + still(20, *j[-1]))
    assert [r.committed for r in results if r.committed] == ["I", "J"]
    assert text == "J"


def test_a_recognizer_taking_over_mid_stroke_spells_on():
    """A model switch in the middle of a J (the page took up a personal model): the new recognizer
    continues the held I, the stroke and the last commit, so the J replaces the I once."""
    j = trace("J")
    positions = still(20, 300, 150) + j + still(20, *j[-1])
    switch_at = 20 + len(j) // 2
    recognizer = LiveRecognizer(ShapeClassifier("I"), LiveSettings())
    committed = []
    for i, (x, y) in enumerate(positions):
        if i == switch_at:
            after = LiveRecognizer(ShapeClassifier("I"), LiveSettings())
            after.take_text(recognizer)
            recognizer = after
        committed.append(recognizer.process(hand_at(x, y, _BASE), i, i * 33).committed)
    assert [c for c in committed if c] == ["I", "J"] and recognizer.text == "J"


def test_no_motion_letter_from_still_hands_or_other_shapes():
    assert spell("I", still(60))[0] == "I"
    assert spell("D", still(60))[0] == "D"
    # The classifier's own still J / Z classes never commit: J and Z come from motion only.
    assert spell("Z", still(60))[0] == ""
    for letter in ("B", "L"):
        for path in ("J", "Z"):
            positions = trace(path)
            text = spell(letter, still(10, *positions[0]) + positions + still(10, *positions[-1]))[0]
            assert "J" not in text and "Z" not in text and set(text) <= {letter}
    # With motion letters off, a still J is a letter like any other.
    assert spell("J", still(30), LiveSettings(motion_letters=False))[0] == "J"


def test_settings_refuse_bad_motion_values():
    with pytest.raises(ValueError, match="max_speed must be a finite number > 0"):
        LiveSettings(max_speed=0)
    with pytest.raises(ValueError, match=r"margin must be in \[0, 1\]"):
        LiveSettings(margin=2.0)
    with pytest.raises(ValueError, match="slide_distance must be a finite number > 0"):
        LiveSettings(slide_distance=float("nan"))


# --- end to end: real photos moved on a canvas, the real video-mode detector ----------------------


class CanvasSource(FrameSource):
    """Frames made in memory: a real photo pasted on a 640x480 canvas at given positions."""

    kind = "video"

    def __init__(self, steps):
        super().__init__("canvas")
        self.steps = steps

    def frames(self):
        import cv2

        for i, (photo, x, y) in enumerate(self.steps):
            canvas = np.empty((HEIGHT, WIDTH, 3), np.uint8)
            canvas[:] = photo[0, 0] if photo is not None else 128
            if photo is not None:
                h, w = photo.shape[:2]
                x0, y0 = int(x - w / 2), int(y - h / 2)
                xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + w, WIDTH), min(y0 + h, HEIGHT)
                canvas[ya:yb, xa:xb] = photo[ya - y0:yb - y0, xa - x0:xb - x0]
            yield cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR), round(i * 1000 / 30)
        self.stop_reason = "end of stream"


@pytest.mark.slow
def test_real_photos_slide_double_letter_and_trace_a_j(data_dir):
    """asl2text/test photos: L held, slid sideways by half a hand, held (LL); then an I traced along a J."""
    import cv2

    from landmark_asl.hands.images import read_image
    from landmark_asl.model.store import load_model

    def photo(name):
        return cv2.resize(read_image(data_dir / "asl2text" / "test" / name), (400, 400))

    letter_l, letter_i = photo("L/L0.jpg"), photo("I/I0.jpg")
    j = [(x, y - 60) for x, y in trace("J", start=(320.0, 200.0), size=170.0, n=20)]
    steps = [(None, 0, 0)] * 4
    steps += [(letter_l, x, y) for x, y in still(18, 300, 240) + glide((300, 240), (370, 240), 5) + still(18, 370, 240)]
    steps += [(None, 0, 0)] * 6
    steps += [(letter_i, x, y) for x, y in still(4, *j[0]) + j + still(8, *j[-1])]
    recognizer = LiveRecognizer(load_model())
    results = list(recognizer.run(CanvasSource(steps)))
    assert len(results) == len(steps)
    assert recognizer.text == "LLJ", [r.label for r in results]


def test_overlay_bar_shows_the_held_letters_progress():
    from landmark_asl.live.display import draw_overlay
    from landmark_asl.live.loop import FrameResult

    frame = np.zeros((120, 200, 3), np.uint8)
    bar = (0, 255, 255)  # BGR yellow, under the header
    half = draw_overlay(frame, FrameResult(0, 0, None, "A", 0.9, None, "", candidate="A", progress=0.5))
    assert (half[39, :95] == bar).all() and not (half[39, 105:] == bar).all(axis=1).any()
    none = draw_overlay(frame, FrameResult(0, 0, None, None, 0.0, None, ""))
    assert not (none[39] == bar).all(axis=1).any()
