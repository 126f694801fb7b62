"""Tests for landmark_asl.training.collect: the frame-driven recorder, folders, videos, resume, and the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from landmark_asl.cli import main
from landmark_asl.data.table import TABLE_COLUMNS
from landmark_asl.exceptions import LandmarkASLError
from landmark_asl.hands.landmarks import HandLandmarks
from landmark_asl.training.collect import SampleRecorder, collect, parse_letters, read_samples, write_samples


def _hand(seed: int = 0) -> HandLandmarks:
    rng = np.random.default_rng(seed)
    return HandLandmarks(rng.random((21, 3), dtype=np.float32), rng.random((21, 3), dtype=np.float32), "Right", 0.9,
                         image_size=(640, 480))


def test_parse_letters_expands_ranges_and_names():
    assert parse_letters("A-C,space,Del") == ["A", "B", "C", "SPACE", "DEL"]
    assert parse_letters("a, b, a") == ["A", "B"]
    for bad in ("", "A-Z,blah", "Z-A"):
        with pytest.raises(LandmarkASLError):
            parse_letters(bad)


def test_recorder_counts_down_spaces_frames_and_moves_on():
    recorder = SampleRecorder(["A", "B"], per_letter=2, signer="ann", every=2, countdown=3)
    states = [recorder.add(_hand(i)) for i in range(3)]
    assert [s.countdown for s in states] == [2, 1, 0] and not any(s.recorded for s in states)
    assert recorder.add(None).recorded is False  # no hand: nothing recorded, nothing counted
    recorded = [recorder.add(_hand(i)).recorded for i in range(4)]
    assert recorded == [True, False, True, False]  # every 2nd frame with a hand; then B's countdown
    state = recorder.state
    assert state.letter == "B" and state.count == 0 and state.countdown == 2
    table = recorder.table()
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert list(table["label"]) == ["A", "A"] and set(table["group"]) == {"ann"}
    assert table["sample_id"].is_unique and table["detected"].all()
    np.testing.assert_allclose(table.loc[0, ["x0", "y0", "z0"]].to_numpy(dtype=float), _hand(0).image[0], rtol=1e-6)


def test_recorder_redo_skip_and_resume():
    recorder = SampleRecorder(["A", "B", "C"], per_letter=1, signer="ann", every=1, countdown=0, done={"A": 1})
    assert recorder.state.letter == "B"  # A was recorded in an earlier session
    recorder.add(_hand())
    assert recorder.state.letter == "C"
    assert recorder.redo().letter == "B" and recorder.table().empty  # C had nothing: B is redone
    assert recorder.skip().letter == "C"
    assert recorder.record(_hand()).done and list(recorder.table()["label"]) == ["C"]
    with pytest.raises(LandmarkASLError, match="per_letter"):
        SampleRecorder(["A"], per_letter=0, signer="x")


def test_redo_after_resume_drops_the_earlier_samples_of_that_letter(tmp_path):
    """A resumed letter redone is recorded afresh: its samples of the earlier session leave the table."""
    path = tmp_path / "ann.parquet"
    first = SampleRecorder(["A", "B"], per_letter=3, signer="ann", every=1, countdown=0)
    for _ in range(4):
        first.add(_hand())
    write_samples(first, path)  # A: 3, B: 1
    earlier = read_samples(path)
    again = SampleRecorder(["A", "B", "C"], per_letter=3, signer="ann", every=1, countdown=0,
                           done=earlier["label"].value_counts().to_dict())
    assert again.state.letter == "B" and again.state.count == 1
    state = again.redo()  # B has a sample (an earlier one): B is redone, not A
    assert state.letter == "B" and state.count == 0 and again.dropped == {"B"}
    again.add(_hand())
    write_samples(again, path, earlier)
    assert read_samples(path)["label"].value_counts().to_dict() == {"A": 3, "B": 1}
    assert again.redo().letter == "B" and again.redo().letter == "A"  # B empty again: back to A, dropped too
    write_samples(again, path, earlier)
    assert read_samples(path).empty
    with pytest.raises(LandmarkASLError, match="signer"):
        SampleRecorder(["A"], per_letter=1, signer="a/b")


@pytest.fixture(scope="module")
def letter_folder(tmp_path_factory, data_dir) -> Path:
    """Real massey photos of one signer in label folders A/, B/ (4 each)."""
    root = tmp_path_factory.mktemp("collect") / "photos"
    for letter in ("A", "B"):
        (root / letter).mkdir(parents=True)
        for f in sorted((data_dir / "massey" / letter.lower()).glob("hand1_*"))[:4]:
            shutil.copy(f, root / letter / f.name)
    return root


@pytest.mark.slow
def test_collect_from_a_folder_and_resume(letter_folder, tmp_path):
    out = tmp_path / "me.parquet"
    first = collect(letter_folder, out, letters=["A", "B"], per_letter=2, signer="ann", progress=False)
    assert first["counts"] == {"A": 2, "B": 2} and first["missing"] == []
    again = collect(letter_folder, out, letters=["A", "B"], per_letter=3, signer="ann", progress=False)
    table = read_samples(out)
    assert again["counts"] == {"A": 3, "B": 3} and len(table) == 6 and table["sample_id"].is_unique
    assert table["source"].str.contains("hand1_").all()
    with pytest.raises(LandmarkASLError, match="holds samples of"):
        collect(letter_folder, out, letters=["A"], per_letter=1, signer="bob", progress=False)
    with pytest.raises(LandmarkASLError, match="no display"):
        collect(letter_folder, tmp_path / "w.parquet", letters=["A"], window=True, progress=False)
    # One photo is not a session (OpenCV would play it as a one-frame video and record nothing).
    photo = next((letter_folder / "A").iterdir())
    with pytest.raises(LandmarkASLError, match="is one image: collect records from a camera, a video, or a folder"):
        collect(photo, tmp_path / "one.parquet", letters=["A"], progress=False)
    assert not (tmp_path / "one.parquet").exists()


@pytest.mark.slow
def test_collect_guided_session_from_a_video(letter_folder, tmp_path, monkeypatch):
    import cv2

    video = tmp_path / "session.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    # The video follows the guide: 5 frames of countdown, then every 2nd frame: A at frames 5, 7, 9;
    # B's countdown 10-14, B at 15, 17, 19.
    for letter, n_frames in (("A", 10), ("B", 15)):
        photo = cv2.imread(str(sorted((letter_folder / letter).iterdir())[0]))
        canvas = np.zeros((480, 640, 3), np.uint8)
        canvas[40:440, 120:520] = cv2.resize(photo, (400, 400))
        for _ in range(n_frames):
            writer.write(canvas)
    writer.release()
    result = CliRunner(mix_stderr=False).invoke(main, [
        "collect", "--source", str(video), "--letters", "A,B", "--per-letter", "3", "--signer", "ann",
        "--every", "2", "--countdown", "5", "-o", str(tmp_path / "s.parquet"), "--json"])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["counts"] == {"A": 3, "B": 3} and summary["missing"] == []
    table = read_samples(tmp_path / "s.parquet")
    assert list(table["label"]) == ["A"] * 3 + ["B"] * 3
    assert [int(s.rsplit("#", 1)[1]) for s in table["source"]] == [5, 7, 9, 15, 17, 19]
    xy = table[[f"{a}{i}" for i in range(21) for a in "xy"]].to_numpy(dtype=float)
    assert np.abs(xy[3:] - xy[0]).mean() > 5 * np.abs(xy[1:3] - xy[0]).mean()  # B's rows show another hand shape


def test_collect_cli_bad_letters_is_a_one_line_error(tmp_path):
    result = CliRunner(mix_stderr=False).invoke(main, ["collect", "--source", str(tmp_path), "--letters", "A,?",
                                                       "-o", str(tmp_path / "s.parquet")])
    assert result.exit_code == 1 and "unknown letter" in result.stderr and "Traceback" not in result.stderr
