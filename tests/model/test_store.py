"""Tests for landmark_asl.model.store: model directories, verification on load, LoadedModel and the NOTHING rule."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import warnings

import numpy as np
import pytest

from landmark_asl.estimators.features import FEATURE_VERSION
from landmark_asl.estimators.registry import make_estimator
from landmark_asl.exceptions import ModelLoadError
from landmark_asl.hands.extractor import ExtractorSettings
from landmark_asl.model import store as persistence
from landmark_asl.model.card import FORMAT_VERSION, METADATA_FILE
from landmark_asl.model.store import load_model, save_model


@pytest.fixture(scope="module")
def fitted(synthetic_landmarks):
    X, y = synthetic_landmarks
    return {name: make_estimator(name, n_estimators=8, device="cpu") if name == "xgb" else
            make_estimator(name, n_estimators=8) for name in ("rf", "xgb")}, X, y


@pytest.fixture(scope="module")
def models(fitted):
    estimators, X, y = fitted
    return {name: est.fit(X, y) for name, est in estimators.items()}


@pytest.fixture()
def saved_xgb(models, tmp_path):
    return save_model(models["xgb"], tmp_path / "xgb", name="xgb", metrics={"accuracy": 0.9})


def _edit_metadata(directory, **changes):
    path = directory / METADATA_FILE
    meta = json.loads(path.read_text())
    meta.update(changes)
    path.write_text(json.dumps(meta))


def test_card_records_everything(models, tmp_path, synthetic_landmarks):
    settings = ExtractorSettings(min_detection_confidence=0.4)
    directory = save_model(models["rf"], tmp_path / "rf", name="rf", split_file_sha256="ab" * 32,
                           extractor_settings=settings, training={"train_sources": ["x"]})
    meta = json.loads((directory / METADATA_FILE).read_text())
    assert meta["format_version"] == FORMAT_VERSION and meta["feature_version"] == FEATURE_VERSION
    assert meta["name"] == "rf" and meta["classes"] == ["A", "B", "C", "NOTHING"]
    assert meta["input_kind"] == "landmarks" and meta["no_hand_label"] == "NOTHING"
    assert meta["split_file_sha256"] == "ab" * 32
    assert meta["extractor_settings"]["min_detection_confidence"] == 0.4
    assert meta["training"] == {"train_sources": ["x"]}
    assert meta["estimator"]["storage"] == "trees-npz" and "class" not in meta["estimator"]
    assert meta["estimator"]["params"]["n_estimators"] == 8
    assert meta["estimator"]["normalizer"]["rotate"] == "plane"
    assert set(meta["artefacts"]) == {"trees.npz"} and len(meta["artefacts"]["trees.npz"]) == 64
    assert {"numpy", "scikit-learn", "xgboost"} <= set(meta["package_versions"])
    assert meta["created_at"].endswith("+00:00")
    card = load_model(directory).card
    assert card.extractor_settings == settings and card.input_kind == "landmarks"


def test_rf_is_saved_as_arrays_without_pickle(models, tmp_path):
    directory = save_model(models["rf"], tmp_path / "rf", name="rf")
    assert sorted(p.name for p in directory.iterdir()) == ["metadata.json", "trees.npz"]
    with np.load(directory / "trees.npz", allow_pickle=False) as data:
        assert all(data[key].dtype != object for key in data.files)


def test_resave_of_a_loaded_model_gives_the_same_probabilities(models, tmp_path, synthetic_landmarks):
    X, _ = synthetic_landmarks
    first = load_model(save_model(models["rf"], tmp_path / "a", name="rf"))
    second = load_model(save_model(first.estimator, tmp_path / "b", name="rf"))
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))


class _Exploit:
    """A pickle payload: unpickling it runs a shell command that creates a file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _malicious_dir(tmp_path, storage="trees-npz", artefact="trees.npz", **changes):
    """A model directory whose artefact is a pickle that runs code, its SHA-256 listed in the card."""
    good = save_model(make_estimator("rf", n_estimators=2).fit(*_tiny()), tmp_path / "evil", name="rf")
    marker = tmp_path / "code_ran"
    payload = good / artefact
    payload.write_bytes(pickle.dumps(_Exploit(marker)))
    meta = json.loads((good / METADATA_FILE).read_text())
    meta["estimator"]["storage"] = storage
    meta["artefacts"] = {artefact: persistence.file_sha256(payload)}
    meta.update(changes)
    (good / METADATA_FILE).write_text(json.dumps(meta))
    return good, marker


