"""Recording a user's own samples: a guided, letter-by-letter session from a camera, a video or a folder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from landmark_asl._util import exclusive_lock, package_versions
from landmark_asl.data.landmark_cache import log
from landmark_asl.data.table import TABLE_COLUMNS, TABLE_FORMAT, TABLE_FORMAT_VERSION, read_table, write_table
from landmark_asl.exceptions import DatasetError, LandmarkASLError
from landmark_asl.hands.extractor import HandLandmarkExtractor
from landmark_asl.hands.images import image_files, is_image_file, printable_path, read_image
from landmark_asl.labels import CANONICAL_LABELS, normalize_label
from landmark_asl.live.sources import open_source
from landmark_asl.training.settings import CollectSettings

#: The defaults of a session (:class:`~landmark_asl.training.settings.CollectSettings`).
DEFAULT_PER_LETTER = CollectSettings.per_letter
DEFAULT_EVERY = CollectSettings.every
DEFAULT_COUNTDOWN = CollectSettings.countdown
DEFAULT_SIGNER = CollectSettings.signer


def parse_letters(text: str) -> list[str]:
    """``'A-Z,SPACE,DEL'`` -> the canonical labels, in order (ranges of single letters or digits).

    Raises
    ------
    LandmarkASLError
        An item that is no label, or an empty list.
    """
    out: list[str] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if len(item) == 3 and item[1] == "-" and item[0].isalnum() and item[2].isalnum():
            start, end = normalize_label(item[0]), normalize_label(item[2])
            if start > end:
                raise LandmarkASLError(f"bad letter range {item!r}: expected e.g. A-Z")
            out += [c for c in CANONICAL_LABELS if len(c) == 1 and start <= c <= end and c.isalpha() == start.isalpha()]
            continue
        try:
            label = normalize_label(item)
        except DatasetError as exc:
            raise LandmarkASLError(f"unknown letter {item!r} in {text!r}: expected e.g. A-Z,SPACE,DEL") from exc
        out.append(label)
    if not out:
        raise LandmarkASLError(f"no letters in {text!r}: expected e.g. A-Z,SPACE,DEL")
    return list(dict.fromkeys(out))


@dataclass(frozen=True)
class CollectState:
    """Where a recording session stands (what a front end shows).

    Attributes
    ----------
    letter : str or None
        The letter to sign now (None when done).
    position : int
        Index of ``letter`` in the session's letters.
    count : int
        Samples recorded for ``letter``.
    per_letter : int
    countdown : int
        Frames left before recording starts (the user forms the letter meanwhile).
    recorded : bool
        Whether the frame just given was recorded.
    done : bool
        Every letter has its samples (or was skipped).
    """

    letter: str | None
    position: int
    count: int
    per_letter: int
    countdown: int
    recorded: bool
    done: bool


class SampleRecorder:
    """A frame-driven recording session: prompts one letter at a time and keeps the hands shown.

    Any front end (the ``collect`` command's window, a video, a web page) feeds it one frame's
    hand at a time; it answers with the :class:`CollectState` to show.

    Parameters
    ----------
    letters : sequence of str
        Canonical labels, in the order they are asked for.
    per_letter : int
        Samples to record per letter (>= 1).
    signer : str
        Recorded as the samples' ``group`` (and ``dataset`` ``personal:<signer>``).
    every : int
        Record every ``every``-th frame with a hand (>= 1).
    countdown : int
        Frames to wait after each new letter before recording (>= 0).
    done : dict of str to int, optional
        Samples already recorded per letter (a resumed session starts after them).

    Examples
    --------
    >>> recorder = SampleRecorder(["A", "B"], per_letter=1, signer="me", countdown=0)
    >>> recorder.state.letter
    'A'
    """

    def __init__(self, letters: Sequence[str], per_letter: int, signer: str, *, every: int = DEFAULT_EVERY,
                 countdown: int = DEFAULT_COUNTDOWN, done: dict[str, int] | None = None) -> None:
        if not letters:
            raise LandmarkASLError("no letters to record: give at least one, e.g. A-Z")
        for name, value, low in (("per_letter", per_letter, 1), ("every", every, 1), ("countdown", countdown, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise LandmarkASLError(f"{name} must be an integer >= {low}; got {value!r}")
        if not str(signer).strip() or "/" in str(signer):
            raise LandmarkASLError(f"signer must be a non-empty name without '/'; got {signer!r}")
        self.letters = [normalize_label(letter) for letter in letters]
        self.per_letter, self.signer, self.every, self.countdown = per_letter, str(signer), every, countdown
        self._rows: dict[str, list[dict[str, Any]]] = {letter: [] for letter in self.letters}
        self._previous = dict(done or {})
        #: Letters whose samples of earlier sessions were dropped by :meth:`redo`.
        self.dropped: set[str] = set()
        self._position = 0
        self._wait = countdown
        self._seen = 0
        self._recorded = False
        self._advance_past_full()

    def _count(self, letter: str) -> int:
        return self._previous.get(letter, 0) + len(self._rows[letter])

    def _advance_past_full(self) -> None:
        while self._position < len(self.letters) and self._count(self.letters[self._position]) >= self.per_letter:
            self._position += 1

    def _next_letter(self) -> None:
        self._position += 1
        self._advance_past_full()
        self._wait, self._seen = self.countdown, 0

    @property
    def state(self) -> CollectState:
        """The session now."""
        done = self._position >= len(self.letters)
        letter = None if done else self.letters[self._position]
        return CollectState(letter, self._position, 0 if done else self._count(letter), self.per_letter,
                            0 if done else self._wait, self._recorded, done)

    def add(self, hand: Any, *, source: str = "") -> CollectState:
        """Give the session one frame's hand (a ``HandLandmarks``, or None without a hand).

        A hand is recorded for the current letter once the countdown is over, every
        ``every``-th frame with a hand; when the letter has ``per_letter`` samples the next
        letter starts (with a new countdown).
        """
        self._recorded = False
        if self._position >= len(self.letters):
            return self.state
        if self._wait > 0:
            self._wait -= 1
            return self.state
        if hand is None:
            return self.state
        self._seen += 1
        if (self._seen - 1) % self.every:
            return self.state
        return self.record(hand, source=source)

    def record(self, hand: Any, *, source: str = "") -> CollectState:
        """Record ``hand`` for the current letter now (no countdown, no frame spacing: a still image)."""
        self._recorded = False
        if self._position >= len(self.letters) or hand is None:
            return self.state
        letter = self.letters[self._position]
        self._rows[letter].append(_row(hand, letter, self.signer, self._count(letter), source))
        self._recorded = True
        if self._count(letter) >= self.per_letter:
            self._next_letter()
        return self.state

    def redo(self) -> CollectState:
        """Drop the current letter's samples (or, if it has none, the previous letter's) and record it again.

        Samples of that letter recorded in an earlier session are dropped too: they are left out
        when the table is written (:attr:`dropped`).
        """
        if self._position < len(self.letters) and self._count(self.letters[self._position]):
            letter = self.letters[self._position]
        elif self._position > 0:
            self._position -= 1
            letter = self.letters[self._position]
        else:
            letter = None
        if letter is not None:
            self._rows[letter].clear()
            if self._previous.pop(letter, 0):
                self.dropped.add(letter)
        self._wait, self._seen = self.countdown, 0
        return self.state

    def skip(self) -> CollectState:
        """Leave the current letter with the samples it has and go on to the next."""
        if self._position < len(self.letters):
            self._next_letter()
        return self.state

    def table(self) -> pd.DataFrame:
        """This session's samples as a landmark table (the columns of ``landmark-asl extract``)."""

        rows = [row for letter in self.letters for row in self._rows[letter]]
        return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def _row(hand: Any, label: str, signer: str, index: int, source: str) -> dict[str, Any]:

    values = np.concatenate([np.asarray(hand.image, dtype=np.float32).ravel(),
                             np.asarray(hand.world, dtype=np.float32).ravel()])
    width, height = hand.image_size or (0, 0)
    row = {
        "sample_id": f"collect/{signer}/{label}/{index:04d}", "source": source or f"collect/{signer}",
        "dataset": f"personal:{signer}", "label": label, "group": signer, "split": "",
        "detected": True, "reason": "", "strategy": "collect", "handedness": hand.handedness,
        "handedness_score": float(hand.handedness_score), "image_width": int(width), "image_height": int(height),
    }
    row.update(zip(TABLE_COLUMNS[-len(values):], values.tolist()))
    return row


