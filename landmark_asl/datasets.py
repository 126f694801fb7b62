"""Dataset loading: image folders, Sign Language MNIST CSVs and landmark CSVs into one manifest; labels; splits."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from landmark_asl.exceptions import DatasetError
from landmark_asl.landmarks import IMAGE_COLUMNS, WORLD_COLUMNS

#: The one label vocabulary. Every spelling found in a dataset maps into it in
#: :func:`normalize_label`, and nowhere else.
LETTERS: tuple[str, ...] = tuple(chr(c) for c in range(ord("A"), ord("Z") + 1))
DIGITS: tuple[str, ...] = tuple(str(d) for d in range(10))
SPECIAL: tuple[str, ...] = ("DEL", "NOTHING", "SPACE")
CANONICAL_LABELS: tuple[str, ...] = LETTERS + SPECIAL + DIGITS

_ALIASES = {
    "DEL": "DEL",
    "DELETE": "DEL",
    "NOTHING": "NOTHING",
    "NONE": "NOTHING",
    "BLANK": "NOTHING",
    "SPACE": "SPACE",
}

#: Environment variable naming the folder that holds the datasets.
DATA_ENV = "LANDMARK_ASL_DATA"


def normalize_label(label: object) -> str:
    """Map one dataset's spelling of a label onto :data:`CANONICAL_LABELS`.

    Parameters
    ----------
    label : str or int
        ``'a'``, ``'A'``, ``'del'``, ``'Del'``, ``'nothing'``, ``'space'``, ``3``, ``'3'`` ...

    Returns
    -------
    str
        The canonical label, e.g. ``'A'``, ``'DEL'``, ``'NOTHING'``, ``'3'``.

    Raises
    ------
    DatasetError
        If the label has no canonical form.
    """
    text = str(label).strip()
    upper = text.upper()
    if len(upper) == 1 and (upper in LETTERS or upper in DIGITS):
        return upper
    if upper in _ALIASES:
        return _ALIASES[upper]
    raise DatasetError(
        f"unknown label {label!r}: expected a letter A-Z, a digit 0-9, 'del', 'nothing' or "
        "'space' (any case)"
    )


def data_root() -> Path:
    """Folder holding the datasets: ``$LANDMARK_ASL_DATA``, else ``../shared/data`` beside the checkout."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data"

#: Columns of every manifest, in this order.
MANIFEST_COLUMNS: tuple[str, ...] = ("sample_id", "source", "dataset", "label", "group", "split")
#: Columns of the ``rejected`` table returned next to a manifest.
REJECTED_COLUMNS: tuple[str, ...] = ("source", "reason")
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
#: Folder names that say which split a folder holds (name -> split value).
SPLIT_FOLDERS = {"train": "train", "test": "test", "official_test": "test"}
SIGN_MNIST_COLUMNS: tuple[str, ...] = ("label",) + tuple(f"pixel{i}" for i in range(1, 785))
#: Sign Language MNIST label index -> letter; 9 (J) and 25 (Z) are motion signs the set leaves out.
SIGN_MNIST_INVALID = frozenset({9, 25})
_HAND_RE = re.compile(r"^(hand\d+)_", re.IGNORECASE)
_OFFICIAL_TEST_RE = re.compile(r"^(.+)_test$", re.IGNORECASE)
_MAX_DEPTH = 3


def resolve_source(source: str | os.PathLike) -> Path:
    """Find a dataset: an existing path as given, else a name relative to :func:`data_root`.

    Parameters
    ----------
    source : str or path-like
        ``"/abs/folder"``, ``"asl2text/train"``, ``"massey"``, ``"sign_mnist_rows/x.csv"`` ...

    Returns
    -------
    Path
        The existing file or folder.

    Raises
    ------
    DatasetError
        If neither ``source`` nor ``data_root() / source`` exists; both places are named.
    """
    path = Path(source).expanduser()
    if path.exists():
        return path
    under_root = data_root() / path
    if not path.is_absolute() and under_root.exists():
        return under_root
    raise DatasetError(
        f"dataset {str(source)!r} not found: looked at {path.resolve()} and {under_root}; "
        f"pass an existing folder/CSV or a name under the data root (set ${DATA_ENV})"
    )


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
    return name, "", name


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=str) for c in columns})


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
        if path.is_file():
            if path.suffix.lower() != ".csv":
                raise DatasetError(
                    f"{path} is a file: expected a folder of images or a Sign-MNIST CSV; "
                    "pass its folder instead"
                )
            manifest, _ = load_sign_mnist_csv(path)
            self.rows.extend(manifest.itertuples(index=False, name=None))
            return
        subdirs = [p for p in path.iterdir() if p.is_dir()]
        is_label = [_is_label(p.name) for p in subdirs]
        if any(is_label):
            self.add_class_folders(path)
        elif subdirs and depth < _MAX_DEPTH:
            for sub in sorted(subdirs):
                self.add(sub, depth + 1)
        elif any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
            self.add_flat_folder(path)
        else:  # a folder of Sign-MNIST CSVs (sign_mnist_rows)
            for csv in sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv"):
                self.add(csv, depth + 1)


def _is_label(name: str) -> bool:
    try:
        normalize_label(name)
    except DatasetError:
        return False
    return True


def load_manifest(
    sources: str | os.PathLike | Iterable[str | os.PathLike], *, skip_bad: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """List the labelled samples of one or more datasets.

    Accepted layouts: ``<root>/<label>/*.{jpg,jpeg,png}``; folders of such folders
    (``asl2text`` with ``train/`` and ``test/``); flat folders of ``<LABEL>_test.jpg``
    (official test sets); Sign Language MNIST CSVs (``label,pixel1..pixel784``).
    Only extension and non-emptiness are checked here (decoding 30k images would be
    slow); :func:`read_image` raises for corrupt files.

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
        n_before = len(collector.rows)
        collector.add(path)
        if len(collector.rows) == n_before:
            found = sorted(p.name for p in path.iterdir())[:8] if path.is_dir() else [path.name]
            raise DatasetError(
                f"no samples found in {path}: expected <root>/<label>/*.jpg|jpeg|png, "
                f"<LABEL>_test.jpg files or a Sign-MNIST CSV; found {found}"
            )
        resolved.append(str(path))
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
            f"found {len(found)} columns starting {','.join(found[:4])!r}"
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
    resolved = resolve_source(path)
    manifest, images = _sign_mnist_cached(str(resolved), resolved.stat().st_mtime_ns)
    return manifest.copy(), images


def read_image(source: str | os.PathLike) -> np.ndarray:
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
    import cv2

    text = str(source)
    csv_path, sep, index = text.rpartition("#")
    if sep and index.isdigit() and csv_path.lower().endswith(".csv"):
        _, images = load_sign_mnist_csv(csv_path)
        row = int(index)
        if row >= len(images):
            raise DatasetError(f"{text}: row {row} out of range; {csv_path} has {len(images)} rows")
        return np.repeat(images[row][:, :, None], 3, axis=2)
    try:
        data = np.fromfile(text, dtype=np.uint8)  # works for non-ASCII paths, unlike cv2.imread
    except OSError as exc:
        raise DatasetError(f"cannot read image {text}: {exc}") from exc
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise DatasetError(f"cannot decode image {text}: not an image or corrupt ({data.size} bytes)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
