"""Tests for landmark_asl.training.adapt's inputs: every sample kept, the base's card and rows checked (synthetic tables, no MediaPipe)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from landmark_asl.data.table import TABLE_COLUMNS, TABLE_FORMAT, TABLE_FORMAT_VERSION, write_table
from landmark_asl.exceptions import LandmarkASLError, ModelLoadError
from landmark_asl.model.store import load_model
from landmark_asl.training.adapt import adapt_model
from landmark_asl.training.recipe import Recipe
from landmark_asl.training.train import train_model

from conftest import make_synthetic_landmarks, synthetic_table

LETTERS = ("A", "B", "G", "Q")


def _write(path: Path, X: np.ndarray, y: np.ndarray, group: str, ids: list | None = None) -> Path:
    """A landmark table file of raw rows ``X`` (n, 127), as ``collect`` writes one (``ids``: its sample ids)."""
    table = synthetic_table(X, y, [group] * len(y))
    table["sample_id"] = ids if ids is not None else [f"{group}/{i}" for i in range(len(y))]
    for column in TABLE_COLUMNS:
        if column not in table:
            table[column] = 0.0 if column in ("handedness_score", "image_width", "image_height") else ""
    meta = {"format": TABLE_FORMAT, "format_version": TABLE_FORMAT_VERSION}
    return write_table(table[list(TABLE_COLUMNS)], path, meta)


def _samples(path: Path, seed: int) -> Path:
    """Two samples of A and two of B whose ids are numbered from 0, as every ``collect`` file's are."""
    X, y = make_synthetic_landmarks(n_per_class=2, labels=("A", "B"), seed=seed)
    return _write(path, X, y, "me", ids=[f"collect/me/{label}/{i % 2:04d}" for i, label in enumerate(y)])


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A small rf model trained on one landmark table of A, B, G, Q (its card names that file)."""
    root = tmp_path_factory.mktemp("adapt_sources")
    X, y = make_synthetic_landmarks(n_per_class=20, labels=LETTERS, seed=3)
    data = _write(root / "data.parquet", X, y, "data")
    return train_model([data], output=root / "base", recipe=Recipe.plain("rf", {"n_estimators": 10}), progress=False)


def _adapt(samples, base: Path, output: Path, **kwargs) -> Path:
    return adapt_model(samples, output=output, base=base, base_rows="datasets", copies=1, progress=False,
                       cache_dir=output.parent / "cache", **kwargs)


def _with_card(base: Path, folder: Path, **training) -> Path:
    """A copy of ``base`` whose card's ``training`` fields are replaced by ``training``."""
    shutil.copytree(base, folder)
    meta = json.loads((folder / "metadata.json").read_text())
    meta["training"].update(training)
    (folder / "metadata.json").write_text(json.dumps(meta))
    return folder


def test_samples_of_every_file_are_kept_where_their_ids_repeat(base, tmp_path):
    first, second = _samples(tmp_path / "c1.parquet", seed=1), _samples(tmp_path / "c2.parquet", seed=2)
    (tmp_path / "link.parquet").symlink_to(first)
    again = [str(tmp_path / "." / "c1.parquet"), tmp_path / "link.parquet"]  # c1 named in other ways
    out = _adapt([first, second, first, *again], base, tmp_path / "me")  # the same file named again counts once
    adapted = load_model(out).card.training["adapted"]
    assert adapted["sample_counts"] == {"A": 4, "B": 4} and adapted["n_samples"] == 8


def test_samples_without_ids_are_all_kept(base, tmp_path):
    X, y = make_synthetic_landmarks(n_per_class=3, labels=("G", "Q"), seed=4)
    table = _write(tmp_path / "hand_made.parquet", X, y, "me", ids=[None] * len(y))
    adapted = load_model(_adapt([table], base, tmp_path / "me")).card.training["adapted"]
    assert adapted["sample_counts"] == {"G": 3, "Q": 3} and adapted["n_samples"] == 6


@pytest.mark.parametrize(("key", "value", "message"), [
    ("train_sources", ["a\x00b"], r"training.train_sources must be a list of non-empty strings or null; found \['a\\x00b'\]"),
    ("train_sources", [5, None], r"training.train_sources must be a list of .*; found \[5, None\]"),
    ("train_sources", "data.parquet", r"training.train_sources must be a list of .*; found 'data.parquet'"),
    ("labels_kept", "ABC", r"training.labels_kept must be a list of .*; found 'ABC'"),
    ("random_state", "x", r"training.random_state must be an integer from 0 to 2\*\*32 - 1; found 'x'"),
    ("random_state", 2**40, r"training.random_state must be an integer .*; found 1099511627776"),
])
def test_a_base_card_with_malformed_training_fields_is_refused_in_one_line(base, tmp_path, key, value, message):
    crafted = _with_card(base, tmp_path / "crafted", **{key: value})
    samples = _samples(tmp_path / "c1.parquet", seed=1)
    for rows in ("datasets", "packaged"):
        with pytest.raises(ModelLoadError, match=r"crafted/metadata.json: " + message) as caught:
            adapt_model([samples], output=tmp_path / "me", base=crafted, base_rows=rows, progress=False)
        assert "\n" not in str(caught.value)
    assert not (tmp_path / "me").exists()


def test_base_rows_that_lack_a_class_of_the_base_are_refused(base, tmp_path):
    # The base's training file was replaced since by one without A (or a relative path names another file here).
    X, y = make_synthetic_landmarks(n_per_class=20, labels=LETTERS, seed=3)
    changed = _write(tmp_path / "data.parquet", X[y != "A"], y[y != "A"], "data")
    moved = _with_card(base, tmp_path / "base", train_sources=[str(changed)])
    samples = _samples(tmp_path / "c1.parquet", seed=1)
    for choice in ("datasets", "auto"):  # auto does not fall back to other rows: the data is there, but changed
        with pytest.raises(LandmarkASLError, match=r"training sources \(.*data.parquet\) now hold no A, which the base "
                                                   r"model .* knows"):
            adapt_model([samples], output=tmp_path / "me", base=moved, base_rows=choice, progress=False)
    assert not (tmp_path / "me").exists()


def test_a_personal_model_is_refused_as_a_base(base, tmp_path):
    personal = _adapt([_samples(tmp_path / "c1.parquet", seed=1)], base, tmp_path / "me")
    with pytest.raises(LandmarkASLError, match=rf"is a personal model, which cannot be a base: .* adapt its own base "
                                               rf"\('{base}'\) with all the samples together"):
        _adapt([_samples(tmp_path / "c2.parquet", seed=2)], personal, tmp_path / "again")
    assert not (tmp_path / "again").exists()


def test_a_relative_training_source_is_recorded_absolute_so_adapt_elsewhere_reads_the_same_file(tmp_path,
                                                                                                 monkeypatch):
    X, y = make_synthetic_landmarks(n_per_class=20, labels=LETTERS, seed=5)
    (tmp_path / "work").mkdir()
    _write(tmp_path / "work" / "data.parquet", X, y, "data")
    monkeypatch.chdir(tmp_path / "work")
    base = train_model(["data.parquet"], output=tmp_path / "base", recipe=Recipe.plain("rf", {"n_estimators": 10}),
                       progress=False)
    recorded = load_model(base).card.training["train_sources"]
    assert recorded == [str((tmp_path / "work" / "data.parquet").resolve())]
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # no data.parquet here: the card's path still names the file
    personal = _adapt([_samples(tmp_path / "me.parquet", seed=6)], base, tmp_path / "personal")
    assert set(load_model(personal).classes) == set(LETTERS)
