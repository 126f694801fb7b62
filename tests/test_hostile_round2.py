"""Hostile input, round two (issue 22): 18 causes found by a second probe; each test is named after its cause.

Every test here failed before its fix; the closing note of the issue maps causes to tests.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_hostile import _copy_images

from landmark_asl.cli import main
from landmark_asl.exceptions import LandmarkASLError, ModelLoadError
from landmark_asl.model.store import load_model


def _cli(*args: str):
    return CliRunner(mix_stderr=False).invoke(main, [str(a) for a in args])


def _one_line_error(result, *, code: int = 1) -> str:
    """The CLI's error: one line starting with 'Error:', last on stderr, no traceback."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr, result.exception)
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and result.stderr.rstrip().endswith(lines[0]), result.stderr
    assert "Traceback" not in result.stderr and isinstance(result.exception, SystemExit)
    return lines[0]


# --- 1, 2, 10: the server trusts only its own hosts and says only what a page needs ----------------


@pytest.fixture(scope="module")
def default_model():
    return load_model()


def _client(model, **settings):
    from starlette.testclient import TestClient

    from landmark_asl.serve.app import ServeSettings, create_app

    return TestClient(create_app(model, ServeSettings(personal_dir=None, **settings)))


def test_01_dns_rebinding_host_is_refused_on_http_and_websocket(default_model):
    from starlette.websockets import WebSocketDisconnect

    with _client(default_model) as client:
        # TestClient's own Host, 'testserver', is not allowed either: that is the point.
        for host in ("attacker.example:8000", "testserver", "127.0.0.1.attacker.example", "localhost:80x"):
            response = client.get("/api/model", headers={"host": host})
            assert response.status_code == 400 and "--allow-host" in response.json()["error"], host
        assert client.get("/", headers={"host": "attacker.example:8000"}).status_code == 400
        for host in ("127.0.0.1:8000", "localhost", "LOCALHOST:1234", "[::1]:8000"):
            assert client.get("/api/health", headers={"host": host}).status_code == 200, host
        # A rebound page is same-origin with itself: Origin and Host agree, the Host is still foreign.
        with pytest.raises(WebSocketDisconnect) as refused:
            with client.websocket_connect("ws://attacker.example:8000/ws",
                                          headers={"origin": "http://attacker.example:8000"}) as ws:
                ws.receive_json()
        assert refused.value.code == 1008
        with client.websocket_connect("ws://localhost:8000/ws", headers={"origin": "http://localhost:8000"}) as ws:
            assert ws.receive_json()["type"] == "hello"
        # Another site's page posting a photo is refused before the upload is read.
        response = client.post("/api/predict", headers={"host": "127.0.0.1:8000", "origin": "http://evil.example"},
                               files={"image": ("a.jpg", b"x")})
        assert response.status_code == 403 and "cross-origin" in response.json()["error"]


def test_01_allow_host_opens_the_server_to_a_lan_name_on_purpose(default_model, monkeypatch):
    import uvicorn

    with _client(default_model, allowed_hosts=("192.168.1.20", "Laptop.local")) as client:
        assert client.get("/api/health", headers={"host": "192.168.1.20:8000"}).status_code == 200
        assert client.get("/api/health", headers={"host": "laptop.local:8000"}).status_code == 200
        assert client.get("/api/health", headers={"host": "192.168.1.21:8000"}).status_code == 400
    from landmark_asl.cli import commands

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append(app))
    monkeypatch.setattr(commands, "_bindable_port", lambda host, port: port)  # 10.0.0.5 is no address here
    result = CliRunner(mix_stderr=False).invoke(main, ["serve", "--host", "10.0.0.5", "--allow-host", "box.lan",
                                                       "--no-collect"])
    assert result.exit_code == 0, result.stderr
    assert calls[0].state.serve.allowed_hosts() == ("127.0.0.1", "localhost", "[::1]", "10.0.0.5", "box.lan")
    result = CliRunner(mix_stderr=False).invoke(main, ["serve", "--host", "0.0.0.0", "--no-collect"])
    assert "0.0.0.0" not in calls[1].state.serve.allowed_hosts() and "--allow-host" in result.stderr
    result = CliRunner(mix_stderr=False).invoke(main, ["serve", "--allow-host", "http://box.lan/", "--no-collect"])
    assert result.exit_code == 2 and "--allow-host" in result.stderr and len(calls) == 2


def test_01_host_names_are_parsed_strictly():
    from landmark_asl.serve.app import host_name

    assert host_name("LocalHost:8000") == "localhost" and host_name("[::1]:8000") == "[::1]"
    assert host_name("::1") == "[::1]" and host_name("example.com.") == "example.com"
    for bad in ("", "a:b", "[::1", "x y", "evil.example:80:80", "a/b"):
        assert host_name(bad) is None, bad


