"""Settings of the hand extractor: one frozen dataclass, its defaults defined once (the CLI reads them).

Standard library only, so that ``landmark-asl --help`` can show the defaults without loading NumPy,
OpenCV or MediaPipe.
"""

from __future__ import annotations

import dataclasses

#: Recovery passes tried, in this order, when the plain pass finds no hand (see ``extract``).
RECOVERY_STRATEGIES: tuple[str, ...] = ("pad", "pad_low_confidence", "mirror_pad_low_confidence")


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
        for name in (
            "min_detection_confidence",
            "min_presence_confidence",
            "min_tracking_confidence",
            "recovery_min_detection_confidence",
            "recovery_min_presence_confidence",
        ):
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]; got {value!r}")
        if int(self.num_hands) < 1:
            raise ValueError(f"num_hands must be >= 1; got {self.num_hands!r}")
        if not 0.0 <= float(self.pad_fraction) <= 2.0:
            raise ValueError(f"pad_fraction must be in [0, 2]; got {self.pad_fraction!r}")

    @classmethod
    def from_dict(cls, values: dict) -> ExtractorSettings:
        """Settings from their ``dataclasses.asdict`` form (metadata); unknown keys are ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
