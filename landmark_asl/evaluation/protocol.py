"""The leave-one-source-out dev protocol's data: its sources, the folds they are cut into, and their rows.

Each fold holds out one source with its own signers or camera: asl2text/train and asl2text/test
(two recording sessions), massey's five signers (``hand1`` .. ``hand5``), ml_slr's seven signers
(``user_3`` .. ``user_10``), the nejohnson2 and borisgraudt landmark CSVs and
asl_alphabet_64/test. Classes: :data:`LABELS` (massey's digits are left out). The
benchmarks, the experiments and ``tools/train_default.py`` read the protocol from here; defaults
are chosen on it, never on the cross-dataset figures.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from landmark_asl.data.datasets import data_root, load_landmark_csv
from landmark_asl.data.landmark_cache import load_landmarks
from landmark_asl.exceptions import DatasetError
from landmark_asl.training.recipe import DEFAULT_LABELS

#: Image sources, read through the landmark cache (extracted on first use).
IMAGE_SOURCES: tuple[str, ...] = ("asl2text/train", "asl2text/test", "massey", "ml_slr", "asl_alphabet_64/test")
#: Landmark CSV sources, under the data root.
CSV_SOURCES: tuple[str, ...] = ("landmarks/nejohnson2_wrist_relative.csv", "landmarks/borisgraudt_raw_gestures.csv")
#: Folds whose landmarks are poor for a known reason: reported apart, not in the mean.
APART: dict[str, str] = {"asl_alphabet_64/test": "64x64 pixels: poor landmarks"}
#: The protocol's classes (the shipped model's).
LABELS: tuple[str, ...] = DEFAULT_LABELS


def load_table(cache_dir: str | os.PathLike | None = None, n_jobs: int = 1) -> pd.DataFrame:
    """Every row of the protocol's sources with a letter label (with or without a hand).

    Parameters
    ----------
    cache_dir : path, optional
        Landmark cache folder (default: the per-user cache, ``landmark_asl.paths``).
    n_jobs : int
        Extraction processes for a source not yet in the cache.

    Returns
    -------
    DataFrame
        Landmark-table rows; the ``group`` column names the held-out fold of each row
        (``asl2text/train``, ``massey/hand1`` .. ``hand5``, ``ml_slr/user_3`` .. ``user_10``,
        ``nejohnson2``, ``borisgraudt``, ``asl_alphabet_64/test``, ...).
    """
    parts = [load_landmarks([source], cache_dir=cache_dir, n_jobs=n_jobs, progress=False)[0]
             for source in IMAGE_SOURCES]
    parts += [load_landmark_csv(data_root() / source) for source in CSV_SOURCES]
    rows = pd.concat(parts, ignore_index=True)
    return rows[rows["label"].isin(LABELS)].reset_index(drop=True)


def load_folds(cache_dir: str | os.PathLike | None = None, n_jobs: int = 1) -> pd.DataFrame:
    """The rows of :func:`load_table` with a hand, with a ``fold`` column (their group)."""
    rows = load_table(cache_dir, n_jobs)
    rows = rows[rows["detected"].astype(bool)].reset_index(drop=True)
    rows["fold"] = rows["group"]
    return rows


def load_views(folder: str | os.PathLike, names: Sequence[str]) -> pd.DataFrame:
    """The views ``names`` of the protocol's photos, as written into ``folder`` by ``experiments/extract_views.py``.

    Raises
    ------
    DatasetError
        If ``folder`` holds no ``*.parquet`` file.
    """
    paths = sorted(Path(folder).glob("*.parquet"))
    if not paths:
        raise DatasetError(f"no views in {folder}: write them first (experiments/extract_views.py --output {folder})")
    views = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
    return views[views["view"].isin(list(names))].reset_index(drop=True)
