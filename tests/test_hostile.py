"""Hostile input and faults (issue 8): nothing lost, nothing hangs, a one-line error instead of a traceback.

Each test is named after the probe it repeats; the closing note of the issue maps them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from landmark_asl._util import exclusive_lock
from landmark_asl.cli import main
from landmark_asl.data.extraction import extract_table
from landmark_asl.data.landmark_cache import load_landmarks
from landmark_asl.data.table import read_table
from landmark_asl.exceptions import LockedError


def _copy_images(data_dir: Path, root: Path, labels=("B", "L"), n: int = 3) -> Path:
    for label in labels:
        (root / label).mkdir(parents=True, exist_ok=True)
        for path in sorted((data_dir / "asl2text" / "test" / label).glob("*.jpg"))[:n]:
            shutil.copy(path, root / label / path.name)
    return root


def _cli(*args: str):
    result = CliRunner(mix_stderr=False).invoke(main, list(args))
    return result


def _one_line_error(result) -> str:
    """The CLI's error: exit status 1, exactly one line starting with 'Error:' (after any progress lines), no traceback."""
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr, result.exception)
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and result.stderr.rstrip().endswith(lines[0]), result.stderr
    assert "Traceback" not in result.stderr and isinstance(result.exception, SystemExit)
    return lines[0]


# --- 2. two extract runs on one output ------------------------------------------------------------


def test_second_writer_of_an_output_fails_at_once_naming_the_first(tmp_path, data_dir):
    images = _copy_images(data_dir, tmp_path / "images", n=1)
    output = tmp_path / "table.parquet"
    with exclusive_lock(output, "landmark-asl extract"):
        with pytest.raises(LockedError, match=rf"table.parquet is being written by process {os.getpid()} \(landmark-asl extract"):
            extract_table([images], output, progress=False)
        line = _one_line_error(_cli("extract", str(images), "-o", str(output)))
        assert "is being written by process" in line
    assert not output.exists()
    extract_table([images], output, progress=False)  # free again once the first is done
    assert len(read_table(output)[0]) == 2 and not (tmp_path / "table.parquet.lock").exists()


