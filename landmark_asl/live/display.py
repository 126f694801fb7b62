"""The live loop's window: whether a display exists, the overlay drawn on each frame, the window loop."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import numpy as np

from landmark_asl.live.loop import FrameResult, LiveRecognizer

#: The 21-point hand skeleton (MediaPipe's topology), for drawing.
HAND_CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 4),
    (0, 5), (5, 6), (6, 7), (7, 8),
    (5, 9), (9, 10), (10, 11), (11, 12),
    (9, 13), (13, 14), (14, 15), (15, 16),
    (13, 17), (0, 17), (17, 18), (18, 19), (19, 20),
)  # fmt: skip

# --- display --------------------------------------------------------------------------------------


def display_available() -> bool:
    """Whether a window can be opened: on Linux, an X server answers at ``$DISPLAY`` or a Wayland
    socket exists for ``$WAYLAND_DISPLAY``.

    OpenCV's ``imshow`` without a display aborts the whole process (SIGABRT), so the choice
    must be made before any window call. A ``$DISPLAY`` left set where no server listens (a stale
    SSH forwarding, a container) counts as no display.
    """
    if sys.platform.startswith("linux"):
        return _x_server_answers(os.environ.get("DISPLAY", "")) or _wayland_socket(os.environ.get("WAYLAND_DISPLAY", ""))
    return True


def _x_server_answers(display: str, timeout: float = 0.5) -> bool:
    """Whether something accepts connections at an X display name (``:0``, ``unix:1``, ``host:10.0``)."""
    import re
    import socket

    match = re.fullmatch(r"(?:(?P<host>[^:]*)/)?(?P<name>[^:]*):(?P<number>\d+)(?:\.\d+)?", display.strip())
    if not match:
        return False
    name, number = match["name"] or "", int(match["number"])
    if number > 59535:  # beyond TCP port 65535
        return False
    if name in ("", "unix"):  # a local server: its socket file, or the same name in Linux's abstract namespace
        addresses = [f"/tmp/.X11-unix/X{number}", f"\0/tmp/.X11-unix/X{number}"]
        for address in addresses:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                try:
                    sock.connect(address)
                    return True
                except OSError:
                    continue
        if name == "unix":
            return False
        name = "localhost"  # ":N" without a socket: Xlib tries TCP on this machine too
    try:
        with socket.create_connection((name, 6000 + number), timeout=timeout):
            return True
    except (OSError, UnicodeError, ValueError, OverflowError):  # a name no lookup takes is no display
        return False


def _wayland_socket(name: str) -> bool:
    """Whether the socket of a Wayland display name exists (absolute, or in ``$XDG_RUNTIME_DIR``)."""
    import stat
    from pathlib import Path

    if not name:
        return False
    path = Path(name) if os.path.isabs(name) else Path(os.environ.get("XDG_RUNTIME_DIR", "")) / name
    try:
        return stat.S_ISSOCK(path.stat().st_mode)
    except (OSError, ValueError):
        return False


def draw_overlay(frame_bgr: np.ndarray, result: FrameResult, fps: float | None = None) -> np.ndarray:
    """Draw landmarks, current letter, confidence, the held letter and its progress, fps and text on a copy of a BGR frame.

    Parameters
    ----------
    frame_bgr : ndarray of shape (H, W, 3), uint8
        The frame (BGR, as detected).
    result : FrameResult
        The frame's result.
    fps : float, optional
        Frames per second to show.

    Returns
    -------
    ndarray of shape (H, W, 3), uint8
        The annotated copy.
    """
    import cv2

    out = frame_bgr.copy()
    height, width = out.shape[:2]
    if result.hand is not None:
        points = [(int(x * width), int(y * height)) for x, y in result.hand.image[:, :2]]
        for a, b in HAND_CONNECTIONS:
            cv2.line(out, points[a], points[b], (255, 255, 255), 2, cv2.LINE_AA)
        for point in points:
            cv2.circle(out, point, 3, (0, 0, 255), -1, cv2.LINE_AA)
    letter = result.label if result.label is not None else "-"
    cv2.rectangle(out, (0, 0), (width, 36), (0, 0, 0), -1)
    header = f"{letter}  {result.confidence:.2f}"
    if result.candidate is not None:
        header += f"   holding {result.candidate}"
    if fps is not None:
        header += f"   {fps:.0f} fps"
    cv2.putText(out, header, (8, 26), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 255, 0), 2, cv2.LINE_AA)
    # How close the held letter is to its commit: a bar under the header, full once committed.
    progress = min(max(float(result.progress), 0.0), 1.0) if result.candidate is not None else 0.0
    if int(round(width * progress)) > 0:
        cv2.rectangle(out, (0, 36), (int(round(width * progress)) - 1, 42), (0, 255, 255), -1)
    cv2.rectangle(out, (0, height - 36), (width, height), (0, 0, 0), -1)
    cv2.putText(out, result.text[-40:] + "_", (8, height - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.8,
                (255, 255, 255), 2, cv2.LINE_AA)  # fmt: skip
    return out


def show_window(
    results: Iterator[FrameResult], recognizer: LiveRecognizer, *, title: str = "landmark-asl live"
) -> Iterator[FrameResult]:
    """Show each result in a window while passing it on; ``q``/ESC stops, ``c`` clears the text.

    Call only when :func:`display_available` (or on a desktop): OpenCV aborts without a display.

    Parameters
    ----------
    results : iterator of FrameResult
        Usually ``recognizer.run(source)``.
    recognizer : LiveRecognizer
        The recognizer producing them (its text is cleared by ``c``).
    title : str
        Window title.

    Yields
    ------
    FrameResult
        The results, unchanged.
    """
    import cv2

    try:
        for result in results:
            yield result
            if result.image is None:
                continue
            frame = cv2.cvtColor(result.image, cv2.COLOR_RGB2BGR)
            cv2.imshow(title, draw_overlay(frame, result, recognizer.stats.fps))
            key = cv2.waitKey(1) & 0xFF
            if key in (ord("q"), 27):
                recognizer.stats.stop_reason = "quit"
                break
            if key == ord("c"):
                recognizer.clear_text()
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()
        cv2.destroyAllWindows()
