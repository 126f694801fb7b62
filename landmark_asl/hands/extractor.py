"""The hand extractor: MediaPipe's HandLandmarker on one image, with recovery passes, and its settings.

This is the only module that imports mediapipe (inside functions: ``import landmark_asl`` stays fast).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import io
import os
import sys
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Literal

import numpy as np

from landmark_asl.exceptions import ExtractionError
from landmark_asl.hands.landmarks import HandLandmarks
from landmark_asl.hands.settings import RECOVERY_STRATEGIES, ExtractorSettings
from landmark_asl.paths import CACHE_ENV, cache_dir

#: Model files shipped inside the mediapipe wheel, and their names inside a ``.task`` bundle.
_BUNDLE_MEMBERS = (
    ("modules/palm_detection/palm_detection_full.tflite", "hand_detector.tflite"),
    ("modules/hand_landmark/hand_landmark_full.tflite", "hand_landmarks_detector.tflite"),
)


@dataclasses.dataclass(frozen=True)
class Detection:
    """Result of :meth:`HandLandmarkExtractor.extract` on one image.

    Attributes
    ----------
    landmarks : HandLandmarks or None
        The hand, in the coordinates of the original image; None when no pass found one.
    strategy : str
        The pass that found the hand (``'plain'`` or one of :data:`RECOVERY_STRATEGIES`);
        ``''`` when none did.
    reason : str
        Why there is no hand (``'no hand found'``); ``''`` when there is one.
    """

    landmarks: HandLandmarks | None
    strategy: str
    reason: str

    @property
    def detected(self) -> bool:
        """Whether a hand was found."""
        return self.landmarks is not None


#: Set (to anything but ``''``/``0``) to see MediaPipe's and TFLite's native log lines; the
#: CLI's ``-v`` sets it. By default they are hidden.
VERBOSE_ENV = "LANDMARK_ASL_VERBOSE"
_HIDDEN_LOCK = threading.Lock()
_hidden_depth = 0
_saved_fd2: int | None = None
_QUIET = False


@contextlib.contextmanager
def native_logs_hidden():
    """Hide what C++ writes to file descriptor 2 (MediaPipe/absl/TFLite log lines) for the duration.

    MediaPipe prints a dozen INFO/WARNING lines when a landmarker is created and on its first
    image; they are noise to a library user. Only those moments are wrapped (the extractor
    does it), so the process's stderr is untouched otherwise. Nested and concurrent uses
    share one redirection. ``$LANDMARK_ASL_VERBOSE`` turns it off.
    """
    global _hidden_depth, _saved_fd2
    if os.environ.get(VERBOSE_ENV, "") not in ("", "0"):
        yield
        return
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _HIDDEN_LOCK:
        if _hidden_depth == 0:
            try:
                sys.stderr.flush()
            except (AttributeError, OSError, ValueError):
                pass
            _saved_fd2 = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        _hidden_depth += 1
    try:
        yield
    finally:
        with _HIDDEN_LOCK:
            _hidden_depth -= 1
            if _hidden_depth == 0 and _saved_fd2 is not None:
                os.dup2(_saved_fd2, 2)
                os.close(_saved_fd2)
                _saved_fd2 = None


# --- native log output, for the whole process ---------------------------------------------------------------------------


def quiet_native_logs() -> None:
    """Hide the log lines MediaPipe, TFLite and absl write from C++ to file descriptor 2.

    Sets ``GLOG_minloglevel`` and ``TF_CPP_MIN_LOG_LEVEL`` (read when mediapipe starts) and
    points file descriptor 2 at ``/dev/null``, which also silences worker processes (they
    inherit it). Python's ``sys.stderr`` keeps writing to the original stream through a
    duplicate of the old descriptor, so progress bars, warnings and errors stay visible.
    Calling it again does nothing.
    """
    global _QUIET
    if _QUIET:
        return
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        stderr_fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by a test runner or an IDE
        stderr_fd = None
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    if stderr_fd == 2:
        sys.stderr = io.TextIOWrapper(
            os.fdopen(saved, "wb", buffering=0),
            encoding=sys.stderr.encoding or "utf-8",
            errors="backslashreplace",
            line_buffering=True,
            write_through=True,
        )
    else:
        os.close(saved)
    _QUIET = True


def native_logs_quiet() -> bool:
    """Whether :func:`quiet_native_logs` has run in this process (worker processes then run it too)."""
    return _QUIET


# cache folder -> bundle built or found there by this process (hashing the models takes a while).
_BUNDLES: dict[str, Path] = {}


def _mediapipe_root() -> Path:
    try:
        import mediapipe
    except ImportError as exc:
        raise ImportError(
            "landmark extraction needs mediapipe: pip install 'mediapipe==0.10.21'"
        ) from exc
    return Path(mediapipe.__file__).resolve().parent


def model_bundle_path() -> Path:
    """Return the path of a HandLandmarker ``.task`` bundle built from the installed mediapipe wheel.

    The bundle is an uncompressed zip (MediaPipe refuses deflated members) holding the wheel's
    full palm detector and full landmark model. It is built once into :func:`cache_dir`, under a
    name keyed by the mediapipe version and the models' SHA-256, and written atomically (a
    temporary file renamed into place), so concurrent processes never see a partial file.

    Returns
    -------
    Path
        The cached bundle.

    Raises
    ------
    ExtractionError
        If the model files are missing from the mediapipe installation or the cache is not writable.
    """
    folder = cache_dir()
    cached = _BUNDLES.get(str(folder))
    if cached is not None and cached.is_file():
        return cached
    import mediapipe

    root = _mediapipe_root()
    digest = hashlib.sha256(mediapipe.__version__.encode())
    members = []
    for relative, arcname in _BUNDLE_MEMBERS:
        path = root / relative
        if not path.is_file():
            raise ExtractionError(
                f"mediapipe model file not found: {path}; expected it inside mediapipe "
                f"{mediapipe.__version__}'s wheel: reinstall mediapipe==0.10.21 or pass "
                "model_asset= with an official hand_landmarker.task"
            )
        digest.update(arcname.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
        members.append((path, arcname))
    target = folder / f"hand_landmarker-mp{mediapipe.__version__}-{digest.hexdigest()[:16]}.task"
    if target.is_file():
        _BUNDLES[str(folder)] = target
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".bundle-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as bundle:
                for path, arcname in members:
                    # A fixed date and mode: the same models give the same bytes in every install, so a
                    # table's model_asset_sha256 matches whichever install rebuilt the bundle.
                    info = zipfile.ZipInfo(arcname, date_time=(1980, 1, 1, 0, 0, 0))
                    info.external_attr = 0o644 << 16
                    bundle.writestr(info, path.read_bytes(), compress_type=zipfile.ZIP_STORED)
            os.chmod(tmp, 0o644)  # readable by every user of a shared cache, as the landmark tables are
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ExtractionError(
            f"cannot write the hand model bundle to {folder}: {exc}; set {CACHE_ENV} to a "
            "writable folder"
        ) from exc
    _BUNDLES[str(folder)] = target
    return target


def _to_mp_image(rgb: np.ndarray):
    import mediapipe as mp

    array = np.asarray(rgb)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ValueError(
            f"image must be an RGB ndarray of shape (H, W, 3) and dtype uint8; got shape "
            f"{array.shape} and dtype {array.dtype}: convert grayscale with np.repeat(img[..., None], 3, -1)"
        )
    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(array))


def _first_hand(result, rgb: np.ndarray) -> HandLandmarks | None:
    if not result.hand_landmarks:
        return None
    image = np.array([(p.x, p.y, p.z) for p in result.hand_landmarks[0]], dtype=np.float32)
    world = np.array([(p.x, p.y, p.z) for p in result.hand_world_landmarks[0]], dtype=np.float32)
    category = result.handedness[0][0]
    score = min(max(category.score, 0.0), 1.0)
    return HandLandmarks(image, world, category.category_name, score, (rgb.shape[1], rgb.shape[0]))


#: Longest side of the image given to the detector in IMAGE mode; larger images are shrunk
#: first. Landmarks are normalised by the image size and MediaPipe looks at 192-224 pixel
#: crops, so nothing is lost, while the padded recovery passes of a 1,920-pixel image
#: without a hand cost about 250 MB more than at 1,280 (measured: peak 990 vs 828 MB).
DETECTION_MAX_SIDE = 1280


def limit_size(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` shrunk so that its longer side is at most :data:`DETECTION_MAX_SIDE` (unchanged when it is)."""
    import cv2

    longest = max(rgb.shape[:2])
    if longest <= DETECTION_MAX_SIDE:
        return rgb
    scale = DETECTION_MAX_SIDE / longest
    width, height = (max(1, round(n * scale)) for n in (rgb.shape[1], rgb.shape[0]))
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)


