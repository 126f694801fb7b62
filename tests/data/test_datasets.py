"""Tests of dataset loading, label mapping and sample ids, on the real data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from landmark_asl.data.datasets import (
    LANDMARK_TABLE_COLUMNS,
    MANIFEST_COLUMNS,
    MIN_ROWS_TO_ESTIMATE,
    data_root,
    drop_duplicates,
    find_duplicates,
    load_landmark_csv,
    load_manifest,
    load_sign_mnist_csv,
    read_sample,
    resolve_source,
)
from landmark_asl.exceptions import DatasetError
from landmark_asl.labels import DIGITS, LETTERS, SPECIAL, normalize_label

SIGN_MNIST_LETTERS = set(LETTERS) - {"J", "Z"}

# source -> (dataset, n_classes, n_samples, labels, split values); counts from data/README.md.
EXPECTED = {
    "asl2text/train": ("asl2text", 29, 5801, set(LETTERS + SPECIAL), {"train"}),
    "asl2text/test": ("asl2text", 29, 870, set(LETTERS + SPECIAL), {"test"}),
    "massey": ("massey", 36, 2515, set(LETTERS + DIGITS), {""}),
    "asl_alphabet_64/train": ("asl_alphabet_64", 29, 17400, set(LETTERS + SPECIAL), {"train"}),
    "asl_alphabet_64/test": ("asl_alphabet_64", 29, 2900, set(LETTERS + SPECIAL), {"test"}),
    "asl_alphabet_64/official_test": ("asl_alphabet_64", 28, 28, set(LETTERS) | {"NOTHING", "SPACE"}, {"test"}),
    "asl_alphabet_200_official_test": ("asl_alphabet_200", 28, 28, set(LETTERS) | {"NOTHING", "SPACE"}, {"test"}),
    "sign_mnist_style_28": ("sign_mnist_style_28", 24, 6559, SIGN_MNIST_LETTERS, {""}),
    "sign_mnist_rows": ("sign_mnist", 24, 298 + 188 + 11, SIGN_MNIST_LETTERS, {"train", "test"}),
    "ml_slr": ("ml_slr", 24, 1680, SIGN_MNIST_LETTERS, {""}),
}
ML_SLR_SIGNERS = [f"ml_slr/user_{i}" for i in (3, 4, 5, 6, 7, 9, 10)]
SUBSET298 = "sign_mnist_rows/sign_mnist_train_subset298.csv"


def test_every_known_data_folder_is_there(data_dir: Path) -> None:
    image_or_csv_sets = {p.name for p in data_dir.iterdir() if p.is_dir()} - {"landmarks", "video"}
    assert {s.split("/")[0] for s in EXPECTED} <= image_or_csv_sets


def test_a_data_folder_added_later_loads_with_known_labels(data_dir: Path) -> None:
    """A folder nobody listed here yet (new data) must load, not break the suite."""
    known = {s.split("/")[0] for s in EXPECTED} | {"landmarks", "video"}
    for folder in sorted(p for p in data_dir.iterdir() if p.is_dir() and p.name not in known):
        manifest, _ = load_manifest(folder)
        assert len(manifest) > 0, folder
        assert manifest["label"].map(normalize_label).eq(manifest["label"]).all(), folder


def test_ml_slr_groups_are_its_seven_signers(manifests) -> None:
    manifest = manifests("ml_slr")
    assert sorted(manifest["group"].unique()) == sorted(ML_SLR_SIGNERS)
    assert manifest.groupby("group").size().eq(240).all()


@pytest.mark.parametrize("source", sorted(EXPECTED))
def test_manifest_labels_and_counts_match_readme(manifests, source: str) -> None:
    dataset, n_classes, n_samples, labels, splits = EXPECTED[source]
    manifest = manifests(source)
    assert tuple(manifest.columns) == MANIFEST_COLUMNS
    assert len(manifest) == n_samples
    assert manifest["label"].nunique() == n_classes
    assert set(manifest["label"]) == labels
    assert set(manifest["dataset"]) == {dataset}
    assert set(manifest["split"]) == splits
    assert manifest["sample_id"].str.fullmatch(r"[0-9a-f]{16}").all()


@pytest.mark.parametrize("folder", ["asl2text/train", "asl2text/test", "massey", "asl_alphabet_64/train",
                                    "asl_alphabet_64/test", "sign_mnist_style_28"])
def test_every_class_folder_name_maps_to_a_label(data_dir: Path, folder: str) -> None:
    names = [p.name for p in (data_dir / folder).iterdir() if p.is_dir()]
    mapped = {normalize_label(n) for n in names}
    assert len(mapped) == len(names) == EXPECTED[folder][1]


def test_container_folder_gives_split_and_session_groups(manifests) -> None:
    manifest = manifests("asl2text")
    assert len(manifest) == 5801 + 870
    assert manifest.groupby("group")["split"].unique().map(list).to_dict() == {
        "asl2text/train": ["train"], "asl2text/test": ["test"]}
    assert set(manifests("asl_alphabet_64")["group"]) == {
        "asl_alphabet_64/train", "asl_alphabet_64/test", "asl_alphabet_64/official_test"}


def test_massey_groups_are_signers(manifests) -> None:
    manifest = manifests("massey")
    assert sorted(manifest["group"].unique()) == [f"massey/hand{i}" for i in range(1, 6)]
    prefix = manifest["source"].map(lambda s: Path(s).name.split("_")[0])
    assert (manifest["group"] == "massey/" + prefix).all()
    assert (manifest["group"] == "massey/hand5").sum() == 360


def test_official_test_file_names_give_labels(manifests) -> None:
    manifest = manifests("asl_alphabet_64/official_test")
    by_name = dict(zip(manifest["source"].map(lambda s: Path(s).name), manifest["label"]))
    assert by_name["nothing_test.jpg"] == "NOTHING"
    assert by_name["space_test.jpg"] == "SPACE"
    assert by_name["A_test.jpg"] == "A"
    assert set(manifest["group"]) == {"asl_alphabet_64/official_test"}


def test_sample_id_is_content_hash_and_stable(manifests) -> None:
    manifest = manifests("asl_alphabet_64/official_test")
    again, _ = load_manifest("asl_alphabet_64/official_test")
    pd.testing.assert_frame_equal(manifest, again)
    first = manifest.iloc[0]
    assert first["sample_id"] == hashlib.sha1(Path(first["source"]).read_bytes()).hexdigest()[:16]


def test_byte_identical_official_test_files_are_detected(manifests) -> None:
    both = pd.concat([manifests("asl_alphabet_64/official_test"), manifests("asl_alphabet_64/train")])
    dup = find_duplicates(both)
    assert len(dup) == 10
    assert sorted(dup["label"].unique()) == ["J", "L", "M", "V", "Y"]
    assert len(drop_duplicates(both)) == len(both) - 5
    assert find_duplicates(manifests("massey")).empty


def test_sign_mnist_rows_read_real_rows(data_dir: Path) -> None:
    manifest, images = load_sign_mnist_csv(SUBSET298)
    assert images.shape == (298, 28, 28) and images.dtype == np.uint8
    lines = (data_dir / SUBSET298).read_bytes().splitlines()
    first = lines[1].decode().split(",")
    assert manifest["label"][0] == LETTERS[int(first[0])]
    assert images[0].ravel().tolist() == [int(v) for v in first[1:]]
    assert manifest["sample_id"][0] == hashlib.sha1(lines[1].rstrip(b"\r")).hexdigest()[:16]
    rgb = read_sample(manifest["source"][3])
    assert rgb.shape == (28, 28, 3)
    assert (rgb[:, :, 0] == images[3]).all() and (rgb[:, :, 2] == images[3]).all()


def test_sign_mnist_head_rows_are_duplicates_of_subset(manifests) -> None:
    manifest = manifests("sign_mnist_rows")
    assert manifest["sample_id"].duplicated().sum() == 188
    assert set(manifest["group"]) == {"sign_mnist/train", "sign_mnist/test"}


def _write_sign_mnist(tmp_path: Path, data_dir: Path, label: str) -> Path:
    lines = (data_dir / SUBSET298).read_text().splitlines()
    row = lines[1].split(",")
    path = tmp_path / "sign_mnist_train_bad.csv"
    path.write_text("\n".join([lines[0], lines[2], ",".join([label, *row[1:]])]) + "\n")
    return path


@pytest.mark.parametrize("label", ["9", "25", "30", "-1"])
def test_sign_mnist_out_of_range_label_is_an_error(tmp_path: Path, data_dir: Path, label: str) -> None:
    path = _write_sign_mnist(tmp_path, data_dir, label)
    with pytest.raises(DatasetError, match=rf"row 1 has label {label}: expected 0..24 without 9"):
        load_sign_mnist_csv(path)


def test_sign_mnist_valid_label_in_tmp_file_loads(tmp_path: Path, data_dir: Path) -> None:
    manifest, images = load_sign_mnist_csv(_write_sign_mnist(tmp_path, data_dir, "24"))
    assert manifest["label"].iloc[-1] == "Y" and images.shape == (2, 28, 28)
    assert set(manifest["split"]) == {"train"}


def test_sign_mnist_wrong_columns_says_expected_and_found(tmp_path: Path) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("label,p1,p2\n3,0,255\n")
    with pytest.raises(DatasetError, match=r"expected 785 columns 'label,pixel1..pixel784'; found 3 columns"):
        load_sign_mnist_csv(path)
    with pytest.raises(DatasetError, match="not a Sign Language MNIST CSV"):
        load_manifest(path)


def test_corrupt_and_non_image_files(tmp_path: Path) -> None:
    (tmp_path / "A").mkdir()
    garbage = tmp_path / "A" / "garbage.jpg"
    garbage.write_bytes(b"this is not a jpeg" * 10)
    (tmp_path / "A" / "empty.png").write_bytes(b"")
    (tmp_path / "A" / "notes.txt").write_text("hello")
    manifest, rejected = load_manifest(tmp_path)
    assert manifest["source"].tolist() == [str(garbage)]  # manifest checks extension + size only
    reasons = dict(zip(rejected["source"].map(lambda s: Path(s).name), rejected["reason"]))
    assert reasons["empty.png"].startswith("empty file")
    assert reasons["notes.txt"].startswith("not an image file")
    with pytest.raises(DatasetError, match="not an image or corrupt"):
        read_sample(garbage)
    with pytest.raises(DatasetError, match="skip_bad=True"):
        load_manifest(tmp_path, skip_bad=False)


def test_read_image_gives_rgb_uint8(manifests) -> None:
    source = manifests("asl_alphabet_200_official_test")["source"].iloc[0]
    image = read_sample(source)
    assert image.shape == (200, 200, 3) and image.dtype == np.uint8
    gray = read_sample(manifests("sign_mnist_style_28")["source"].iloc[0])
    assert gray.shape == (28, 28, 3)


def test_missing_and_empty_sources(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found: looked at .* and "):
        resolve_source(tmp_path / "nope")
    with pytest.raises(DatasetError, match="not found"):
        load_manifest("no_such_dataset")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no samples found in .*empty: expected"):
        load_manifest(tmp_path / "empty")
    assert resolve_source("massey").name == "massey"


def test_landmark_csv_nejohnson2() -> None:
    table = load_landmark_csv("landmarks/nejohnson2_wrist_relative.csv")
    assert tuple(table.columns) == LANDMARK_TABLE_COLUMNS
    assert len(table) == 1022 and table["label"].nunique() == 25 and "Q" not in set(table["label"])
    # hand_label 0 = MediaPipe 'Right' on a mirrored webcam frame = a left hand as stored.
    assert set(table["handedness"]) == {"Left"}
    assert (table[["x0", "y0", "z0"]] == 0).all().all()  # wrist-relative, stored as given
    assert table["wx0"].isna().all() and table["detected"].all() and set(table["strategy"]) == {"csv"}


def test_landmark_csv_borisgraudt() -> None:
    table = load_landmark_csv("landmarks/borisgraudt_raw_gestures.csv")
    assert len(table) == 10508 and table["label"].nunique() == 26
    assert table["x0"].between(0, 1).all() and set(table["handedness"]) == {"Left"}
    assert set(table["group"]) == {"borisgraudt"} and table["sample_id"].is_unique


@pytest.mark.parametrize("name", ["borisgraudt_raw_gestures", "nejohnson2_wrist_relative"])
def test_landmark_csv_rows_mirror_like_image_hands(name: str) -> None:
    """After mirroring 'Left' rows, palm-forward letters have the index knuckle right of the little
    knuckle (x5 > x17), as the 'Right' hands of the image sets do."""
    table = load_landmark_csv(f"landmarks/{name}.csv")
    palm = table[table["label"].isin(["B", "F", "V", "W"])]
    sign = np.where(palm["handedness"] == "Left", -1.0, 1.0)
    assert len(palm) > 100 and ((palm["x5"] - palm["x17"]).to_numpy() * sign > 0).mean() > 0.95


def test_landmark_csv_frame_size_is_estimated_from_the_rows(tmp_path: Path) -> None:
    # Neither CSV stores its frame size; the palm's geometry gives 16:9 and 4:3 webcams.
    boris = load_landmark_csv("landmarks/borisgraudt_raw_gestures.csv")
    nejohnson = load_landmark_csv("landmarks/nejohnson2_wrist_relative.csv")
    assert (boris[["image_width", "image_height"]] == [1280, 720]).all().all()
    assert (nejohnson[["image_width", "image_height"]] == [640, 480]).all().all()
    given = load_landmark_csv("landmarks/nejohnson2_wrist_relative.csv", frame_size=(1920, 1080))
    assert (given[["image_width", "image_height"]] == [1920, 1080]).all().all()
    # Too few rows to estimate from: the size stays unknown.
    lines = (data_root() / "landmarks" / "borisgraudt_raw_gestures.csv").read_text().splitlines()
    small = tmp_path / "small.csv"
    small.write_text("\n".join(lines[:MIN_ROWS_TO_ESTIMATE]) + "\n")
    assert load_landmark_csv(small)["image_width"].isna().all()
    for bad in [(640,), (640, 0), (640.5, 480), "640x480", (True, True), (float("inf"), 480), {"w": 1, "h": 2}]:
        with pytest.raises(ValueError, match="frame_size must be \\(width, height\\), two positive integers"):
            load_landmark_csv(small, frame_size=bad)


def test_landmark_csv_wrong_layout(tmp_path: Path) -> None:
    path = tmp_path / "lm.csv"
    path.write_text("letter,x,y\nA,1,2\n")
    with pytest.raises(DatasetError, match="unknown landmark CSV layout: expected"):
        load_landmark_csv(path)


def test_landmark_table_columns_match_extraction_contract() -> None:
    from landmark_asl.data.table import TABLE_COLUMNS

    assert LANDMARK_TABLE_COLUMNS == TABLE_COLUMNS