def test_02_api_model_gives_no_server_path(default_model):
    with _client(default_model) as client:
        text = client.get("/api/model", headers={"host": "127.0.0.1"}).text
    card = json.loads(text)
    assert card["name"] == default_model.name and card["classes"] == [str(c) for c in default_model.classes]
    assert "directory" not in card and "training" not in card
    assert str(default_model.directory) not in text and "out/default" not in text  # report paths left out


def test_10_a_card_whose_metrics_hold_nan_is_served_as_null(tmp_path, default_model):
    model_dir = tmp_path / "model"
    shutil.copytree(default_model.directory, model_dir)
    meta = json.loads((model_dir / "metadata.json").read_text())
    meta["metrics"] = {"accuracy_all": float("nan"), "coverage": 0.5, "lodo": {"worst": float("inf")}}
    meta["calibration"] = None
    (model_dir / "metadata.json").write_text(json.dumps(meta))
    with _client(load_model(model_dir)) as client:
        response = client.get("/api/model", headers={"host": "localhost"})
    assert response.status_code == 200
    assert response.json()["metrics"] == {"accuracy_all": None, "coverage": 0.5, "lodo": {"worst": None}}


# --- 6-9, 11: crafted or corrupt model directories: one line naming the file, at load time ------------


@pytest.fixture(scope="module")
def forest_dir(tmp_path_factory, synthetic_landmarks):
    from landmark_asl.estimators.registry import make_estimator
    from landmark_asl.model.store import save_model

    X, y = synthetic_landmarks
    directory = tmp_path_factory.mktemp("forest") / "rf"
    return save_model(make_estimator("rf", n_estimators=4).fit(X, y), directory, name="rf")


@pytest.fixture(scope="module")
def xgb_dir(tmp_path_factory, synthetic_landmarks):
    from landmark_asl.estimators.registry import make_estimator
    from landmark_asl.model.store import save_model

    X, y = synthetic_landmarks
    directory = tmp_path_factory.mktemp("xgb") / "xgb"
    return save_model(make_estimator("xgb", n_estimators=3, device="cpu").fit(X, y), directory, name="xgb")


def _relist(model_dir: Path, name: str) -> None:
    """Record the SHA-256 of an edited artefact in the card (as a careful forger would)."""
    from landmark_asl._util import file_sha256

    meta = json.loads((model_dir / "metadata.json").read_text())
    meta["artefacts"][name] = file_sha256(model_dir / name)
    (model_dir / "metadata.json").write_text(json.dumps(meta))


def _edited_forest(forest_dir: Path, tmp_path: Path, **changes) -> Path:
    model_dir = tmp_path / "edited"
    shutil.copytree(forest_dir, model_dir)
    with np.load(model_dir / "trees.npz") as data:
        arrays = {k: data[k] for k in data.files}
    for key, change in changes.items():
        arrays[key] = change(arrays[key]) if callable(change) else change
    np.savez_compressed(model_dir / "trees.npz", **arrays)
    _relist(model_dir, "trees.npz")
    return model_dir


def _nan_leaf(leaf):
    leaf = leaf.copy()
    leaf[:] = np.nan
    return leaf


@pytest.mark.parametrize("changes, reason", [
    ({"leaf": _nan_leaf}, "NaN or inf"),
    ({"leaf": lambda leaf: np.where(leaf > 0, np.inf, leaf)}, "NaN or inf"),  # values that overflowed
    ({"leaf": lambda leaf: leaf * 5}, "class distributions"),
    ({"threshold": lambda t: np.where(np.isinf(t), t, np.nan)}, "NaN"),
    ({"depth": np.int64(10**9)}, "implausible tree depth"),
    ({"classes": np.asarray(["A", "B", "C"])}, "leaf values must have shape"),
])
def test_06_trees_with_nan_leaves_or_values_out_of_range_are_refused_at_load(forest_dir, tmp_path, data_dir,
                                                                             changes, reason):
    model_dir = _edited_forest(forest_dir, tmp_path, **changes)
    with pytest.raises(ModelLoadError, match=reason) as refused:
        load_model(model_dir)
    assert "trees.npz" in str(refused.value)
    photo = data_dir / "asl2text" / "test" / "L" / "L0.jpg"
    assert "trees.npz" in _one_line_error(_cli("predict", photo, "--model", model_dir, "--json"))


def test_06_adapt_refuses_a_weight_that_overflows_the_fit(small_base, tmp_path, data_dir):
    images = _copy_images(data_dir, tmp_path / "own", labels=("A", "B"), n=2)
    output = tmp_path / "personal"
    for weight in ("1e308", "inf", "nan", "0"):
        line = _one_line_error(_cli("adapt", images, "--base", small_base["base"], "-o", output,
                                    "--cache-dir", small_base["cache"], "--weight", weight))
        assert "weight must be a number > 0 and at most 1e+06" in line, line
    assert not output.exists()


