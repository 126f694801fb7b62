"""The live loop: frames from a camera, video or image folder through the video-mode extractor, the classifier, smoothing and the speller (:mod:`landmark_asl.live.speller`) to text."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from landmark_asl.estimators.features import N_RAW_FEATURES, raw_features_from_hands
from landmark_asl.exceptions import ModelLoadError
from landmark_asl.hands.landmarks import HandLandmarks, geometric_handedness
from landmark_asl.live.motion import HandMotion, MotionLetterDetector, hand_pixels
from landmark_asl.live.settings import LiveSettings
from landmark_asl.live.sources import FrameSource, open_source
from landmark_asl.live.speller import ProbabilitySmoother, Speller
from landmark_asl.live.words import default_suggester, one_hot

if TYPE_CHECKING:  # pragma: no cover
    from landmark_asl.hands.extractor import ExtractorSettings

#: Motion letter -> the class labels whose handshape traces it: J is the I hand (the model's
#: J class is a still photo of its end), Z the pointing index (D; massey's digit 1).
MOTION_SHAPES: dict[str, frozenset[str]] = {"J": frozenset({"I", "J"}), "Z": frozenset({"D", "Z", "1"})}


#: Milliseconds of one frame at 30 fps: counts (``stable_frames``) and speeds (``max_speed``) are per such frame.
FRAME_MS = 1000.0 / 30.0
#: A frame after a longer gap counts for at most this many 30 fps frames (a stall is not a hold).
MAX_FRAME_WEIGHT = 4.0

#: A hand at most this fraction of ``max_speed`` is still enough to reuse the last probabilities
#: (``LiveSettings.reuse_still``).
STILL_SPEED = 0.25

#: A motion letter replaces its handshape's letter committed at most this long before the stroke
#: ended (the handshape held before drawing it: about 0.2 s of hold plus a stroke of up to 1 s).
MOTION_REPLACE_MS = 1500

#: The recovery passes of the live loop's detector (:class:`VideoHandDetector`): the frame with a
#: border, at the plain pass's detection threshold and ``recovery_min_presence_confidence``.
RECOVERY_PASSES: tuple[str, ...] = ("pad",)


class VideoHandDetector:
    """The live loop's hand detector: the video-mode pass, and a recovery pass when it misses.

    MediaPipe's palm detector misses a hand that fills much of the frame, such as a fist (M, N,
    S, T, E, O) held close to the camera. When the video pass finds nothing, the frame is tried
    again with a border (:meth:`HandLandmarkExtractor.recover_frame`), if the previous frame had
    a hand, or else once every ``recover_every`` frames (the stream's first frame without a hand
    is tried too), so a scene without a hand costs one extra pass in ``recover_every`` frames.
    The recovery landmarkers are created here (``prepare_recovery``), not at the first lost hand.

    Parameters
    ----------
    extractor : object
        Anything with ``detect_video(rgb, timestamp_ms)``; recovery needs
        ``recover_frame(rgb, passes)`` too (a ``HandLandmarkExtractor``) and is skipped without
        it, or when the extractor's settings turn recovery off (``ExtractorSettings.recovery``).
    recover_every : int
        0: never recover. Otherwise the frames between two tries while no hand is seen.
    passes : tuple of str
        The recovery passes tried, in order (names of ``RECOVERY_STRATEGIES``).

    Attributes
    ----------
    n_recovered : int
        Frames whose hand came from the recovery pass.
    """

    def __init__(self, extractor, recover_every: int = 0, passes: tuple[str, ...] = RECOVERY_PASSES) -> None:
        if isinstance(recover_every, bool) or int(recover_every) != recover_every or recover_every < 0:
            raise ValueError(f"recover_every must be an integer >= 0; got {recover_every!r}")
        self.extractor = extractor
        self.passes = tuple(passes)
        allowed = hasattr(extractor, "recover_frame") and getattr(getattr(extractor, "settings", None), "recovery", True)
        self.recover_every = int(recover_every) if allowed else 0
        if self.recover_every and hasattr(extractor, "prepare_recovery"):
            extractor.prepare_recovery(self.passes)  # now, not at the first lost hand of the stream
        self.n_recovered = 0
        self._had_hand = False
        self._since_try = max(0, self.recover_every - 1)  # the stream's first frame without a hand is tried

    def detect(self, rgb: np.ndarray, timestamp_ms: int) -> HandLandmarks | None:
        """The hand in one frame (None: none found); timestamps must increase strictly."""
        hand = self.extractor.detect_video(rgb, timestamp_ms)
        if hand is None and self.recover_every:
            self._since_try += 1
            if self._had_hand or self._since_try >= self.recover_every:
                self._since_try = 0
                hand = self.extractor.recover_frame(rgb, self.passes)
                self.n_recovered += hand is not None
        self._had_hand = hand is not None
        return hand


@runtime_checkable
class Classifier(Protocol):
    """Anything the live loop can classify hands with (a ``persistence.LoadedModel``, a test fake).

    Attributes
    ----------
    classes : sequence of str
        Canonical labels, in the column order of :meth:`predict_proba_one`.
    """

    classes: Sequence[str]

    def predict_proba_one(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities of one raw feature row: (127,) -> (n_classes,)."""


