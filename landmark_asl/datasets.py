"""Dataset loading: image folders, Sign Language MNIST CSVs and landmark CSVs into one manifest; labels; splits."""

from __future__ import annotations

import os
from pathlib import Path

from landmark_asl.exceptions import DatasetError

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