def test_06_a_forest_that_would_not_load_back_is_not_saved(tmp_path, synthetic_landmarks):
    from landmark_asl.estimators.registry import make_estimator
    from landmark_asl.model.store import save_model

    X, y = synthetic_landmarks
    forest = make_estimator("rf", n_estimators=2).fit(X, y)
    forest.steps[1][1].compiled_.leaf[:] = np.nan
    with pytest.raises(LandmarkASLError, match="refusing to save the fitted trees: leaf values hold NaN"):
        save_model(forest, tmp_path / "m", name="rf")
    assert not (tmp_path / "m").exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize("n_features", [200, 5])
def test_07_n_features_in_that_disagrees_with_the_arrays_is_refused(forest_dir, tmp_path, data_dir, n_features):
    model_dir = _edited_forest(forest_dir, tmp_path, n_features_in=np.int64(n_features),
                               feature=lambda f: np.minimum(f, n_features - 1))
    with pytest.raises(ModelLoadError, match=f"takes {n_features} features but its normalizer"):
        load_model(model_dir)
    photo = data_dir / "asl2text" / "test" / "L" / "L0.jpg"
    assert "takes" in _one_line_error(_cli("predict", photo, "--model", model_dir))


def test_08_an_npy_header_declaring_terabytes_is_refused_before_reading(forest_dir, tmp_path):
    import io
    import zipfile

    model_dir = tmp_path / "bomb"
    shutil.copytree(forest_dir, model_dir)
    with np.load(model_dir / "trees.npz") as data:
        arrays = {k: data[k] for k in data.files}
    with zipfile.ZipFile(model_dir / "trees.npz", "w") as archive:
        for key, value in arrays.items():
            buffer = io.BytesIO()
            if key == "leaf":  # a header claiming (2e11, 29) float64 = 42 TiB, then a few bytes
                np.lib.format.write_array_header_1_0(
                    buffer, {"descr": "<f8", "fortran_order": False, "shape": (200_000_000_000, 29)})
                buffer.write(b"\0" * 64)
            else:
                np.lib.format.write_array(buffer, value)
            archive.writestr(f"{key}.npy", buffer.getvalue())
    _relist(model_dir, "trees.npz")
    with pytest.raises(ModelLoadError, match=r"trees.npz.*array 'leaf' declares shape \(200000000000, 29\)"):
        load_model(model_dir)


@pytest.mark.parametrize("member", ["extra", "object"])
def test_08_unexpected_arrays_or_dtypes_are_refused(forest_dir, tmp_path, member):
    changes = {"classes": np.asarray([1.5, 2.5])} if member == "object" else {"extra": np.zeros(3)}
    with pytest.raises(ModelLoadError, match="trees.npz: (expected the arrays|array 'classes' has dtype)"):
        load_model(_edited_forest(forest_dir, tmp_path, **changes))


def _deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_09_metadata_nested_100000_deep_is_one_line_in_predict_serve_and_train(forest_dir, tmp_path, data_dir):
    from landmark_asl.serve.app import create_app

    model_dir = tmp_path / "deep"
    shutil.copytree(forest_dir, model_dir)
    meta = json.loads((model_dir / "metadata.json").read_text())
    meta["training"] = {"deep": "@"}
    (model_dir / "metadata.json").write_text(json.dumps(meta).replace('"@"', _deep_json(100_000)))
    with pytest.raises(ModelLoadError, match="metadata.json is not valid JSON .*nested too deep"):
        load_model(model_dir)
    with pytest.raises(ModelLoadError, match="nested too deep"):
        create_app(model_dir)
    photo = data_dir / "asl2text" / "test" / "L" / "L0.jpg"
    assert "metadata.json" in _one_line_error(_cli("predict", photo, "--model", model_dir))
    report = tmp_path / "report.json"
    report.write_text('{"models": {"rf": ' + _deep_json(100_000) + "}}")
    images = _copy_images(data_dir, tmp_path / "images", n=1)
    line = _one_line_error(_cli("train", images, "--model-name", "rf", "-o", tmp_path / "m", "--metrics-from", report,
                                "--cache-dir", tmp_path / "cache"))
    assert "report.json" in line and "nested too deep" in line
    assert not (tmp_path / "m").exists()


def test_09_load_json_refuses_depth_below_the_recursion_limit():
    from landmark_asl._util import MAX_JSON_DEPTH, load_json

    assert load_json(_deep_json(MAX_JSON_DEPTH)) == json.loads(_deep_json(MAX_JSON_DEPTH))
    for depth in (MAX_JSON_DEPTH + 1, 900, 100_000):
        with pytest.raises(ValueError, match="nested too deep"):
            load_json(_deep_json(depth))


