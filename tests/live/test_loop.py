"""Tests of landmark_asl.live.loop: the recognizer on synthetic hands, sources, the loop on real video, the CLI and the display."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from landmark_asl.exceptions import ModelLoadError, SourceError
from landmark_asl.hands.landmarks import HandLandmarks
from landmark_asl.live.loop import LiveRecognizer
from landmark_asl.live.settings import LiveSettings
from landmark_asl.live.sources import open_source

from conftest import HELLO

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
    recognizer = LiveRecognizer(model, LiveSettings(smoothing_window=2, threshold=0.5, stable_frames=3, reuse_still=0))
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
    LiveRecognizer(model, LiveSettings(handedness="detector")).process(make_hand("Left"))
    assert model.rows[0][-1] == 1.0


def test_geometric_handedness_flips_with_the_frame_so_mirroring_does_not_change_the_features():
    from landmark_asl.estimators.features import LandmarkNormalizer

    hand = make_hand("Right")
    mirrored = HandLandmarks(hand.image * np.array([-1.0, 1.0, 1.0], np.float32) + np.array([1.0, 0, 0], np.float32),
                             hand.world * np.array([-1.0, 1.0, 1.0], np.float32), "Right", 0.9)  # the detector's label kept
    model = FakeClassifier([[1.0, 0.0, 0.0]] * 4)
    for handedness in ("geometry", "detector"):
        recognizer = LiveRecognizer(model, LiveSettings(handedness=handedness))
        recognizer.process(hand)
        recognizer.process(mirrored)
    plain, flipped, plain_detector, flipped_detector = (np.asarray(r)[None, :] for r in model.rows)
    assert plain[0, -1] != flipped[0, -1]  # one of them is a left hand
    normalizer = LandmarkNormalizer().fit(plain)
    np.testing.assert_allclose(normalizer.transform(plain), normalizer.transform(flipped), atol=1e-5)
    # MediaPipe's label did not flip here: the model would see a mirrored hand.
    assert plain_detector[0, -1] == flipped_detector[0, -1]
    assert not np.allclose(normalizer.transform(plain_detector), normalizer.transform(flipped_detector), atol=1e-3)


def test_non_square_frames_get_isotropic_features():
    # MediaPipe normalises x by the width and y by the height: on 640x480 the hand's y extent
    # is rescaled by 480/640 so that the shape matches the square training images.
    hand = make_hand()
    model = FakeClassifier([[1.0, 0.0, 0.0]] * 2)
    recognizer = LiveRecognizer(model)
    recognizer.process(hand, frame_size=(640, 480))
    recognizer.process(hand, frame_size=(480, 480))
    wide, square = model.rows
    np.testing.assert_allclose(wide[1:63:3], hand.image[:, 1] * 0.75, rtol=1e-6)
    np.testing.assert_array_equal(wide[0:63:3], hand.image[:, 0])
    np.testing.assert_array_equal(square[:63], hand.image.reshape(-1))


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


@pytest.mark.parametrize("source", ["99999999999999999999", "2147483648", 2**31, 10**20, "9" * 200, -1],
                         ids=["20 digits", "2**31 as text", "2**31", "10**20", "200 digits", "-1"])
def test_a_camera_index_opencv_cannot_take_is_a_source_error(source, tmp_path, monkeypatch):
    # cv2.VideoCapture takes a C int: a larger index crashed it ("Python int too large to convert to C long").
    monkeypatch.chdir(tmp_path)  # no file named like the index
    with pytest.raises(SourceError, match=r"camera index .* is out of range: expected 0 to 2147483647"):
        open_source(source)


def test_a_digit_that_is_no_number_is_not_a_camera(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SourceError, match="not found: expected a camera index"):
        open_source("²")  # str.isdigit() says yes, int() refuses it


def test_a_pipe_is_named_as_a_pipe_not_as_missing(tmp_path):
    import os

    os.mkfifo(tmp_path / "clip.mp4")
    with pytest.raises(SourceError, match=r"clip\.mp4 is not a regular file or folder \(a pipe"):
        open_source(str(tmp_path / "clip.mp4"))


# --- the loop on real frames ----------------------------------------------------------------------
# Videos are assembled at test time from real asl2text/test frames (never stored in the repo):
# each letter held about 20 frames, hand-free grey frames before, after and between the two L.
# The frames were picked because the shipped model (models/default) classifies them reliably
# (smoothed confidence 0.85-0.97 on average); asl2text/test is part of that model's training
# data, so these tests check the live pipeline (video-mode tracking, smoothing, spelling, CLI),
# not accuracy, which the comparison report measures on held-out data. The frames: HELLO of conftest.py.

SIZE = 224


def hello_frames(data_dir, *, mirror=False, width=SIZE):
    import cv2

    frames = []
    for label, stems in HELLO:
        if label is None:
            frames += [np.full((SIZE, width, 3), 128, np.uint8)] * stems
            continue
        for stem in stems:
            image = cv2.imread(str(data_dir / "asl2text" / "test" / label / f"{stem}.jpg"))
            assert image is not None and image.shape == (SIZE, SIZE, 3), stem
            if width > SIZE:  # a wide frame: the square photo in the middle, edges repeated
                pad = (width - SIZE) // 2
                image = cv2.copyMakeBorder(image, 0, 0, pad, width - SIZE - pad, cv2.BORDER_REPLICATE)
            frames += [image] * 2
    return [cv2.flip(f, 1) for f in frames] if mirror else frames


def write_video(path, frames, fps=30.0):
    import cv2

    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def hello_video(data_dir, tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("live") / "hello.avi", hello_frames(data_dir))


@pytest.fixture
def run_cli():
    """Invoke ``landmark-asl live ARGS`` in-process with the shipped default model."""
    from click.testing import CliRunner

    from landmark_asl.cli import main

    def invoke(*args):
        return CliRunner(mix_stderr=False).invoke(main, ["live", *map(str, args)])

    return invoke


def json_lines(result):
    import json

    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.slow
def test_cli_spells_hello_from_a_video(run_cli, hello_video):
    events = json_lines(run_cli("--source", hello_video, "--headless", "--json"))
    letters, end = events[:-1], events[-1]
    assert [e["letter"] for e in letters] == ["H", "E", "L", "L", "O"]
    assert [e["text"] for e in letters] == ["H", "HE", "HEL", "HELL", "HELLO"]
    assert all(e["event"] == "letter" and 0.5 <= e["confidence"] <= 1.0 for e in letters)
    # Frame numbers and times increase; time follows the video's 30 fps.
    assert [e["frame"] for e in letters] == sorted(e["frame"] for e in letters)
    assert letters[0]["time_s"] == pytest.approx(letters[0]["frame"] / 30.0, abs=0.002)
    assert end["event"] == "end" and end["text"] == "HELLO" and end["stop_reason"] == "end of stream"
    # 118 frames, 18 of them grey: every hand frame should be found.
    assert end["frames"] == 118
    assert 95 <= end["frames_with_hand"] <= 100
    assert end["detection_rate"] == pytest.approx(end["frames_with_hand"] / 118, abs=1e-3)
    assert end["fps"] > 0 and end["settings"]["stable_frames"] == LiveSettings().stable_frames


@pytest.mark.slow
def test_library_loop_yields_one_result_per_frame(hello_video):
    from landmark_asl.model.store import load_model

    recognizer = LiveRecognizer(load_model())
    results = list(recognizer.run(hello_video))
    assert [r.index for r in results] == list(range(118))
    assert [r.timestamp_ms for r in results] == [round(i * 1000 / 30) for i in range(118)]
    # The grey frames at both ends have no hand, hence no label and nothing committed.
    for r in results[:5] + results[-5:]:
        assert (r.hand, r.label, r.confidence, r.committed) == (None, None, 0.0, None)
    assert all(r.image.shape == (224, 224, 3) and r.detect_ms > 0 and r.post_ms > 0 for r in results)
    assert [r.committed for r in results if r.committed] == list("HELLO")
    assert results[-1].text == recognizer.text == "HELLO"
    assert recognizer.stats.n_frames == 118 and recognizer.stats.stop_reason == "end of stream"


@pytest.mark.slow
def test_cli_readable_output(run_cli, hello_video):
    result = run_cli("--source", hello_video, "--headless")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["H", "E", "L", "L", "O"]
    assert lines[-1].startswith("text 'HELLO': 5 committed; 118 frames")


@pytest.mark.slow
@pytest.mark.parametrize("mirror_flag", [True, False], ids=["--mirror", "left-hand"])
def test_mirrored_video_gives_the_same_word(run_cli, data_dir, tmp_path, mirror_flag):
    # With --mirror the frames are flipped back; without it the hand looks like a left hand,
    # which MediaPipe labels 'Left' and the features mirror back.
    video = write_video(tmp_path / "mirrored.avi", hello_frames(data_dir, mirror=True))
    args = ["--source", video, "--headless", "--json"] + (["--mirror"] if mirror_flag else [])
    end = json_lines(run_cli(*args))[-1]
    assert end["text"] == "HELLO"
    assert end["settings"]["mirror"] is mirror_flag


@pytest.mark.slow
def test_wide_video_gives_the_same_word(run_cli, data_dir, tmp_path):
    # 16:9 frames: without the aspect correction the hand looks squashed to the classifier.
    video = write_video(tmp_path / "wide.avi", hello_frames(data_dir, width=400))
    assert json_lines(run_cli("--source", video, "--headless", "--json"))[-1]["text"] == "HELLO"


@pytest.mark.slow
def test_folder_of_images_is_played_in_order(run_cli, data_dir, tmp_path):
    import cv2

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(hello_frames(data_dir)):
        cv2.imwrite(str(folder / f"frame_{i:04d}.png"), frame)
    (folder / "notes.txt").write_text("not an image, ignored")
    end = json_lines(run_cli("--source", folder, "--headless", "--json"))[-1]
    assert end["text"] == "HELLO" and end["frames"] == 118


@pytest.mark.slow
def test_video_without_hands_commits_nothing(run_cli, data_dir, tmp_path):
    import cv2

    nothing = sorted((data_dir / "asl_alphabet_64" / "test" / "nothing").glob("*.jpg"))[:10]
    frames = [cv2.resize(cv2.imread(str(p)), (SIZE, SIZE)) for p in nothing for _ in range(4)]
    events = json_lines(run_cli("--source", write_video(tmp_path / "empty.avi", frames), "--headless", "--json"))
    assert len(events) == 1
    assert events[0]["text"] == "" and events[0]["frames"] == 40
    assert events[0]["frames_with_hand"] == 0 and events[0]["committed"] == 0


@pytest.mark.slow
def test_truncated_video_ends_cleanly_with_what_was_spelled(run_cli, hello_video, tmp_path):
    data = hello_video.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: int(len(data) * 0.7)])
    end = json_lines(run_cli("--source", cut, "--headless", "--json"))[-1]
    assert 0 < end["frames"] < 118
    assert "HELLO".startswith(end["text"]) and len(end["text"]) >= 2
    assert end["stop_reason"] == "read failed"


@pytest.mark.slow
def test_max_frames_stops_early(run_cli, hello_video):
    end = json_lines(run_cli("--source", hello_video, "--headless", "--json", "--max-frames", 30))[-1]
    assert end["frames"] == 30 and end["stop_reason"] == "max frames" and end["text"] == "H"


def test_cli_missing_source_is_one_line_error(run_cli, tmp_path):
    missing = tmp_path / "missing.avi"
    result = run_cli("--source", missing, "--headless")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and f"source '{missing}' not found" in result.stderr


def test_cli_corrupt_video_is_one_line_error(run_cli, tmp_path):
    bad = tmp_path / "corrupt.avi"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    result = run_cli("--source", bad, "--headless")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot open video") and "corrupt.avi" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.slow
def test_cli_video_without_frames_is_one_line_error(run_cli, tmp_path):
    import cv2

    empty = tmp_path / "empty.avi"
    cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 64)).release()
    result = run_cli("--source", empty, "--headless")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot read any frame from video {empty}")
    assert result.stderr.count("\n") == 1


def test_cli_defaults_are_the_settings_defaults():
    from landmark_asl.cli.commands import live

    defaults = {p.name: p.default for p in live.params}
    for name, value in dataclasses.asdict(LiveSettings()).items():
        assert defaults[name] == value, name


# --- display: decided before any window call ------------------------------------------------------


@pytest.fixture
def no_windows(monkeypatch):
    """Make every OpenCV window call fail the test (without a display they abort the process)."""
    import cv2

    def forbidden(*args, **kwargs):
        raise AssertionError("cv2 window call in headless mode")

    for name in ("imshow", "namedWindow", "waitKey", "destroyAllWindows", "destroyWindow"):
        monkeypatch.setattr(cv2, name, forbidden)


@pytest.mark.slow
def test_no_display_means_no_window_call(run_cli, hello_video, monkeypatch, no_windows):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    result = run_cli("--source", hello_video, "--json", "--max-frames", 5)
    assert result.exit_code == 0, result.stderr
    assert "running headless" in result.stderr


@pytest.mark.slow
def test_a_display_no_server_answers_at_means_no_window_call(run_cli, hello_video, monkeypatch, no_windows):
    # A $DISPLAY left set with no X server behind it (a stale SSH forwarding): OpenCV would abort.
    monkeypatch.setenv("DISPLAY", ":987")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    result = run_cli("--source", hello_video, "--json", "--max-frames", 5)
    assert result.exit_code == 0, result.stderr
    assert "running headless" in result.stderr


def test_display_available_asks_the_x_server_or_the_wayland_socket(monkeypatch, tmp_path):
    import socket

    from landmark_asl.live.display import display_available

    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    for name in ("", ":987", "unix:987.0", "127.0.0.1:987", "no display", ":x", ".:0", "a" * 300 + ":0",
                 "localhost:99999999999999999999", "\udcff:0"):  # names no lookup takes are no display either
        monkeypatch.setenv("DISPLAY", name)
        assert not display_available(), name
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as local:  # a local server, abstract socket
        local.bind("\0/tmp/.X11-unix/X987")
        local.listen(8)
        for name in (":987", ":987.0", "unix:987"):
            monkeypatch.setenv("DISPLAY", name)
            assert display_available(), name
    with socket.socket() as remote:  # a server over TCP (SSH forwarding: localhost:10.0 is port 6010)
        remote.bind(("127.0.0.1", 0))
        remote.listen(8)
        number = remote.getsockname()[1] - 6000
        monkeypatch.setenv("DISPLAY", f"127.0.0.1:{number}.0")
        assert display_available()
        monkeypatch.setenv("DISPLAY", f":{number}")  # no local socket: Xlib tries TCP on this machine
        assert display_available()
        monkeypatch.setenv("DISPLAY", f"unix:{number}")  # but not for an explicit unix socket
        assert not display_available()
    monkeypatch.setenv("DISPLAY", "")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-9")
    assert not display_available()  # no such socket
    (tmp_path / "wayland-9").write_text("")
    assert not display_available()  # a file, not a socket
    (tmp_path / "wayland-9").unlink()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as wayland:
        wayland.bind(str(tmp_path / "wayland-9"))
        assert display_available()


@pytest.mark.slow
def test_headless_flag_wins_over_a_display(run_cli, hello_video, monkeypatch, no_windows):
    monkeypatch.setenv("DISPLAY", ":0")
    result = run_cli("--source", hello_video, "--headless", "--max-frames", 5)
    assert result.exit_code == 0, result.stderr
    assert "running headless" not in result.stderr


def test_window_keys_clear_and_quit(monkeypatch):
    import cv2

    from landmark_asl.live.display import show_window
    from landmark_asl.live.loop import FrameResult

    shown, keys = [], iter([ord("c"), ord("q")])
    monkeypatch.setattr(cv2, "imshow", lambda title, frame: shown.append(frame.shape))
    monkeypatch.setattr(cv2, "waitKey", lambda delay: next(keys))
    monkeypatch.setattr(cv2, "destroyAllWindows", lambda: None)
    recognizer = LiveRecognizer(FakeClassifier([]))
    recognizer._speller.text = "AB"
    image = np.zeros((48, 64, 3), np.uint8)
    results = (FrameResult(i, i, make_hand(), "A", 0.9, None, "AB", image=image) for i in range(10))
    assert len(list(show_window(results, recognizer))) == 2
    assert shown == [(48, 64, 3), (48, 64, 3)]
    assert recognizer.text == "" and recognizer.stats.stop_reason == "quit"


def test_overlay_draws_on_a_copy():
    from landmark_asl.live.display import draw_overlay
    from landmark_asl.live.loop import FrameResult

    frame = np.zeros((120, 160, 3), np.uint8)
    out = draw_overlay(frame, FrameResult(0, 0, make_hand(), "A", 0.9, None, "HELLO"), fps=30.0)
    assert out.shape == frame.shape and out.any() and not frame.any()


# --- mirroring, word suggestions ------------------------------------------------------------------


@pytest.mark.slow
def test_cli_spells_the_same_text_and_suggests_the_word_with_and_without_mirror(run_cli, hello_video):
    plain = json_lines(run_cli("--source", hello_video, "--headless", "--json"))
    mirrored = json_lines(run_cli("--source", hello_video, "--headless", "--json", "--mirror"))
    assert plain[-1]["text"] == mirrored[-1]["text"] == "HELLO"
    # Every letter event offers words for the word being spelled; the finished word is among them.
    assert all(len(e["suggestions"]) == 3 for e in plain[:-1])
    assert plain[-2]["suggestions"][0] == "HELLO" and plain[-1]["suggestions"][0] == "HELLO"
    assert mirrored[-1]["suggestions"][0] == "HELLO"


def test_recognizer_keeps_letter_probabilities_for_suggestions_through_edits():
    # Classes A, B, C: the fake spells "CAB" (held 6 frames each, a hand drop in between).
    rows = []
    for proba in ([0.1, 0.1, 0.8], [0.8, 0.1, 0.1], [0.1, 0.8, 0.1]):
        rows += [proba] * 6
    model = FakeClassifier(rows)
    model.classes = ("A", "B", "C")
    recognizer = LiveRecognizer(model, LiveSettings(reuse_still=0, stable_frames=6))
    hand = make_hand()
    for i in range(18):
        if i and i % 6 == 0:
            recognizer.process(None)
        recognizer.process(hand, i)
    assert recognizer.text == "CAB"
    assert recognizer.suggestions()[0] == "CAB"
    recognizer.set_text("CAB ")  # a space: a new word, nothing to suggest yet
    assert recognizer.suggestions() == []
    recognizer.set_text("CA")  # a backspace keeps the probabilities of the letters left
    assert recognizer.suggestions()[0] == "CA" and recognizer._rows[0][2] > 0.5  # C's row is the model's
    recognizer.set_text("CAT")  # a typed letter counts as certain
    assert recognizer.suggestions()[0] == "CAT"
    # One row per character even where upper-casing changes a string's length ('ß' -> 'SS').
    recognizer.set_text("straße she")
    assert len(recognizer._rows) == len("straße she") and recognizer.suggestions()[0] == "SHE"
    recognizer.clear_text()
    assert recognizer.suggestions() == []


def test_a_slow_source_holds_for_the_same_time_not_the_same_number_of_frames():
    # stable_frames=7 at 30 fps is 0.23 s: at 10 fps (100 ms apart) the third held frame commits.
    hand = make_hand()
    model = FakeClassifier([[0.9, 0.05, 0.05]] * 12)
    slow = LiveRecognizer(model, LiveSettings(smoothing_window=1))
    assert [slow.process(hand, i, i * 100).committed for i in range(3)] == [None, None, "A"]
    fast = LiveRecognizer(model, LiveSettings(smoothing_window=1))
    assert [fast.process(hand, i, round(i * 1000 / 30)).committed for i in range(7)] == [None] * 6 + ["A"]
    # A hand drifting 0.1 palm lengths per 100 ms frame is still (0.033 per 30 fps frame), not moving.
    drifting = LiveRecognizer(FakeClassifier([[0.9, 0.05, 0.05]] * 3), LiveSettings(smoothing_window=1))
    palm = float(np.linalg.norm(hand.image[9, :2] - hand.image[0, :2]))
    results = []
    for i in range(3):
        moved = HandLandmarks(hand.image + np.array([0.1 * palm * i, 0, 0], np.float32), hand.world, "Right", 0.9)
        results.append(drifting.process(moved, i, i * 100).committed)
    assert results == [None, None, "A"]


def test_a_still_hand_reuses_its_probabilities_a_moving_one_is_classified_every_frame():
    hand = make_hand()
    model = FakeClassifier([[0.9, 0.05, 0.05]] * 20)
    recognizer = LiveRecognizer(model)  # reuse_still=3
    for i in range(8):
        recognizer.process(hand, i, round(i * 1000 / 30))
    assert len(model.rows) == 2  # frames 0 and 4
    for i in range(8, 14):  # now moving 0.2 palm lengths a frame
        shift = np.array([0.02 * (i - 7), 0, 0], np.float32)
        recognizer.process(HandLandmarks(hand.image + shift, hand.world, "Right", 0.9), i, round(i * 1000 / 30))
    assert len(model.rows) == 2 + 6
    one = FakeClassifier([[0.9, 0.05, 0.05]] * 6)
    every_other = LiveRecognizer(one, LiveSettings(reuse_still=1))
    for i in range(6):
        every_other.process(hand, i, round(i * 1000 / 30))
    assert len(one.rows) == 3  # frames 0, 2, 4


def test_a_slow_source_reuses_by_time_and_one_answer_is_never_held_into_a_letter():
    hand = make_hand()
    # At 15 fps a frame stands for two 30 fps frames: reuse_still=3 reuses one frame, not three.
    model = FakeClassifier([[0.9, 0.05, 0.05]] + [[0.02, 0.02, 0.96]] * 11)
    recognizer = LiveRecognizer(model)
    results = [recognizer.process(hand, i, round(i * 1000 / 15)) for i in range(12)]
    assert len(model.rows) == 6  # frames 0, 2, 4, ...
    assert recognizer.text == "" and all(r.committed is None for r in results)  # A from one answer: never
    at_30 = FakeClassifier([[0.9, 0.05, 0.05]] * 3)
    fast = LiveRecognizer(at_30)
    for i in range(12):  # at 30 fps three reuses, as measured by bench_live
        fast.process(hand, i, round(i * 1000 / 30))
    assert len(at_30.rows) == 3
    every = FakeClassifier([[0.9, 0.05, 0.05]] * 6)
    still = LiveRecognizer(every, LiveSettings(reuse_still=0))
    for i in range(6):
        still.process(hand, i, round(i * 1000 / 30))
    assert len(every.rows) == 6


class _ScriptedExtractor:
    """``detect_video`` and ``recover_frame`` answering from scripts (a hand or None per call), logging calls."""

    def __init__(self, video, recovered):
        self.video, self.recovered, self.calls = list(video), list(recovered), []

    def detect_video(self, rgb, timestamp_ms):
        self.calls.append(("video", timestamp_ms))
        return self.video.pop(0)

    def recover_frame(self, rgb, passes):
        assert passes == ("pad",)
        self.calls.append(("recover", self.calls[-1][1]))
        return self.recovered.pop(0)


def test_the_detector_recovers_after_a_hand_and_otherwise_once_every_n_frames():
    from landmark_asl.live.loop import VideoHandDetector

    hand, frame = make_hand(), np.zeros((4, 4, 3), np.uint8)
    # Frames 0-9. The video pass finds the hand on frame 0 only. Frame 1 follows a hand: recovery,
    # which finds it on frames 1-2 (each after a hand), not on 3; then every third frame: 6, 9.
    extractor = _ScriptedExtractor([hand] + [None] * 9, [hand, hand, None, None, None])
    first = _ScriptedExtractor([None], [None])  # the stream's first frame without a hand is tried at once
    assert VideoHandDetector(first, recover_every=3).detect(frame, 0) is None
    assert first.calls == [("video", 0), ("recover", 0)]
    detector = VideoHandDetector(extractor, recover_every=3)
    found = [detector.detect(frame, t) for t in range(10)]
    assert [f is not None for f in found] == [True, True, True] + [False] * 7
    assert [t for kind, t in extractor.calls if kind == "recover"] == [1, 2, 3, 6, 9]
    assert detector.n_recovered == 2

    never = _ScriptedExtractor([hand, None, None], [])
    off = VideoHandDetector(never, recover_every=0)
    assert [off.detect(frame, t) for t in range(3)] == [hand, None, None]
    assert all(kind == "video" for kind, _ in never.calls)

    class VideoOnly:  # a test fake or another extractor without recovery: never asked
        def detect_video(self, rgb, timestamp_ms):
            return None

    assert VideoHandDetector(VideoOnly(), recover_every=1).detect(frame, 0) is None
    off_in_card = _ScriptedExtractor([None, None], [])  # the model card's ExtractorSettings(recovery=False)
    off_in_card.settings = dataclasses.make_dataclass("S", [("recovery", bool)])(False)
    assert VideoHandDetector(off_in_card, recover_every=1).recover_every == 0
    assert [VideoHandDetector(off_in_card, 1).detect(frame, t) for t in range(2)] == [None, None]
    assert all(kind == "video" for kind, _ in off_in_card.calls)
    for bad in (-1, 1.5):
        with pytest.raises(ValueError, match="recover_every must be an integer >= 0"):
            VideoHandDetector(VideoOnly(), recover_every=bad)
    for bad in (-1, True):
        with pytest.raises(ValueError, match="recover_every must be an integer >= 0"):
            LiveSettings(recover_every=bad)


def test_the_live_loop_finds_a_close_up_fist_through_the_recovery_pass(data_dir, tmp_path):
    import cv2

    # Six frames of asl2text's O21 filling a 640x480 frame (the fist the video pass misses; see
    # tests/hands/test_landmarks.py), as an image folder.
    photo = cv2.resize(cv2.imread(str(data_dir / "asl2text" / "test" / "O" / "O21.jpg")), (343, 343),
                       interpolation=cv2.INTER_AREA)
    frame = np.empty((480, 640, 3), np.uint8)
    frame[:] = np.median(np.concatenate([photo[0], photo[-1]]), axis=0).astype(np.uint8)
    frame[68:411, 148:491] = photo
    for i in range(6):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), frame)

    class Any:
        classes = ("A", "B", "NOTHING")

        def predict_proba_one(self, x):
            return np.array([0.2, 0.2, 0.6])

    counts = {}
    for every in (0, 10):
        recognizer = LiveRecognizer(Any(), LiveSettings(recover_every=every))
        results = list(recognizer.run(tmp_path))
        counts[every] = (recognizer.stats.n_frames_with_hand, recognizer.stats.as_dict()["frames_recovered"])
        assert len(results) == 6
    # Without recovery no frame has a hand. With it, the stream's first frame is tried at once and
    # every later one follows a frame with a hand: all six found, all by the recovery pass.
    assert counts[0] == (0, 0)
    assert counts[10] == (6, 6)
