"""The commit rule of live spelling: ``ProbabilitySmoother`` averages a few frames' class probabilities and ``Speller`` turns a stream of per-frame labels into text."""

from __future__ import annotations

import numpy as np

from landmark_asl.labels import DEL, NOTHING, SPACE


class ProbabilitySmoother:
    """Mean of the class probabilities of the last ``window`` frames.

    Parameters
    ----------
    n_classes : int
        Length of each probability vector.
    window : int
        Number of recent frames averaged.
    """

    def __init__(self, n_classes: int, window: int) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1; got {window!r}")
        self._buffer = np.zeros((int(window), int(n_classes)), dtype=np.float64)
        self._n = 0
        self._next = 0

    def reset(self) -> None:
        """Forget every frame seen (a frame without a hand)."""
        self._n = 0
        self._next = 0

    def update(self, proba: np.ndarray) -> np.ndarray:
        """Add one frame's probabilities and return the smoothed ones.

        Parameters
        ----------
        proba : ndarray of shape (n_classes,)
            This frame's class probabilities.

        Returns
        -------
        ndarray of shape (n_classes,)
            Mean over the frames in the window, this one included.
        """
        self._buffer[self._next] = proba
        self._next = (self._next + 1) % len(self._buffer)
        self._n = min(self._n + 1, len(self._buffer))
        return self._buffer[: self._n].sum(axis=0) * (1.0 / self._n)


class Speller:
    """Turn a stream of per-frame labels into text.

    A label is committed when it has been shown on ``stable_frames`` *held* frames, with no
    other label in between (a frame where the hand moves, ``moving=True``, does not count: the
    frames of a transition never commit; nor does it restart the count, so the jitter of a
    real hand only slows a commit down).
    The same label is committed again only after a release: ``release_frames`` frames showing
    something definite other than it (no hand, ``NOTHING`` or another label), or one frame
    where the hand has slid or bounced away from where the label was committed
    (``moved=True``: a double letter signed without dropping the hand). Frames where no label
    is shown although a hand is there (below threshold or margin) neither count towards a release
    nor interrupt one, and they pause a commit's count without restarting it (a held letter the
    model is unsure of is shown on some frames only). ``SPACE`` appends ``' '``, ``DEL`` removes the last character, ``NOTHING``
    never commits, any other label is appended as it is.

    Parameters
    ----------
    stable_frames : int
        Held frames a label must be shown in a row to be committed.
    release_frames : int
        Frames of something else before the last committed label may be committed again.

    Attributes
    ----------
    candidate : str or None
        The label being held (the last committed one while it is still held), or None.
    progress : float
        0..1: how far ``candidate`` is towards its commit (1.0 once committed).
    """

    def __init__(self, stable_frames: int = 8, release_frames: int = 2) -> None:
        if stable_frames < 1 or release_frames < 1:
            raise ValueError(
                f"stable_frames and release_frames must be >= 1; got {stable_frames!r} and {release_frames!r}"
            )
        self.stable_frames = int(stable_frames)
        self.release_frames = int(release_frames)
        self.clear()

    def clear(self) -> None:
        """Empty the text and forget the label being held."""
        self.text = ""
        self._candidate: str | None = None
        self._count = 0
        self._held: str | None = None  # last committed label, until released
        self._released = 0
        self._last: str | None = None  # last committed label while the hand showed nothing else since

    def continue_from(self, other: Speller) -> None:
        """Take ``other``'s text and the label it holds (a recognizer that replaces another mid-stream:
        the letter being held is not committed twice)."""
        self.text = other.text
        self._candidate, self._count, self._held, self._released, self._last = (
            other._candidate, other._count, other._held, other._released, other._last)

    @property
    def candidate(self) -> str | None:
        return self._candidate if self._candidate is not None else self._held

    @property
    def last(self) -> str | None:
        """The last committed label while the hand has shown nothing else since, or None."""
        return self._last

    @property
    def progress(self) -> float:
        if self._candidate is None:
            return 1.0 if self._held is not None else 0.0
        if self._candidate == self._held:
            return 1.0
        return min(1.0, self._count / self.stable_frames)

    def update(self, label: str | None, *, hand: bool = True, moving: bool = False, moved: bool = False,
               frames: float = 1.0) -> str | None:
        """Feed one frame.

        Parameters
        ----------
        label : str or None
            The label shown this frame (smoothed, above threshold), or None.
        hand : bool
            Whether a hand was detected this frame.
        moving : bool
            The hand moves this frame: it shows ``label`` but does not hold it (the frame does
            not count towards the commit).
        moved : bool
            The hand has settled away from where the last label was committed (slide, bounce).
        frames : float
            How many held frames this frame counts for (a frame of a slow source stands for
            several 30 fps frames, so a hold takes the same time at any frame rate).

        Returns
        -------
        str or None
            The label committed this frame (``text`` already edited), or None.
        """
        if not hand:
            label = None
        shown = label if label != NOTHING else None
        if not hand or (label is not None and label != self._last and not moving):
            self._last = None
        if self._held is not None:
            releasing = not hand or label == NOTHING or (label is not None and label != self._held)
            if moved:
                self._held, self._released, self._count = None, 0, 0
            elif label == self._held:
                self._released = 0
            elif releasing:
                self._released += 1
                if self._released >= self.release_frames:
                    self._held, self._released = None, 0
        if shown is None:
            if hand and label is None:
                return None  # a held hand shown below threshold or margin: the count waits, it does not restart
            self._candidate, self._count = None, 0
            return None
        if shown != self._candidate:
            self._candidate, self._count = shown, 0
        if moving:
            return None
        self._count += frames
        if self._count >= self.stable_frames and shown != self._held:
            self._held, self._released, self._last = shown, 0, shown
            self._edit(shown)
            return shown
        return None

    def commit_motion(self, letter: str, *, shape: str | None, replace: bool | None = None) -> str:
        """Commit a motion letter (J, Z) traced by a hand showing ``shape``.

        When the last commit was ``shape`` itself and the hand has shown nothing else since (the
        handshape was held long enough to commit before it moved), that letter is replaced;
        ``replace`` True or False overrides that guess (the caller knows whether the last letter
        was that handshape, committed just before the stroke).
        The hand's shape then counts as held, so settling after the stroke commits nothing.

        Returns
        -------
        str
            ``letter``.
        """
        if replace is None:
            replace = self._last == shape
        if shape is not None and replace and self.text.endswith(shape):
            self.text = self.text[: -len(shape)]
        self._edit(letter)
        self._held, self._released, self._last = shape, 0, None
        self._candidate, self._count = None, 0
        return letter

    def _edit(self, label: str) -> None:
        if label == SPACE:
            self.text += " "
        elif label == DEL:
            self.text = self.text[:-1]
        else:
            self.text += label