@pytest.mark.parametrize("content", [b"\x00garbage" * 100, b"{L\x00\x00\x00\x05learner}", b""])
def test_11_a_corrupt_xgboost_file_is_one_short_line(xgb_dir, tmp_path, data_dir, content):
    model_dir = tmp_path / "xgb"
    shutil.copytree(xgb_dir, model_dir)
    (model_dir / "xgb_model.ubj").write_bytes(content)
    _relist(model_dir, "xgb_model.ubj")
    with pytest.raises(ModelLoadError, match="xgb_model.ubj") as refused:
        load_model(model_dir)
    message = str(refused.value)
    assert "\n" not in message and "Stack trace" not in message and len(message) < 400, message
    photo = data_dir / "asl2text" / "test" / "L" / "L0.jpg"
    assert "xgb_model.ubj" in _one_line_error(_cli("predict", photo, "--model", model_dir))


def test_11_xgboost_leaves_are_checked_like_a_forest(xgb_dir, tmp_path):
    import xgboost as xgb

    model_dir = tmp_path / "xgb"
    shutil.copytree(xgb_dir, model_dir)
    booster = xgb.Booster()
    booster.load_model(str(model_dir / "xgb_model.ubj"))
    raw = json.loads(booster.save_raw("json"))
    tree = raw["learner"]["gradient_booster"]["model"]["trees"][0]
    leaf = tree["left_children"].index(-1)
    tree["split_conditions"][leaf] = 1e38
    edited = xgb.Booster()
    edited.load_model(bytearray(json.dumps(raw).encode()))
    edited.save_model(str(model_dir / "xgb_model.ubj"))
    _relist(model_dir, "xgb_model.ubj")
    with pytest.raises(ModelLoadError, match="xgb_model.ubj is not a valid landmark_asl model: leaf values too large"):
        load_model(model_dir)


# --- 3, 4, 5: nothing lost ------------------------------------------------------------------------


@pytest.fixture
def small_images(tmp_path, data_dir) -> Path:
    return _copy_images(data_dir, tmp_path / "images", n=3)


def _compare_args(tmp_path: Path, images: Path) -> list:
    return ["compare", "--train", images, "--models", "rf", "--param", "rf.n_estimators=3",
            "--cache-dir", tmp_path / "cache"]


def test_03_compare_overwrite_removes_only_the_files_it_wrote(tmp_path, small_images):
    args = _compare_args(tmp_path, small_images)
    report = tmp_path / "report"
    assert _cli(*args, "-o", report).exit_code == 0
    written = json.loads((report / "manifest.json").read_text())["written"]
    assert "report.json" in written and "models/rf/metadata.json" in written and "split.csv" in written
    (report / "models" / "notes.txt").write_text("keep me")
    (report / "models" / "rf" / "mine.txt").write_text("keep me too")
    line = _one_line_error(_cli(*args, "-o", report, "--overwrite"))
    assert "compare did not write models/notes.txt, models/rf/mine.txt" in line
    assert (report / "models" / "notes.txt").read_text() == "keep me" and (report / "report.json").is_file()
    (report / "models" / "notes.txt").unlink()
    (report / "models" / "rf" / "mine.txt").unlink()
    result = _cli(*args, "-o", report, "--overwrite", "--random-state", "1")
    assert result.exit_code == 0, result.stderr
    # A report without a manifest (an older landmark_asl's) is refused: nothing says what is whose.
    (report / "manifest.json").unlink()
    assert "no manifest.json" in _one_line_error(_cli(*args, "-o", report, "--overwrite"))
    assert (report / "models" / "rf" / "metadata.json").is_file()


def test_04_adapt_refuses_to_replace_its_base(small_base, tmp_path, data_dir):
    images = _copy_images(data_dir, tmp_path / "own", labels=("A", "B"), n=2)
    before = (small_base["base"] / "metadata.json").read_text()
    line = _one_line_error(_cli("adapt", images, "--base", small_base["base"], "-o", small_base["base"],
                                "--cache-dir", small_base["cache"]))
    assert "is the base model itself" in line and (small_base["base"] / "metadata.json").read_text() == before


def test_05_collect_rerun_on_a_photo_folder_skips_photos_taken_before(tmp_path, data_dir):
    from landmark_asl.training.collect import read_samples

    photos = _copy_images(data_dir, tmp_path / "photos", labels=("B", "L"), n=4)
    output = tmp_path / "me.parquet"
    first = _cli("collect", "--source", photos, "--letters", "B,L", "--per-letter", "2", "-o", output, "--json")
    assert first.exit_code == 0, first.stderr
    again = _cli("collect", "--source", photos, "--letters", "B,L", "--per-letter", "4", "-o", output, "--json")
    assert again.exit_code == 0, again.stderr
    table = read_samples(output)
    assert not table["source"].duplicated().any(), table["source"].tolist()
    assert table["label"].value_counts().to_dict() == {"B": 4, "L": 4}
    third = _cli("collect", "--source", photos, "--letters", "B,L", "--per-letter", "4", "-o", output, "--json")
    assert third.exit_code == 0 and len(read_samples(output)) == 8


# --- 12: one boundary for OS errors in the CLI ----------------------------------------------------------


