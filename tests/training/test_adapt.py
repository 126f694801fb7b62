"""Tests for landmark_asl.training.adapt: a personal model from a base model and a user's samples (small real data)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from landmark_asl._util import file_sha256
from landmark_asl.cli import main
from landmark_asl.estimators.features import raw_features
from landmark_asl.exceptions import LandmarkASLError
from landmark_asl.model.store import load_model
from landmark_asl.training.adapt import adapt_model, base_training_rows
from landmark_asl.training.collect import collect, read_samples


@pytest.fixture(scope="module")
def setting(small_base, data_dir) -> dict[str, Path]:
    """The small base model of conftest (A, B, L, V) and massey samples of one signer."""
    root = small_base["root"]
    photos = root / "massey"
    for letter in ("A", "V"):
        (photos / letter).mkdir(parents=True)
        for f in sorted((data_dir / "massey" / letter.lower()).glob("hand2_*"))[:5]:
            shutil.copy(f, photos / letter / f.name)
    samples = root / "ann.parquet"
    collect(photos, samples, letters=["A", "V"], per_letter=4, signer="ann", progress=False)
    return {**small_base, "samples": samples}


@pytest.mark.slow
def test_personal_model_learns_the_samples_keeps_other_letters_and_says_where_it_comes_from(setting, tmp_path):
    out = adapt_model([setting["samples"]], output=tmp_path / "me", base=setting["base"], cache_dir=setting["cache"],
                      weight=30.0, progress=False)
    base, me = load_model(setting["base"]), load_model(out)
    card = me.card
    adapted = card.training["adapted"]
    assert adapted["signer"] == "ann" and adapted["sample_counts"] == {"A": 4, "V": 4} and adapted["n_samples"] == 8
    assert adapted["base_metadata_sha256"] == file_sha256(setting["base"] / "metadata.json")
    assert card.calibration == base.card.calibration and list(card.classes) == list(base.card.classes)
    # The user's own samples are now predicted as what they are.
    own = read_samples(setting["samples"])
    assert (me.classes[me.predict_proba(raw_features(own)).argmax(axis=1)] == own["label"].to_numpy()).all()
    # Letters given no sample (B, L) keep the base model's answers on the base's own rows.
    rows = base_training_rows(base, cache_dir=setting["cache"])
    other = rows[rows["label"].isin(["B", "L"])]
    before = base.classes[base.predict_proba(raw_features(other)).argmax(axis=1)]
    after = me.classes[me.predict_proba(raw_features(other)).argmax(axis=1)]
    assert (before == after).mean() >= 0.9


@pytest.mark.slow
def test_adapt_refuses_bad_input_in_one_line(setting, tmp_path):
    own = read_samples(setting["samples"])
    cases = [
        (dict(samples=own.assign(label="Q")), "labels the base model does not know: Q"),
        (dict(samples=own.assign(detected=False)), "no sample has a hand"),
        (dict(samples=own, weight=0.0), "weight must be a number > 0 and at most"),
        (dict(samples=[]), "no samples given"),
    ]
    for kwargs, message in cases:
        with pytest.raises(LandmarkASLError, match=message):
            adapt_model(output=tmp_path / "x", base=setting["base"], cache_dir=setting["cache"], progress=False, **kwargs)
    assert not (tmp_path / "x").exists()
    bare = tmp_path / "bare"
    shutil.copytree(setting["base"], bare)
    meta = json.loads((bare / "metadata.json").read_text())
    meta["training"].pop("train_sources")
    (bare / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(LandmarkASLError, match="names no training sources"):
        adapt_model(own, output=tmp_path / "y", base=bare, cache_dir=setting["cache"], progress=False)
    # A crafted base whose recipe asks for a billion trees: refused before any row is read, not fitted for ever.
    huge = tmp_path / "huge"
    shutil.copytree(setting["base"], huge)
    meta = json.loads((huge / "metadata.json").read_text())
    assert meta["recipe"] is not None
    meta["recipe"]["params"]["n_estimators"] = 10**9
    (huge / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(LandmarkASLError, match="n_estimators must be at most 5,000; got 1,000,000,000"):
        adapt_model(own, output=tmp_path / "z", base=huge, cache_dir=tmp_path / "empty_cache", progress=False)
    assert not (tmp_path / "z").exists() and not (tmp_path / "empty_cache").exists()


@pytest.mark.slow
def test_adapt_cli_writes_a_model_predict_uses(setting, tmp_path, data_dir):
    out = tmp_path / "me"
    result = CliRunner(mix_stderr=False).invoke(main, [
        "adapt", str(setting["samples"]), "--base", str(setting["base"]), "-o", str(out),
        "--cache-dir", str(setting["cache"]), "--signer", "ann2", "--n-jobs", "1"])
    assert result.exit_code == 0, result.stderr
    assert json.loads((out / "metadata.json").read_text())["training"]["adapted"]["signer"] == "ann2"
    photo = sorted((data_dir / "massey" / "v").glob("hand2_*"))[6]
    predicted = CliRunner(mix_stderr=False).invoke(main, ["predict", "--model", str(out), str(photo), "--json"])
    assert predicted.exit_code == 0, predicted.stderr
    assert json.loads(predicted.stdout)["label"] in {"A", "B", "L", "V"}
    bad = CliRunner(mix_stderr=False).invoke(main, ["adapt", str(tmp_path / "none.parquet"), "-o", str(tmp_path / "z")])
    assert bad.exit_code == 1 and "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1


def test_the_packaged_base_rows_are_small_and_only_from_licence_compatible_sources():
    from landmark_asl.training.adapt import packaged_base_rows, packaged_rows_path
    from landmark_asl.training.recipe import DEFAULT_LABELS

    assert packaged_rows_path().stat().st_size < 2_000_000
    rows = packaged_base_rows()
    assert set(rows["group"]) == {"asl2text/train", "asl2text/test", "borisgraudt", "nejohnson2"}
    assert set(rows["label"]) == set(DEFAULT_LABELS) and rows["detected"].all()
    assert raw_features(rows).shape == (len(rows), 127)
    assert len(packaged_base_rows(exclude_groups=["borisgraudt"])) == (rows["group"] != "borisgraudt").sum()


def test_an_install_without_packaged_rows_says_so(monkeypatch, tmp_path):
    import landmark_asl.training.adapt as adapt

    monkeypatch.setattr(adapt, "packaged_rows_path", lambda: tmp_path / "rows.npz")
    with pytest.raises(LandmarkASLError, match=r"carries no packaged base rows .*tools/build_adapt_base.py.*LANDMARK_ASL_DATA"):
        adapt.packaged_base_rows()


@pytest.mark.slow
def test_adapt_without_the_datasets_retrains_on_the_packaged_rows(setting, tmp_path, monkeypatch):
    # A base whose card names dataset names, on a machine without the datasets (an installed wheel).
    base = tmp_path / "base"
    shutil.copytree(setting["base"], base)
    meta = json.loads((base / "metadata.json").read_text())
    meta["training"]["train_sources"] = ["asl2text/train", "asl2text/test"]
    # A base with a pointing gate (any two of its letters): the personal model keeps it, as its temperature.
    meta["pointing"] = [{"letters": ["B", "L"], "intercept": 0.5, "slope": 0.01}]
    (base / "metadata.json").write_text(json.dumps(meta))
    monkeypatch.setenv("LANDMARK_ASL_DATA", str(tmp_path / "no_data"))
    own = read_samples(setting["samples"])
    with pytest.raises(LandmarkASLError, match="cannot read the base model's training data"):
        adapt_model(own, output=tmp_path / "x", base=base, cache_dir=tmp_path / "empty", base_rows="datasets",
                    progress=False)
    out = adapt_model(own, output=tmp_path / "me", base=base, cache_dir=tmp_path / "empty", progress=False)
    me = load_model(out)
    adapted = me.card.training["adapted"]
    assert adapted["base_rows"] == "packaged" and adapted["n_base_rows"] > 300
    assert me.card.training["train_sources"][0].startswith("packaged base rows (asl2text/train")
    assert list(me.classes) == ["A", "B", "L", "V"]
    assert me.card.pointing == [{"letters": ["B", "L"], "intercept": 0.5, "slope": 0.01, "mode": "share",
                                 "boundary_degrees": -50.0}]
    assert me.card.recipe.pointing is True  # the card's recipe says it has one, as for its temperature
    assert (me.classes[me.predict_proba(raw_features(own)).argmax(axis=1)] == own["label"].to_numpy()).all()


@pytest.mark.slow
def test_a_forest_and_network_base_keeps_its_network_and_retrains_the_forest(setting, tmp_path):
    from landmark_asl.training.recipe import Recipe
    from landmark_asl.training.train import train_model

    sources = [setting["root"] / "train", setting["root"] / "test"]
    recipe = Recipe.plain("rf_mlp", {"epochs": 20, "handshape": True})  # the blend's forest defaults: 50 trees
    base = train_model(sources, output=tmp_path / "base", recipe=recipe, cache_dir=setting["cache"], progress=False)
    out = adapt_model([setting["samples"]], output=tmp_path / "me", base=base, cache_dir=setting["cache"],
                      weight=30.0, progress=False)
    me = load_model(out)
    assert me.name == "rf_mlp" and me.card.recipe.model_name == "rf_mlp"
    assert me.card.training["network"].startswith("the base model's, unchanged")
    assert (out / "mlp.npz").read_bytes() == (base / "mlp.npz").read_bytes()
    assert (out / "trees.npz").read_bytes() != (base / "trees.npz").read_bytes()
    # The personal forest has the base's size and the kept network its features.
    assert me.estimator.steps[1][1].forest_.compiled_.roots.shape == (50,)
    assert me.card.estimator["normalizer"] == load_model(base).card.estimator["normalizer"]
    own = read_samples(setting["samples"])
    right = me.classes[me.predict_proba(raw_features(own)).argmax(axis=1)] == own["label"].to_numpy()
    assert right.mean() >= 0.75, right
