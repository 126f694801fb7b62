"""Settings of the hand extractor: one frozen dataclass, its defaults defined once (the CLI reads them).

Standard library only, so that ``landmark-asl --help`` can show the defaults without loading NumPy,
OpenCV or MediaPipe.
"""

from __future__ import annotations

import dataclasses
import os
import reprlib

#: Recovery passes tried, in this order, when the plain pass finds no hand (see ``extract``).
RECOVERY_STRATEGIES: tuple[str, ...] = ("pad", "pad_low_confidence", "mirror_pad_low_confidence")


#: Most hands an extractor may look for (the first, most confident one is used).
MAX_HANDS = 4


def _is_number(value: object) -> bool:
    """A real, finite number (``bool`` and text are not)."""
    import math
    import numbers

    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))


@dataclasses.dataclass(frozen=True)
class ExtractorSettings:
    """Settings of :class:`HandLandmarkExtractor`; ``dataclasses.asdict`` goes into metadata.

    Attributes
    ----------
    min_detection_confidence : float
        Palm detector threshold of the plain pass (MediaPipe's ``min_hand_detection_confidence``).
    min_presence_confidence : float
        Hand presence threshold of the landmark model.
    min_tracking_confidence : float
        Video mode only: below this the palm detector runs again instead of tracking.
    num_hands : int
        Hands looked for; the first (most confident) one is returned.
    model_asset : str or None
        Path to an official ``hand_landmarker.task``; None builds the bundle from the model
        files inside the installed mediapipe wheel (offline, cached, see :func:`model_bundle_path`).
    recovery : bool
        Run the recovery passes of :data:`RECOVERY_STRATEGIES` on images where the plain
        pass finds nothing.
    pad_fraction : float
        Border added on every side by the recovery passes, as a fraction of the longer side
        (the border repeats the edge pixels).
    recovery_min_detection_confidence : float
        Palm detector threshold of the ``*_low_confidence`` passes.
    recovery_min_presence_confidence : float
        Hand presence threshold of every recovery pass. Stricter than the plain pass: at 0.5
        the recovery passes found hands in empty scenes (asl_alphabet_64 ``nothing``).
    """

    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    num_hands: int = 1
    model_asset: str | None = None
    recovery: bool = True
    pad_fraction: float = 0.5
    recovery_min_detection_confidence: float = 0.2
    recovery_min_presence_confidence: float = 0.7

    def __post_init__(self) -> None:
        # Checked by type as well as range: a model card is JSON from anywhere, and "1" (text), 2.7
        # hands or "no" for a flag must be refused here, not fail deep inside a recovery pass.
        for name, high in (
            ("min_detection_confidence", 1.0),
            ("min_presence_confidence", 1.0),
            ("min_tracking_confidence", 1.0),
            ("recovery_min_detection_confidence", 1.0),
            ("recovery_min_presence_confidence", 1.0),
            ("pad_fraction", 2.0),
        ):
            value = getattr(self, name)
            if not _is_number(value) or not 0.0 <= float(value) <= high:
                raise ValueError(f"{name} must be a number in [0, {high:g}]; got {reprlib.repr(value)}")
        hands = self.num_hands
        if not _is_number(hands) or float(hands) != int(hands) or not 1 <= int(hands) <= MAX_HANDS:
            raise ValueError(f"num_hands must be a whole number from 1 to {MAX_HANDS}; got {reprlib.repr(hands)}")
        object.__setattr__(self, "num_hands", int(hands))  # 2.0 from a JSON card is MediaPipe's 2
        if not isinstance(self.recovery, bool) and type(self.recovery).__name__ != "bool_":  # NumPy's too
            raise ValueError(f"recovery must be true or false; got {reprlib.repr(self.recovery)}")
        object.__setattr__(self, "recovery", bool(self.recovery))
        if isinstance(self.model_asset, os.PathLike):
            object.__setattr__(self, "model_asset", os.fspath(self.model_asset))
        if self.model_asset is not None and (not isinstance(self.model_asset, str) or not self.model_asset.strip()):
            raise ValueError(f"model_asset must be a path or null; got {reprlib.repr(self.model_asset)}")

    @classmethod
    def from_dict(cls, values: dict) -> ExtractorSettings:
        """Settings from their ``dataclasses.asdict`` form (metadata); unknown keys are ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