@dataclass(frozen=True)
class FrameResult:
    """What the live loop made of one frame.

    Attributes
    ----------
    index : int
        Frame number, from 0.
    timestamp_ms : int
        The timestamp given to the extractor.
    hand : HandLandmarks or None
        The detected hand (coordinates of the frame as detected, i.e. after ``mirror``).
    label : str or None
        The smoothed prediction, None without a hand or below the threshold.
    confidence : float
        Smoothed probability of the top class (0.0 without a hand).
    committed : str or None
        The label committed to the text on this frame, if any.
    text : str
        The text spelled so far.
    detect_ms : float
        Time to read, convert and detect (milliseconds).
    post_ms : float
        Time of everything after detection: features, classifier, smoothing, text (milliseconds).
    image : ndarray of shape (H, W, 3), uint8, or None
        The frame as detected (RGB, after ``mirror``); None from :meth:`LiveRecognizer.process`.
    candidate : str or None
        The letter being held (the last committed one while it is still held), or None.
    progress : float
        0..1: how close ``candidate`` is to being committed (1.0 once committed).
    top : tuple of (str, float)
        The three most likely classes and their smoothed probabilities, best first (empty
        without a hand).
    hint : str
        What the user should do, when the frame alone cannot commit: ``'draw the J'`` / ``'draw
        the Z'`` while the still J or Z class is shown (they are committed from motion only),
        else ``''``.
    trail : tuple of (float, float)
        While a motion letter's handshape moves: the fingertip's path so far (x, y in [0, 1] of
        the frame, oldest first), else empty.
    trail_letter : str or None
        The motion letter ``trail`` may trace.
    """

    index: int
    timestamp_ms: int
    hand: HandLandmarks | None
    label: str | None
    confidence: float
    committed: str | None
    text: str
    detect_ms: float = 0.0
    post_ms: float = 0.0
    image: np.ndarray | None = field(default=None, repr=False)
    candidate: str | None = None
    progress: float = 0.0
    top: tuple[tuple[str, float], ...] = ()
    hint: str = ""
    trail: tuple[tuple[float, float], ...] = ()
    trail_letter: str | None = None


