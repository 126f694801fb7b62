"""The landmark table format: one row per sample (manifest columns, the extraction outcome, 126 landmark columns), read and written as Parquet or CSV with its metadata."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from landmark_asl._util import atomic_write, load_json
from landmark_asl.data.datasets import MANIFEST_COLUMNS, check_finite
from landmark_asl.exceptions import DatasetError
from landmark_asl.hands.landmarks import IMAGE_COLUMNS, WORLD_COLUMNS
from landmark_asl.labels import normalize_label

#: Columns describing the outcome of extraction for one sample.
RESULT_COLUMNS: tuple[str, ...] = (
    "detected",
    "reason",
    "strategy",
    "handedness",
    "handedness_score",
    "image_width",
    "image_height",
)
#: Columns of a landmark table, in order.
TABLE_COLUMNS: tuple[str, ...] = MANIFEST_COLUMNS + RESULT_COLUMNS + IMAGE_COLUMNS + WORLD_COLUMNS
#: Parquet schema metadata key (and CSV sidecar content) holding the table's metadata JSON.
METADATA_KEY = b"landmark_asl"
TABLE_FORMAT = "landmark_asl.landmark_table"
TABLE_FORMAT_VERSION = 1
#: The 126 landmark columns (63 image, 63 world).
LANDMARK_COLUMNS = IMAGE_COLUMNS + WORLD_COLUMNS


# --- table input / output ------------------------------------------------------------------------


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".meta.json")


def is_csv(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


def write_parquet(table, path: Path, metadata: dict) -> None:
    """Write a DataFrame or ``pyarrow.Table`` atomically, with ``metadata`` in the schema."""

    arrow = table if isinstance(table, pa.Table) else pa.Table.from_pandas(table, preserve_index=False)
    schema_meta = dict(arrow.schema.metadata or {})
    schema_meta[METADATA_KEY] = json.dumps(metadata).encode()
    arrow = arrow.replace_schema_metadata(schema_meta)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:  # opened here: pyarrow cannot open a name that is not valid UTF-8
            pq.write_table(arrow, handle)

    atomic_write(path, write)


def write_table(table: pd.DataFrame, path: str | os.PathLike, metadata: dict) -> Path:
    """Write a landmark table atomically: Parquet with metadata in the schema, or CSV + ``.meta.json``.

    Parameters
    ----------
    table : DataFrame of shape (n_samples, len(TABLE_COLUMNS))
        The rows.
    path : str or path-like
        ``*.csv`` writes CSV and a ``<file>.meta.json`` sidecar; anything else writes Parquet.
    metadata : dict
        JSON-serialisable metadata (settings, versions, sources ...).

    Returns
    -------
    Path
        The written table.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if is_csv(path):
        sidecar = _sidecar(path)
        atomic_write(sidecar, lambda tmp: tmp.write_text(json.dumps(metadata, indent=2)))
        atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))
    else:
        write_parquet(table, path, metadata)
    return path