def _pad(rgb: np.ndarray, fraction: float) -> tuple[np.ndarray, int]:
    height, width = rgb.shape[:2]
    border = int(round(fraction * max(height, width)))
    import cv2

    # Repeating the edge pixels keeps a hand cut by the frame (wrist, forearm) connected to
    # its surroundings; on the sampled sets it beat a black border (asl_alphabet_64: 64% vs 59%).
    return cv2.copyMakeBorder(rgb, border, border, border, border, cv2.BORDER_REPLICATE), border


def map_back(hand: HandLandmarks, *, x0: float, y0: float, width: float, height: float,
             full_size: tuple[int, int], mirrored: bool = False) -> HandLandmarks:
    """Express a hand found in a sub-image (possibly mirrored) in the full image's coordinates.

    Parameters
    ----------
    hand : HandLandmarks
        Found in an image that shows the full image's pixels ``x0 .. x0 + width``,
        ``y0 .. y0 + height`` (negative or beyond the image for a border), stretched to any size,
        mirrored left-right when ``mirrored``.
    x0, y0, width, height : float
        That window, in pixels of the full image.
    full_size : (int, int)
        ``(width, height)`` of the full image.
    mirrored : bool
        The sub-image was flipped left-right: x is flipped back, world x negated and the
        handedness swapped (a right hand in the flipped photo is a left hand in the photo).

    Returns
    -------
    HandLandmarks
        In the full image (``image_size`` = ``full_size``).
    """
    full_w, full_h = full_size
    image = hand.image.astype(np.float64)
    world = hand.world
    handedness = hand.handedness
    if mirrored:
        image[:, 0] = 1.0 - image[:, 0]
        world = world * np.array([-1.0, 1.0, 1.0], dtype=np.float32)
        handedness = "Left" if handedness == "Right" else "Right"
    image[:, 0] = (image[:, 0] * width + x0) / full_w
    image[:, 1] = (image[:, 1] * height + y0) / full_h
    image[:, 2] = image[:, 2] * width / full_w  # MediaPipe's z has the scale of x
    return HandLandmarks(image.astype(np.float32), world, handedness, hand.handedness_score, (full_w, full_h))


