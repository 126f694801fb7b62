"""Hand motion in the live loop: how fast the hand moves, how far it slid since a commit, and the motion letters J and Z from fingertip trajectories (DTW against templates)."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

#: Landmark indices: the wrist, the middle finger's knuckle (palm length = their distance),
#: the index and little fingertips.
WRIST, MIDDLE_MCP, INDEX_TIP, LITTLE_TIP = 0, 9, 8, 20

#: Resampled length of a trajectory and of a template.
N_POINTS = 32


def hand_pixels(image: np.ndarray, frame_size: tuple[int, int] | None) -> np.ndarray:
    """Landmarks in pixels (or in width units when the size is unknown), so x and y share a scale.

    Parameters
    ----------
    image : ndarray of shape (21, 3)
        ``HandLandmarks.image``: x / width, y / height, z.
    frame_size : (width, height) or None

    Returns
    -------
    ndarray of shape (21, 2)
    """
    width, height = frame_size if frame_size is not None else (1, 1)
    return np.asarray(image[:, :2], dtype=np.float64) * np.array([width, height], dtype=np.float64)


def palm_length(points: np.ndarray) -> float:
    """Distance from the wrist to the middle finger's knuckle (the hand's scale), at least 1e-6."""
    (x0, y0), (x1, y1) = points[WRIST].tolist(), points[MIDDLE_MCP].tolist()
    return max(math.hypot(x1 - x0, y1 - y0), 1e-6)


def resample(path: np.ndarray, n: int = N_POINTS) -> np.ndarray:
    """``n`` points evenly spaced along the polyline ``path`` (shape (m, 2)), so speed does not matter."""
    path = np.asarray(path, dtype=np.float64)
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    cumulative = np.concatenate([[0.0], np.cumsum(steps)])
    if cumulative[-1] <= 0:
        return np.repeat(path[:1], n, axis=0)
    s = np.linspace(0.0, cumulative[-1], n)
    return np.stack([np.interp(s, cumulative, path[:, k]) for k in range(2)], axis=1)


def normalise(path: np.ndarray) -> np.ndarray:
    """Resampled, centred on its mean and divided by its larger bounding-box side (aspect kept)."""
    points = resample(path)
    points = points - points.mean(axis=0)
    extent = float(np.max(points.max(axis=0) - points.min(axis=0)))
    return points / extent if extent > 0 else points


def dtw_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Dynamic time warping distance of two (n, 2) sequences: the mean point distance along the best alignment."""
    n, m = len(a), len(b)
    cost = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    acc = np.full((n + 1, m + 1), np.inf)
    steps = np.zeros((n + 1, m + 1))
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            options = (acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
            k = int(np.argmin(options))
            acc[i, j] = cost[i - 1, j - 1] + options[k]
            steps[i, j] = 1 + (steps[i - 1, j - 1], steps[i - 1, j], steps[i, j - 1])[k]
    return float(acc[n, m] / steps[n, m])


def _j_template() -> np.ndarray:
    # Image coordinates (y down): straight down, then a hook curling sideways and back up.
    down = np.stack([np.zeros(16), np.linspace(0.0, 1.0, 16)], axis=1)
    theta = np.linspace(0.0, np.pi, 16)
    radius = 0.35
    hook = np.stack([-radius + radius * np.cos(theta), 1.0 + radius * np.sin(theta)], axis=1)
    return np.concatenate([down, hook[1:]])


def _z_template() -> np.ndarray:
    # Right, diagonally down-left, right: the Z as the camera sees it.
    return np.array([(0.0, 0.0), (1.0, 0.0), (0.0, 0.8), (1.0, 0.8)])


def _both_ways(path: np.ndarray) -> list[np.ndarray]:
    # A right hand traces the letter mirrored compared to a left hand or a mirrored camera.
    mirrored = path * np.array([-1.0, 1.0])
    return [normalise(path), normalise(mirrored)]


#: Motion letter -> (fingertip traced, normalised templates).
TEMPLATES: dict[str, tuple[int, list[np.ndarray]]] = {
    "J": (LITTLE_TIP, _both_ways(_j_template())),
    "Z": (INDEX_TIP, _both_ways(_z_template())),
}


@dataclass(frozen=True)
class MotionMatch:
    """A trajectory matched to a motion letter: the letter, its DTW distance and the extent in palm lengths."""

    letter: str
    distance: float
    extent: float


def match_trajectory(letter: str, path: np.ndarray, scale: float, *, max_distance: float,
                     min_extent: float) -> MotionMatch | None:
    """Whether a fingertip path traces ``letter`` ('J' or 'Z').

    Parameters
    ----------
    letter : {'J', 'Z'}
    path : ndarray of shape (n, 2)
        Fingertip positions (pixels), oldest first.
    scale : float
        The hand's palm length in the same units.
    max_distance : float
        Largest DTW distance (in units of the path's larger side) to a template that matches.
    min_extent : float
        The path's larger bounding-box side must be at least this many palm lengths.

    Returns
    -------
    MotionMatch or None
    """
    path = np.asarray(path, dtype=np.float64)
    if len(path) < 4:
        return None
    extent = float(np.max(path.max(axis=0) - path.min(axis=0))) / max(scale, 1e-6)
    if extent < min_extent:
        return None
    shape = normalise(path)
    distance = min(dtw_distance(shape, template) for template in TEMPLATES[letter][1])
    return MotionMatch(letter, distance, extent) if distance <= max_distance else None


class HandMotion:
    """Per-frame motion of the hand: speed, and the deliberate moves made since a marked moment.

    Speed is the mean displacement of the 21 landmarks since the previous frame, in palm lengths
    per frame; shape changes count as motion as well as moves (a transition between two letters
    is both). A *move* is a run of at least ``min_move_frames`` frames faster than ``max_speed``;
    its size is the farthest the hand's centre went from where the run started (a bounce comes
    back, a slide does not: both count). Slow drift and one-frame jumps of the detector are not
    moves, so a letter held for a long time is not doubled.

    Parameters
    ----------
    max_speed : float
        Palm lengths per frame above which the hand moves.
    min_move_frames : int
        Consecutive moving frames that make a move (a real slide takes several frames).
    """

    def __init__(self, max_speed: float = 0.06, min_move_frames: int = 2) -> None:
        self.max_speed = float(max_speed)
        self.min_move_frames = int(min_move_frames)
        self._previous: np.ndarray | None = None
        self.speed = 0.0
        self.scale = 1.0
        self.reset()

    def reset(self) -> None:
        """Forget the hand (it left the frame)."""
        self._previous = None
        self._start: np.ndarray | None = None  # the hand's centre where the current run of moving frames began
        self._run = 0
        self._run_size = 0.0
        self._moved = 0.0
        self.speed = 0.0

    def update(self, points: np.ndarray | None, frames: float = 1.0) -> float:
        """Feed one frame's landmarks (pixels, shape (21, 2)) or None; return the speed (0.0 on a hand's first frame).

        ``frames``: how many 30 fps frames this frame stands for (a slow source's frame is several):
        the displacement is divided by it, so a still hand reads as still at any frame rate.
        """
        if points is None:
            self.reset()
            return 0.0
        self.scale = palm_length(points)
        previous = self._previous
        moved = float(np.linalg.norm(points - previous, axis=1).mean()) if previous is not None else 0.0
        self.speed = moved / self.scale / max(float(frames), 1e-6)
        self._previous = points
        if self.speed > self.max_speed:
            if self._run == 0:
                self._start, self._run_size = previous.mean(axis=0), 0.0
            self._run += 1
            self._run_size = max(self._run_size, float(np.linalg.norm(points.mean(axis=0) - self._start)) / self.scale)
        else:
            if self._run >= self.min_move_frames:
                self._moved = max(self._moved, self._run_size)
            self._run = 0
        return self.speed

    def mark(self) -> None:
        """Start counting moves afresh (a letter was committed here)."""
        self._moved = 0.0

    def moved(self) -> float:
        """Size of the largest completed move since :meth:`mark`, in palm lengths (0.0 if none)."""
        return self._moved


class MotionLetterDetector:
    """J and Z from fingertip trajectories while the handshape matches.

    A *stroke* is the run of frames in which the hand moves (speed above ``min_speed``; up to
    ``max_pause`` slower frames are bridged) while the classifier calls its shape the motion
    letter's handshape. When the hand settles, the stroke's fingertip path (little fingertip
    for J, index fingertip for Z; at most the last ``max_frames``) is resampled by arc length,
    normalised, and compared by dynamic time warping with templates of the letter (and their
    mirror images). It matches when the distance is at most ``max_distance`` and the path spans
    at least ``min_extent`` palm lengths, so a still hand never traces a letter and only the
    handshape's own strokes are read.

    Parameters
    ----------
    min_speed : float
        Palm lengths per frame above which the hand counts as moving.
    max_distance, min_extent : float
        See :func:`match_trajectory`.
    max_frames : int
        Longest stroke kept (about 1.5 s at 30 fps).
    max_pause : int
        Slow frames tolerated inside a stroke (a corner of the Z).
    max_shape_gap : int
        Moving frames in a row tolerated inside a stroke where the classifier calls the shape
        something else (a blurred or turning hand); their fingertips stay on the path.
    """

    def __init__(self, *, min_speed: float = 0.05, max_distance: float = 0.15, min_extent: float = 0.6,
                 max_frames: int = 45, max_pause: int = 1, max_shape_gap: int = 3) -> None:
        self.min_speed = float(min_speed)
        self.max_distance = float(max_distance)
        self.min_extent = float(min_extent)
        self.max_frames = int(max_frames)
        self.max_pause = int(max_pause)
        self.max_shape_gap = int(max_shape_gap)
        self._gap = {letter: 0 for letter in TEMPLATES}
        self._strokes: dict[str, deque] = {letter: deque(maxlen=self.max_frames) for letter in TEMPLATES}
        self._scales: dict[str, deque] = {letter: deque(maxlen=self.max_frames) for letter in TEMPLATES}
        self._pause = {letter: 0 for letter in TEMPLATES}

    def reset(self) -> None:
        """Forget every stroke."""
        for letter in TEMPLATES:
            self._clear(letter)

    def _clear(self, letter: str) -> None:
        self._strokes[letter].clear()
        self._scales[letter].clear()
        self._pause[letter] = 0
        self._gap[letter] = 0

    def trail(self) -> tuple[str | None, np.ndarray]:
        """The stroke in progress, to draw: (its motion letter, fingertip path of shape (n, 2)), or (None, empty).

        When both letters' handshapes move at once (rare), the longer stroke.
        """
        letter = max(TEMPLATES, key=lambda k: len(self._strokes[k]))
        if not self._strokes[letter]:
            return None, np.empty((0, 2))
        return letter, np.asarray(self._strokes[letter])

    def update(self, points: np.ndarray | None, speed: float, shapes: dict[str, bool]) -> MotionMatch | None:
        """Feed one frame; return the motion letter whose stroke has just ended and matched.

        Parameters
        ----------
        points : ndarray of shape (21, 2) or None
            The hand's landmarks in pixels, or None without a hand.
        speed : float
            The hand's speed (:class:`HandMotion`), palm lengths per frame.
        shapes : dict
            Motion letter -> whether this frame shows its handshape.

        Returns
        -------
        MotionMatch or None
        """
        if points is None:  # the hand left: a stroke must end with the hand settling, in view
            self.reset()
            return None
        scale = palm_length(points)
        found = None
        for letter, (tip, _) in TEMPLATES.items():
            stroke = self._strokes[letter]
            moving = np.isfinite(speed) and speed > self.min_speed
            if not shapes.get(letter, False):
                self._gap[letter] += 1
                if not (stroke and moving and self._gap[letter] <= self.max_shape_gap):
                    self._clear(letter)  # the hand changed shape (a transition): no stroke of this letter
                    continue
            else:
                self._gap[letter] = 0
            if moving:
                stroke.append(points[tip].copy())
                self._scales[letter].append(scale)
                self._pause[letter] = 0
                continue
            if not stroke:
                continue
            stroke.append(points[tip].copy())  # the settling frame ends the path
            self._scales[letter].append(scale)
            self._pause[letter] += 1
            if self._pause[letter] > self.max_pause:
                found = self._best((found, self._finish(letter)))
        return found

    def _finish(self, letter: str) -> MotionMatch | None:
        """Match the letter's stroke so far (if any) and forget it."""
        stroke = self._strokes[letter]
        match = None
        if stroke:
            match = match_trajectory(letter, np.asarray(stroke), float(np.median(self._scales[letter])),
                                     max_distance=self.max_distance, min_extent=self.min_extent)
        self._clear(letter)
        return match

    @staticmethod
    def _best(matches) -> MotionMatch | None:
        matches = [m for m in matches if m is not None]
        return min(matches, key=lambda m: m.distance) if matches else None