@dataclass
class LiveStats:
    """Counts of one run (reset by :meth:`LiveRecognizer.run`).

    Attributes
    ----------
    n_frames, n_frames_with_hand, n_committed : int
        Frames processed, frames where a hand was found, labels committed.
    elapsed_s : float
        Wall-clock seconds from the start of the run to the last frame (consumer time included).
    stop_reason : str
        ``'end of stream'``, ``'read failed'``, ``'max frames'``, ``'quit'`` (window key),
        ``'interrupted'`` (set by the CLI on Ctrl-C), or ``''`` while running.
    detect_ms_total, post_ms_total : float
        Summed per-frame times of detection and of everything after it (milliseconds).
    n_frames_recovered : int
        Frames whose hand only the recovery pass found (``LiveSettings.recover_every``; counted by :meth:`LiveRecognizer.run`).
    """

    n_frames: int = 0
    n_frames_with_hand: int = 0
    n_frames_recovered: int = 0
    n_committed: int = 0
    elapsed_s: float = 0.0
    stop_reason: str = ""
    detect_ms_total: float = 0.0
    post_ms_total: float = 0.0

    @property
    def detection_rate(self) -> float:
        """Fraction of frames with a hand (0.0 before any frame)."""
        return self.n_frames_with_hand / self.n_frames if self.n_frames else 0.0

    @property
    def fps(self) -> float:
        """Frames per second, end to end."""
        return self.n_frames / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict:
        """JSON-ready summary: frames, frames_with_hand, frames_recovered, detection_rate, fps, committed, stop_reason."""
        return {
            "frames": self.n_frames,
            "frames_with_hand": self.n_frames_with_hand,
            "frames_recovered": self.n_frames_recovered,
            "detection_rate": round(self.detection_rate, 4),
            "fps": round(self.fps, 2),
            "committed": self.n_committed,
            "stop_reason": self.stop_reason,
            "detect_ms_mean": round(self.detect_ms_total / self.n_frames, 3) if self.n_frames else 0.0,
            "post_ms_mean": round(self.post_ms_total / self.n_frames, 4) if self.n_frames else 0.0,
        }


def check_landmark_model(model: object) -> None:
    """Raise ModelLoadError unless ``model`` classifies raw landmark rows (127 features).

    Parameters
    ----------
    model : object
        A loaded model or any :class:`Classifier`.
    """
    if not isinstance(model, Classifier):
        raise ModelLoadError(
            f"live recognition needs a model with .classes and .predict_proba_one(x); got "
            f"{type(model).__name__}: load one with landmark_asl.model.store.load_model"
        )
    card = getattr(model, "card", None)
    if card is not None and card.input_kind != "landmarks":
        raise ModelLoadError(
            f"live recognition needs a landmark model (rf or xgb, 127 raw landmark features); "
            f"got the {card.input_kind} model {card.name!r}: load a landmark model directory instead"
        )


