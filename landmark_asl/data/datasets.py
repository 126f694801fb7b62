"""Dataset loading: image folders, Sign Language MNIST CSVs and landmark CSVs into one manifest (labels via ``labels.py``)."""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from landmark_asl.exceptions import DatasetError
from landmark_asl.hands.images import IMAGE_SUFFIXES, has_surrogates, printable_path, read_image
from landmark_asl.hands.landmarks import (
    COMMON_ASPECTS,
    COMMON_FRAME_SIZES,
    IMAGE_COLUMNS,
    WORLD_COLUMNS,
    estimate_frame_aspect,
)
from landmark_asl.labels import LETTERS, normalize_label
from landmark_asl.paths import DATA_ENV, data_root  # noqa: F401  (re-exported: datasets.data_root)

#: Columns of every manifest, in this order.
MANIFEST_COLUMNS: tuple[str, ...] = ("sample_id", "source", "dataset", "label", "group", "split")
#: Columns of the ``rejected`` table returned next to a manifest.
REJECTED_COLUMNS: tuple[str, ...] = ("source", "reason")
#: Folder names that say which split a folder holds (name -> split value).
SPLIT_FOLDERS = {"train": "train", "test": "test", "official_test": "test"}
SIGN_MNIST_COLUMNS: tuple[str, ...] = ("label",) + tuple(f"pixel{i}" for i in range(1, 785))
#: Sign Language MNIST label index -> letter; 9 (J) and 25 (Z) are motion signs the set leaves out.
SIGN_MNIST_INVALID = frozenset({9, 25})
_HAND_RE = re.compile(r"^(hand\d+)_", re.IGNORECASE)
# A folder that names one signer inside a dataset (ml_slr/user_3/<LABEL>/...): the group.
_SIGNER_FOLDER_RE = re.compile(r"^(user|signer|subject|person)[_-]?\d+$", re.IGNORECASE)
_OFFICIAL_TEST_RE = re.compile(r"^(.+)_test$", re.IGNORECASE)
_MAX_DEPTH = 3


def resolve_source(source: str | os.PathLike) -> Path:
    """Find a dataset: an existing path as given, else a name under :func:`data_root`.

    ``"asl2text/train"``, ``"massey"`` and ``"/abs/folder"`` all work. Raises
    DatasetError naming both places tried when neither exists.
    """
    path = Path(source).expanduser()
    if path.exists():
        return path
    root = data_root(required=False)
    if root is None:
        raise DatasetError(
            f"dataset {str(source)!r} not found at {path.resolve()}, and there is no data folder to look it up in: "
            f"set {DATA_ENV} to the folder holding the datasets, or pass an existing folder/CSV"
        )
    under_root = root / path
    if not path.is_absolute() and under_root.exists():
        return under_root
    raise DatasetError(
        f"dataset {str(source)!r} not found: looked at {path.resolve()} and {under_root}; "
        f"pass an existing folder/CSV or a name under the data root (set ${DATA_ENV})"
    )


def source_record(source: str | os.PathLike) -> str:
    """How a model card records a training source: its name under :func:`data_root` when it lies
    there (portable: ``asl2text/train``), else its absolute path (a relative path given in one folder
    must not name another file when the card is read elsewhere); a source not found, as given."""
    try:
        path = resolve_source(source)
    except DatasetError:
        return str(source)
    name = _relative_name(path)
    return name if name != str(path) else str(path.resolve())


def _relative_name(path: Path) -> str:
    """A source as a name under data_root() when it lies there (portable metadata), else the path."""
    root = data_root(required=False)
    try:
        return path.resolve().relative_to(root.resolve()).as_posix() if root is not None else str(path)
    except ValueError:
        return str(path)


