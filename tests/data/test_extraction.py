"""Tests of the landmark table pipeline and the `extract` command on a few real images."""

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

from landmark_asl.cli import main
from landmark_asl.data import extraction
from landmark_asl.data.extraction import extract_table
from landmark_asl.data.table import TABLE_COLUMNS, read_table
from landmark_asl.exceptions import DatasetError, ExtractionError
from landmark_asl.hands.extractor import ExtractorSettings
from landmark_asl.hands.landmarks import IMAGE_COLUMNS


@pytest.fixture
def image_folder(tmp_path, data_dir) -> Path:
    """Two classes of two real asl2text images each, plus one corrupt file in class B."""
    root = tmp_path / "images"
    for label in ("B", "L"):
        (root / label).mkdir(parents=True)
        for name in (f"{label}0.jpg", f"{label}5.jpg"):
            shutil.copy(data_dir / "asl2text" / "test" / label / name, root / label / name)
    (root / "B" / "broken.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    return root


def _by_name(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(name=table["source"].map(lambda s: Path(s).name)).set_index("name")


def test_extract_table_rows_reasons_and_metadata(image_folder, tmp_path):
    output = tmp_path / "table.parquet"
    summary = extract_table([image_folder], output, progress=False)
    table, metadata = read_table(output)
    assert list(table.columns) == list(TABLE_COLUMNS)
    rows = _by_name(table)
    assert len(rows) == 5
    assert rows.loc["B0.jpg", "detected"] and rows.loc["B0.jpg", "strategy"] == "plain"
    assert rows.loc["B0.jpg", "handedness"] in ("Left", "Right")
    assert (rows.loc["B0.jpg", ["image_width", "image_height"]] == 224).all()
    assert np.isfinite(rows.loc["B0.jpg", list(IMAGE_COLUMNS)].to_numpy(float)).all()
    broken = rows.loc["broken.jpg"]
    assert not broken["detected"] and broken["reason"].startswith("cannot decode image:")
    assert np.isnan(broken[list(IMAGE_COLUMNS)].to_numpy(float)).all()
    assert metadata["settings"] == {**ExtractorSettings().__dict__}
    assert metadata["versions"]["mediapipe"] == "0.10.21" and len(metadata["model_asset_sha256"]) == 64
    assert summary["n_samples"] == 5 and summary["n_detected"] == 4
    assert summary["per_class"]["B"] == {"n": 3, "detected": 2, "coverage": 0.6667}
    assert summary["reasons"] == {"cannot decode image": 1}
    assert not (tmp_path / "table.parquet.parts").exists()


def test_csv_output_has_a_sidecar_and_reads_back(image_folder, tmp_path, data_dir):
    # A landmark CSV passes straight into the table, next to the images.
    lines = (data_dir / "landmarks" / "borisgraudt_raw_gestures.csv").read_text().splitlines()[:4]
    csv_landmarks = tmp_path / "borisgraudt_raw_gestures.csv"
    csv_landmarks.write_text("\n".join(lines) + "\n")
    output = tmp_path / "table.csv"
    summary = extract_table([image_folder, csv_landmarks], output, progress=False)
    assert (tmp_path / "table.csv.meta.json").is_file()
    table, metadata = read_table(output)
    assert len(table) == 5 + 3 and summary["n_samples"] == 8
    from_csv = table[table["strategy"] == "csv"]
    assert len(from_csv) == 3 and from_csv["detected"].all() and (from_csv["image_width"] == 0).all()
    assert metadata["format_version"] == extraction.TABLE_FORMAT_VERSION
    assert _by_name(table).loc["broken.jpg", "reason"].startswith("cannot decode image")


def test_a_landmark_csv_keeps_its_estimated_frame_size_through_a_table(tmp_path, data_dir):
    output = tmp_path / "table.parquet"
    extract_table([data_dir / "landmarks" / "nejohnson2_wrist_relative.csv"], output, progress=False)
    table, _ = read_table(output)
    assert len(table) == 1022 and (table[["image_width", "image_height"]] == [640, 480]).all().all()


def test_resume_after_an_interruption(image_folder, tmp_path, monkeypatch):
    output = tmp_path / "table.parquet"
    monkeypatch.setattr(extraction, "BATCH_SIZE", 2)
    real_batch = extraction.extract_batch
    calls = []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_batch(*args)

    monkeypatch.setattr(extraction, "extract_batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        extract_table([image_folder], output, progress=False)
    assert not output.exists()
    parts = sorted((tmp_path / "table.parquet.parts").iterdir())
    assert [p.name for p in parts] == ["part-000000.parquet"]  # the finished batch, nothing partial

    monkeypatch.setattr(extraction, "extract_batch", real_batch)
    summary = extract_table([image_folder], output, progress=False)
    assert (summary["n_resumed"], summary["n_processed"]) == (2, 3)
    resumed, _ = read_table(output)
    fresh_summary = extract_table([image_folder], tmp_path / "fresh.parquet", progress=False)
    fresh, _ = read_table(tmp_path / "fresh.parquet")
    assert fresh_summary["n_processed"] == 5
    pd.testing.assert_frame_equal(resumed, fresh)

    # A completed table is not extracted again.
    again = extract_table([image_folder], output, progress=False)
    assert (again["n_resumed"], again["n_processed"]) == (5, 0)


def test_resume_refuses_other_settings(image_folder, tmp_path):
    output = tmp_path / "table.parquet"
    extract_table([image_folder], output, progress=False, settings=ExtractorSettings(recovery=False))
    with pytest.raises(ExtractionError, match="cannot resume .* different settings"):
        extract_table([image_folder], output, progress=False)


def test_read_table_errors(tmp_path):
    with pytest.raises(DatasetError, match="landmark table not found"):
        read_table(tmp_path / "missing.parquet")
    other = tmp_path / "other.csv"
    pd.DataFrame({"a": [1]}).to_csv(other, index=False)
    with pytest.raises(DatasetError, match="not a landmark table: missing columns"):
        read_table(other)


@pytest.mark.slow
def test_workers_give_the_same_table(image_folder, tmp_path):
    extract_table([image_folder], tmp_path / "one.parquet", progress=False, n_jobs=1)
    summary = extract_table([image_folder], tmp_path / "two.parquet", progress=False, n_jobs=2)
    assert summary["n_processed"] == 5
    pd.testing.assert_frame_equal(read_table(tmp_path / "one.parquet")[0], read_table(tmp_path / "two.parquet")[0])


@pytest.mark.slow
def test_a_killed_run_leaves_no_corrupt_file_and_resumes(tmp_path, data_dir):
    folder = tmp_path / "images" / "B"
    folder.mkdir(parents=True)
    for path in sorted((data_dir / "asl2text" / "test" / "B").glob("*.jpg"))[:12]:
        shutil.copy(path, folder / path.name)
    output = tmp_path / "table.parquet"
    code = (
        "import time, landmark_asl.data.extraction as e\n"
        "e.BATCH_SIZE = 1\n"
        "real = e.extract_batch\n"
        "def slow(*a):\n    time.sleep(0.3)\n    return real(*a)\n"
        "e.extract_batch = slow\n"
        f"e.extract_table([{str(folder.parent)!r}], {str(output)!r}, progress=False)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL)
    parts = tmp_path / "table.parquet.parts"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(parts.glob("part-*.parquet"))) < 3:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not output.exists()
    n_parts = len(list(parts.glob("part-*.parquet")))
    assert 3 <= n_parts < 12
    summary = extract_table([folder.parent], output, progress=False)
    assert summary["n_resumed"] >= 3 and summary["n_resumed"] + summary["n_processed"] == 12
    table, _ = read_table(output)
    assert len(table) == 12 and table["sample_id"].is_unique


def test_cli_extract_prints_a_summary_and_json(image_folder, tmp_path):
    runner = CliRunner(mix_stderr=False)
    output = tmp_path / "cli.parquet"
    result = runner.invoke(main, ["-v", "extract", str(image_folder), "-o", str(output)])
    assert result.exit_code == 0, result.stderr
    assert "4/5 samples with a hand" in result.stdout and "cannot decode image=1" in result.stdout
    assert len(read_table(output)[0]) == 5
    result = runner.invoke(main, ["-v", "extract", str(image_folder), "-o", str(tmp_path / "cli.csv"), "--json"])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["n_detected"] == 4 and summary["per_class"]["L"]["coverage"] == 1.0


def test_cli_extract_errors(image_folder, tmp_path):
    runner = CliRunner(mix_stderr=False)
    result = runner.invoke(
        main, ["-v", "extract", str(image_folder), "-o", str(tmp_path / "t.parquet"), "--model-asset", str(tmp_path / "no.task")]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: model asset not found")
    result = runner.invoke(main, ["-v", "extract", str(tmp_path / "nowhere"), "-o", str(tmp_path / "t.parquet")])
    assert result.exit_code == 1 and "not found" in result.stderr
    result = runner.invoke(main, ["-v", "extract", str(image_folder), "-o", str(tmp_path / "t.parquet"), "--n-jobs", "0"])
    assert result.exit_code == 2 and "--n-jobs" in result.stderr


@pytest.mark.slow
def test_cli_hides_native_logs_unless_verbose(image_folder, tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "landmark_asl.cli"]
    quiet = subprocess.run(
        [*command, "extract", str(image_folder), "-o", str(tmp_path / "q.parquet"), "--n-jobs", "2", "--json"],
        capture_output=True, text=True, env=env, check=True,
    )
    assert json.loads(quiet.stdout)["n_detected"] == 4
    for noise in ("W0000", "I0000", "INFO: Created TensorFlow Lite", "absl::InitializeLog"):
        assert noise not in quiet.stderr
    verbose = subprocess.run(
        [*command, "-v", "extract", str(image_folder), "-o", str(tmp_path / "v.parquet"), "--json"],
        capture_output=True, text=True, env=env, check=True,
    )
    assert "TensorFlow Lite" in verbose.stderr or "W0000" in verbose.stderr


@pytest.mark.slow
def test_a_bad_model_in_workers_is_an_error_not_a_hang(image_folder, tmp_path):
    bogus = tmp_path / "bogus.task"
    bogus.write_text("not a model")
    settings = ExtractorSettings(model_asset=str(bogus))
    with pytest.raises(ExtractionError, match="cannot load the hand landmark model"):
        extract_table([image_folder], tmp_path / "t.parquet", settings=settings, n_jobs=2, progress=False)


def test_a_table_resumes_with_the_same_built_bundle_whose_zip_bytes_differ(image_folder, tmp_path, monkeypatch):
    """Bundles built by older installs carried file dates: same models, same name, other bytes."""
    output = tmp_path / "table.parquet"
    extract_table([image_folder], output, progress=False)
    real = extraction._model_info

    def rebuilt(settings):
        return {**real(settings), "model_asset_sha256": "0" * 64}

    monkeypatch.setattr(extraction, "_model_info", rebuilt)
    again = extract_table([image_folder], output, progress=False)
    assert (again["n_resumed"], again["n_processed"]) == (5, 0)
    monkeypatch.setattr(extraction, "_model_info", lambda settings: {"model_asset_name": "official.task",
                                                                     "model_asset_sha256": "1" * 64})
    with pytest.raises(ExtractionError, match="cannot resume .* different model_asset_sha256"):
        extract_table([image_folder], output, progress=False)
