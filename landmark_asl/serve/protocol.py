"""The web page's protocol: the messages ``/ws`` and ``/api`` send (a frame's result, the model's card) and the limits on what they accept.

Plain data in and out (no web server here), so that the page's contract is read and tested in one place.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import numpy as np

from landmark_asl.live.loop import FrameResult
from landmark_asl.model.store import LoadedModel

#: The text commands of ``/ws``.
COMMANDS = ("clear", "edit", "collect", "collect_redo", "collect_skip", "collect_stop", "adapt", "use")
#: Longest text message (a command) read; commands are a few hundred characters, an ``edit`` two
#: texts of at most ``MAX_TEXT_CHARS``.
MAX_COMMAND_CHARS = 8192
#: Longest text of a page: an ``edit`` sets at most this much (a longer text is cut), and a letter
#: that would make the spelled text longer is not committed (the result says ``full``).
MAX_TEXT_CHARS = 2000
#: A signer's name names its folder under ``personal_dir``: letters, digits, ``_`` and ``-`` only.
SIGNER_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
#: Letters the page asks for by default: J and Z are read from motion, not from still samples.
DEFAULT_COLLECT_LETTERS = "A-I,K-Y"
#: Longest ``letters`` text of a collect command (a list of every label is about 80 characters).
MAX_LETTERS_CHARS = 400


def result_message(result: FrameResult, frame_size: tuple[int, int]) -> dict[str, Any]:
    """The JSON message of one frame: every public scalar field of ``result`` plus the hand.

    Fields are read generically, so a field added to ``FrameResult`` reaches the page without
    a change here; arrays (the frame) are left out, floats rounded to 4 decimals.

    Parameters
    ----------
    result : FrameResult
    frame_size : (width, height)
        Size of the frame as detected.

    Returns
    -------
    dict
        ``type='result'``, the fields, ``frame_size`` and ``hand`` (None, or ``landmarks``: a
        list of 21 ``[x, y]`` in [0, 1] of the frame, ``handedness``, ``handedness_score``).
    """
    message: dict[str, Any] = {"type": "result"}
    for item in dataclasses.fields(result):
        if item.name.startswith("_") or item.name in ("hand", "image"):  # the hand below; the frame stays
            continue
        value = getattr(result, item.name)
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float):
            message[item.name] = round(value, 4) if np.isfinite(value) else None
        elif value is None or isinstance(value, (bool, int, str)):
            message[item.name] = value
        elif isinstance(value, tuple):  # top three, the motion trail: short tuples of scalars
            message[item.name] = [list(v) if isinstance(v, tuple) else v for v in value]
    hand = result.hand
    message["hand"] = None if hand is None else {
        "landmarks": np.round(hand.image[:, :2].astype(np.float64), 4).tolist(),
        "handedness": hand.handedness,
        "handedness_score": round(float(hand.handedness_score), 4),
    }
    message["frame_size"] = list(frame_size)
    return message


def model_label(model: LoadedModel) -> str:
    """How the page names a model: its registry name, and whose personal model it is."""
    adapted = (model.card.training or {}).get("adapted")
    return f"{model.name} (personal: {adapted.get('signer')})" if isinstance(adapted, dict) else model.name


_DROP = object()


def card_summary(model: LoadedModel) -> dict[str, Any]:
    """What ``/api/model`` tells a page about the model: no server path, no training sources, finite numbers only.

    Returns
    -------
    dict
        ``name``, ``label`` (see :func:`model_label`), ``input_kind``, ``classes``,
        ``no_hand_label``, ``feature_version``, ``created_at``, ``metrics`` (the card's
        numbers, nested at most three deep; one that is not finite becomes null; text such as
        report paths is left out) and ``calibration`` (``{"temperature": T}`` or null).
    """
    card = model.card

    def numbers(value: Any, depth: int = 0) -> Any:
        """Numbers (non-finite -> None) and objects of numbers, three levels deep; text and lists (paths, sources) go."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value if np.isfinite(value) else None
        if isinstance(value, dict) and depth < 3:
            kept = {str(k): numbers(v, depth + 1) for k, v in value.items()}
            return {k: v for k, v in kept.items() if v is not _DROP}
        return _DROP

    metrics = numbers(card.metrics or {})
    temperature = numbers((card.calibration or {}).get("temperature"))
    temperature = None if temperature is _DROP else temperature
    return {"name": card.name, "label": model_label(model), "input_kind": card.input_kind,
            "classes": [str(c) for c in card.classes], "no_hand_label": card.no_hand_label,
            "feature_version": card.feature_version, "created_at": card.created_at, "metrics": metrics,
            "calibration": None if card.calibration is None else {"temperature": temperature}}