def _tiny():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 127))
    X[:, 126] = 0
    return X, np.array(["A", "B"] * 10)


@pytest.mark.parametrize(
    ("storage", "artefact", "changes", "message"),
    [
        ("trees-npz", "trees.npz", {}, "cannot read the forest .*trees.npz"),
        ("joblib", "classifier.joblib", {}, "storage 'joblib'; this landmark_asl loads only .*never pickle"),
        ("xgboost-ubj", "xgb_model.ubj", {"name": "xgb"}, "cannot (load the classifier|read the XGBoost model)"),
        ("trees-npz", "trees.npz", {"format_version": 1}, "found 1, supported 2: rebuild it with"),
    ],
)
def test_malicious_model_directory_runs_no_code(tmp_path, storage, artefact, changes, message):
    directory, marker = _malicious_dir(tmp_path, storage, artefact, **changes)
    with pytest.raises(ModelLoadError, match=message) as info:
        load_model(directory)
    assert "\n" not in str(info.value)
    assert not marker.exists(), "loading the model ran code from the file"


def test_unlisted_artefact_is_refused(models, tmp_path):
    directory = save_model(models["rf"], tmp_path / "rf", name="rf")
    _edit_metadata(directory, artefacts={})
    with pytest.raises(ModelLoadError, match="lists no SHA-256 for trees.npz"):
        load_model(directory)


@pytest.mark.parametrize("name", ["../outside.npz", "/etc/passwd", "sub/trees.npz", "metadata.json"])
def test_artefact_names_may_not_leave_the_directory(models, tmp_path, name):
    directory = save_model(models["rf"], tmp_path / "rf", name="rf")
    meta = json.loads((directory / METADATA_FILE).read_text())
    meta["artefacts"][name] = "0" * 64
    (directory / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="not a plain file name of the model directory"):
        load_model(directory)


def test_artefact_link_out_of_the_directory_is_refused(models, tmp_path):
    directory = save_model(models["rf"], tmp_path / "rf", name="rf")
    outside = tmp_path / "outside.npz"
    (directory / "trees.npz").rename(outside)
    (directory / "trees.npz").symlink_to(outside)
    with pytest.raises(ModelLoadError, match="link out of the model directory"):
        load_model(directory)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"artefacts": ["trees.npz"]}, "'artefacts' must be a JSON object; found list"),
        ({"classes": "AB"}, "'classes' must be a JSON list; found str"),
        ({"input_kind": "audio"}, "input_kind must be 'landmarks' or 'pixels'"),
        ({"no_hand_label": "A"}, "no_hand_label must be 'NOTHING' or ''"),
        ({"extractor_settings": {"min_detection_confidence": 7}}, "bad extractor_settings"),
        ({"extractor_settings": {"pad_fraction": "1"}}, "bad extractor_settings: pad_fraction must be a number"),
        ({"extractor_settings": {"model_asset": 5}}, "bad extractor_settings: model_asset must be a path"),
        ({"extractor_settings": {"num_hands": 1e9}}, "bad extractor_settings: num_hands must be a whole number"),
        ({"input_kind": "pixels"}, "input_kind 'pixels' does not fit storage 'xgboost-ubj'"),
    ],
)
def test_bad_card_fields_are_one_line_errors(saved_xgb, changes, message):
    _edit_metadata(saved_xgb, **changes)
    with pytest.raises(ModelLoadError, match=message):
        load_model(saved_xgb)


def test_load_model_refuses_what_is_not_a_path_in_one_line():
    with pytest.raises(ModelLoadError, match="a model directory is a path .*; got int"):
        load_model(123)


def test_save_refuses_to_replace_a_folder_that_is_not_a_model(models, tmp_path):
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(ModelLoadError, match="refusing to replace .* not a model directory"):
        save_model(models["rf"], tmp_path, name="rf")
    assert (tmp_path / "keep.txt").read_text() == "precious"


