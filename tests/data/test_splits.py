"""Tests of random, group and cross-dataset splits and of split files, on the real data."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from landmark_asl._util import file_sha256
from landmark_asl.data.splits import apply_split, make_cross_dataset_split, make_split, read_split, write_split
from landmark_asl.exceptions import DatasetError
from landmark_asl.labels import DIGITS, LETTERS, SPECIAL


def test_random_split_is_reproducible_and_stratified(manifests) -> None:
    manifest = manifests("massey")
    first = make_split(manifest, random_state=3)
    again = make_split(manifest, random_state=3)
    other = make_split(manifest, random_state=4)
    pd.testing.assert_frame_equal(first, again)
    assert not first["split"].equals(other["split"])
    test_labels = apply_split(manifest, first).query("split == 'test'")["label"]
    assert test_labels.nunique() == 36
    assert first.attrs["stratified"] and first.attrs["counts"]["test"] == pytest.approx(503, abs=1)


def test_group_split_never_shares_a_group(manifests) -> None:
    manifest = manifests("massey")
    split = make_split(manifest, "group", random_state=1)
    joined = apply_split(manifest, split)
    assert set(joined["split"]) == {"train", "test"} and len(joined) == len(manifest)
    test_groups = set(joined.loc[joined["split"] == "test", "group"])
    assert test_groups and not test_groups & set(joined.loc[joined["split"] == "train", "group"])
    pd.testing.assert_frame_equal(split, make_split(manifest, "group", random_state=1))


def test_leave_one_signer_out(manifests) -> None:
    manifest = manifests("massey")
    split = make_split(manifest, "group", test_groups=["massey/hand5"])
    joined = apply_split(manifest, split)
    assert set(joined.loc[joined["split"] == "test", "group"]) == {"massey/hand5"}
    assert split.attrs["counts"] == {"test": 360, "train": 2155}
    with pytest.raises(DatasetError, match=r"test_groups \['hand9'\] not in the manifest"):
        make_split(manifest, "group", test_groups=["hand9"])
    with pytest.raises(DatasetError, match="at least 2 groups"):
        make_split(manifests("sign_mnist_style_28"), "group")
    with pytest.raises(DatasetError, match="unknown split mode"):
        make_split(manifest, "bogus")
    with pytest.raises(DatasetError, match="needs mode='group'"):
        make_split(manifest, test_groups=["massey/hand5"])
    assert make_split(manifest, "group", test_groups="massey/hand5").attrs["test_groups"] == ["massey/hand5"]


def test_cross_dataset_split_intersects_labels(manifests) -> None:
    split, kept, dropped = make_cross_dataset_split(manifests("massey"), manifests("asl2text/test"))
    assert kept == sorted(LETTERS)
    assert dropped == sorted(DIGITS + SPECIAL)
    assert split.attrs["counts"] == {"test": 26 * 30, "train": 2515 - 700}


def test_cross_dataset_split_removes_test_copies_of_training_files(manifests) -> None:
    with pytest.warns(UserWarning, match="removed 5 test sample"):
        split, kept, dropped = make_cross_dataset_split(
            manifests("asl_alphabet_64/train"), manifests("asl_alphabet_64/official_test"))
    assert split.attrs["n_test_removed_as_in_train"] == 5
    assert split.attrs["counts"]["test"] == 23 and dropped == ["DEL"]
    test_ids = set(split.loc[split["split"] == "test", "sample_id"])
    assert not test_ids & set(split.loc[split["split"] == "train", "sample_id"])
    official = apply_split(manifests("asl_alphabet_64/official_test"), split).query("split == 'test'")
    assert len(official) == 23 and not {"J", "L", "M", "V", "Y"} & set(official["label"])


def test_split_file_round_trip(tmp_path: Path, manifests) -> None:
    split = make_split(manifests("massey"), "group", test_groups=["massey/hand1"], random_state=7)
    path = write_split(split, tmp_path / "splits" / "massey.csv", metadata={"note": "loso"})
    back = read_split(path)
    pd.testing.assert_frame_equal(back, split)
    sidecar = json.loads(Path(f"{path}.json").read_text())
    assert sidecar["mode"] == "group" and sidecar["seed"] == 7 and sidecar["sources"] == ["massey"]
    assert sidecar["test_groups"] == ["massey/hand1"] and sidecar["note"] == "loso"
    assert sidecar["sha256"] == file_sha256(path) == back.attrs["sha256"]


def test_read_split_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        read_split(tmp_path / "none.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("sample_id,split\nabc,validation\n")
    with pytest.raises(DatasetError, match=r"must be 'train' or 'test'; found \['validation'\]"):
        read_split(bad)
    bad.write_text("id,fold\nabc,train\n")
    with pytest.raises(DatasetError, match="expected columns"):
        read_split(bad)