class LiveRecognizer:
    """The live loop: frames -> video-mode hand landmarks -> classifier -> smoothing -> text.

    Parameters
    ----------
    model : Classifier
        Anything with ``classes`` and ``predict_proba_one(x (127,)) -> (n_classes,)``, e.g. a
        ``landmark_asl.model.store.LoadedModel``.
    settings : LiveSettings, optional
        Smoothing, threshold, spelling and mirroring; defaults to ``LiveSettings()``.
    extractor_settings : ExtractorSettings, optional
        Settings of the video-mode ``HandLandmarkExtractor`` that :meth:`run` creates.

    Examples
    --------
    >>> from landmark_asl.model.store import load_model  # doctest: +SKIP
    >>> recognizer = LiveRecognizer(load_model(), LiveSettings(mirror=True))  # doctest: +SKIP
    >>> for result in recognizer.run(0):  # doctest: +SKIP
    ...     if result.committed:
    ...         print(result.text)
    """

    def __init__(
        self,
        model: Classifier,
        settings: LiveSettings | None = None,
        *,
        extractor_settings: ExtractorSettings | None = None,
    ) -> None:
        check_landmark_model(model)
        self.model = model
        self.settings = settings if settings is not None else LiveSettings()
        self.extractor_settings = extractor_settings
        self.classes: tuple[str, ...] = tuple(str(c) for c in model.classes)
        if not self.classes:
            raise ModelLoadError("the model has no classes: train it on at least two labels")
        self.stats = LiveStats()
        self._smoother = ProbabilitySmoother(len(self.classes), self.settings.smoothing_window)
        self._speller = Speller(self.settings.stable_frames, self.settings.release_frames)
        self._motion = HandMotion(self.settings.max_speed)
        self._letters = MotionLetterDetector(min_speed=self.settings.max_speed,
                                             max_distance=self.settings.motion_distance)
        # Motion letter -> the model's classes showing its handshape (J: the I hand; Z: the index).
        self._shapes = {letter: {c for c in self.classes if c in shapes} for letter, shapes in MOTION_SHAPES.items()}

        self._features = raw_features_from_hands
        self._rows: list[np.ndarray | None] = []  # per character of text: its A..Z probabilities (words.py)
        self._last_ms: int | None = None  # the previous frame's timestamp
        self._last_commit: tuple[str, int] | None = None  # the last committed label and when
        self._proba: np.ndarray | None = None  # the last classified frame's probabilities
        self._reused = 0  # frames in a row that reused them

    @property
    def text(self) -> str:
        """The text spelled so far."""
        return self._speller.text

    def clear_text(self) -> None:
        """Empty the text (the ``c`` key of the window, the page's clear); as after an edit, the letter
        being held is not committed again."""
        self.set_text("")

    def set_text(self, text: str) -> None:
        """Replace the text (the user edited it: backspace, space, a chosen suggestion).

        Characters kept from the old text keep their letter probabilities; new letters count
        as typed (certain). The letter being held is not committed again.
        """

        old = self._speller.text
        keep = 0
        while keep < min(len(old), len(text)) and old[keep] == text[keep]:
            keep += 1
        # One row per character: upper-casing the whole string can change its length ('ß' -> 'SS').
        self._rows = self._rows[:keep] + [one_hot(c.upper(), 0.99) if c.isascii() and c.isalpha() else None
                                          for c in text[keep:]]
        self._speller.text = text
        self._last_commit = None  # the user's edit: a stroke does not replace what they kept

    def take_text(self, other: LiveRecognizer) -> None:
        """Continue ``other``'s text, with its letters' probabilities, the letter it holds and its last
        commit (the page switched models: a held letter is not committed twice, a J still replaces its I)."""
        self._speller.continue_from(other._speller)
        self._rows = list(other._rows)
        self._last_commit, self._last_ms = other._last_commit, other._last_ms
        # A J or Z stroke in progress goes on (both follow the settings only, not the model's classes).
        self._motion, self._letters = other._motion, other._letters

    def saved_text(self) -> tuple[str, list]:
        """The text and its letters' probabilities, for :meth:`restore_text` (collect mode takes back what its frames commit)."""
        return self._speller.text, list(self._rows)

    def restore_text(self, saved: tuple[str, list]) -> None:
        """Put back a text saved by :meth:`saved_text`, with its letters' probabilities."""
        self._speller.text, rows = saved
        self._rows = list(rows)
        self._last_commit = None

    def suggestions(self, n: int | None = None) -> list[str]:
        """The most likely words for the word being spelled (the text after the last space), best first.

        Returns
        -------
        list of str
            Up to ``n`` (default 3) upper-case words from :mod:`landmark_asl.live.words`; empty when
            the text ends with a space or its last word holds no letter.
        """

        text = self._speller.text
        start = len(text) - len(text.split(" ")[-1])
        rows = self._rows[start:]
        if not rows or any(row is None for row in rows):
            return []
        return default_suggester().suggest(rows, n)

    def _committed(self, old_text: str, row: np.ndarray | None) -> None:
        # Keep one probability row per character: the common prefix's rows, then this commit's.
        text = self._speller.text
        keep = 0
        while keep < min(len(old_text), len(text)) and old_text[keep] == text[keep]:
            keep += 1
        self._rows = self._rows[:keep] + [row if c.isalpha() else None for c in text[keep:]]

    def reset(self) -> None:
        """Forget smoothing, text and counts (done at the start of every :meth:`run`)."""
        self._smoother.reset()
        self._speller.clear()
        self._rows = []
        self._motion.reset()
        self._letters.reset()
        self._last_ms = None
        self._last_commit = None
        self._proba, self._reused = None, 0
        self.stats = LiveStats()

    def process(
        self,
        hand: HandLandmarks | None,
        index: int = 0,
        timestamp_ms: int = 0,
        *,
        frame_size: tuple[int, int] | None = None,
    ) -> FrameResult:
        """Everything after detection for one frame: features, classifier, smoothing, text.

        Parameters
        ----------
        hand : HandLandmarks or None
            The frame's detected hand, or None.
        index, timestamp_ms : int
            Frame number and time, copied into the result.
        frame_size : (width, height), optional
            Size of the frame the hand was found in. MediaPipe divides x by the width and y by
            the height, so on a non-square frame the hand's shape is stretched; the features undo
            that from ``hand.image_size`` (set by the extractor). This is used only for hands that
            carry no size. None: the hand's own size, or square.

        Returns
        -------
        FrameResult
            With ``post_ms`` set and ``image`` None.
        """
        start = time.perf_counter()
        settings = self.settings
        points, top, smoothed, ranked = None, None, None, ()
        if hand is not None:
            if frame_size is not None and hand.image_size is None:
                hand = dataclasses.replace(hand, image_size=frame_size)
            points = hand_pixels(hand.image, hand.image_size)
        # A frame of a slow source (a loaded laptop, the page at 10 fps) stands for several 30 fps
        # frames: holds take the same time and a still hand reads as still at any frame rate.
        elapsed = timestamp_ms - self._last_ms if self._last_ms is not None else 0
        self._last_ms = timestamp_ms
        frames = min(max(elapsed / FRAME_MS, 1.0), MAX_FRAME_WEIGHT) if elapsed > 0 else 1.0
        speed = self._motion.update(points, frames)
        if hand is None:
            self._smoother.reset()
            self._proba, self._reused = None, 0
            label, confidence = None, 0.0
        else:
            if settings.handedness == "geometry":
                handedness = geometric_handedness(hand.image)
                if handedness != hand.handedness:
                    hand = dataclasses.replace(hand, handedness=handedness)
            # A hand held still shows the shape it showed a frame ago: its probabilities are reused
            # for up to reuse_still 30 fps frames in a row. The forest's memory traffic slows
            # MediaPipe's next frame (caches), so fewer calls keep the loop near the bare detector's
            # rate. A slow source's frame counts for the frames it stands for, so one answer is never
            # reused for longer than reuse_still frames' time (at 10 fps: one reuse, then a new answer).
            still = speed <= STILL_SPEED * settings.max_speed
            weight = max(round(frames), 1)
            if self._proba is not None and self._reused + weight <= settings.reuse_still and still:
                proba = self._proba
                self._reused += weight
            else:
                x = self._features((hand,))[0]  # undoes the frame's aspect ratio (features.py)
                proba = self._proba = self.model.predict_proba_one(x)
                self._reused = 0
            smoothed = self._smoother.update(proba)
            order = np.argsort(smoothed)[::-1][:3]
            best = int(order[0])
            confidence = float(smoothed[best])
            runner_up = float(smoothed[order[1]]) if len(order) > 1 else 0.0
            top = self.classes[best]
            ranked = tuple((self.classes[int(i)], round(float(smoothed[i]), 4)) for i in order)
            shown = confidence >= settings.threshold and confidence - runner_up >= settings.margin
            label = top if shown else None
        moving = hand is not None and speed > settings.max_speed
        committed = None
        spelled = label
        old_text = self._speller.text
        row = None
        if settings.motion_letters:
            if label in MOTION_SHAPES:
                spelled = None  # J and Z come from motion, never from a still frame
            shapes = {letter: top in classes for letter, classes in self._shapes.items()}
            match = self._letters.update(points, speed, shapes)
            if match is not None:
                # The handshape committed just before the stroke (an I before the J) is replaced;
                # the still J class shown at the stroke's end counts as the same handshape.
                shapes_of = self._shapes[match.letter]
                # The handshape committed within the stroke's reach before it (an I just before the
                # J) is replaced even when a blurred or turning frame showed another shape meanwhile.
                recent = self._last_commit is not None and self._last_commit[0] in shapes_of - {match.letter} \
                    and timestamp_ms - self._last_commit[1] <= MOTION_REPLACE_MS
                shape = self._last_commit[0] if recent else next(
                    (c for c in (self._speller.last, self._speller.candidate, top) if c in shapes_of), None)
                committed = self._speller.commit_motion(match.letter, shape=shape, replace=recent)
                self._motion.mark()
                from landmark_asl.live.words import one_hot

                row = one_hot(match.letter)
        if committed is None:
            moved = hand is not None and not moving and self._motion.moved() >= settings.slide_distance
            committed = self._speller.update(spelled, hand=hand is not None, moving=moving, moved=moved, frames=frames)
            if committed is not None:
                self._motion.mark()
                from landmark_asl.live.words import letter_row

                row = letter_row(smoothed, self.classes)
        if committed is not None:
            self._committed(old_text, row)
            self._last_commit = (committed, int(timestamp_ms))
        still_motion_class = settings.motion_letters and label in MOTION_SHAPES and not moving and committed is None
        hint = f"draw the {label}" if still_motion_class else ""
        trail, trail_letter = (), None
        if settings.motion_letters and hand is not None:
            trail_letter, path = self._letters.trail()
            if trail_letter is not None:
                width, height = hand.image_size if hand.image_size is not None else (1, 1)
                trail = tuple((round(float(x) / width, 4), round(float(y) / height, 4)) for x, y in path)
        self.stats.n_frames += 1
        self.stats.n_frames_with_hand += hand is not None
        self.stats.n_committed += committed is not None
        post_ms = (time.perf_counter() - start) * 1000.0
        self.stats.post_ms_total += post_ms
        return FrameResult(index, int(timestamp_ms), hand, label, confidence, committed, self.text, 0.0, post_ms,
                           candidate=self._speller.candidate, progress=self._speller.progress, top=ranked,
                           hint=hint, trail=trail, trail_letter=trail_letter)

    def run(
        self,
        source: str | int | Path | FrameSource,
        *,
        max_frames: int | None = None,
        extractor=None,
    ) -> Iterator[FrameResult]:
        """Recognise every frame of a source.

        Parameters
        ----------
        source : str, int, Path or FrameSource
            Camera index, video file or image folder (see :func:`open_source`).
        max_frames : int, optional
            Stop after this many frames (``stats.stop_reason == 'max frames'``).
        extractor : object, optional
            Anything with ``detect_video(rgb, timestamp_ms)`` (and ``recover_frame(rgb, passes)`` for
            ``settings.recover_every``, see :class:`VideoHandDetector`); by default a
            ``HandLandmarkExtractor(extractor_settings, mode='video')`` created and closed here.

        Yields
        ------
        FrameResult
            One per frame, with ``image`` (RGB, after ``mirror``) and timings.

        Raises
        ------
        SourceError
            At once if the source cannot be opened; on the first iteration if it yields no frame
            at all. A stream that ends or drops after the first frame ends the iteration cleanly
            (see ``stats.stop_reason``).
        """
        frames = source if isinstance(source, FrameSource) else open_source(source)
        return self._loop(frames, max_frames, extractor)

    def _loop(self, frames: FrameSource, max_frames: int | None, extractor) -> Iterator[FrameResult]:
        import cv2

        self.reset()
        with contextlib.ExitStack() as stack:
            stack.callback(frames.close)
            if extractor is None:
                from landmark_asl.hands.extractor import HandLandmarkExtractor

                extractor = stack.enter_context(HandLandmarkExtractor(self.extractor_settings, mode="video"))
            detector = VideoHandDetector(extractor, self.settings.recover_every)
            # One call before the first frame: some classifiers build fast-path state lazily.
            self.model.predict_proba_one(np.zeros(N_RAW_FEATURES))
            start = time.perf_counter()
            last_ts = -1
            for index, (bgr, timestamp_ms) in enumerate(frames.frames()):
                if max_frames is not None and index >= max_frames:
                    self.stats.stop_reason = "max frames"
                    return
                t0 = time.perf_counter()
                if self.settings.mirror:
                    bgr = cv2.flip(bgr, 1)
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                # MediaPipe refuses a timestamp that does not increase (camera clocks can stall).
                timestamp_ms = max(int(timestamp_ms), last_ts + 1)
                last_ts = timestamp_ms
                hand = detector.detect(rgb, timestamp_ms)
                self.stats.n_frames_recovered = detector.n_recovered
                detect_ms = (time.perf_counter() - t0) * 1000.0
                self.stats.detect_ms_total += detect_ms
                result = self.process(hand, index, timestamp_ms, frame_size=(rgb.shape[1], rgb.shape[0]))
                self.stats.elapsed_s = time.perf_counter() - start
                yield dataclasses.replace(result, detect_ms=detect_ms, image=rgb)
            self.stats.elapsed_s = time.perf_counter() - start
            self.stats.stop_reason = frames.stop_reason or "end of stream"
