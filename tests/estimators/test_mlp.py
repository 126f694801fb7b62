"""The network (mlp) and the forest-network blend (rf_mlp): fit, save, load without torch, hostile files."""

import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from landmark_asl._util import file_sha256
from landmark_asl.estimators.registry import build_estimator
from landmark_asl.exceptions import LandmarkASLError, ModelLoadError
from landmark_asl.model.store import load_model, save_model

from conftest import make_synthetic_landmarks


@pytest.fixture(scope="module")
def blend_dir(tmp_path_factory):
    X, y = make_synthetic_landmarks()
    model = build_estimator("rf_mlp", params={"handshape": True, "n_estimators": 5, "epochs": 40})
    model.fit(X, y)
    directory = tmp_path_factory.mktemp("blend") / "model"
    save_model(model, directory, name="rf_mlp")
    return directory, model, X, y


def test_the_network_learns_and_the_blend_weighs_forest_and_network(blend_dir):
    _, model, X, y = blend_dir
    clf = model.steps[1][1]
    Z = model.steps[0][1].transform(X)
    assert np.mean(clf.mlp_.predict(Z) == y) > 0.9  # four separable classes: the network learnt them
    w = clf.mlp_weight
    np.testing.assert_allclose(clf.predict_proba(Z), (1 - w) * clf.forest_.predict_proba(Z) + w * clf.mlp_.predict_proba(Z))
    np.testing.assert_allclose(clf.predict_proba_one(Z[3]), clf.predict_proba(Z[3:4])[0], atol=1e-6)