def read_samples(path: str | Path) -> pd.DataFrame:
    """Samples recorded earlier into ``path`` (an empty table when it does not exist)."""

    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=list(TABLE_COLUMNS))
    return read_table(path)[0]


def write_samples(recorder: SampleRecorder, path: str | Path, earlier: pd.DataFrame | None = None) -> Path:
    """Write ``earlier`` (less the letters the recorder dropped) plus its samples to ``path`` atomically."""

    if earlier is not None and recorder.dropped:
        earlier = earlier[~earlier["label"].isin(recorder.dropped)]
    parts = [t for t in (earlier, recorder.table()) if t is not None and len(t)]
    table = pd.concat(parts, ignore_index=True) if parts else recorder.table()
    if len(parts) > 1:
        table = table.drop_duplicates("sample_id", keep="last")
    metadata = {"format": TABLE_FORMAT, "format_version": TABLE_FORMAT_VERSION, "sources": [f"collect/{recorder.signer}"],
                "signer": recorder.signer, "versions": package_versions()}
    return write_table(table, path, metadata)


def collect(
    source: str | int | Path,
    output: str | Path,
    *,
    letters: Sequence[str],
    per_letter: int = DEFAULT_PER_LETTER,
    signer: str = DEFAULT_SIGNER,
    every: int = DEFAULT_EVERY,
    countdown: int = DEFAULT_COUNTDOWN,
    window: bool = False,
    mirror: bool = False,
    settings: Any = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Record a user's samples from a camera, a video or a folder into a landmark table.

    - A **folder** whose sub-folders are labels (``A/``, ``B/``, ``space/`` ...): each image is
      read with the image-mode extractor and recorded under its folder's label, at most
      ``per_letter`` with a hand per letter (``every`` and ``countdown`` do not apply).
    - A **video or camera**: a guided session (:class:`SampleRecorder`): the letters are asked
      for in order; after a countdown of ``countdown`` frames, every ``every``-th frame with a
      hand is recorded until the letter has ``per_letter`` samples. With ``window`` a window
      shows the prompt, the countdown and the progress (keys: ``r`` redo, ``s`` skip, ``q``
      quit); without a display it is refused.

    The table is written atomically after each letter, under an exclusive lock, so an
    interrupted session loses at most the letter in progress; running again on the same
    ``output`` resumes: letters that have their samples are not asked for again.

    Returns
    -------
    dict
        ``output``, ``signer``, ``counts`` (samples per letter in the table), ``missing``
        (letters with fewer than ``per_letter``), ``frames`` (frames or images read).
    """

    output = Path(output)
    letters = [normalize_label(letter) for letter in letters]
    if not isinstance(source, int) and Path(str(source)).is_file() and is_image_file(Path(str(source))):
        # OpenCV would play it as a one-frame video: nothing recorded, and running again never helps.
        raise LandmarkASLError(
            f"{printable_path(str(source))} is one image: collect records from a camera, a video, or a folder "
            "with a sub-folder of images per letter (A/, B/, ...)"
        )
    if window:
        from landmark_asl.live.display import display_available

        if not display_available():
            raise LandmarkASLError("no display for the collect window (no X server at $DISPLAY): record from a video or a "
                                   "folder with window=False, or run where a display is available")
    with exclusive_lock(output, "landmark-asl collect"):
        earlier = read_samples(output)
        if len(earlier) and set(earlier["group"].astype(str)) - {signer}:
            raise LandmarkASLError(
                f"{output} holds samples of {sorted(set(earlier['group'].astype(str)))}, not of {signer!r}: "
                "choose another file, or pass the same signer= as before"
            )
        done = {k: int(v) for k, v in earlier["label"].value_counts().items()} if len(earlier) else {}
        recorder = SampleRecorder(letters, per_letter, signer, every=every, countdown=countdown, done=done)
        path = Path(str(source)) if not isinstance(source, int) else None
        if path is not None and path.is_dir() and _has_label_folders(path):
            frames = _from_folder(recorder, path, settings, output, earlier)
        else:
            frames = _from_frames(recorder, source, settings, output, earlier, window=window, mirror=mirror,
                                  progress=progress)
        write_samples(recorder, output, earlier)
    table = read_samples(output)
    counts = {k: int(v) for k, v in table["label"].value_counts().items()} if len(table) else {}
    return {"output": str(output), "signer": signer, "counts": {k: counts.get(k, 0) for k in letters},
            "missing": [k for k in letters if counts.get(k, 0) < per_letter], "frames": frames}


def _has_label_folders(folder: Path) -> bool:
    for child in folder.iterdir():
        if child.is_dir():
            try:
                normalize_label(child.name)
                return True
            except DatasetError:
                continue
    return False


def _from_folder(recorder: SampleRecorder, folder: Path, settings: Any, output: Path, earlier) -> int:
    """Image-mode extraction of each label folder, up to ``per_letter`` hands per letter."""

    by_label: dict[str, list[Path]] = {}
    for child in sorted(p for p in folder.iterdir() if p.is_dir()):
        try:
            by_label.setdefault(normalize_label(child.name), []).extend(image_files([child]))
        except (ValueError, DatasetError):
            continue
    # A re-run resumes: photos recorded earlier are not taken again (they would be duplicate samples).
    taken = {str(Path(s).resolve()) for s in earlier["source"].astype(str)} if len(earlier) else set()
    n = 0
    with HandLandmarkExtractor(settings) as extractor:
        while not recorder.state.done:
            letter = recorder.state.letter
            for path in by_label.get(letter, []):
                if recorder.state.letter != letter:
                    break
                if str(path.resolve()) in taken:
                    continue
                n += 1
                try:
                    rgb = read_image(path)
                except DatasetError:
                    continue
                recorder.record(extractor.extract(rgb).landmarks, source=str(path))
            if recorder.state.letter == letter:
                recorder.skip()  # the folder holds too few images of it with a hand
            write_samples(recorder, output, earlier)
    return n


def _from_frames(recorder: SampleRecorder, source, settings: Any, output: Path, earlier, *, window: bool,
                 mirror: bool, progress: bool) -> int:
    """A guided session over the frames of a camera or a video (video-mode tracking)."""
    import cv2


    frames = open_source(source)
    n, last_ts, letter = 0, -1, recorder.state.letter
    with frames, HandLandmarkExtractor(settings, mode="video") as extractor:
        for bgr, timestamp_ms in frames.frames():
            if recorder.state.done:
                break
            n += 1
            if mirror:
                bgr = cv2.flip(bgr, 1)
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            last_ts = timestamp_ms = max(int(timestamp_ms), last_ts + 1)
            hand = extractor.detect_video(rgb, timestamp_ms)
            state = recorder.add(hand, source=f"{frames.name}#{n - 1}")
            if window:
                key = _show(bgr, state, hand)
                if key == ord("q"):
                    break
                if key == ord("r"):
                    state = recorder.redo()
                elif key == ord("s"):
                    state = recorder.skip()
            if state.letter != letter:
                write_samples(recorder, output, earlier)  # a finished letter is never lost
                if state.letter is not None:
                    log(progress, f"next letter: {state.letter} ({state.position + 1}/{len(recorder.letters)})")
                letter = state.letter
    if window:
        cv2.destroyAllWindows()
    return n


def _show(bgr: np.ndarray, state: CollectState, hand: Any) -> int:  # pragma: no cover - needs a display
    """Draw the prompt over the frame in a window; the key pressed, or -1."""
    import cv2

    frame = bgr.copy()
    if state.done:
        text = "done: press q"
    elif state.countdown:
        text = f"sign {state.letter} in {state.countdown}"
    else:
        text = f"{state.letter}: {state.count}/{state.per_letter}" + ("" if hand is not None else " (no hand)")
    cv2.putText(frame, text, (20, 50), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 255, 0), 3)
    cv2.putText(frame, "r redo  s skip  q quit", (20, frame.shape[0] - 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                (255, 255, 255), 1)
    cv2.imshow("landmark-asl collect", frame)
    return cv2.waitKey(1) & 0xFF