def _unpad(hand: HandLandmarks, border: int, height: int, width: int, *, mirrored: bool = False) -> HandLandmarks:
    """Map a hand found in a padded (and possibly mirrored) image back to the original image."""
    return map_back(hand, x0=-border, y0=-border, width=width + 2 * border, height=height + 2 * border,
                    full_size=(width, height), mirrored=mirrored)


class HandLandmarkExtractor:
    """Find one hand's 21 landmarks in RGB images with MediaPipe's Tasks ``HandLandmarker``.

    Handedness follows the MediaPipe Tasks convention, which this library keeps: ``'Right'``
    means the hand looks like a right hand *in the image as given*. In an ordinary
    (unmirrored) photo that is the signer's right hand; in a mirrored selfie preview it is the
    signer's left hand. Flipping an image horizontally flips the label. (The legacy
    ``mediapipe.solutions.hands`` API reports the opposite label for the same image.)

    Parameters
    ----------
    settings : ExtractorSettings, optional
        Thresholds, model asset and recovery passes; defaults to ``ExtractorSettings()``.
    mode : {'image', 'video'}
        ``'image'``: independent images (:meth:`detect`, :meth:`extract`). ``'video'``: a
        sequence of frames with increasing timestamps (:meth:`detect_video`), where MediaPipe
        tracks the hand between frames and skips the palm detector (about 2.5x faster).

    Examples
    --------
    >>> with HandLandmarkExtractor() as extractor:  # doctest: +SKIP
    ...     detection = extractor.extract(rgb)
    ...     detection.landmarks.image.shape
    (21, 3)
    """

    def __init__(
        self, settings: ExtractorSettings | None = None, *, mode: Literal["image", "video"] = "image"
    ) -> None:
        if mode not in ("image", "video"):
            raise ValueError(f"mode must be 'image' or 'video'; got {mode!r}")
        self.settings = settings if settings is not None else ExtractorSettings()
        self.mode = mode
        self._asset = self._resolve_asset()
        self._main = self._create(self.settings.min_detection_confidence, video=mode == "video")
        # Recovery landmarkers, created on first need (most images never reach them).
        self._recovery: dict[str, object] = {}
        self._last_timestamp_ms: int | None = None
        self._warm: set[int] = set()  # landmarkers that ran once (their first run logs natively)

    # -- construction -------------------------------------------------------------------------

    def _resolve_asset(self) -> Path:
        asset = self.settings.model_asset
        if asset is None:
            return model_bundle_path()
        path = Path(asset).expanduser()
        if not path.is_file():
            raise ExtractionError(
                f"model asset not found: {path}; expected a MediaPipe hand_landmarker.task file: "
                "check the path, or leave model_asset unset to use the model inside mediapipe"
            )
        return path

    def _create(self, min_detection_confidence: float, *, video: bool, min_presence_confidence: float | None = None):
        _mediapipe_root()
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.HandLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self._asset)),
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
            num_hands=int(self.settings.num_hands),
            min_hand_detection_confidence=float(min_detection_confidence),
            min_hand_presence_confidence=float(
                self.settings.min_presence_confidence if min_presence_confidence is None else min_presence_confidence
            ),
            min_tracking_confidence=float(self.settings.min_tracking_confidence),
        )
        try:
            with native_logs_hidden():
                return vision.HandLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise ExtractionError(
                f"cannot load the hand landmark model from {self._asset}: {exc}; expected a "
                "MediaPipe hand_landmarker.task (an uncompressed zip with hand_detector.tflite and "
                "hand_landmarks_detector.tflite)"
            ) from exc

    def close(self) -> None:
        """Release the MediaPipe graphs; the extractor cannot be used afterwards."""
        for landmarker in getattr(self, "_recovery", {}).values():
            landmarker.close()
        self._recovery = {}
        if getattr(self, "_main", None) is not None:
            self._main.close()
            self._main = None

    def __enter__(self) -> HandLandmarkExtractor:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __getstate__(self):
        raise TypeError(
            "HandLandmarkExtractor cannot be pickled (it holds MediaPipe graphs): create one per "
            "process, e.g. in a multiprocessing initializer"
        )

    # -- inference ----------------------------------------------------------------------------

    def _check_mode(self, wanted: str, method: str) -> None:
        if self._main is None:
            raise ExtractionError("the extractor is closed: create a new HandLandmarkExtractor")
        if self.mode != wanted:
            raise ExtractionError(
                f"{method}() needs an extractor created with mode={wanted!r}; this one has "
                f"mode={self.mode!r}"
            )

    def _run(self, landmarker, image, timestamp_ms: int | None = None):
        """``landmarker.detect`` (or ``detect_for_video``), its native log lines hidden on its first image."""
        call = landmarker.detect if timestamp_ms is None else functools.partial(landmarker.detect_for_video,
                                                                                 timestamp_ms=timestamp_ms)
        if id(landmarker) in self._warm:
            return call(image)
        with native_logs_hidden():
            result = call(image)
        self._warm.add(id(landmarker))
        return result

    def detect(self, rgb: np.ndarray) -> HandLandmarks | None:
        """Run one plain pass of the detector on an image.

        Parameters
        ----------
        rgb : ndarray of shape (H, W, 3), uint8
            The image, RGB channel order.

        Returns
        -------
        HandLandmarks or None
            The most confident hand, or None when there is none.
        """
        self._check_mode("image", "detect")
        return _first_hand(self._run(self._main, _to_mp_image(rgb)), rgb)

    def extract(self, rgb: np.ndarray) -> Detection:
        """Find a hand, trying the recovery passes when the plain pass finds none.

        Passes, in order, each tried only if the previous ones found nothing: ``plain``;
        ``pad`` (a border of ``pad_fraction`` of the longer side on every side, repeating the
        edge pixels: the palm detector misses hands that fill or leave the frame);
        ``pad_low_confidence`` (the padded image with the palm detector threshold at
        ``recovery_min_detection_confidence``); ``mirror_pad_low_confidence`` (the same,
        mirrored left-right: the detector is not symmetric). Every recovery pass requires a
        hand presence score of ``recovery_min_presence_confidence``. Landmarks, world coordinates
        and handedness are mapped back to the original image. See docs/guide/extraction.md ("Coverage")
        for what each pass adds and the false detections it costs on empty images.

        Parameters
        ----------
        rgb : ndarray of shape (H, W, 3), uint8
            The image, RGB channel order.

        Returns
        -------
        Detection
            Landmarks (or None), the pass that found them, and the reason when none did.
        """
        self._check_mode("image", "extract")
        size = (rgb.shape[1], rgb.shape[0])
        rgb = limit_size(np.asarray(rgb))
        hand = _first_hand(self._run(self._main, _to_mp_image(rgb)), rgb)
        if hand is not None:
            return Detection(dataclasses.replace(hand, image_size=size), "plain", "")
        if self.settings.recovery:
            hand, strategy = self._recover_first(rgb, RECOVERY_STRATEGIES)
            if hand is not None:
                return Detection(dataclasses.replace(hand, image_size=size), strategy, "")
        return Detection(None, "", "no hand found")

    def _recover_first(self, rgb: np.ndarray, strategies: tuple[str, ...]) -> tuple[HandLandmarks | None, str]:
        """The first of ``strategies`` that finds a hand in ``rgb`` (already size-limited), and its name."""
        padded = _pad(rgb, self.settings.pad_fraction)
        for strategy in strategies:
            hand = self._recover(strategy, rgb, padded)
            if hand is not None:
                return hand, strategy
        return None, ""

    def prepare_recovery(self, strategies: tuple[str, ...] = ("pad",)) -> None:
        """Create the landmarkers of these recovery passes now and run each once on a small blank
        image, so that the first :meth:`recover_frame` of a live stream does not stall it (creating
        one takes about 0.1 s)."""
        self._check_strategies(strategies)
        blank = np.zeros((64, 64, 3), np.uint8)
        for strategy in strategies:
            self._recover(strategy, blank)

    def _check_strategies(self, strategies: tuple[str, ...]) -> None:
        if self._main is None:
            raise ExtractionError("the extractor is closed: create a new HandLandmarkExtractor")
        unknown = [s for s in strategies if s not in RECOVERY_STRATEGIES]
        if unknown:
            raise ValueError(f"unknown recovery strategies {unknown}; expected names from {RECOVERY_STRATEGIES}")

    def recover_frame(self, rgb: np.ndarray, strategies: tuple[str, ...] = ("pad",)) -> HandLandmarks | None:
        """Try recovery passes on one video frame where :meth:`detect_video` found no hand.

        The passes of :meth:`extract` (IMAGE mode, on the frame with a border; see
        :data:`RECOVERY_STRATEGIES`), in the order given, each only if the previous found
        nothing. The palm detector misses hands that fill the frame, such as a fist held close
        to the camera; the border makes them smaller. The tracker of :meth:`detect_video` is not
        told: the next frame is detected as before. Works in either mode; thresholds as in
        :meth:`extract`'s passes (presence at least ``recovery_min_presence_confidence``).

        Parameters
        ----------
        rgb : ndarray of shape (H, W, 3), uint8
            The frame, RGB channel order.
        strategies : tuple of str
            Names from :data:`RECOVERY_STRATEGIES`.

        Returns
        -------
        HandLandmarks or None
            The hand, in the frame's coordinates, or None when no pass found one.

        Raises
        ------
        ValueError
            An unknown pass name.
        ExtractionError
            The extractor is closed.
        """
        self._check_strategies(strategies)
        rgb = np.asarray(rgb)
        hand, _ = self._recover_first(limit_size(rgb), strategies)
        return None if hand is None else dataclasses.replace(hand, image_size=(rgb.shape[1], rgb.shape[0]))

    def _recover(self, strategy: str, rgb: np.ndarray, padded: tuple[np.ndarray, int] | None = None) -> HandLandmarks | None:
        """Run one recovery pass; ``padded`` is ``_pad(rgb, pad_fraction)`` when already computed."""
        image, border = padded if padded is not None else _pad(np.asarray(rgb), self.settings.pad_fraction)
        low = strategy in ("pad_low_confidence", "mirror_pad_low_confidence")
        if low not in self._recovery:
            detection = self.settings.recovery_min_detection_confidence if low else self.settings.min_detection_confidence
            self._recovery[low] = self._create(
                detection, video=False, min_presence_confidence=self.settings.recovery_min_presence_confidence
            )
        landmarker = self._recovery[low]
        mirrored = strategy.startswith("mirror")
        if mirrored:
            image = np.ascontiguousarray(image[:, ::-1])
        hand = _first_hand(self._run(landmarker, _to_mp_image(image)), image)
        if hand is None:
            return None
        return _unpad(hand, border, rgb.shape[0], rgb.shape[1], mirrored=mirrored)

    def detect_video(self, rgb: np.ndarray, timestamp_ms: int) -> HandLandmarks | None:
        """Find the hand in one frame of a video (VIDEO mode: tracks between frames).

        Parameters
        ----------
        rgb : ndarray of shape (H, W, 3), uint8
            The frame, RGB channel order.
        timestamp_ms : int
            The frame's time in milliseconds; must increase strictly from call to call.

        Returns
        -------
        HandLandmarks or None
            The most confident hand, or None when there is none.

        Raises
        ------
        ExtractionError
            If the extractor was not created with ``mode='video'`` or timestamps do not increase.
        """
        self._check_mode("video", "detect_video")
        timestamp_ms = int(timestamp_ms)
        if self._last_timestamp_ms is not None and timestamp_ms <= self._last_timestamp_ms:
            raise ExtractionError(
                f"video timestamps must increase strictly; got {timestamp_ms} ms after "
                f"{self._last_timestamp_ms} ms: pass the frame time, or a frame counter times "
                "the frame period"
            )
        result = self._run(self._main, _to_mp_image(rgb), timestamp_ms)
        self._last_timestamp_ms = timestamp_ms
        return _first_hand(result, rgb)
