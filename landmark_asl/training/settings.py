"""Settings of a recording session (``collect``, the web page's collect mode): defaults defined once.

Standard library only, so that ``landmark-asl --help`` can show them without loading NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CollectSettings:
    """How a user's own samples are recorded.

    Attributes
    ----------
    per_letter : int
        Samples recorded per letter unless told otherwise.
    every : int
        Frames skipped between two recorded ones (consecutive video frames are near-duplicates).
    countdown : int
        Frames given to the user to form the next letter before recording starts (1 s at 30 fps).
    signer : str
        Name recorded as the samples' group (and dataset) when none is given.
    """

    per_letter: int = 10
    every: int = 3
    countdown: int = 30
    signer: str = "me"