def _sha1_16(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()[:16]


def _names(folder: Path) -> tuple[str, str, str]:
    """(dataset, split, group prefix) of a folder from its name and its parent's name."""
    name = folder.name
    split = SPLIT_FOLDERS.get(name.lower(), "")
    if split:
        return folder.parent.name, split, f"{folder.parent.name}/{name}"
    if name.lower().endswith("_official_test"):
        dataset = name[: -len("_official_test")]
        return dataset, "test", f"{dataset}/official_test"
    if _SIGNER_FOLDER_RE.match(name):  # one signer of a dataset: the parent is the dataset
        return folder.parent.name, "", f"{folder.parent.name}/{name}"
    return name, "", name


def _is_label(name: str) -> bool:
    try:
        normalize_label(name)
    except DatasetError:
        return False
    return True


class _Collector:
    """Accumulates manifest rows and rejected files for :func:`load_manifest`."""

    def __init__(self, skip_bad: bool) -> None:
        self.skip_bad = skip_bad
        self.rows: list[tuple[str, ...]] = []
        self.rejected: list[tuple[str, str]] = []

    def reject(self, source: Path | str, reason: str) -> None:
        if not self.skip_bad:
            raise DatasetError(f"{source}: {reason} (pass skip_bad=True to record and skip it)")
        self.rejected.append((str(source), reason))

    def add_file(self, file: Path, label: str, dataset: str, group: str, split: str) -> None:
        if has_surrogates(str(file)):  # a row must be storable and printable: record it instead
            self.reject(printable_path(file), "file name is not valid UTF-8: rename the file to read it")
            return
        if file.suffix.lower() == ".gif":
            self.reject(file, "a GIF is not read (it may be animated): play it with `landmark-asl live --source`, "
                              "or save a frame as PNG")
            return
        if file.suffix.lower() not in IMAGE_SUFFIXES:
            self.reject(file, f"not an image file: expected {sorted(IMAGE_SUFFIXES)}, found {file.suffix!r}")
            return
        try:
            data = file.read_bytes()
        except OSError as exc:
            self.reject(file, f"cannot read: {exc}")
            return
        if not data:
            self.reject(file, "empty file (0 bytes)")
            return
        hand = _HAND_RE.match(file.name)
        if hand:  # massey: the file name names the signer
            group = f"{dataset}/{hand.group(1).lower()}"
        self.rows.append((_sha1_16(data), str(file), dataset, label, group, split))

    def add_class_folders(self, folder: Path) -> None:
        dataset, split, group = _names(folder)
        for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            try:
                label = normalize_label(class_dir.name)
            except DatasetError as exc:
                self.reject(class_dir, f"class folder name is not a label: {exc}")
                continue
            for file in sorted(class_dir.iterdir()):
                if file.is_file():
                    self.add_file(file, label, dataset, group, split)
                elif file.is_dir():
                    for nested in sorted(p for p in file.rglob("*") if p.is_file()):
                        self.reject(
                            printable_path(nested),
                            f"in a subfolder of class folder {class_dir.name!r}: not read (an image's label is "
                            "the folder that holds it directly); move it up, or pass the subfolder as a source",
                        )

    def add_flat_folder(self, folder: Path) -> None:
        dataset, split, group = _names(folder)
        for file in sorted(p for p in folder.iterdir() if p.is_file()):
            match = _OFFICIAL_TEST_RE.match(file.stem)
            try:
                label = normalize_label(match.group(1)) if match else None
            except DatasetError:
                label = None
            if label is None:
                self.reject(file, "file name does not follow <LABEL>_test.<ext> (e.g. A_test.jpg, space_test.jpg)")
                continue
            self.add_file(file, label, dataset, group, split or "test")

    def add(self, path: Path, depth: int = 0) -> None:
        check_image_source(path)
        if path.is_file():
            manifest, _ = load_sign_mnist_csv(path)
            self.rows.extend(manifest.itertuples(index=False, name=None))
            return
        subdirs = [p for p in path.iterdir() if p.is_dir()]
        if any(_is_label(p.name) for p in subdirs):
            self.add_class_folders(path)
        elif subdirs and depth < _MAX_DEPTH:
            for sub in sorted(subdirs):
                self.add(sub, depth + 1)
        elif any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
            self.add_flat_folder(path)
        else:  # a folder of Sign-MNIST CSVs (sign_mnist_rows)
            for csv in sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv"):
                self.add(csv, depth + 1)


def check_image_source(path: Path) -> None:
    """Raise DatasetError unless ``path`` can hold samples: a folder, or a CSV file."""

    if not path.is_dir() and not path.is_file():
        raise DatasetError(
            f"{printable_path(path)} is not a folder or a regular file (a device, pipe or socket): "
            "expected a folder of images or a CSV"
        )
    if path.is_file() and path.suffix.lower() != ".csv":
        raise DatasetError(
            f"{printable_path(path)} is a file: expected a folder of images or a Sign-MNIST CSV; "
            "pass its folder instead"
        )


def load_manifest(
    sources: str | os.PathLike | Iterable[str | os.PathLike], *, skip_bad: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """List the labelled samples of one or more datasets.

    Accepted layouts: ``<root>/<label>/*.{jpg,jpeg,png}``; folders of such folders
    (``asl2text`` with ``train/`` and ``test/``); flat folders of ``<LABEL>_test.jpg``
    (official test sets); Sign Language MNIST CSVs (``label,pixel1..pixel784``).
    A folder named like a signer (``user_3``, ``signer2``) inside a dataset folder is one
    group of that dataset (``ml_slr/user_3/<label>/*.jpg`` -> dataset ``ml_slr``, group
    ``ml_slr/user_3``), as massey's ``handN_`` file names are.
    Only extension and non-emptiness are checked here (decoding 30k images would be
    slow); :func:`read_sample` raises for corrupt files.

    Parameters
    ----------
    sources : str, path-like or iterable of them
        Paths, or names under :func:`data_root` (``"massey"``, ``"asl2text/test"``).
    skip_bad : bool, default True
        Record unusable files in ``rejected`` instead of raising.

    Returns
    -------
    manifest : DataFrame of shape (n_samples, 6)
        Columns :data:`MANIFEST_COLUMNS`, one row per file or CSV row. Byte-identical
        files keep one row each and share ``sample_id`` (see :func:`find_duplicates`).
    rejected : DataFrame of shape (n_rejected, 2)
        Columns ``source, reason``.

    Raises
    ------
    DatasetError
        A source is missing, holds no samples, or (``skip_bad=False``) holds a bad file.
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    collector = _Collector(skip_bad)
    resolved = []
    for source in sources:
        path = resolve_source(source)
        n_before, n_rejected = len(collector.rows), len(collector.rejected)
        collector.add(path)
        if len(collector.rows) == n_before:
            rejected_here = collector.rejected[n_rejected:]
            if rejected_here:
                first, reason = rejected_here[0]
                raise DatasetError(
                    f"no usable samples in {printable_path(path)}: all {len(rejected_here)} file(s) were rejected, "
                    f"e.g. {first}: {reason}"
                )
            found = sorted(printable_path(p.name) for p in path.iterdir())[:8] if path.is_dir() else [path.name]
            raise DatasetError(
                f"no samples found in {printable_path(path)}: expected <root>/<label>/*.jpg|jpeg|png|bmp, "
                f"<LABEL>_test.jpg files or a Sign-MNIST CSV; found {found}"
            )
        resolved.append(_relative_name(path))
    if not resolved:
        raise DatasetError("no sources given: pass at least one dataset folder or CSV")
    manifest = pd.DataFrame(collector.rows, columns=list(MANIFEST_COLUMNS))
    rejected = pd.DataFrame(collector.rejected, columns=list(REJECTED_COLUMNS))
    manifest.attrs["sources"] = resolved
    return manifest, rejected


def _split_from_name(stem: str) -> str:
    tokens = set(re.split(r"[^a-z]+", stem.lower()))
    return "test" if "test" in tokens else "train" if "train" in tokens else ""


def _csv_rows(path: Path) -> tuple[bytes, list[bytes]]:
    """Header and the non-empty data lines of a CSV, read once (for row hashes)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"cannot read CSV {path}: {exc}") from exc
    lines = [line.rstrip(b"\r") for line in data.split(b"\n")]
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise DatasetError(f"CSV {path} is empty: expected a header line and data rows")
    return lines[0], lines[1:]


def _parse_rows(path: Path, header: bytes, rows: list[bytes]) -> pd.DataFrame:
    if not rows:
        raise DatasetError(f"CSV {path} has a header but no rows: expected data rows after it")
    n_columns = header.count(b",") + 1
    for i, row in enumerate(rows):
        if row.count(b",") + 1 != n_columns:
            raise DatasetError(
                f"CSV {path}: row {i} (line {i + 2}) has {row.count(b',') + 1} columns; the header has {n_columns}"
            )
    try:
        frame = pd.read_csv(io.BytesIO(b"\n".join([header, *rows])))
    except (ValueError, pd.errors.ParserError) as exc:
        raise DatasetError(f"cannot parse CSV {path}: {exc}") from exc
    if len(frame) != len(rows):
        raise DatasetError(f"CSV {path}: parsed {len(frame)} rows but found {len(rows)} data lines")
    return frame


@functools.lru_cache(maxsize=8)
def _sign_mnist_cached(path_str: str, mtime_ns: int) -> tuple[pd.DataFrame, np.ndarray]:
    path = Path(path_str)
    header, rows = _csv_rows(path)
    found = header.decode("utf-8", "replace").split(",")
    if tuple(c.strip() for c in found) != SIGN_MNIST_COLUMNS:
        raise DatasetError(
            f"{path} is not a Sign Language MNIST CSV: expected 785 columns 'label,pixel1..pixel784'; "
            f"found {len(found)} columns starting {','.join(found[:4])!r} (landmark CSVs: use load_landmark_csv)"
        )
    frame = _parse_rows(path, header, rows)
    values = frame.to_numpy()
    if not np.issubdtype(values.dtype, np.integer):
        raise DatasetError(f"{path}: expected integer labels and pixels; found dtype {values.dtype}")
    labels = values[:, 0]
    bad = np.flatnonzero((labels < 0) | (labels > 25) | np.isin(labels, list(SIGN_MNIST_INVALID)))
    if bad.size:
        raise DatasetError(
            f"{path}: row {bad[0]} has label {labels[bad[0]]}: expected 0..24 without 9 "
            "(0=A ... 24=Y; 9=J and 25=Z are motion signs Sign-MNIST leaves out)"
            f"; {bad.size} bad row(s): fix or drop them"
        )
    pixels = values[:, 1:]
    if pixels.size and (pixels.min() < 0 or pixels.max() > 255):
        raise DatasetError(f"{path}: pixels must lie in 0..255; found {pixels.min()}..{pixels.max()}")
    split = _split_from_name(path.stem)
    dataset = "sign_mnist" if path.stem.lower().startswith("sign_mnist") else path.stem
    manifest = pd.DataFrame(
        {
            "sample_id": [_sha1_16(row) for row in rows],
            "source": [f"{path}#{i}" for i in range(len(rows))],
            "dataset": dataset,
            "label": [LETTERS[i] for i in labels],
            "group": f"{dataset}/{split}" if split else dataset,
            "split": split,
        },
        columns=list(MANIFEST_COLUMNS),
    )
    images = pixels.astype(np.uint8).reshape(-1, 28, 28)
    images.flags.writeable = False  # cached: callers must not modify it
    return manifest, images


def load_sign_mnist_csv(path: str | os.PathLike) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a Sign Language MNIST CSV (``label,pixel1..pixel784``).

    Parameters
    ----------
    path : str or path-like
        CSV path, or a name under :func:`data_root`.

    Returns
    -------
    manifest : DataFrame of shape (n_rows, 6)
        :data:`MANIFEST_COLUMNS`; ``source`` is ``"<path>#<row index>"``, ``sample_id``
        the hash of the row's bytes, ``dataset`` ``"sign_mnist"``, split from the file name.
    images : ndarray of shape (n_rows, 28, 28), uint8
        Read-only (cached); copy before modifying.

    Raises
    ------
    DatasetError
        Wrong columns, non-integer values, labels outside 0..24 or equal to 9 (J) / 25 (Z).
    """
    manifest, images = _sign_mnist(path)
    return manifest.copy(), images


def _sign_mnist(path: str | os.PathLike) -> tuple[pd.DataFrame, np.ndarray]:
    try:  # fast path for read_sample on manifest sources, which are existing paths
        return _sign_mnist_cached(str(path), os.stat(path).st_mtime_ns)
    except FileNotFoundError:
        resolved = resolve_source(path)
        return _sign_mnist_cached(str(resolved), resolved.stat().st_mtime_ns)


def read_sample(source: str | os.PathLike) -> np.ndarray:
    """Read one manifest sample as an RGB image.

    Parameters
    ----------
    source : str or path-like
        An image path, or ``"<csv path>#<row index>"`` for a Sign-MNIST row.

    Returns
    -------
    ndarray of shape (H, W, 3), uint8
        RGB; CSV rows and grayscale files are replicated to 3 channels.

    Raises
    ------
    DatasetError
        Missing file, unreadable file, or bytes that are not a decodable image.
    """
    text = os.fspath(source)
    csv_path, sep, index = text.rpartition("#")
    if sep and index.isdigit() and csv_path.lower().endswith(".csv"):
        _, images = _sign_mnist(csv_path)  # cached: no per-row copy of the manifest
        row = int(index)
        if row >= len(images):
            raise DatasetError(f"{text}: row {row} out of range; {csv_path} has {len(images)} rows")
        return np.repeat(images[row][:, :, None], 3, axis=2)
    return read_image(text)


#: Columns of the landmark table (``landmark_asl.data.extraction.TABLE_COLUMNS``), repeated here
#: because extraction imports this module, not the other way round.
LANDMARK_TABLE_COLUMNS: tuple[str, ...] = (
    MANIFEST_COLUMNS
    + ("detected", "reason", "strategy", "handedness", "handedness_score", "image_width", "image_height")
    + IMAGE_COLUMNS
    + WORLD_COLUMNS
)
_BORIS_COLUMNS = ("label", "source_file") + IMAGE_COLUMNS
_NEJOHNSON_COLUMNS = ("label", "hand_label") + tuple(f"{a}{i}" for i in range(1, 22) for a in "xyz")
#: nejohnson2's collector stored ``0 if MediaPipe said 'Right' else 1``, on a mirrored webcam
#: frame: its 'Right' hands look like LEFT hands in the landmarks as stored (our convention:
#: handedness is what the hand looks like in the coordinates given), so 0 -> 'Left', 1 -> 'Right'.
_NEJOHNSON_HANDEDNESS = {0: "Left", 1: "Right"}
#: borisgraudt's rows were also recorded from a mirrored webcam: every row is a left hand.
_BORIS_HANDEDNESS = "Left"


#: Version of :func:`load_landmark_csv`'s rows (part of a CSV source's cache key): 2 added the
#: estimated frame size.
CSV_LOADER_VERSION = 2
#: A landmark CSV with at least this many rows, of at least ``MIN_LABELS_TO_ESTIMATE`` labels, gets
#: its frame size estimated (``load_landmark_csv``): fewer rows, or one letter's, do not tell.
MIN_ROWS_TO_ESTIMATE = 500
MIN_LABELS_TO_ESTIMATE = 5


def load_landmark_csv(path: str | os.PathLike, frame_size: tuple[int, int] | None = None) -> pd.DataFrame:
    """Read a CSV of MediaPipe landmarks into the landmark table schema.

    Two layouts are known: borisgraudt (``label,source_file,x0,y0,z0..x20,y20,z20``,
    image-normalised) and nejohnson2 (``label,hand_label,x1,y1,z1..x21,y21,z21``,
    wrist-relative; stored as given in ``x0..z20``). Both were recorded from MIRRORED
    webcam frames, so their right-handed signers appear as LEFT hands in the stored
    coordinates: on palm-forward letters (B, F, V, W) the index knuckle lies left of the
    little knuckle in the image (``x5 < x17``) in every CSV row, the opposite of the
    'Right' hands of the image sets. ``handedness`` follows this library's convention (what
    the hand looks like in the coordinates given), so that :class:`LandmarkNormalizer`
    mirrors these rows like image data: borisgraudt rows are ``"Left"``; nejohnson2's
    ``hand_label`` 0 (MediaPipe 'Right' on the mirrored frame) is ``"Left"`` and 1 is
    ``"Right"``.

    MediaPipe divides x by the frame's width and y by its height, and neither layout stores the
    frame size, yet the hand's shape depends on it (the features undo the stretch from
    ``image_width`` and ``image_height``). Unless ``frame_size`` is given, it is estimated from
    the rows' own geometry (:func:`landmark_asl.hands.landmarks.estimate_frame_aspect`, the
    nearest common camera aspect: borisgraudt 16:9, stored as 1280x720; nejohnson2 4:3,
    640x480); a file of fewer than :data:`MIN_ROWS_TO_ESTIMATE` rows or
    :data:`MIN_LABELS_TO_ESTIMATE` labels, or whose rows do not tell, keeps the size unknown
    (NaN; 0 in a table written by ``extract``).

    Parameters
    ----------
    path : str or path-like
        CSV path, or a name under :func:`data_root`.
    frame_size : (int, int), optional
        ``(width, height)`` of the frames the landmarks were found in, when known (Python
        only: ``extract`` and ``train`` read a CSV with the estimate).

    Returns
    -------
    DataFrame of shape (n_rows, len(LANDMARK_TABLE_COLUMNS))
        ``strategy="csv"``, ``detected=True``, ``source="<path>#<row>"``, ``sample_id``
        from the row's bytes, ``dataset``/``group`` the file's prefix (``"borisgraudt"``),
        ``image_width``/``image_height`` the frame size, world columns and
        ``handedness_score`` NaN.

    Raises
    ------
    DatasetError
        Unknown columns, non-numeric coordinates, unknown labels or hand labels.
    ValueError
        If ``frame_size`` is not two positive integers.
    """
    if frame_size is not None:
        frame_size = _checked_frame_size(frame_size)
    path = resolve_source(path)
    header, rows = _csv_rows(path)
    found = tuple(c.strip() for c in header.decode("utf-8", "replace").split(","))
    if found not in (_BORIS_COLUMNS, _NEJOHNSON_COLUMNS):
        raise DatasetError(
            f"{path}: unknown landmark CSV layout: expected 'label,source_file,x0,y0,z0..z20' or "
            f"'label,hand_label,x1,y1,z1..z21'; found {len(found)} columns starting {','.join(found[:4])!r}"
        )
    frame = _parse_rows(path, header, rows)
    coords = frame.iloc[:, 2:]
    if not all(pd.api.types.is_numeric_dtype(t) for t in coords.dtypes) or coords.isna().any().any():
        raise DatasetError(f"{path}: landmark columns must all be numbers; found text or empty cells")
    check_finite(coords.to_numpy(np.float64), list(coords.columns), where=str(path))
    dataset = path.stem.split("_")[0]
    table = pd.DataFrame(
        {
            "sample_id": [_sha1_16(row) for row in rows],
            "source": [f"{path}#{i}" for i in range(len(rows))],
            "dataset": dataset,
            "label": [normalize_label(x) for x in frame["label"]],
            "group": dataset,
            "split": "",
            "detected": True,
            "reason": "",
            "strategy": "csv",
            "handedness": _BORIS_HANDEDNESS,
            "handedness_score": np.nan,
            "image_width": np.nan,
            "image_height": np.nan,
        }
    )
    if found == _NEJOHNSON_COLUMNS:
        unknown = set(frame["hand_label"].unique()) - set(_NEJOHNSON_HANDEDNESS)
        if unknown:
            raise DatasetError(
                f"{path}: hand_label must be 0 (MediaPipe 'Right') or 1 ('Left'); found {sorted(unknown)}"
            )
        table["handedness"] = frame["hand_label"].map(_NEJOHNSON_HANDEDNESS).to_numpy()
    xyz = pd.DataFrame(coords.to_numpy(np.float32), columns=list(IMAGE_COLUMNS))
    if frame_size is None and len(xyz) >= MIN_ROWS_TO_ESTIMATE and table["label"].nunique() >= MIN_LABELS_TO_ESTIMATE:
        aspect = estimate_frame_aspect(xyz.to_numpy(np.float64).reshape(-1, 21, 3))
        if aspect is not None:
            frame_size = COMMON_FRAME_SIZES[COMMON_ASPECTS.index(aspect)]
    if frame_size is not None:
        table["image_width"], table["image_height"] = float(frame_size[0]), float(frame_size[1])
    world = pd.DataFrame(np.full((len(frame), len(WORLD_COLUMNS)), np.nan, np.float32), columns=list(WORLD_COLUMNS))
    return pd.concat([table, xyz, world], axis=1)[list(LANDMARK_TABLE_COLUMNS)]


def _checked_frame_size(frame_size: object) -> tuple[int, int]:
    ok = isinstance(frame_size, tuple | list) and len(frame_size) == 2
    if ok:
        width, height = frame_size
        ok = all(isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_) and v > 0
                 for v in (width, height))
    if not ok:
        raise ValueError(f"frame_size must be (width, height), two positive integers; got {frame_size!r}")
    return int(width), int(height)


def check_finite(values: np.ndarray, columns: Sequence[str], *, where: str, rows: Sequence[int] | None = None) -> None:
    """Raise DatasetError naming the first row and column that is not a finite float32.

    ``inf``, ``-inf``, NaN and values beyond float32 (``1e39``) are all refused. ``rows``
    gives the row numbers to report when ``values`` is a subset of a table.
    """
    with np.errstate(over="ignore"):
        bad = ~np.isfinite(np.asarray(values, dtype=np.float64).astype(np.float32))
    if bad.any():
        row, column = map(int, np.argwhere(bad)[0])
        number = row if rows is None else rows[row]
        raise DatasetError(
            f"{where}: row {number}, column {columns[column]} is {values[row, column]!r}: landmark coordinates "
            f"must be finite numbers within float32 ({int(bad.any(axis=1).sum())} bad row(s))"
        )


def find_duplicates(manifest: pd.DataFrame) -> pd.DataFrame:
    """Rows whose ``sample_id`` (content hash) occurs more than once, sorted by ``sample_id``."""
    dup = manifest[manifest["sample_id"].duplicated(keep=False)]
    return dup.sort_values(["sample_id", "source"], kind="stable")


def drop_duplicates(manifest: pd.DataFrame) -> pd.DataFrame:
    """Keep the first row of each ``sample_id``; byte-identical files are one sample."""
    out = manifest.drop_duplicates("sample_id", keep="first").reset_index(drop=True)
    out.attrs = dict(manifest.attrs)
    return out