def test_12_os_errors_are_one_line_naming_the_path(tmp_path, small_images, monkeypatch):
    cache = ["--cache-dir", tmp_path / "cache"]
    line = _one_line_error(_cli("train", small_images, "--model-name", "rf", "--param", "n_estimators=2",
                                "-o", "/proc/landmark_asl_model", *cache))
    assert "/proc/" in line and "Traceback" not in line
    line = _one_line_error(_cli("train", small_images, "--model-name", "rf", "-o", tmp_path / "m",
                                "--cache-dir", "/proc/landmark_asl_cache"))
    assert "/proc/landmark_asl_cache" in line
    assert "/proc/report" in _one_line_error(_cli(*_compare_args(tmp_path, small_images), "-o", "/proc/report"))
    line = _one_line_error(_cli("collect", "--source", small_images, "--letters", "B", "-o", "/proc/me.parquet"))
    assert "/proc/me.parquet" in line

    import landmark_asl.training.train as training

    def unreadable(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(small_images / "B"))

    monkeypatch.setattr(training, "train_model", unreadable)
    line = _one_line_error(_cli("train", small_images, "--model-name", "rf", "-o", tmp_path / "m2", *cache))
    assert line == f"Error: {small_images / 'B'}: Permission denied"
    assert _cli("--debug", "train", small_images, "--model-name", "rf", "-o", tmp_path / "m2", *cache).exception


def test_12_a_full_disk_names_the_file_being_written(tmp_path, synthetic_landmarks, monkeypatch):
    import errno

    import landmark_asl.estimators.trees as trees
    from landmark_asl._util import atomic_write_text
    from landmark_asl.estimators.registry import make_estimator
    from landmark_asl.model.store import save_model

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    X, y = synthetic_landmarks
    monkeypatch.setattr(trees.np, "savez_compressed", no_space)
    with pytest.raises(OSError) as raised:
        save_model(make_estimator("rf", n_estimators=2).fit(X, y), tmp_path / "m", name="rf")
    assert raised.value.filename == str(tmp_path / "m") and not list(tmp_path.iterdir())
    monkeypatch.setattr(Path, "write_text", lambda self, *a, **k: no_space())
    with pytest.raises(OSError) as raised:
        atomic_write_text(tmp_path / "a.json", "{}")
    assert raised.value.filename == str(tmp_path / "a.json") and not list(tmp_path.iterdir())


# --- 13, 14, 15: bad values ----------------------------------------------------------------------------


def test_13_a_table_with_text_in_a_coordinate_column_names_row_and_column(tmp_path, small_images):
    import pandas as pd

    from landmark_asl.data.extraction import extract_table
    from landmark_asl.data.table import read_table, write_table

    extract_table([small_images], tmp_path / "t.parquet", progress=False)
    table, meta = read_table(tmp_path / "t.parquet")
    write_table(table, tmp_path / "bad.csv", meta)
    text = pd.read_csv(tmp_path / "bad.csv", dtype=str, keep_default_na=False)
    text.loc[2, "x3"] = "oops"
    text.to_csv(tmp_path / "bad.csv", index=False)
    line = _one_line_error(_cli("train", tmp_path / "bad.csv", "--model-name", "rf", "-o", tmp_path / "m"))
    assert "row 2, column x3: 'oops' is not a number" in line


def test_14_a_binary_split_file_is_one_line(tmp_path, small_images):
    binary = tmp_path / "split.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    line = _one_line_error(_cli(*_compare_args(tmp_path, small_images), "-o", tmp_path / "r", "--split-file", binary))
    assert "cannot read split file" in line and "split.csv" in line


def test_15_augment_values_are_bounded(tmp_path, small_images):
    def error(*augments: str, extra: tuple = ()) -> str:  # `train` with these --augment values: its one-line error
        options = [part for value in augments for part in ("--augment", value)]
        return _one_line_error(_cli("train", small_images, "--model-name", "rf", "-o", tmp_path / "m", *options, *extra))

    for value in ("1e308", "1e30", "5"):
        line = error(f"stretch={value}", extra=("--cache-dir", tmp_path / "cache"))
        assert "stretch must be a number from 0 to 4" in line, line
    assert "max_angle must be a number from 0 to 180" in error("max_angle=1e9")
    huge = "[" + ", ".join(['"' + "x" * 60_000 + '"'] + ['"a"'] * 14_000) + "]"  # ~3 GB as a numpy text array
    for before, name, values, message in (
        ((), "max_yaw", ("nan", "200", "true", "-1"), "max_yaw must be a number from 0 to 180"),
        (("max_yaw=180",), "yaw_labels", ('"G"', "[1]", "[]", "null,"), "yaw_labels must be"),
        ((), "max_roll", ("NaN", "181", "-5", '"5"', "true"), "max_roll must be a number from 0 to 180"),
        (("max_roll=5",), "roll_labels", ('"P"', "[1]", "[]", "{}"), "roll_labels must be"),
        ((), "down_labels", ('"P"', "[1]", "[]", "{}", huge), "down_labels must be"),
    ):
        for value in values:
            line = error(*before, f"{name}={value}")
            assert message in line and len(line) < 600, line[:600]
    assert "yaw_labels needs max_yaw" in error('yaw_labels=["G"]')
    assert "roll_labels needs max_roll" in error('roll_labels=["P"]')
    assert not (tmp_path / "m").exists()


