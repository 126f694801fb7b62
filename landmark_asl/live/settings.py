"""Settings of the live loop: one frozen dataclass, its defaults defined once (the CLI reads them).

Standard library only, so that ``landmark-asl --help`` can show the defaults without loading NumPy.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

#: Where the live loop takes a hand's handedness from (``LiveSettings.handedness``).
HANDEDNESS_CHOICES: tuple[str, ...] = ("geometry", "detector")
#: Largest ``LiveSettings.recover_every`` (the CLI's limit too).
MAX_RECOVER_EVERY = 1000


@dataclass(frozen=True)
class LiveSettings:
    """Settings of the live loop; ``dataclasses.asdict`` goes into the output.

    The defaults were chosen on the dev words of ``benchmarks/bench_spelling.py`` (docs/experiments.md,
    2026-12-04 and 2026-12-06).

    Attributes
    ----------
    smoothing_window : int
        Class probabilities are averaged over this many recent frames with a hand. A frame
        without a hand empties the window, so one letter never bleeds into the next.
    threshold : float
        No letter is shown (or committed) while the smoothed top probability is below this.
    stable_frames : int
        A letter is committed to the text once it has been shown on this many held frames (the
        hand still, see ``max_speed``) with no other letter in between. Frames are counted at
        30 fps: a frame of a slower source counts for the 30 fps frames it stands for (at most 4),
        so a hold takes the same time on a loaded laptop.
    release_frames : int
        The same letter is committed again only after this many frames that show something
        else: no hand, ``NOTHING`` or another letter (frames below ``threshold`` are neutral).
    mirror : bool
        Flip every frame horizontally before detection (selfie cameras).
    margin : float
        No letter is shown while the smoothed top probability leads the runner-up by less than this.
    max_speed : float
        A frame counts towards a hold only while the hand moves at most this many palm lengths
        per 30 fps frame (landmarks' mean displacement: moves and shape changes alike), so the frames
        of a transition between two letters never commit.
    slide_distance : float
        The letter just committed commits again once the hand has slid or bounced this many
        palm lengths in one move (at least two moving frames) and settled again (a double
        letter); slow drift while a letter is held does not count.
    motion_letters : bool
        J and Z are committed from the fingertip's trajectory (:mod:`landmark_asl.live.motion`) and
        never from a still frame.
    motion_distance : float
        Largest DTW distance of a fingertip path to a J or Z template that is read as the letter
        (:class:`landmark_asl.live.motion.MotionLetterDetector`).
    reuse_still : int
        While the hand is very still (at most a quarter of ``max_speed``), the last classified
        frame's probabilities are reused for up to this many 30 fps frames in a row (0: classify
        every frame). A frame of a slower source counts for the frames it stands for: at 15 and
        10 fps every other frame is classified, below 10 fps every frame. The forest's memory
        traffic slows MediaPipe's next frame, so reusing keeps the loop near the bare detector's
        frame rate; 3 measured faster than 1 in five of five paired runs of
        ``benchmarks/bench_live.py``, and on the dev spelling suites 0, 1, 2 and 3 give the same
        texts.
    recover_every : int
        When the video-mode detector finds no hand, try the frame again with a border (the palm
        detector misses a fist held close to the camera): on every such frame after a frame with
        a hand, otherwise once every this many frames (0: never). See
        :class:`landmark_asl.live.loop.VideoHandDetector`.
    handedness : {'geometry', 'detector'}
        Which hand the model is told it sees (it mirrors left hands to right ones): 'geometry'
        decides from the landmarks' 3D shape (:func:`landmarks.geometric_handedness`), which flips
        exactly when the frame is mirrored, so the answer does not depend on whether the camera
        mirrors; 'detector' keeps MediaPipe's handedness label, which does not always flip.
    """

    smoothing_window: int = 3
    threshold: float = 0.3
    stable_frames: int = 7
    release_frames: int = 2
    mirror: bool = False
    margin: float = 0.05
    max_speed: float = 0.06
    slide_distance: float = 0.3
    motion_letters: bool = True
    handedness: str = "geometry"
    motion_distance: float = 0.2
    reuse_still: int = 3
    recover_every: int = 10

    def __post_init__(self) -> None:
        for name, upper in (("reuse_still", None), ("recover_every", MAX_RECOVER_EVERY)):
            # A count: whole numbers only (5.0 and numpy integers become ints; the summary is JSON).
            value = getattr(self, name)
            whole = isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer())
            if isinstance(value, bool) or not whole or value < 0 or (upper is not None and value > upper):
                bound = f" and <= {upper}" if upper is not None else ""
                raise ValueError(f"{name} must be an integer >= 0{bound}; got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.handedness not in HANDEDNESS_CHOICES:
            raise ValueError(f"handedness must be one of {HANDEDNESS_CHOICES}; got {self.handedness!r}")
        for name in ("smoothing_window", "stable_frames", "release_frames"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
        for name in ("threshold", "margin"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]; got {getattr(self, name)!r}")
        for name in ("max_speed", "slide_distance", "motion_distance"):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0; got {getattr(self, name)!r}")
