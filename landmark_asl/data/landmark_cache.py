"""The landmark cache: each source's landmark table extracted once into a cache folder and reused by train and compare."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import sys
import time
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd

from landmark_asl.data import (
    datasets,  # CSV_LOADER_VERSION read at call time (a test bumps it)
    extraction,  # LOADER_VERSION read at call time (a test bumps it)
)
from landmark_asl.data.datasets import check_image_source, data_root, resolve_source
from landmark_asl.data.extraction import extract_table
from landmark_asl.data.table import read_table
from landmark_asl.exceptions import LandmarkASLError, LockedError
from landmark_asl.hands.settings import ExtractorSettings
from landmark_asl.paths import CACHE_ENV, landmark_cache_dir


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[-60:] or "source"


def is_table_file(path: Path) -> bool:
    """Whether ``path`` is a landmark table written by extraction (not a dataset)."""
    if path.suffix.lower() == ".parquet":
        return True
    if path.suffix.lower() == ".csv":
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.startswith("#"):
                    header = {c.strip() for c in line.split(",")}
                    return {"sample_id", "detected"} <= header
    return False


def landmark_cache_path(source: str | Path, cache_dir: str | Path, settings: Any = None) -> Path:
    """Where the landmark table of one source is cached.

    The file name holds the source's path and a hash of the resolved path, the extractor
    settings, :data:`~landmark_asl.data.extraction.LOADER_VERSION` and the mediapipe version (and,
    for a landmark CSV, :data:`~landmark_asl.data.datasets.CSV_LOADER_VERSION`), so
    that changed settings or loader code never reuse stale landmarks. Inside one cache file,
    rows follow the folder (see :func:`~landmark_asl.data.extraction.extract_table`): deleted files
    disappear, moved ones get their new label, changed ones are extracted again.
    """

    resolved = resolve_source(source).resolve()
    root = data_root(required=False)
    try:
        name = str(resolved.relative_to(root.resolve())) if root is not None else str(resolved)
    except ValueError:
        name = str(resolved)
    settings_dict = dataclasses.asdict(settings) if dataclasses.is_dataclass(settings) else {}
    key = [str(resolved), settings_dict, extraction.LOADER_VERSION, version("mediapipe")]
    if resolved.suffix.lower() == ".csv":  # a landmark CSV's rows come from load_landmark_csv, not from MediaPipe
        key.append(["csv", datasets.CSV_LOADER_VERSION])
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    return Path(cache_dir) / f"{_slug(name)}-{digest}.parquet"


def load_landmarks(
    sources: Sequence[str | Path],
    *,
    cache_dir: str | Path | None = None,
    settings: Any = None,
    n_jobs: int = 1,
    progress: bool = True,
    scheduler: Any = None,
    keep_duplicates: bool = False,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Landmark table of some sources, extracted once into ``cache_dir`` and reused.

    Parameters
    ----------
    sources : sequence of str or Path
        Dataset names or paths (extracted, resuming a partial cache file), or landmark
        tables written by ``landmark-asl extract`` (``.parquet``, or CSV with sidecar),
        read as they are.
    cache_dir : str, Path or None
        Folder of the cached tables (one Parquet file per source and settings); None: the
        per-user cache (:func:`landmark_asl.paths.landmark_cache_dir`).
    settings : ExtractorSettings, optional
        Extractor settings (default ``ExtractorSettings()``).
    n_jobs : int
        Extraction worker processes.
    progress : bool
        Show extraction progress on stderr.
    scheduler : str or dask.distributed.Client, optional
        Extract on this Dask cluster (see :func:`landmark_asl.data.extraction.extract_table`).
    keep_duplicates : bool
        Keep every row, even where sample ids repeat (a user's samples: ``collect`` numbers
        each file's ids from 0, and a hand-made table may have none); the caller makes them unique.

    Returns
    -------
    table : DataFrame of shape (n_samples, len(TABLE_COLUMNS))
        One row per sample id (duplicates across sources keep the first), unless ``keep_duplicates``.
    metadata : dict
        ``tables`` (source -> cache path) and ``extractor_settings`` (ExtractorSettings of the
        last table read).
    """

    cache_dir = landmark_cache_dir() if cache_dir is None else Path(cache_dir)
    settings = settings or ExtractorSettings()
    tables, paths, extractor_settings = [], {}, settings
    for source in sources:
        resolved = resolve_source(source)
        if resolved.is_file() and is_table_file(resolved):
            path = resolved
        else:
            check_image_source(resolved)  # before the log line below names a cache file for it
            path = landmark_cache_path(source, cache_dir, settings)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LandmarkASLError(
                    f"cannot use the landmark cache {cache_dir}: {exc.strerror or exc}; set {CACHE_ENV} (or pass "
                    "cache_dir=) to a writable folder"
                ) from exc
            log(progress, f"landmarks of {source} -> {path}")
            _extract_when_free(resolved, path, settings=settings, n_jobs=n_jobs, progress=progress,
                               scheduler=scheduler)
        table, meta = read_table(path)
        if "settings" in meta:
            extractor_settings = ExtractorSettings.from_dict(meta["settings"])
        tables.append(table)
        paths[str(source)] = str(path)
    table = pd.concat(tables, ignore_index=True)
    if not keep_duplicates:
        table = table.drop_duplicates("sample_id", keep="first")
    return table.reset_index(drop=True), {"tables": paths, "extractor_settings": extractor_settings}


#: Seconds a command waits for another process that is filling the same cache table (every
#: command, the server and adapt share one per-user cache) before it gives up.
CACHE_WAIT_S = 1800.0


def _extract_when_free(resolved: Path, path: Path, **kwargs: Any) -> None:
    """Fill (or resume) the cache table ``path``; while another process fills it, wait for it, then read."""

    deadline = time.monotonic() + CACHE_WAIT_S
    told = False
    while True:
        try:
            extract_table([resolved], path, **kwargs)
            return
        except LockedError as exc:
            if time.monotonic() >= deadline:
                raise LockedError(f"{exc} (waited {CACHE_WAIT_S:.0f} s for the landmark cache)") from None
            if not told:
                log(True, f"waiting: another process is filling the landmark cache {path.name}")
                told = True
            time.sleep(1.0)


def log(enabled: bool, message: str) -> None:
    if enabled:
        print(message, file=sys.stderr, flush=True)