def test_save_replaces_a_model_only_when_the_folder_holds_nothing_else(models, tmp_path):
    # A metadata.json that is not a model card (a project's own), beside the user's files.
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "metadata.json").write_text('{"name": "app"}')
    (project / "src" / "main.py").write_text("code")
    with pytest.raises(ModelLoadError, match="not a model directory"):
        save_model(models["rf"], project, name="rf")
    assert (project / "src" / "main.py").read_text() == "code"
    # A real model with the user's notes in it: replacing it would delete them, so it is refused.
    target = save_model(models["rf"], tmp_path / "model", name="rf")
    (target / "notes.txt").write_text("mine")
    with pytest.raises(ModelLoadError, match="it also holds notes.txt, which replacing the model would delete"):
        save_model(models["xgb"], target, name="xgb")
    assert (target / "notes.txt").read_text() == "mine" and load_model(target).name == "rf"
    # A folder named like the README, or a file a crafted card lists as an artefact, is not the model's.
    (target / "notes.txt").unlink()
    (target / "README.md").mkdir()
    (target / "README.md" / "precious.txt").write_text("mine")
    with pytest.raises(ModelLoadError, match="it also holds README.md"):
        save_model(models["xgb"], target, name="xgb")
    shutil.rmtree(target / "README.md")
    (target / "photos").mkdir()
    (target / "notes.txt").write_text("mine")
    _edit_metadata(target, artefacts={**json.loads((target / METADATA_FILE).read_text())["artefacts"],
                                      "photos": "0" * 64, "notes.txt": "0" * 64})
    with pytest.raises(ModelLoadError, match="it also holds notes.txt, photos"):
        save_model(models["xgb"], target, name="xgb")
    assert (target / "notes.txt").read_text() == "mine" and (target / "photos").is_dir()
    # A user's folder with a hand-written card that names its files: not a card read_card accepts.
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "metadata.json").write_text('{"classes": [], "artefacts": {"notes.txt": ""}}')
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(ModelLoadError, match="not a model directory"):
        save_model(models["xgb"], mine, name="xgb")
    # Its README (the shipped model has one) is carried over to the new model.
    target = save_model(models["rf"], tmp_path / "model2", name="rf")
    (target / "README.md").write_text("about this model")
    save_model(models["xgb"], target, name="xgb")
    assert load_model(target).name == "xgb" and (target / "README.md").read_text() == "about this model"