@pytest.mark.slow
def test_two_concurrent_extract_processes_lose_no_rows(tmp_path, data_dir):
    first = _copy_images(data_dir, tmp_path / "first", labels=("B",), n=12)
    second = _copy_images(data_dir, tmp_path / "second", labels=("L",), n=2)
    output = tmp_path / "table.parquet"
    code = (
        "import time, landmark_asl.data.extraction as e\n"
        "e.BATCH_SIZE = 1\n"
        "real = e.extract_batch\n"
        "def slow(*a):\n    time.sleep(0.2)\n    return real(*a)\n"
        "e.extract_batch = slow\n"
        f"e.extract_table([{str(first)!r}], {str(output)!r}, progress=False)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    parts = tmp_path / "table.parquet.parts"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(parts.glob("part-*.parquet")):
        time.sleep(0.05)
    with pytest.raises(LockedError, match=f"being written by process {process.pid}"):
        extract_table([second], output, progress=False)
    assert process.wait(timeout=120) == 0, process.stderr.read()
    extract_table([second], output, progress=False)
    table, _ = read_table(output)
    assert sorted(table["label"].value_counts().items()) == [("B", 12), ("L", 2)]


# --- 4. the landmark cache forgets deleted, moved and changed files ------------------------------------


def _edit_folder(images: Path, data_dir: Path) -> tuple[str, str]:
    """Delete B/B0.jpg, move one L image to B, give another L image new content; return (moved, changed)."""
    (images / "B" / "B0.jpg").unlink()
    moved = sorted((images / "L").glob("*.jpg"))[0]
    moved.rename(images / "B" / moved.name)
    changed = sorted((images / "L").glob("*.jpg"))[0]
    shutil.copy(data_dir / "asl2text" / "train" / "L" / "L100.jpg", changed)
    return moved.name, changed.name


def _check_edited(table: pd.DataFrame, images: Path, moved: str) -> None:
    rows = table.set_index(table["source"].map(lambda s: Path(s).relative_to(images).as_posix()))
    assert len(table) == 5 and "B/B0.jpg" not in rows.index, sorted(rows.index)
    assert rows.loc[f"B/{moved}", "label"] == "B" and f"L/{moved}" not in rows.index
    assert table["sample_id"].is_unique and table["source"].is_unique


def test_rerun_follows_deleted_moved_and_changed_files(tmp_path, data_dir):
    images = _copy_images(data_dir, tmp_path / "images", n=3)
    output = tmp_path / "t.parquet"
    assert extract_table([images], output, progress=False)["n_samples"] == 6
    moved, _ = _edit_folder(images, data_dir)
    summary = extract_table([images], output, progress=False)
    # Only the changed file is extracted again; the moved one is reused by its content.
    assert (summary["n_processed"], summary["n_resumed"], summary["n_samples"]) == (1, 4, 5)
    _check_edited(read_table(output)[0], images, moved)


def test_cache_of_train_and_compare_follows_the_folder(tmp_path, data_dir):
    images = _copy_images(data_dir, tmp_path / "images", n=3)
    cache = tmp_path / "cache"
    assert len(load_landmarks([images], cache_dir=cache, progress=False)[0]) == 6
    moved, _ = _edit_folder(images, data_dir)
    table, _ = load_landmarks([images], cache_dir=cache, progress=False)
    _check_edited(table, images, moved)
    assert len(list(cache.glob("*.parquet"))) == 1


def test_cache_is_versioned_by_loader_and_packages(tmp_path, data_dir, monkeypatch):
    from landmark_asl.data import extraction, landmark_cache

    images = _copy_images(data_dir, tmp_path / "images", labels=("B",), n=1)
    path = landmark_cache.landmark_cache_path(images, tmp_path / "cache")
    monkeypatch.setattr(extraction, "LOADER_VERSION", extraction.LOADER_VERSION + 1)
    assert landmark_cache.landmark_cache_path(images, tmp_path / "cache") != path


def test_a_landmark_csv_cache_is_versioned_by_the_csv_loader(tmp_path, data_dir, monkeypatch):
    from landmark_asl.data import datasets, landmark_cache

    images = _copy_images(data_dir, tmp_path / "images", labels=("B",), n=1)
    csv = data_dir / "landmarks" / "nejohnson2_wrist_relative.csv"
    before = [landmark_cache.landmark_cache_path(s, tmp_path / "cache") for s in (images, csv)]
    monkeypatch.setattr(datasets, "CSV_LOADER_VERSION", datasets.CSV_LOADER_VERSION + 1)
    after = [landmark_cache.landmark_cache_path(s, tmp_path / "cache") for s in (images, csv)]
    assert after[0] == before[0] and after[1] != before[1]


def test_resume_refuses_a_table_of_another_loader_version(tmp_path, data_dir, monkeypatch):
    from landmark_asl.data import extraction
    from landmark_asl.exceptions import ExtractionError

    images = _copy_images(data_dir, tmp_path / "images", labels=("B",), n=1)
    output = tmp_path / "t.parquet"
    extract_table([images], output, progress=False)
    monkeypatch.setattr(extraction, "LOADER_VERSION", extraction.LOADER_VERSION + 1)
    with pytest.raises(ExtractionError, match="different loader_version"):
        extract_table([images], output, progress=False)


# --- 7. a dead worker stops the run instead of hanging it ----------------------------------------------


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if "spawn_main" in line and "resource_tracker" not in line]


