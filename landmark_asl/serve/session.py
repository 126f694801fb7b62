"""One WebSocket connection of the web page: its extractor, recognizer and collect session (``Session``), which the app (:mod:`landmark_asl.serve.app`) feeds frames and commands."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from pathlib import Path
from typing import Any

from landmark_asl._util import exclusive_lock
from landmark_asl.exceptions import LandmarkASLError
from landmark_asl.hands.extractor import HandLandmarkExtractor
from landmark_asl.hands.images import decode_image, printable_path
from landmark_asl.live.loop import LiveRecognizer, VideoHandDetector, check_landmark_model
from landmark_asl.model.store import LoadedModel
from landmark_asl.serve.protocol import MAX_TEXT_CHARS, model_label, result_message
from landmark_asl.serve.settings import ServeSettings
from landmark_asl.training.collect import SampleRecorder, read_samples, write_samples

_log = logging.getLogger(__name__)


class Session:
    """One WebSocket client: its extractor, recognizer and collect session, used from one worker thread at a time.

    Commands and frames of one connection are handled one after the other, never at once; only
    a personal model built in the background arrives meanwhile, through :meth:`offer`, and is
    taken up at the start of the next frame.
    """

    def __init__(self, model: LoadedModel, settings: ServeSettings) -> None:
        self.settings = settings
        self.extractor = None
        self.switch(model)
        self._pending: LoadedModel | None = None
        self._pending_lock = threading.Lock()
        self.choice = 0  # counts the user's `use` commands: a build started before one does not override it
        self.index = 0
        self.last_ts = -1
        self.start = time.monotonic()
        self.recorder = None  # a collect.SampleRecorder while in collect mode
        self.signer: str | None = None  # whose samples were recorded last
        self._samples: Path | None = None
        self._earlier = None
        self._lock = contextlib.ExitStack()

    def offer(self, model: LoadedModel | None, choice: int) -> bool:
        """Take ``model`` up at the next frame unless the user chose a model since ``choice``; None forgets one."""
        with self._pending_lock:
            if choice != self.choice:
                return False
            self._pending = model
            return True

    def switch(self, model: LoadedModel) -> None:
        """Recognize with ``model`` from the next frame on (a new recognizer that continues the text)."""

        check_landmark_model(model)
        if self.extractor is None or model.card.extractor_settings != self.model.card.extractor_settings:
            if self.extractor is not None:
                self.extractor.close()
            self.extractor = HandLandmarkExtractor(model.card.extractor_settings, mode="video")
            self.last_ts = -1
        self.detector = VideoHandDetector(self.extractor, self.settings.live.recover_every)
        self.model = model
        self.label = model_label(model)
        before = getattr(self, "recognizer", None)
        self.recognizer = LiveRecognizer(model, self.settings.live, extractor_settings=model.card.extractor_settings)
        self.recognizer.reset()
        if before is not None:  # the user's text survives a model switch (the page shows the server's text)
            self.recognizer.take_text(before)

    def frame(self, data: bytes) -> dict[str, Any]:
        """Detect, classify and spell (or record) one encoded frame (blocking: run it in a thread)."""
        with self._pending_lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            self.switch(pending)
        t0 = time.perf_counter()
        rgb = decode_image(data, name=f"frame {self.index}", max_side=self.settings.max_frame_side)
        # The server's clock: MediaPipe refuses a timestamp that does not increase.
        timestamp_ms = max(int((time.monotonic() - self.start) * 1000.0), self.last_ts + 1)
        self.last_ts = timestamp_ms
        hand = self.detector.detect(rgb, timestamp_ms)
        self.recognizer.stats.n_frames_recovered = self.detector.n_recovered
        detect_ms = (time.perf_counter() - t0) * 1000.0
        frame_size = (rgb.shape[1], rgb.shape[0])
        # Collect mode spells nothing: a letter its frames commit is taken back, so the text stays the
        # user's (the page shows it, and may edit or clear it meanwhile). So is a letter past the
        # longest text a page holds.
        at_limit = len(self.recognizer.text) >= MAX_TEXT_CHARS
        kept = self.recognizer.saved_text() if self.recorder is not None or at_limit else None
        result = self.recognizer.process(hand, self.index, timestamp_ms, frame_size=frame_size)
        taken_back = kept is not None and (self.recorder is not None or len(self.recognizer.text) > MAX_TEXT_CHARS)
        if taken_back:
            self.recognizer.restore_text(kept)
        self.recognizer.stats.detect_ms_total += detect_ms
        message = result_message(dataclasses.replace(result, detect_ms=detect_ms), frame_size)
        message["model"] = self.label
        if taken_back:
            message["committed"], message["text"] = None, self.recognizer.text
            message["full"] = self.recorder is None and result.committed is not None
        if self.recorder is not None:
            message["collect"] = self._record(hand)
        elif result.committed is not None:
            message["suggestions"] = self.recognizer.suggestions()
        self.index += 1
        message["server_ms"] = round((time.perf_counter() - t0) * 1000.0, 3)
        return message

    def edit(self, command: dict[str, Any]) -> dict[str, Any]:
        """``{"type": "edit", "text": ..., "base": ...}``: the page's text replaces the spelled one; its suggestions are answered.

        ``base`` (optional) is the text the page edited. Letters the server committed after it (a
        frame already on its way when the user pressed space) are kept after the edited text, so
        an edit never deletes a letter the page had not yet seen. If such a frame changed the last
        letter instead (a J replacing its I, a DEL) and the page only added spaces, the server's
        text is kept with the spaces after it; otherwise (a backspace, a chosen word, a text the
        server's does not follow) the page's text wins.
        """
        text, base = command.get("text"), command.get("base")
        if not isinstance(text, str):
            raise LandmarkASLError(f"edit needs 'text', a string; got {type(text).__name__}")
        text = text[:MAX_TEXT_CHARS]  # the longest text a page holds (a space typed on a full text is dropped)
        if base is not None and not isinstance(base, str):
            raise LandmarkASLError(f"edit's 'base' must be the text the page edited, a string; got {type(base).__name__}")
        spelled = self.recognizer.text
        if base is not None and spelled != base:
            if spelled.startswith(base):  # letters committed after the page's text: kept after the edit
                later = spelled[len(base):]  # (at the limit, the page's addition gives way, not them)
                text = text[:MAX_TEXT_CHARS - len(later)] + later
            elif text.startswith(base) and not text[len(base):].strip(" ") and spelled[:len(base) - 1] == base[:-1]:
                # The page only added a space while the frame on its way changed the last letter: a
                # J that replaced its I, a DEL. The server's text, then the page's space.
                text = (spelled + text[len(base):])[:MAX_TEXT_CHARS]
        self.recognizer.set_text(text)
        return {"type": "edited", "text": self.recognizer.text, "suggestions": self.recognizer.suggestions()}

    # --- collect mode ---------------------------------------------------------

    def start_collect(self, samples: Path, signer: str, letters: list[str], per_letter: int, every: int,
                      countdown: int) -> dict[str, Any]:
        """Enter collect mode: the following frames' hands are recorded for ``letters``, in order.

        The samples file is locked until collect mode ends; samples recorded there earlier
        count (a session resumes after them).
        """

        self.stop_collect()
        lock = contextlib.ExitStack()
        lock.enter_context(exclusive_lock(samples, "landmark-asl serve collect"))
        try:
            earlier = read_samples(samples)
            others = set(earlier["group"].astype(str)) - {signer}
            if others:
                raise LandmarkASLError(f"{printable_path(samples)} holds samples of {sorted(others)}, not of "
                                       f"{signer!r}: move it away or choose another name")
            done = {str(k): int(v) for k, v in earlier["label"].value_counts().items()}
            recorder = SampleRecorder(letters, per_letter, signer, every=every, countdown=countdown, done=done)
        except BaseException:
            lock.close()
            raise
        self.recorder, self.signer, self._samples, self._earlier, self._lock = recorder, signer, samples, earlier, lock
        return {"type": "collect", **self._collect_state(), "earlier": {k: done.get(k, 0) for k in recorder.letters}}

    def collect_command(self, kind: str) -> dict[str, Any]:
        """``collect_redo`` / ``collect_skip`` / ``collect_stop``."""
        if self.recorder is None:
            raise LandmarkASLError(f"{kind}: not recording; send a collect command first")
        if kind == "collect_stop":
            return {"type": "collect_stopped", **self.stop_collect()}
        letter = self.recorder.state.letter
        (self.recorder.redo if kind == "collect_redo" else self.recorder.skip)()
        if self.recorder.state.letter != letter:
            self._save()
        state = self._collect_state()
        return {"type": "collect_stopped", **state, **self.stop_collect()} if state["done"] else {"type": "collect", **state}

    def stop_collect(self) -> dict[str, Any]:
        """Leave collect mode, writing every sample recorded (the letter in progress included)."""

        if self.recorder is None:
            return {}
        self._save()  # if it fails, the recording goes on (its samples stay in memory): stop again later
        self._lock.close()
        with contextlib.suppress(OSError):  # a session that recorded nothing leaves no empty folder behind
            self._samples.parent.rmdir()
        self.recorder = None
        table = read_samples(self._samples)  # empty when the file was never written
        counts = {str(k): int(v) for k, v in table["label"].value_counts().sort_index().items()}
        return {"signer": self.signer, "samples": printable_path(self._samples), "counts": counts,
                "n_samples": int(len(table))}

    def _record(self, hand: Any) -> dict[str, Any]:
        letter = self.recorder.state.letter
        state = self.recorder.add(hand, source=f"serve/{self.signer}#{self.index}")
        if state.letter != letter:
            self._save()  # a finished letter is on disk before the next one is asked for
        out = self._collect_state()
        if state.done:
            out.update(self.stop_collect())
        return out

    def _collect_state(self) -> dict[str, Any]:
        state = self.recorder.state
        return {"signer": self.signer, "letters": list(self.recorder.letters), **dataclasses.asdict(state)}

    def _save(self) -> None:

        if self.recorder.table().empty and not self.recorder.dropped:
            return  # nothing new: no file is created, an existing one stays as it is
        write_samples(self.recorder, self._samples, self._earlier)

    def close(self) -> None:
        try:
            self.stop_collect()
        except (LandmarkASLError, OSError):  # the page is gone: the server's log is the only place to say it
            _log.exception("could not write the samples of %s when the page closed", self.signer)
            self._lock.close()
        finally:
            self.extractor.close()
