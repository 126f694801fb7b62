"""Frame sources of the live loop: a camera, a video file or a folder of images, as timestamped RGB frames."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from landmark_asl.exceptions import DatasetError, SourceError
from landmark_asl.hands.images import IMAGE_SUFFIXES, is_image_file, printable_path, read_image

# --- frame sources --------------------------------------------------------------------------------


class FrameSource:
    """Frames of a camera, video file or image folder, with strictly increasing timestamps.

    Use :func:`open_source`; iterate :meth:`frames`; call :meth:`close` (or use ``with``).

    Attributes
    ----------
    name : str
        The source as the user named it (for messages).
    kind : {'camera', 'video', 'folder'}
        What it is.
    stop_reason : str
        Why :meth:`frames` stopped: ``'end of stream'``, or ``'read failed'`` for a stream that
        dropped mid-way; ``''`` while running.
    n_skipped : int
        Image-folder files that could not be read and were skipped.
    """

    kind = ""

    def __init__(self, name: str) -> None:
        self.name = name
        self.stop_reason = ""
        self.n_skipped = 0

    def frames(self) -> Iterator[tuple[np.ndarray, int]]:  # pragma: no cover - abstract
        """Yield ``(frame, timestamp_ms)``: BGR ndarray of shape (H, W, 3) uint8, int milliseconds."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class _CaptureSource(FrameSource):
    """A ``cv2.VideoCapture`` over a camera index or a video file."""

    def __init__(self, name: str, target: int | str, kind: str) -> None:
        import cv2

        super().__init__(name)
        self.kind = kind
        self._cv2 = cv2
        self._capture = cv2.VideoCapture(target)
        if not self._capture.isOpened():
            self._capture.release()
            if kind == "camera":
                raise SourceError(
                    f"cannot open camera {name}: check that it is connected and not used by another "
                    "program, try another index (source=1), or pass a video file or image folder"
                )
            raise SourceError(
                f"cannot open video {name}: not a video OpenCV can read (expected e.g. mp4/mp4v or "
                "MJPG avi): check the file is complete, or convert it with ffmpeg"
            )
        fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if np.isfinite(fps) and 0.0 < fps <= 1000.0 else 30.0

    def close(self) -> None:
        self._capture.release()

    def _timestamp(self, index: int, start: float) -> int:
        if self.kind == "camera":
            return int((time.monotonic() - start) * 1000.0)
        return int(round(index * 1000.0 / self.fps))

    def frames(self) -> Iterator[tuple[np.ndarray, int]]:
        start = time.monotonic()
        index = 0
        while True:
            ok, frame = self._capture.read()
            if not ok or frame is None:
                if index == 0:
                    why = (
                        "the camera delivered no image; check that no other program uses it"
                        if self.kind == "camera"
                        else "the file is empty, corrupt or uses a codec OpenCV lacks (mp4v and MJPG work)"
                    )
                    raise SourceError(f"cannot read any frame from {self.kind} {self.name}: {why}")
                # A file ends with a failed read; a camera or a truncated file drops: both end
                # the stream cleanly with what was recognised so far.
                frame_count = self._capture.get(self._cv2.CAP_PROP_FRAME_COUNT) or 0
                dropped = self.kind == "camera" or (frame_count > 0 and index < frame_count - 1)
                self.stop_reason = "read failed" if dropped else "end of stream"
                return
            if frame.ndim == 2:
                frame = self._cv2.cvtColor(frame, self._cv2.COLOR_GRAY2BGR)
            yield frame, self._timestamp(index, start)
            index += 1


class _FolderSource(FrameSource):
    """The images of a folder, sorted by file name, played as frames at ``fps``."""

    kind = "folder"

    def __init__(self, name: str, folder: Path, fps: float) -> None:
        super().__init__(name)
        self.fps = float(fps)
        self.files = sorted(p for p in folder.iterdir() if p.is_file() and is_image_file(p))
        if not self.files:
            raise SourceError(
                f"image folder {printable_path(name)} holds no images: expected files ending in "
                f"{', '.join(sorted(IMAGE_SUFFIXES))}"
            )

    def frames(self) -> Iterator[tuple[np.ndarray, int]]:
        import cv2

        index = 0
        for path in self.files:
            try:
                frame = cv2.cvtColor(read_image(path), cv2.COLOR_RGB2BGR)
            except DatasetError as exc:
                self.n_skipped += 1
                warnings.warn(f"skipped {exc}", RuntimeWarning, stacklevel=2)
                continue
            yield frame, int(round(index * 1000.0 / self.fps))
            index += 1
        if index == 0:
            raise SourceError(f"no image in folder {printable_path(self.name)} could be read: check the files are images")
        self.stop_reason = "end of stream"


def open_source(source: str | int | Path, *, fps: float = 30.0) -> FrameSource:
    """Open a camera, video file or image folder.

    Parameters
    ----------
    source : str, int or Path
        A camera index (``0`` or ``'0'``), a video file, or a folder of images (played in sorted
        file-name order). An existing path wins over a camera index.
    fps : float
        Frame rate given to image folders (their timestamps are ``index * 1000 / fps`` ms).

    Returns
    -------
    FrameSource

    Raises
    ------
    SourceError
        If the path does not exist, the camera cannot be opened or the file is not a readable video.
    """
    if isinstance(source, int) and not isinstance(source, bool):
        return _open_camera(str(source), source)
    name = str(source)
    if not name.strip():
        raise SourceError("source is empty: expected a camera index (0, 1, ...), a video file or a folder of images")
    path = Path(name).expanduser()
    if path.is_dir():
        return _FolderSource(name, path, fps)
    if path.is_file():
        if printable_path(name) != name:
            # OpenCV's VideoCapture crashes (SIGSEGV) on file names that are not valid UTF-8.
            raise SourceError(
                f"cannot open video {printable_path(name)}: its file name is not valid UTF-8, which "
                "OpenCV cannot open; rename the file"
            )
        return _CaptureSource(name, str(path), "video")
    if path.exists():  # a pipe, socket or device: OpenCV would block or fail on it
        raise SourceError(
            f"source {printable_path(name)} is not a regular file or folder (a pipe, socket or device): expected a "
            "camera index (0, 1, ...), a video file or a folder of images"
        )
    digits = name.strip()
    if digits.isdecimal():  # not isdigit(): int() refuses digits such as '²'
        # Thousands of digits are not even read (int() refuses over 4300): out of range all the same.
        return _open_camera(digits, int(digits) if len(digits) <= 20 else MAX_CAMERA_INDEX + 1)
    raise SourceError(
        f"source {name!r} not found: expected a camera index (0, 1, ...), a video file or a "
        "folder of images; check the path"
    )


#: Largest camera index OpenCV takes (a C int); a larger one would crash ``cv2.VideoCapture``.
MAX_CAMERA_INDEX = 2**31 - 1


def _open_camera(name: str, index: int) -> FrameSource:
    """The camera ``index`` (named ``name`` in messages); an index OpenCV cannot take is refused."""
    if not 0 <= index <= MAX_CAMERA_INDEX:
        shown = name if len(name) <= 24 else f"{name[:20]}... ({len(name)} digits)"
        raise SourceError(
            f"camera index {shown} is out of range: expected 0 to {MAX_CAMERA_INDEX} (0 is the first camera), "
            "a video file or a folder of images"
        )
    return _CaptureSource(name, index, "camera")
