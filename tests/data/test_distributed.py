"""Tests for landmark_asl.data.distributed on a LocalCluster of 2 worker processes: same table, lost worker, resume, xgb."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from landmark_asl.data.extraction import extract_table
from landmark_asl.data.table import read_table
from landmark_asl.exceptions import LandmarkASLError

from conftest import make_synthetic_landmarks, synthetic_table

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                           host="127.0.0.1")
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def images(tmp_path_factory, data_dir) -> Path:
    """96 real asl2text/test photos (A, B, L, Y x 24) in label folders."""
    root = tmp_path_factory.mktemp("dask") / "photos"
    for letter in ("A", "B", "L", "Y"):
        (root / letter).mkdir(parents=True)
        for f in sorted((data_dir / "asl2text" / "test" / letter).glob("*.jpg"))[:24]:
            shutil.copy(f, root / letter / f.name)
    return root


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    return table.sort_values("sample_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def local_table(images, tmp_path_factory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("local") / "local.parquet"
    extract_table([images], out, progress=False)
    return _sorted(read_table(out)[0])


def test_cluster_table_is_identical_to_a_local_run(client, images, local_table, tmp_path):
    summary = extract_table([images], tmp_path / "dask.parquet", scheduler=client, progress=False)
    assert summary["n_processed"] == 96
    pd.testing.assert_frame_equal(_sorted(read_table(tmp_path / "dask.parquet")[0]), local_table)


def test_a_worker_killed_mid_run_costs_only_its_batch(client, images, local_table, tmp_path):
    out = tmp_path / "killed.parquet"
    parts = out.with_name(out.name + ".parts")
    pids = list(client.run(os.getpid).values())
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["summary"] = extract_table([images], out, scheduler=client, progress=False)
        except Exception as exc:  # reported below
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 120
    while not (parts.is_dir() and any(parts.glob("part-*.parquet"))) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert thread.is_alive(), "the run ended before a worker could be killed: use more images"
    os.kill(pids[0], signal.SIGKILL)  # the nanny starts a new worker; Dask reruns the lost batch
    thread.join(timeout=180)
    assert "error" not in outcome, outcome.get("error")
    table = _sorted(read_table(out)[0])
    assert table["sample_id"].is_unique
    pd.testing.assert_frame_equal(table, local_table)
    client.wait_for_workers(2, timeout=60)


def test_resume_extracts_only_what_is_missing(client, images, local_table, tmp_path):
    out = tmp_path / "resumed.parquet"
    half = tmp_path / "half"
    for letter in ("A", "B"):
        shutil.copytree(images / letter, half / letter)
    extract_table([half], out, progress=False)  # an earlier run over part of the folder ...
    for letter in ("L", "Y"):
        shutil.copytree(images / letter, half / letter)
    summary = extract_table([half], out, scheduler=client, progress=False)  # ... then the rest on the cluster
    assert summary["n_resumed"] == 48 and summary["n_processed"] == 48
    from landmark_asl.data.table import RESULT_COLUMNS
    from landmark_asl.hands.landmarks import IMAGE_COLUMNS, WORLD_COLUMNS

    def by_file(t: pd.DataFrame) -> pd.DataFrame:
        t = t.assign(file=t["source"].map(lambda s: Path(s).name)).sort_values(["label", "file"])
        return t[["label", "file", *RESULT_COLUMNS, *IMAGE_COLUMNS, *WORLD_COLUMNS]].reset_index(drop=True)

    pd.testing.assert_frame_equal(by_file(read_table(out)[0]), by_file(local_table))


def test_unreachable_scheduler_is_a_one_line_error(images, tmp_path, monkeypatch):
    import landmark_asl.data.distributed as dist

    monkeypatch.setattr(dist, "CONNECT_TIMEOUT", 2)
    with pytest.raises(LandmarkASLError, match="cannot reach the Dask scheduler") as info:
        extract_table([images], tmp_path / "x.parquet", scheduler="tcp://127.0.0.1:9", progress=False)
    assert "\n" not in str(info.value)


def test_xgb_trains_on_the_cluster_and_saves_like_any_model(client, tmp_path):
    from landmark_asl.estimators.features import raw_features
    from landmark_asl.model.store import load_model, save_model
    from landmark_asl.training.recipe import Recipe
    from landmark_asl.training.train import fit_estimator

    X, y = make_synthetic_landmarks(n_per_class=40, labels=("A", "B", "C", "D"), seed=1)
    table = synthetic_table(X, y, np.array(["g1", "g2"] * (len(y) // 2), dtype=object))
    estimator, training = fit_estimator(Recipe.plain("xgb", {"n_estimators": 30}), table, scheduler=client, n_jobs=1)
    assert training["distributed"] is True
    assert estimator.named_steps["clf"].booster_.num_boosted_rounds() == 30
    model = load_model(save_model(estimator, tmp_path / "xgb", name="xgb"))
    proba = model.predict_proba(raw_features(table))
    assert (model.classes[proba.argmax(axis=1)] == y).mean() > 0.95
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


def test_cli_train_xgb_on_the_cluster_and_bad_address(client, images, tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    import landmark_asl.data.distributed as dist
    from landmark_asl.cli import main

    result = CliRunner(mix_stderr=False).invoke(main, [
        "train", str(images), "--model-name", "xgb", "--param", "n_estimators=10", "-o", str(tmp_path / "m"),
        "--cache-dir", str(tmp_path / "cache"), "--scheduler", client.scheduler.address])
    assert result.exit_code == 0, result.stderr
    card = json.loads((tmp_path / "m" / "metadata.json").read_text())
    assert card["training"]["distributed"] is True and card["classes"] == ["A", "B", "L", "Y"]
    monkeypatch.setattr(dist, "CONNECT_TIMEOUT", 2)
    bad = CliRunner(mix_stderr=False).invoke(main, ["extract", str(images), "-o", str(tmp_path / "t.parquet"),
                                                    "--scheduler", "tcp://127.0.0.1:9"])
    assert bad.exit_code == 1 and "cannot reach the Dask scheduler" in bad.stderr and "Traceback" not in bad.stderr
