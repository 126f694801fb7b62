"""Splits: train/test assignments made once (random, by group, cross-dataset), written to a file every model reads."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from landmark_asl._util import atomic_write, atomic_write_text, file_sha256
from landmark_asl.data.datasets import MANIFEST_COLUMNS
from landmark_asl.exceptions import DatasetError

__all__ = ["MANIFEST_COLUMNS", "apply_split", "make_cross_dataset_split", "make_split", "read_split", "write_split"]


def _check_manifest(manifest: pd.DataFrame) -> None:
    missing = [c for c in ("sample_id", "label", "group") if c not in manifest.columns]
    if missing:
        raise DatasetError(
            f"manifest lacks columns {missing}: expected {list(MANIFEST_COLUMNS)}; "
            f"found {list(manifest.columns)}; build it with load_manifest()"
        )
    if manifest.empty:
        raise DatasetError("manifest is empty: nothing to split")


def _remove_leaks(split: pd.DataFrame, info: dict) -> pd.DataFrame:
    """Drop test rows whose sample_id also appears in train (byte-identical files)."""
    train_ids = set(split.loc[split["split"] == "train", "sample_id"])
    leak = (split["split"] == "test") & split["sample_id"].isin(train_ids)
    info["n_test_removed_as_in_train"] = int(leak.sum())
    if leak.any():
        warnings.warn(
            f"removed {int(leak.sum())} test sample(s) whose content is identical to a training sample",
            stacklevel=3,
        )
    out = split.loc[~leak].drop_duplicates(["sample_id", "split"]).reset_index(drop=True)
    info["counts"] = {k: int(v) for k, v in out["split"].value_counts().sort_index().items()}
    out.attrs = info
    return out


def make_split(
    manifest: pd.DataFrame,
    mode: str = "random",
    *,
    test_size: float = 0.2,
    random_state: int = 0,
    test_groups: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Split one manifest into train and test, once, to be written with :func:`write_split`.

    Parameters
    ----------
    manifest : DataFrame
        From :func:`load_manifest`; byte-identical rows count as one sample.
    mode : {"random", "group"}
        ``"random"``: stratified by label (overstates accuracy on video frames).
        ``"group"``: whole signers/sessions go to test, ``test_groups`` if given (e.g.
        ``["massey/hand5"]``, leave-one-signer-out) else drawn like ``GroupShuffleSplit``.
    test_size : float, default 0.2
        Fraction of samples (random) or of groups (group, without ``test_groups``).
    random_state : int, default 0
    test_groups : sequence of str, optional
        Groups that form the test set (``mode="group"`` only).

    Returns
    -------
    DataFrame of shape (n_unique_samples, 2)
        Columns ``sample_id, split`` (``"train"``/``"test"``); ``.attrs`` holds mode,
        seed, sources, counts for :func:`write_split`.

    Raises
    ------
    DatasetError
        Unknown mode, unknown test groups, fewer than two groups, or an empty side.
    """

    _check_manifest(manifest)
    integral = isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool)
    if not ((integral and test_size >= 1) or (not integral and isinstance(test_size, (float, np.floating)) and 0 < test_size < 1)):
        raise DatasetError(
            f"test_size must be a fraction strictly between 0 and 1, or a count >= 1; got {test_size!r}"
        )
    info = {"mode": mode, "seed": random_state, "test_size": test_size,
            "sources": list(manifest.attrs.get("sources", sorted(manifest["dataset"].unique())))}
    unique = manifest.drop_duplicates("sample_id")
    if isinstance(test_groups, str):
        test_groups = [test_groups]
    if test_groups is not None and mode != "group":
        raise DatasetError(f"test_groups={test_groups!r} needs mode='group'; got mode={mode!r}")
    if mode == "random":
        # Stratify when every label can go to both sides; else say so in the sidecar.
        n_test = test_size if test_size >= 1 else int(np.ceil(test_size * len(unique)))
        counts = unique["label"].value_counts()
        info["stratified"] = bool(counts.min() >= 2 and len(counts) <= n_test <= len(unique) - len(counts))
        _, test = train_test_split(unique, test_size=test_size, random_state=random_state,
                                   stratify=unique["label"] if info["stratified"] else None)
        is_test = unique["sample_id"].isin(test["sample_id"])
        split = pd.DataFrame({"sample_id": unique["sample_id"], "split": np.where(is_test, "test", "train")})
        return _remove_leaks(split.reset_index(drop=True), info)
    if mode != "group":
        raise DatasetError(f"unknown split mode {mode!r}: expected 'random' or 'group'")
    groups = sorted(manifest["group"].unique())
    if test_groups is not None:
        unknown = sorted(set(test_groups) - set(groups))
        if unknown:
            raise DatasetError(f"test_groups {unknown} not in the manifest: expected some of {groups}")
        chosen = set(test_groups)
    elif len(groups) < 2:
        raise DatasetError(
            f"a group split needs at least 2 groups; found {groups}: use mode='random' or a cross-dataset split"
        )
    else:
        gss = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=random_state)
        _, test_idx = next(gss.split(manifest, groups=manifest["group"]))
        chosen = set(manifest["group"].iloc[test_idx])
    info["test_groups"] = sorted(chosen)
    is_test = manifest["group"].isin(chosen)
    if is_test.all() or not is_test.any():
        raise DatasetError(f"group split left one side empty (test groups {sorted(chosen)} of {groups})")
    split = pd.DataFrame({"sample_id": manifest["sample_id"], "split": np.where(is_test, "test", "train")})
    return _remove_leaks(split.reset_index(drop=True), info)