def read_table(path: str | os.PathLike) -> tuple[pd.DataFrame, dict]:
    """Read a landmark table written by :func:`extract_table`.

    Parameters
    ----------
    path : str or path-like
        A ``.parquet`` table, or a ``.csv`` table with its ``<file>.meta.json`` sidecar.

    Returns
    -------
    table : DataFrame of shape (n_samples, len(TABLE_COLUMNS))
        Columns :data:`TABLE_COLUMNS`; landmark columns are NaN where no hand was found.
    metadata : dict
        Extractor settings, package versions, sources, format version.

    Raises
    ------
    DatasetError
        Missing or unreadable file, missing columns, or an unknown format version.
    """
    path = Path(path)
    if path.is_dir():
        raise DatasetError(f"{path} is a folder, not a landmark table: expected a .parquet or .csv file written by "
                           "`landmark-asl extract` or `landmark-asl collect`")
    if path.exists() and not path.is_file():
        raise DatasetError(f"{path} is not a regular file (a device, pipe or socket): expected a landmark table")
    if not path.is_file():
        raise DatasetError(f"landmark table not found: {path}; create it with `landmark-asl extract`")
    try:
        # Opened here, not by name: pyarrow cannot open a name that is not valid UTF-8.
        if is_csv(path):
            with path.open("rb") as handle:
                table = pd.read_csv(handle, keep_default_na=False, na_values={c: [""] for c in LANDMARK_COLUMNS + ("handedness_score",)})
            sidecar = _sidecar(path)
            metadata = load_json(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else {}
        else:
            import pyarrow.parquet as pq

            with path.open("rb") as handle:
                arrow = pq.read_table(handle)
            raw = (arrow.schema.metadata or {}).get(METADATA_KEY)
            metadata = load_json(raw) if raw else {}
            table = arrow.to_pandas()
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read landmark table {path}: {exc}") from exc
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise DatasetError(
            f"{path} is not a landmark table: missing columns {missing[:5]}"
            f"{' ...' if len(missing) > 5 else ''}; expected the columns of extraction.TABLE_COLUMNS"
        )
    version = metadata.get("format_version", TABLE_FORMAT_VERSION)
    if version != TABLE_FORMAT_VERSION:
        raise DatasetError(
            f"{path} has landmark table format version {version}; this landmark_asl reads "
            f"version {TABLE_FORMAT_VERSION}: re-run `landmark-asl extract`"
        )
    for column in ("sample_id", "source", "dataset", "label", "group", "split", "reason", "strategy", "handedness"):
        table[column] = table[column].fillna("").astype(str)
    table["detected"] = table["detected"].astype(bool)
    _check_numeric(table, path)
    _check_rows(table, path)
    return table[list(TABLE_COLUMNS)], metadata


def _check_numeric(table: pd.DataFrame, path: Path) -> None:
    """Landmark columns hold numbers (or nothing): text in one is named by row and column, in place of a later traceback."""
    for column in LANDMARK_COLUMNS + ("handedness_score",):
        if pd.api.types.is_numeric_dtype(table[column]):
            continue
        values = pd.to_numeric(table[column], errors="coerce")
        text = table[column].astype(str)
        bad = (values.isna() & table[column].notna() & ~text.isin(["", "nan", "NaN", "None"])).to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DatasetError(f"{path}: row {row}, column {column}: {text.iloc[row][:40]!r} is not a number; "
                               "the landmark columns hold numbers")
        table[column] = values.astype(np.float32)


def _check_rows(table: pd.DataFrame, path: Path) -> None:
    """Labels through the one vocabulary; finite image landmarks on every row marked detected."""
    labels = {}
    for label in table["label"].unique():
        try:
            labels[label] = normalize_label(label)
        except DatasetError as exc:
            row = int(np.flatnonzero(table["label"].to_numpy() == label)[0])
            raise DatasetError(f"{path}: row {row}: {exc}") from None
    table["label"] = table["label"].map(labels)
    detected = table.loc[table["detected"], list(IMAGE_COLUMNS)]
    if len(detected):
        try:
            check_finite(detected.to_numpy(np.float64), list(IMAGE_COLUMNS), where=str(path),
                         rows=np.flatnonzero(table["detected"].to_numpy()))
        except DatasetError as exc:
            raise DatasetError(f"{exc}; a row marked detected needs all 63 image landmarks") from None


# --- rows ------------------------------------------------------------------------------------------


def _empty_results(n: int) -> dict[str, np.ndarray]:
    columns: dict[str, np.ndarray] = {
        "detected": np.zeros(n, dtype=bool),
        "reason": np.full(n, "", dtype=object),
        "strategy": np.full(n, "", dtype=object),
        "handedness": np.full(n, "", dtype=object),
        "handedness_score": np.full(n, np.nan, dtype=np.float32),
        "image_width": np.zeros(n, dtype=np.int32),
        "image_height": np.zeros(n, dtype=np.int32),
    }
    landmarks = np.full((n, len(LANDMARK_COLUMNS)), np.nan, dtype=np.float32)
    return columns, landmarks


def extract_batch(extractor, read_sample, batch: pd.DataFrame):
    """Extract every sample of ``batch`` (manifest rows) into a ``pyarrow.Table`` of :data:`TABLE_COLUMNS`.

    Decoding errors become reasons. Built straight from NumPy arrays: going through a
    139-column DataFrame cost more per batch than the pipeline's whole budget.
    """

    columns, landmarks = _empty_results(len(batch))
    for i, source in enumerate(batch["source"]):
        try:
            rgb = read_sample(source)
        except DatasetError as exc:
            columns["reason"][i] = f"cannot decode image: {exc}"
            continue
        columns["image_height"][i], columns["image_width"][i] = rgb.shape[:2]
        detection = extractor.extract(rgb)
        columns["reason"][i] = detection.reason
        if detection.landmarks is not None:
            hand = detection.landmarks
            columns["detected"][i] = True
            columns["strategy"][i] = detection.strategy
            columns["handedness"][i] = hand.handedness
            columns["handedness_score"][i] = hand.handedness_score
            landmarks[i, :63] = hand.image.ravel()
            landmarks[i, 63:] = hand.world.ravel()
    arrays = [pa.array(batch[name].to_numpy(dtype=object), pa.string()) for name in MANIFEST_COLUMNS]
    for values in columns.values():
        arrays.append(pa.array(values, pa.string()) if values.dtype == object else pa.array(values))
    arrays += [pa.array(column) for column in np.ascontiguousarray(landmarks.T)]
    return pa.Table.from_arrays(arrays, names=list(TABLE_COLUMNS))


# --- summary ---------------------------------------------------------------------------------------


def coverage_summary(table: pd.DataFrame) -> dict:
    """Coverage of a landmark table overall, per dataset, per label, per strategy and per reason.

    Parameters
    ----------
    table : DataFrame
        Rows with at least ``dataset``, ``label``, ``detected``, ``strategy`` and ``reason``.

    Returns
    -------
    dict
        ``n_samples``, ``n_detected``, ``coverage``; ``per_dataset`` and ``per_class``
        (name -> {``n``, ``detected``, ``coverage``}); ``strategies`` (name -> count of
        detections); ``reasons`` (first words of the reason -> count of misses).
    """

    def block(frame: pd.DataFrame) -> dict:
        n, hit = len(frame), int(frame["detected"].sum())
        return {"n": n, "detected": hit, "coverage": round(hit / n, 4) if n else 0.0}

    reasons = table.loc[~table["detected"], "reason"].map(lambda r: r.split(":")[0])
    return {
        "n_samples": len(table),
        "n_detected": int(table["detected"].sum()),
        "coverage": block(table)["coverage"],
        "per_dataset": {str(k): block(g) for k, g in table.groupby("dataset", sort=True)},
        "per_class": {str(k): block(g) for k, g in table.groupby("label", sort=True)},
        "strategies": {str(k): int(v) for k, v in table.loc[table["detected"], "strategy"].value_counts().sort_index().items()},
        "reasons": {str(k): int(v) for k, v in reasons.value_counts().sort_index().items()},
    }