# --- smaller ------------------------------------------------------------------------------------------


def test_smaller_a_fifo_is_not_a_regular_file_and_nothing_waits_for_it(tmp_path, data_dir):
    import os

    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    result = _cli("predict", fifo, data_dir / "asl2text" / "test" / "L" / "L0.jpg")
    assert "1 of 2 images could not be read" in _one_line_error(result)
    assert "not a regular file" in result.stderr and "does not exist" not in result.stderr
    results = [line for line in result.stdout.splitlines() if "\t" in line]  # then the label folder's accuracy
    assert len(results) == 1 and "L0.jpg\tL\t" in results[0]


def test_smaller_a_folder_given_as_a_samples_table_is_named_as_a_folder(tmp_path):
    from landmark_asl.data.table import read_table
    from landmark_asl.exceptions import DatasetError

    (tmp_path / "samples.parquet").mkdir()
    with pytest.raises(DatasetError, match="samples.parquet is a folder, not a landmark table"):
        read_table(tmp_path / "samples.parquet")


def test_smaller_plain_predict_keeps_one_line_per_image_and_fails_on_unreadable(tmp_path, data_dir):
    odd = tmp_path / "two\nlines\tand tab.jpg"
    shutil.copy(data_dir / "asl2text" / "test" / "L" / "L0.jpg", odd)
    result = _cli("predict", odd)
    assert result.exit_code == 0 and result.stdout.count("\n") == 1
    assert result.stdout.startswith(str(tmp_path / "two\\x0alines\\x09and tab.jpg") + "\tL\t")
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    result = _cli("predict", tmp_path / "broken.jpg")
    assert "1 of 1 images could not be read" in _one_line_error(result) and "(none)" not in result.stdout
    assert "broken.jpg" in result.stderr
    assert _cli("predict", tmp_path / "broken.jpg", "--json").exit_code == 0  # JSON lines carry "error"


def test_smaller_split_file_missing_rows_warns(tmp_path, small_images):
    args = _compare_args(tmp_path, small_images)
    assert _cli(*args, "-o", tmp_path / "r1").exit_code == 0
    lines = (tmp_path / "r1" / "split.csv").read_text().splitlines()
    partial = tmp_path / "partial.csv"
    partial.write_text("\n".join(lines[:-1]) + "\n")
    result = _cli(*args, "-o", tmp_path / "r2", "--split-file", partial)
    assert result.exit_code == 0, result.stderr
    assert "Warning: the split file" in result.stderr and "has no row for 1 of the 6" in result.stderr


def test_smaller_a_failed_compare_leaves_no_empty_folder(tmp_path, small_images):
    output = tmp_path / "new" / "report"
    binary = tmp_path / "split.csv"
    binary.write_bytes(b"\xff\xfe\x00")
    _one_line_error(_cli(*_compare_args(tmp_path, small_images), "-o", output, "--split-file", binary))
    assert not output.exists()


def test_smaller_collect_commands_leave_no_empty_folders_and_long_letters_are_not_cut(small_base, tmp_path):
    from starlette.testclient import TestClient

    from landmark_asl.serve.app import ServeSettings, create_app

    personal = tmp_path / "personal"
    settings = ServeSettings(personal_dir=personal, cache_dir=small_base["cache"], allowed_hosts=("testserver",))
    with TestClient(create_app(small_base["base"], settings)) as client, client.websocket_connect("/ws") as ws:
        assert ws.receive_json()["type"] == "hello"
        for i in range(20):
            ws.send_text(json.dumps({"type": "collect", "signer": f"s{i}", "letters": "A,B"}))
            assert ws.receive_json()["type"] == "collect"
            ws.send_text(json.dumps({"type": "collect_stop"}))
            assert ws.receive_json()["type"] == "collect_stopped"
        assert not personal.exists() or not list(personal.iterdir())
        # 'SPACE,' * 40 is 240 characters: once cut at 200 and refused as 'SP'; now read whole.
        ws.send_text(json.dumps({"type": "collect", "signer": "me", "letters": "A," + "B," * 100}))
        reply = ws.receive_json()
        assert reply["type"] == "collect" and reply["letters"] == ["A", "B"], reply
        ws.send_text(json.dumps({"type": "collect", "signer": "me", "letters": "A," * 300}))
        assert "letters: 600 characters, at most 400" in ws.receive_json()["error"]


# --- 16: --scheduler addresses that are not a usable Dask scheduler -------------------------------------