def test_save_refuses_the_current_or_parent_folder(models, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in (".", "..", "sub/.."):
        with pytest.raises(ModelLoadError, match="name a folder for it"):
            save_model(models["rf"], name, name="rf")
    assert list(tmp_path.iterdir()) == []


def test_save_never_deletes_a_folder_it_did_not_make(models, tmp_path):
    # A ".NAME.old" folder beside the destination is the user's, whatever its name suggests.
    (tmp_path / ".model.old").mkdir()
    (tmp_path / ".model.old" / "thesis.tex").write_text("years of work")
    save_model(models["rf"], tmp_path / "model", name="rf")
    save_model(models["xgb"], tmp_path / "model", name="xgb")  # a replacement too
    assert (tmp_path / ".model.old" / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.old", "model"]  # nothing left behind


def test_saved_files_follow_the_umask(models, tmp_path):
    old = os.umask(0o022)
    try:
        directory = save_model(models["rf"], tmp_path / "rf", name="rf")
    finally:
        os.umask(old)
    assert directory.stat().st_mode & 0o777 == 0o755
    assert (directory / "trees.npz").stat().st_mode & 0o777 == 0o644


def test_xgb_is_saved_without_pickle(saved_xgb):
    files = sorted(p.name for p in saved_xgb.iterdir())
    assert files == ["metadata.json", "xgb_model.ubj"]


def test_save_replaces_existing_model_and_keeps_it_when_saving_fails(models, tmp_path, monkeypatch):
    target = tmp_path / "model"
    save_model(models["rf"], target, name="rf")
    save_model(models["xgb"], target, name="xgb")
    assert load_model(target).name == "xgb"

    def broken(directory):
        (directory / "partial.bin").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(models["xgb"].named_steps["clf"], "save_artifact", broken)
    with pytest.raises(OSError, match="disk full"):
        save_model(models["xgb"], target, name="xgb")
    assert load_model(target).name == "xgb"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_save_replaces_a_model_named_through_itself(models, tmp_path, monkeypatch):
    # model/../model names the model's own folder: it must stay reachable while that folder is moved aside.
    target = save_model(models["rf"], tmp_path / "model", name="rf")
    (target / "README.md").write_text("about this model")
    assert save_model(models["xgb"], tmp_path / "model" / ".." / "model", name="xgb") == tmp_path / "model" / ".." / "model"
    assert load_model(target).name == "xgb" and (target / "README.md").read_text() == "about this model"
    monkeypatch.chdir(tmp_path)
    save_model(models["rf"], os.path.join("model", "..", "model"), name="rf")
    assert load_model(target).name == "rf"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # nothing hidden left beside it


def test_save_puts_the_old_model_back_whatever_stops_the_move(models, tmp_path, monkeypatch):
    from pathlib import Path

    target = save_model(models["rf"], tmp_path / "model", name="rf")
    rename = Path.rename

    def interrupted(self, destination):
        if self.name.startswith(".model.") and ".old-" not in self.name:  # the new model moving into place
            raise KeyboardInterrupt
        return rename(self, destination)

    monkeypatch.setattr(Path, "rename", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_model(models["xgb"], tmp_path / "model" / ".." / "model", name="xgb")
    monkeypatch.undo()
    assert load_model(target).name == "rf"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_tampered_artefact_is_refused(saved_xgb):
    with open(saved_xgb / "xgb_model.ubj", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelLoadError, match="SHA-256 mismatch .*modified or corrupted"):
        load_model(saved_xgb)


def test_missing_artefact_is_refused(saved_xgb):
    (saved_xgb / "xgb_model.ubj").unlink()
    with pytest.raises(ModelLoadError, match="artefact xgb_model.ubj listed in metadata is missing"):
        load_model(saved_xgb)


def test_unknown_format_version_is_refused(saved_xgb):
    _edit_metadata(saved_xgb, format_version=99)
    with pytest.raises(ModelLoadError, match="found 99, supported 2"):
        load_model(saved_xgb)


def test_other_feature_version_is_refused(saved_xgb):
    _edit_metadata(saved_xgb, feature_version="0")
    with pytest.raises(ModelLoadError, match=f"feature_version '0' .* computes feature_version '{FEATURE_VERSION}': retrain"):
        load_model(saved_xgb)


def test_package_version_mismatch_warns(saved_xgb, synthetic_landmarks):
    meta = json.loads((saved_xgb / METADATA_FILE).read_text())
    meta["package_versions"]["numpy"] = "0.0.1"
    (saved_xgb / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match=r"numpy 0.0.1 \(now "):
        model = load_model(saved_xgb)
    assert model.predict(synthetic_landmarks[0][:2]).shape == (2,)


def test_no_version_warning_for_a_package_the_model_does_not_use(models, tmp_path):
    """A compiled forest is NumPy arrays: another xgboost, torch or scikit-learn changes nothing."""
    saved = save_model(models["rf"], tmp_path / "rf", name="rf")
    meta = json.loads((saved / METADATA_FILE).read_text())
    meta["package_versions"].update({"xgboost": "0.0.1", "torch": "0.0.1", "scikit-learn": "0.0.1"})
    (saved / METADATA_FILE).write_text(json.dumps(meta))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model(saved)
    meta["package_versions"]["mediapipe"] = "0.0.1"  # extraction: every landmark model uses it
    (saved / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match=r"mediapipe 0.0.1 \(now ") as caught:
        load_model(saved)
    assert "xgboost" not in str(caught[0].message)


def test_bad_directories(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(tmp_path / "nope")
    with pytest.raises(ModelLoadError, match="metadata.json is missing"):
        load_model(tmp_path)
    (tmp_path / METADATA_FILE).write_text("{not json")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        load_model(tmp_path)
    (tmp_path / METADATA_FILE).write_text("[1, 2]")
    with pytest.raises(ModelLoadError, match="must hold a JSON object"):
        load_model(tmp_path)
    (tmp_path / METADATA_FILE).write_text(json.dumps({"format_version": 2}))
    with pytest.raises(ModelLoadError, match="lacks the key 'name'"):
        load_model(tmp_path)


def test_default_model(monkeypatch, tmp_path, models, synthetic_landmarks):
    monkeypatch.setattr(persistence, "default_model_dir", lambda: tmp_path / "default")
    with pytest.raises(ModelLoadError, match="no default model at .*build it with"):
        load_model(None)
    save_model(models["rf"], tmp_path / "default", name="rf")
    assert load_model().name == "rf"


def test_predict_proba_one_matches_batch_and_rejects_bad_shapes(saved_xgb, synthetic_landmarks):
    X, _ = synthetic_landmarks
    model = load_model(saved_xgb)
    batch = model.predict_proba(X[:10])
    np.testing.assert_allclose(np.array([model.predict_proba_one(x) for x in X[:10]]), batch, atol=1e-6)
    with pytest.raises(ValueError, match=r"shape \(127,\) raw features; got \(63,\)"):
        model.predict_proba_one(X[0, :63])


def test_loaded_rf_fast_path_equals_sklearn(models, synthetic_landmarks, tmp_path):
    X, _ = synthetic_landmarks
    model = load_model(save_model(models["rf"], tmp_path / "rf", name="rf"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = np.array([model.predict_proba_one(x) for x in X])
    np.testing.assert_allclose(got, models["rf"].predict_proba(X), atol=1e-12)