def make_cross_dataset_split(
    train_manifest: pd.DataFrame, test_manifest: pd.DataFrame
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Train on one manifest, test on another, over the labels both hold.

    Test samples byte-identical to a training sample are removed (count in
    ``.attrs["n_test_removed_as_in_train"]``, with a warning).

    Parameters
    ----------
    train_manifest, test_manifest : DataFrame
        From :func:`load_manifest`.

    Returns
    -------
    split : DataFrame of shape (n_samples, 2)
        ``sample_id, split``; ``.attrs`` holds mode, sources, classes, dropped labels, counts.
    classes_kept : list of str
        Sorted labels present in both.
    dropped : list of str
        Sorted labels present in only one of them (their samples are left out).

    Raises
    ------
    DatasetError
        If the two manifests share no label.
    """
    _check_manifest(train_manifest)
    _check_manifest(test_manifest)
    train_labels, test_labels = set(train_manifest["label"]), set(test_manifest["label"])
    kept = sorted(train_labels & test_labels)
    if not kept:
        raise DatasetError(
            f"no label in common: train has {sorted(train_labels)}, test has {sorted(test_labels)}"
        )
    dropped = sorted(train_labels ^ test_labels)
    parts = [
        pd.DataFrame({"sample_id": m.loc[m["label"].isin(kept), "sample_id"], "split": name})
        for m, name in ((train_manifest, "train"), (test_manifest, "test"))
    ]
    info = {
        "mode": "cross_dataset",
        "seed": None,
        "sources": {
            "train": list(train_manifest.attrs.get("sources", sorted(train_manifest["dataset"].unique()))),
            "test": list(test_manifest.attrs.get("sources", sorted(test_manifest["dataset"].unique()))),
        },
        "classes": kept,
        "dropped_labels": {"train_only": sorted(train_labels - test_labels),
                           "test_only": sorted(test_labels - train_labels)},
    }
    split = _remove_leaks(pd.concat(parts, ignore_index=True), info)
    return split, kept, dropped


def apply_split(manifest: pd.DataFrame, split: pd.DataFrame) -> pd.DataFrame:
    """Set a manifest's ``split`` column from a split table; rows the split leaves out are dropped.

    Use this rather than ``manifest.merge(split)``: both have a ``split`` column, so a plain
    merge would join on it too.

    Returns
    -------
    DataFrame
        The manifest rows whose ``sample_id`` the split names, with its ``split`` value.
    """
    mapping = split.drop_duplicates("sample_id").set_index("sample_id")["split"]
    out = manifest.assign(split=manifest["sample_id"].map(mapping))
    out = out[out["split"].notna()].reset_index(drop=True)
    if out.empty:
        raise DatasetError("the split names none of the manifest's sample_ids: was it made from another manifest?")
    return out


def write_split(split: pd.DataFrame, path: str | os.PathLike, *, metadata: dict | None = None) -> Path:
    """Write a split as CSV (``sample_id,split``) plus a JSON sidecar ``<path>.json``.

    The sidecar holds ``split.attrs`` (mode, seed, sources, counts), ``metadata`` and the
    CSV's SHA-256, so every model trained on it can record which split it used.

    Returns
    -------
    Path
        The CSV path.
    """
    path = Path(path)
    if list(split.columns) != ["sample_id", "split"]:
        raise DatasetError(f"a split has columns ['sample_id', 'split']; found {list(split.columns)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: split.to_csv(tmp, index=False))
    sidecar = {**split.attrs, **(metadata or {}), "n_samples": len(split), "sha256": file_sha256(path)}
    sidecar.setdefault("counts", {k: int(v) for k, v in split["split"].value_counts().sort_index().items()})
    atomic_write_text(f"{path}.json", json.dumps(sidecar, indent=2, default=str) + "\n")
    return path


def read_split(path: str | os.PathLike) -> pd.DataFrame:
    """Read a split written by :func:`write_split`; ``.attrs`` gets the sidecar (if present).

    Returns
    -------
    DataFrame of shape (n_samples, 2)
        Columns ``sample_id, split`` (strings).

    Raises
    ------
    DatasetError
        Missing file, wrong columns, split values other than train/test, repeated ids.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"split file {path} not found: create one with make_split + write_split")
    try:
        split = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (UnicodeDecodeError, ValueError, OSError) as exc:  # ParserError and EmptyDataError are ValueErrors
        raise DatasetError(f"cannot read split file {path}: {str(exc).splitlines()[0][:160]}; expected a CSV with the "
                           "columns sample_id,split written by compare or write_split") from exc
    if list(split.columns) != ["sample_id", "split"]:
        raise DatasetError(f"{path}: expected columns ['sample_id', 'split']; found {list(split.columns)}")
    bad = sorted(set(split["split"]) - {"train", "test"})
    if bad:
        raise DatasetError(f"{path}: split values must be 'train' or 'test'; found {bad}")
    if split.duplicated().any() or split["sample_id"].duplicated().any():
        raise DatasetError(f"{path}: a sample_id appears more than once; regenerate the split")
    sidecar = Path(f"{path}.json")
    if sidecar.is_file():
        split.attrs = json.loads(sidecar.read_text())
    return split