@pytest.fixture
def fake_scheduler():
    """A TCP port that accepts and then stays silent ('silent') or answers HTTP ('http'); yields an opener."""
    import socket
    import threading

    sockets = []

    def open_port(mode: str) -> str:
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        sockets.append(server)

        def serve():
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                sockets.append(conn)
                if mode == "http":
                    conn.recv(100)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" * 50)

        threading.Thread(target=serve, daemon=True).start()
        return f"tcp://127.0.0.1:{server.getsockname()[1]}"

    yield open_port
    for s in sockets:
        s.close()


def test_16_scheduler_addresses_are_one_line_and_nothing_hangs(fake_scheduler, tmp_path, small_images):
    import landmark_asl.data.distributed as dist

    for address in ("tls://127.0.0.1:1", "ucx://127.0.0.1:1"):
        with pytest.raises(LandmarkASLError, match=r"only tcp:// addresses are supported"):
            dist.connect(address)
    with pytest.raises(LandmarkASLError, match="its answer is not Dask's protocol"):
        dist.connect(fake_scheduler("http"))
    line = _one_line_error(_cli("extract", small_images, "-o", tmp_path / "t.parquet", "--scheduler", "tls://h:1"))
    assert "only tcp://" in line
    # A port that accepts and never answers: in a subprocess, since the abandoned connection attempt keeps
    # Dask's shared event loop busy for the rest of the process.
    code = ("import sys, landmark_asl.data.distributed as d; d.CONNECT_TIMEOUT = 1\n"
            "from landmark_asl.cli import main\n"
            f"main(['extract', {str(small_images)!r}, '-o', {str(tmp_path / 't.parquet')!r}, '--scheduler', "
            f"{fake_scheduler('silent')!r}])\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert result.returncode == 1 and len(errors) == 1 and "did not answer in 1 s" in errors[0], result.stderr
    assert "Traceback" not in result.stderr


# --- 17: Ctrl-C while a personal model builds ------------------------------------------------------------


def test_17_sigint_during_a_personal_build_stops_the_server_and_saves_nothing(small_base, tmp_path, data_dir):
    import signal
    import socket
    import time
    import urllib.request

    from websockets.sync.client import connect

    photos = _copy_images(data_dir, tmp_path / "photos", labels=("B", "L"), n=2)
    personal = tmp_path / "personal"
    (personal / "me").mkdir(parents=True)
    assert _cli("collect", "--source", photos, "--letters", "B,L", "--per-letter", "2", "--signer", "me",
                "-o", personal / "me" / "samples.parquet", "--json").exit_code == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The fit is made to take a minute (the build took 64 s); the server must not wait for it.
    code = ("import sys, time, landmark_asl.training.adapt as adapt\n"  # adapt's own fit_estimator
            "real = adapt.fit_estimator\n"
            "def slow(*a, **k):\n    print('fit started', flush=True)\n    time.sleep(60)\n    return real(*a, **k)\n"
            "adapt.fit_estimator = slow\n"
            "from landmark_asl.cli import main\n"
            f"main(['serve', '--model', {str(small_base['base'])!r}, '--personal-dir', {str(personal)!r}, "
            f"'--cache-dir', {str(small_base['cache'])!r}, '--port', '{port}'])\n")
    server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5).read()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()
                time.sleep(0.2)
        with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=30) as ws:
            assert json.loads(ws.recv(timeout=30))["type"] == "hello"
            ws.send(json.dumps({"type": "adapt", "signer": "me"}))
            assert json.loads(ws.recv(timeout=30))["type"] == "adapting"
            assert server.stdout.readline().strip() == "fit started"
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)  # a bound against a hang, not a speed target: the fit alone takes 60 s
            except subprocess.TimeoutExpired:
                pytest.fail("the server did not stop on SIGINT while a personal model was being built")
    finally:
        if server.poll() is None:
            server.kill()
        stderr = server.communicate()[1]
    assert "Traceback" not in stderr, stderr
    assert sorted(p.name for p in (personal / "me").iterdir()) == ["samples.parquet"]  # no model, no half of one


def test_17_a_build_stopped_by_its_server_saves_nothing(small_base, tmp_path, data_dir):
    import threading

    from landmark_asl.training.adapt import adapt_model

    stop = threading.Event()
    stop.set()
    images = _copy_images(data_dir, tmp_path / "own", labels=("B", "L"), n=2)
    with pytest.raises(LandmarkASLError, match="stopped before saving the personal model"):
        adapt_model([images], output=tmp_path / "pm", base=small_base["base"], cache_dir=small_base["cache"],
                    progress=False, stop=stop)
    assert not (tmp_path / "pm").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".pm")]


# --- hypothesis: random but well-formed model directories ------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402  (the property tests of this file only)
from hypothesis import strategies as st  # noqa: E402

_DTYPES = (np.int64, np.int32, np.uint8, np.float64, np.float32, np.bool_, "<U3")
_SPECIAL = (0.0, -1.0, 1.0, 0.5, np.nan, np.inf, -np.inf, 1e308, -1e308, 2**31, 127.0, 1e-300)