@pytest.mark.slow
def test_killed_worker_stops_extract_with_an_error_and_the_rerun_resumes(tmp_path, data_dir):
    images = _copy_images(data_dir, tmp_path / "images", labels=("A", "B", "C", "L"), n=30)
    n_images = len(list(images.rglob("*.jpg")))
    output = tmp_path / "table.parquet"
    command = [sys.executable, "-m", "landmark_asl.cli", "extract", str(images), "-o", str(output), "--n-jobs", "2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    parts = tmp_path / "table.parquet.parts"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(parts.glob("part-*.parquet")):
        time.sleep(0.02)
    workers = _children(process.pid)
    assert len(workers) == 2, workers
    os.kill(workers[0], signal.SIGKILL)
    try:
        _, stderr = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:  # the defect: the pool waits forever
        process.kill()
        pytest.fail("extract hung after a worker was killed")
    assert process.returncode == 1
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "worker process died" in errors[0] and "run the same command again" in errors[0]
    assert "Traceback" not in stderr
    saved = len(list(parts.glob("part-*.parquet")))
    assert saved >= 1 and not output.exists()
    summary = extract_table([images], output, progress=False)
    assert summary["n_resumed"] >= 1 and summary["n_resumed"] + summary["n_processed"] == n_images
    table, _ = read_table(output)
    assert len(table) == n_images and table["sample_id"].is_unique


def test_n_jobs_is_capped_at_the_cores(tmp_path, data_dir):
    images = _copy_images(data_dir, tmp_path / "images", labels=("B",), n=1)
    with pytest.warns(UserWarning, match=r"n_jobs=64 capped at the \d+ available cores"):
        extract_table([images], tmp_path / "t.parquet", progress=False, n_jobs=64)


# --- 10. a truncated part file is dropped and redone ---------------------------------------------------


def test_truncated_part_file_is_dropped_and_redone(tmp_path, data_dir):
    images = _copy_images(data_dir, tmp_path / "images", n=2)
    output = tmp_path / "table.parquet"
    extract_table([images], tmp_path / "whole.parquet", progress=False)
    parts = tmp_path / "table.parquet.parts"
    parts.mkdir()
    (parts / "part-000000.parquet").write_bytes((tmp_path / "whole.parquet").read_bytes()[:300])
    with pytest.warns(UserWarning, match="dropping unreadable part file .*part-000000.parquet"):
        summary = extract_table([images], output, progress=False)
    assert summary["n_processed"] == 4 and not parts.exists()
    pd.testing.assert_frame_equal(read_table(output)[0], read_table(tmp_path / "whole.parquet")[0])


# --- 11. unwritable outputs ------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["/proc/t.parquet", "/nonexistent-root-dir/sub/t.parquet"])
def test_extract_into_an_unwritable_place_is_one_line(tmp_path, data_dir, where):
    images = _copy_images(data_dir, tmp_path / "images", labels=("B",), n=1)
    if where.startswith("/nonexistent") and os.geteuid() == 0:
        where = "/proc/self/nope/t.parquet"  # root may create any folder: use another unwritable place
    line = _one_line_error(_cli("extract", str(images), "-o", where))
    assert "cannot write" in line


def test_extract_output_is_readable_by_others(tmp_path, data_dir):
    images = _copy_images(data_dir, tmp_path / "images", labels=("B",), n=1)
    old = os.umask(0o022)
    try:
        extract_table([images], tmp_path / "t.parquet", progress=False)
        extract_table([images], tmp_path / "t.csv", progress=False)
    finally:
        os.umask(old)
    for name in ("t.parquet", "t.csv", "t.csv.meta.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name


# --- 1. train -o never deletes a folder that is not a model ------------------------------------------


@pytest.fixture
def small_images(tmp_path, data_dir) -> Path:
    return _copy_images(data_dir, tmp_path / "images", n=3)


def test_train_refuses_a_folder_that_is_not_a_model(tmp_path, small_images, monkeypatch):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "notes.txt").write_text("keep me")
    cache = ["--cache-dir", str(tmp_path / "cache")]
    line = _one_line_error(_cli("train", str(small_images), "--model-name", "rf", "-o", str(victim), *cache))
    assert "not a model directory" in line and (victim / "notes.txt").read_text() == "keep me"
    monkeypatch.chdir(victim)
    line = _one_line_error(_cli("train", str(small_images), "--model-name", "rf", "-o", ".", *cache))
    assert "cannot save a model to '.': name a folder for it" in line and (victim / "notes.txt").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _cli("train", str(small_images), "--model-name", "rf", "-o", str(empty), "--param", "n_estimators=3", *cache)
    assert result.exit_code == 0, result.stderr
    assert (empty / "metadata.json").is_file()


# --- 3. compare -o keeps other files ------------------------------------------------------------


def test_compare_refuses_foreign_folders_and_needs_overwrite_for_a_report(tmp_path, small_images):
    args = ["compare", "--train", str(small_images), "--models", "rf", "--param", "rf.n_estimators=3",
            "--cache-dir", str(tmp_path / "cache")]
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.tex").write_text("keep me")
    line = _one_line_error(_cli(*args, "-o", str(folder)))
    assert "not an earlier report (thesis.tex)" in line and sorted(p.name for p in folder.iterdir()) == ["thesis.tex"]
    assert "not an earlier report" in _one_line_error(_cli(*args, "-o", str(folder), "--overwrite"))
    report = tmp_path / "report"
    assert _cli(*args, "-o", str(report)).exit_code == 0
    first = (report / "report.json").read_text()
    assert "--overwrite" in _one_line_error(_cli(*args, "-o", str(report)))
    assert (report / "report.json").read_text() == first
    result = _cli(*args, "-o", str(report), "--overwrite", "--random-state", "1")
    assert result.exit_code == 0, result.stderr
    assert (report / "report.json").read_text() != first and (report / "models" / "rf" / "metadata.json").is_file()


# --- 5./6./11. landmark CSVs and tables ---------------------------------------------------------------


def _landmark_csv(path: Path, bad_cell: str | None = None, bad_label: str | None = None) -> Path:
    header = "label,source_file," + ",".join(f"{a}{i}" for i in range(21) for a in "xyz")
    rows = [f"A,a.jpg,{','.join(['0.5'] * 63)}", f"B,b.jpg,{','.join(['0.25'] * 63)}"]
    cells = ["0.5"] * 63
    if bad_cell is not None:
        cells[4] = bad_cell
    rows.append(f"{bad_label or 'C'},c.jpg,{','.join(cells)}")
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("cell", ["inf", "-inf", "1e39", "-3.5e38", "nan"])
def test_landmark_csv_refuses_values_that_are_not_finite_float32(tmp_path, cell):
    from landmark_asl.data.datasets import load_landmark_csv
    from landmark_asl.exceptions import DatasetError

    path = _landmark_csv(tmp_path / "borisgraudt_bad.csv", bad_cell=cell)
    with pytest.raises(DatasetError, match=r"row 2, column y1 is|landmark columns must all be numbers"):
        load_landmark_csv(path)
    line = _one_line_error(_cli("train", str(path), "--model-name", "rf", "-o", str(tmp_path / "m"),
                                "--cache-dir", str(tmp_path / "cache")))
    assert "borisgraudt_bad.csv" in line


def test_landmark_csv_label_goes_through_the_vocabulary(tmp_path):
    path = _landmark_csv(tmp_path / "borisgraudt_bad.csv", bad_label="zz")
    line = _one_line_error(_cli("train", str(path), "--model-name", "rf", "-o", str(tmp_path / "m"),
                                "--cache-dir", str(tmp_path / "cache")))
    assert "unknown label 'zz'" in line


def test_landmark_table_is_checked_on_read(tmp_path, small_images):
    from landmark_asl.data.table import write_table
    from landmark_asl.exceptions import DatasetError

    extract_table([small_images], tmp_path / "t.parquet", progress=False)
    table, meta = read_table(tmp_path / "t.parquet")
    row = int(np.flatnonzero(table["detected"].to_numpy())[1])
    broken = table.copy()
    broken.loc[row, "x3"] = np.nan
    write_table(broken, tmp_path / "nan.parquet", meta)
    with pytest.raises(DatasetError, match=rf"row {row}, column x3 is nan: .* a row marked detected needs"):
        read_table(tmp_path / "nan.parquet")
    relabelled = table.copy()
    relabelled.loc[0, "label"] = "zz"
    write_table(relabelled, tmp_path / "zz.parquet", meta)
    with pytest.raises(DatasetError, match="row 0: unknown label 'zz'"):
        read_table(tmp_path / "zz.parquet")
    spelled = table.copy()
    spelled["label"] = spelled["label"].str.lower()
    write_table(spelled, tmp_path / "lower.parquet", meta)
    assert set(read_table(tmp_path / "lower.parquet")[0]["label"]) == {"B", "L"}


def test_a_landmark_table_whose_name_is_not_utf8_is_read_and_written(tmp_path, small_images):
    extract_table([small_images], tmp_path / "t.parquet", progress=False)
    table, meta = read_table(tmp_path / "t.parquet")
    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/n\xff"))
    folder.mkdir()
    shutil.copy(tmp_path / "t.parquet", folder / "t.parquet")
    again, _ = read_table(folder / "t.parquet")  # pyarrow alone cannot open such a name
    pd.testing.assert_frame_equal(again, table)
    from landmark_asl.data.table import write_table

    write_table(table, folder / "w.parquet", meta)  # nor write one
    pd.testing.assert_frame_equal(read_table(folder / "w.parquet")[0], table)
    table.to_csv(folder / "t.csv", index=False)
    assert len(read_table(folder / "t.csv")[0]) == len(table)


# --- 8. non-UTF-8 file names -----------------------------------------------------------------------


def test_extract_records_a_non_utf8_name_and_finishes(tmp_path, data_dir):
    images = _copy_images(data_dir, tmp_path / "images", labels=("L",), n=2)
    shutil.copy(data_dir / "asl2text" / "test" / "L" / "L0.jpg", os.fsencode(images / "L") + b"/\xff\xfe.jpg")
    for _ in range(2):  # the re-run works too
        summary = extract_table([images], tmp_path / "t.parquet", progress=False)
        assert summary["n_samples"] == 2
        assert [r["reason"] for r in summary["rejected"]] == ["file name is not valid UTF-8: rename the file to read it"]
        assert summary["rejected"][0]["source"].endswith("\\xff\\xfe.jpg")


def test_live_names_a_non_utf8_folder_escaped_in_its_errors_and_summary(tmp_path):
    from landmark_asl.exceptions import SourceError
    from landmark_asl.live.loop import LiveRecognizer
    from landmark_asl.live.output import session_summary
    from landmark_asl.live.sources import open_source
    from landmark_asl.model.store import load_model

    folder = os.fsencode(tmp_path) + b"/bad\xff"
    os.mkdir(folder)
    with open(folder + b"/a.jpg", "wb") as broken:
        broken.write(b"not a jpeg")
    name = os.fsdecode(folder)
    with pytest.warns(RuntimeWarning), pytest.raises(SourceError) as caught:
        list(open_source(name).frames())
    assert "bad\\xff could be read" in str(caught.value) and "\udcff" not in str(caught.value)

    summary = session_summary(LiveRecognizer(load_model(None)), source=name)
    assert summary["source"].endswith("bad\\xff") and "\udcff" not in summary["source"]
    json.dumps(summary, ensure_ascii=False).encode("utf-8")  # no lone surrogate to encode


# --- 9. huge images and decompression bombs ---------------------------------------------------------


def _png(width: int, height: int, *, header_only: bool = False) -> bytes:
    import zlib

    row = b"\x00" + bytes(width)
    raw = zlib.compress(row if header_only else row * height, 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def test_a_10000_pixel_png_is_downscaled_and_predict_stays_under_1_gb(tmp_path):
    from landmark_asl.hands.images import read_image

    path = tmp_path / "huge.png"
    path.write_bytes(_png(10_000, 10_000))
    assert path.stat().st_size < 400_000
    assert read_image(path).shape == (1920, 1920, 3)
    # VmHWM: the peak of this process's own memory. (ru_maxrss would not do: Linux carries it
    # across fork + exec, so a child of a large pytest process reports pytest's size.)
    code = (
        "import sys\n"
        "from landmark_asl.cli import main\n"
        "try:\n"
        f"    main(['predict', {str(path)!r}, '--json'], standalone_mode=False)\n"
        "finally:\n"
        "    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
        "    print('peak_kb', hwm, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    peak_mb = int(result.stderr.split("peak_kb")[-1].split()[0]) / 1024
    assert peak_mb < 1024, f"predict of a 10000x10000 PNG peaked at {peak_mb:.0f} MB"


@pytest.mark.parametrize(("width", "height"), [(10_001, 10_000), (50_000, 50_000), (200_000, 200_000)])
def test_decompression_bombs_are_refused_by_their_header(tmp_path, width, height):
    from landmark_asl.exceptions import DatasetError
    from landmark_asl.hands.images import read_image

    path = tmp_path / "bomb.png"
    path.write_bytes(_png(width, height, header_only=True))
    with pytest.raises(DatasetError, match="refusing image .*bomb.png: it claims .* more than the limit"):
        read_image(path)


# --- 11. options that used to give tracebacks ------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["extract", "{images}", "-o", "{tmp}/t.parquet", "--min-detection-confidence", "nan"], "not a finite number"),
        (["extract", "/dev/zero", "-o", "{tmp}/t.parquet"], "/dev/zero is not a folder or a regular file"),
        (["live", "--source", "{images}/L", "--smoothing-window", "1000000000000"], "not in the range 1<=x<=1000"),
        (["live", "--source", "{images}/L", "--threshold", "nan"], "not a finite number"),
        (["live", "--source", "{images}/L", "--recover-every", "-1"], "not in the range 0<=x<=1000"),
        (["compare", "--train", "{images}", "-o", "{tmp}/r", "--test-size", "1.0"], "not in the range 0<x<1"),
        (["compare", "--train", "{images}", "-o", "{tmp}/r", "--param", "rf.n_estimators=abc"],
         "bad parameter for model 'rf': The 'n_estimators' parameter must be an int"),
        (["train", "{images}", "--model-name", "xgb", "-o", "{tmp}/m", "--param", "n_estimators=-5"],
         "bad parameter for model 'xgb': The 'n_estimators' parameter must be an int in the range"),
        (["train", "{images}", "--model-name", "cnn", "-o", "{tmp}/m", "--param", "epochs=0"],
         "bad parameter for model 'cnn': epochs must be a positive int"),
    ],
)
def test_bad_options_give_one_error_line(tmp_path, small_images, args, expected):
    args = [a.format(images=small_images, tmp=tmp_path) for a in args]
    if args[0] in ("compare", "train"):
        args += ["--cache-dir", str(tmp_path / "cache")]
    result = _cli(*args)
    assert result.exit_code in (1, 2), (result.exit_code, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and expected in errors[0], result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "cache").exists(), "the options must be checked before any extraction"


def test_library_test_size_is_checked(manifests):
    from landmark_asl.data.splits import make_split
    from landmark_asl.exceptions import DatasetError

    manifest = manifests("asl2text/test")
    for bad in (1.0, 0.0, -0.2, float("nan"), 0, True):
        with pytest.raises(DatasetError, match="test_size must be a fraction strictly between 0 and 1"):
            make_split(manifest, test_size=bad)
    assert make_split(manifest, test_size=5).attrs["counts"]["test"] >= 5


# --- 12. messages that used to mislead ---------------------------------------------------------------


def test_messages_name_the_real_problem(tmp_path, data_dir):
    from landmark_asl.data.datasets import load_manifest, load_sign_mnist_csv
    from landmark_asl.exceptions import DatasetError

    (tmp_path / "empty" / "L").mkdir(parents=True)
    (tmp_path / "empty" / "L" / "zero.jpg").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"no usable samples .* rejected, e\.g\. .*zero\.jpg: empty file \(0 bytes\)"):
        load_manifest(tmp_path / "empty")
    header = "label," + ",".join(f"pixel{i}" for i in range(1, 785))
    (tmp_path / "short.csv").write_text(header + "\n3," + ",".join(["0"] * 700) + "\n")
    with pytest.raises(DatasetError, match=r"row 0 \(line 2\) has 701 columns; the header has 785"):
        load_sign_mnist_csv(tmp_path / "short.csv")
    (tmp_path / "head.csv").write_text(header + "\n")
    with pytest.raises(DatasetError, match="has a header but no rows"):
        load_sign_mnist_csv(tmp_path / "head.csv")


def test_skipped_files_are_listed_with_a_reason(tmp_path, data_dir):
    from PIL import Image

    from landmark_asl.data.datasets import load_manifest

    root = _copy_images(data_dir, tmp_path / "images", labels=("L",), n=1)
    frames = [Image.new("RGB", (32, 32), (40 * i, 0, 0)) for i in range(3)]
    frames[0].save(root / "L" / "anim.gif", save_all=True, append_images=frames[1:])
    (root / "L" / "deeper").mkdir()
    shutil.copy(data_dir / "asl2text" / "test" / "L" / "L0.jpg", root / "L" / "deeper" / "below.jpg")
    manifest, rejected = load_manifest(root)
    assert len(manifest) == 1
    reasons = dict(zip(rejected["source"].map(lambda s: Path(s).name), rejected["reason"]))
    assert "animated" in reasons["anim.gif"] and "live --source" in reasons["anim.gif"]
    assert "in a subfolder of class folder 'L'" in reasons["below.jpg"]
