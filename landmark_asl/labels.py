"""The one label vocabulary: canonical labels, the special classes and what "no prediction" is."""

from __future__ import annotations

from collections.abc import Iterable

from landmark_asl.exceptions import DatasetError

LETTERS: tuple[str, ...] = tuple(chr(c) for c in range(ord("A"), ord("Z") + 1))
DIGITS: tuple[str, ...] = tuple(str(d) for d in range(10))
#: An empty scene or a hand at rest: never becomes text.
NOTHING = "NOTHING"
#: Classes that edit the text instead of adding their name to it.
SPACE = "SPACE"
DEL = "DEL"
SPECIAL: tuple[str, ...] = (DEL, NOTHING, SPACE)
CANONICAL_LABELS: tuple[str, ...] = LETTERS + SPECIAL + DIGITS

#: The label of an image or frame that got no prediction (no hand found and no NOTHING
#: class). It never equals a true label, so it always counts as wrong.
NO_PREDICTION = ""
#: The label of a prediction whose best probability is below the caller's ``min_confidence``:
#: the model is not sure enough to name a class. Lower case, so it never equals a class.
UNKNOWN = "unknown"

_ALIASES = {
    "DEL": DEL,
    "DELETE": DEL,
    "NOTHING": NOTHING,
    "NONE": NOTHING,
    "BLANK": NOTHING,
    "SPACE": SPACE,
}


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


def no_hand_label(labels: Iterable[str]) -> str:
    """The NOTHING rule: what an image without a hand is predicted by a model trained on ``labels``.

    ``'NOTHING'`` when NOTHING is one of the labels (an empty scene is a valid answer),
    otherwise :data:`NO_PREDICTION`.
    """
    return NOTHING if NOTHING in set(labels) else NO_PREDICTION


def display_label(label: str) -> str:
    """``label`` as shown to a person: :data:`NO_PREDICTION` reads ``(none)``."""
    return label if label != NO_PREDICTION else "(none)"