@st.composite
def _array(draw, like: np.ndarray):
    """An array shaped like ``like`` or not, of any dtype, with ordinary and special values."""
    if draw(st.booleans()):
        shape = like.shape
    else:
        shape = tuple(draw(st.lists(st.integers(0, 6), max_size=3)))
    dtype = np.dtype(draw(st.sampled_from(_DTYPES)))
    n = int(np.prod(shape, dtype=np.int64))
    values = draw(st.lists(st.sampled_from(_SPECIAL) | st.floats(-1e3, 1e3), min_size=n, max_size=n))
    raw = np.asarray(values, dtype=np.float64).reshape(shape)
    if dtype.kind == "U":
        return raw.astype(str).astype(dtype)
    if dtype.kind in "iub":
        with np.errstate(invalid="ignore", over="ignore"):
            return np.nan_to_num(raw, posinf=0, neginf=0).astype(np.int64).astype(dtype)
    with np.errstate(over="ignore"):
        return raw.astype(dtype)


@st.composite
def _model_pieces(draw, arrays: dict[str, np.ndarray]):
    pieces = dict(arrays)
    for key in draw(st.lists(st.sampled_from(sorted(arrays)), max_size=3, unique=True)):
        kind = draw(st.sampled_from(["replace", "scale", "poke"]))
        if kind == "replace":
            pieces[key] = draw(_array(arrays[key]))
        elif kind == "scale" and arrays[key].dtype.kind == "f":
            with np.errstate(over="ignore", invalid="ignore"):  # overflow to inf and NaN are the point
                pieces[key] = arrays[key] * draw(st.sampled_from([-1.0, 2.0, 1e308, np.nan, 0.0]))
        elif arrays[key].size and arrays[key].dtype.kind in "iuf":
            poked = arrays[key].copy()
            index = draw(st.integers(0, poked.size - 1))
            value = draw(st.sampled_from([-1, 0, 10**6, 2**40] if poked.dtype.kind in "iu"
                                         else [np.nan, np.inf, -np.inf, -1.0, 7.0]))
            poked.flat[index] = np.array(value).astype(poked.dtype)  # 2**40 wraps in a narrow dtype, on purpose
            pieces[key] = poked
    depth = draw(st.sampled_from([0, 3, 60, 70, 900, 5000]))
    return pieces, depth


@pytest.fixture(scope="module")
def forest_arrays(forest_dir):
    with np.load(forest_dir / "trees.npz") as data:
        return {k: data[k] for k in data.files}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_model_directories_load_and_predict_finite_or_raise_one_error(forest_dir, forest_arrays, tmp_path,
                                                                             data):
    import tempfile

    pieces, depth = data.draw(_model_pieces(forest_arrays))
    with tempfile.TemporaryDirectory(dir=tmp_path) as folder:
        model_dir = Path(folder) / "model"
        shutil.copytree(forest_dir, model_dir)
        np.savez_compressed(model_dir / "trees.npz", **pieces)
        _relist(model_dir, "trees.npz")
        meta = json.loads((model_dir / "metadata.json").read_text())
        meta["training"]["nested"] = "@"
        (model_dir / "metadata.json").write_text(json.dumps(meta).replace('"@"', _deep_json(depth)))
        try:
            model = load_model(model_dir)
        except LandmarkASLError as exc:
            assert "\n" not in str(exc) and str(model_dir) in str(exc)
            return
        X = np.asarray(data.draw(st.lists(st.floats(-5, 5), min_size=3 * 127, max_size=3 * 127))).reshape(3, 127)
        X[:, 63:126][np.asarray(data.draw(st.lists(st.booleans(), min_size=3 * 63, max_size=3 * 63))).reshape(3, 63)] \
            = np.nan  # what the extractor gives: image landmarks always, world landmarks possibly missing
        with np.errstate(all="ignore"):
            proba = model.predict_proba(X)
            one = model.predict_proba_one(X[0])
        assert proba.shape == (3, len(model.classes)) and np.isfinite(proba).all() and np.isfinite(one).all()
        assert (proba >= 0).all() and (proba.sum(axis=1) <= 1 + 1e-6).all()


def test_16_the_cli_keeps_dask_logs_quiet_unless_verbose(monkeypatch, tmp_path):
    import os

    (tmp_path / "junk.jpg").write_bytes(b"junk")
    for verbose in (False, True):
        monkeypatch.delenv("DASK_LOGGING", raising=False)
        result = _cli(*(["-v"] if verbose else []), "predict", tmp_path / "junk.jpg")
        assert "1 of 1 images could not be read" in _one_line_error(result)
        if verbose:
            assert "DASK_LOGGING" not in os.environ
            continue
        # What dask reads when imported (here in a fresh process): distributed's loggers then say only critical things.
        code = "import logging, distributed; print(logging.getLogger('distributed.client').level)"
        level = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                               env={**os.environ}).stdout.strip()
        assert level == "50", level