def test_a_saved_blend_loads_back_with_the_same_probabilities_and_without_torch(blend_dir):
    directory, model, X, _ = blend_dir
    assert sorted(p.name for p in directory.iterdir()) == ["metadata.json", "mlp.npz", "trees.npz"]
    loaded = load_model(directory)
    assert loaded.name == "rf_mlp"
    np.testing.assert_allclose(loaded.estimator.predict_proba(X), model.predict_proba(X), atol=1e-6)
    # Loading and predicting import no torch (a stranger's model runs NumPy only).
    code = ("import sys; sys.modules['torch'] = None\n"
            "import numpy as np\n"
            "from landmark_asl.model.store import load_model\n"
            f"m = load_model({str(directory)!r})\n"
            "print(m.classes[int(np.argmax(m.predict_proba_one(np.zeros(127) + 0.5)))])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() in set(model.classes_), done.stderr


def test_training_the_network_without_torch_is_one_line_naming_the_extra(tmp_path):
    code = ("import sys; sys.modules['torch'] = None\n"
            "from conftest import make_synthetic_landmarks\n"
            "from landmark_asl.estimators.registry import build_estimator\n"
            "X, y = make_synthetic_landmarks()\n"
            "build_estimator('mlp', params={'epochs': 1}).fit(X, y)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode != 0
    assert "MissingExtraError: the mlp model's training needs torch" in done.stderr
    assert "pip install 'landmark_asl[mlp]'" in done.stderr


@pytest.mark.parametrize("params, message", [
    ({"hidden": [0]}, "hidden must list 1 to 4 widths"),
    ({"hidden": [4096]}, "hidden must list 1 to 4 widths from 1 to 1024"),
    ({"hidden": "256"}, "'hidden' parameter must be an array-like"),
    ({"epochs": 10**6}, "epochs"),
    ({"mlp_weight": 1.5}, "mlp_weight"),
])
def test_bad_parameters_are_refused_before_any_fit(params, message):
    with pytest.raises(LandmarkASLError, match=message):
        build_estimator("rf_mlp", params=params)


def _relist(directory: Path, name: str, **card_params) -> None:
    meta = json.loads((directory / "metadata.json").read_text())
    meta["artefacts"][name] = file_sha256(directory / name)
    meta["estimator"]["params"].update(card_params)
    (directory / "metadata.json").write_text(json.dumps(meta))


def _edited(blend_dir, tmp_path, card_params=None, **changes) -> Path:
    directory = tmp_path / "edited"
    shutil.copytree(blend_dir[0], directory)
    with np.load(directory / "mlp.npz") as data:
        arrays = {k: data[k] for k in data.files}
    for key, change in changes.items():
        arrays[key] = change(arrays[key]) if callable(change) else change
    np.savez_compressed(directory / "mlp.npz", **arrays)
    _relist(directory, "mlp.npz", **(card_params or {}))
    return directory


@pytest.mark.parametrize("changes, card_params, reason", [
    ({"w0": lambda w: np.where(w > 0, np.nan, w)}, None, "NaN, inf or values beyond"),
    ({"w1": lambda w: np.full_like(w, 3e38)}, None, "NaN, inf or values beyond"),  # finite, but would overflow
    ({"scale": lambda s: -s}, None, "scale is not a number from"),
    ({"scale": lambda s: np.full_like(s, 1e-45)}, None, "scale is not a number from"),
    ({"w1": lambda w: w[:, :3]}, None, "layer 1 has weights"),
    ({"classes": np.asarray(["A", "B", "C", "D"])}, None, "disagree on classes"),
    ({"classes": np.asarray(["A", "A", "B", "C"])}, None, "distinct labels"),
    ({"artifact_version": np.int64(7)}, None, "layout version 7"),
    ({"w9": np.zeros(3)}, None, "expected the arrays"),
    ({}, {"hidden": [256, 128, 64]}, "expected the arrays"),
    ({}, {"hidden": "x"}, "'hidden' parameter of ForestMLPClassifier must be an array-like"),
    ({}, {"hidden": [16] * 100_000}, r"hidden must list 1 to 4 widths from 1 to 1024; got \[16, 16, 16, 16, 16, 16, \.\.\.\]"),
    ({}, {"mlp_weight": 5}, "mlp_weight must be a number from 0 to 1"),
    ({}, {"mlp_weight": "0.3"}, "mlp_weight must be a number from 0 to 1"),
    ({}, {"mlp_weight": 10**400}, "mlp_weight must be a number from 0 to 1"),
    ({}, {"epochs": 0}, "bad parameters of the blend: The 'epochs' parameter"),
    ({}, {"dropout": "x"}, "bad parameters of the blend: The 'dropout' parameter"),
])
def test_a_crafted_network_file_or_card_is_refused_at_load(blend_dir, tmp_path, changes, card_params, reason):
    directory = _edited(blend_dir, tmp_path, card_params, **changes)
    with pytest.raises(ModelLoadError, match=reason):
        load_model(directory)


def test_labels_that_are_not_text_keep_one_column_order_and_load_back(tmp_path):
    X, y = make_synthetic_landmarks()
    numbers = np.array([10, 9, 2, 1])[np.unique(y, return_inverse=True)[1]]  # sorted as numbers != as text
    model = build_estimator("rf_mlp", params={"n_estimators": 5, "epochs": 20}).fit(X, numbers)
    clf = model.steps[1][1]
    assert list(clf.classes_) == list(clf.mlp_.classes_) == ["1", "10", "2", "9"]
    loaded = load_model(save_model(model, tmp_path / "m", name="rf_mlp"))
    np.testing.assert_allclose(loaded.estimator.predict_proba(X), model.predict_proba(X), atol=1e-6)


def test_a_network_array_declaring_terabytes_is_refused_before_it_is_read(blend_dir, tmp_path):
    directory = tmp_path / "bomb"
    shutil.copytree(blend_dir[0], directory)
    with np.load(directory / "mlp.npz") as data:
        arrays = {k: data[k] for k in data.files}
    with zipfile.ZipFile(directory / "mlp.npz", "w") as archive:
        for key, value in arrays.items():
            buffer = io.BytesIO()
            if key == "w0":  # (1e12, 256) float32: about a petabyte, then a few bytes
                np.lib.format.write_array_header_1_0(
                    buffer, {"descr": "<f4", "fortran_order": False, "shape": (10**12, 256)})
                buffer.write(b"\0" * 64)
            else:
                np.lib.format.write_array(buffer, value)
            archive.writestr(f"{key}.npy", buffer.getvalue())
    _relist(directory, "mlp.npz")
    with pytest.raises(ModelLoadError, match="more than the file holds"):
        load_model(directory)
