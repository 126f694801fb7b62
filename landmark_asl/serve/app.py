"""The web page for live recognition: an ASGI app serving a static page, a WebSocket that spells camera frames, and a small JSON API.

Every WebSocket connection gets its own :class:`~landmark_asl.serve.session.Session` (a
video-mode ``HandLandmarkExtractor`` and ``LiveRecognizer``, the code path of ``landmark-asl
live``); MediaPipe runs in a worker thread so the event loop keeps serving other clients. The page sends its next frame only when the
previous result has arrived, so a slow machine lowers the frame rate instead of building a queue.

Protocol of ``/ws``: the server first sends ``{"type": "hello", ...}`` (model, live settings,
limits); each binary message is one encoded image (JPEG, about 640x480) answered by
``{"type": "result", ...}`` (every public scalar field of ``live.FrameResult`` plus the hand's 21
image landmarks and timings, and ``suggestions``, three words for the word being spelled, on a
frame that commits); the text message ``{"type": "clear"}`` forgets the spelled text and
``{"type": "edit", "text": ..., "base": ...}`` replaces it with the page's own (backspace, space, a chosen
suggestion), answered by ``{"type": "edited", "text", "suggestions"}`` (both commands may carry the
page's number ``seq``, echoed in the answer).
A bad frame or message is answered by ``{"type": "error", "error": ...}`` and the connection stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from landmark_asl import __version__
from landmark_asl._util import atomic_write_text, import_extra
from landmark_asl.estimators.features import N_RAW_FEATURES
from landmark_asl.exceptions import DatasetError, LandmarkASLError
from landmark_asl.hands.images import decode_image, printable_path
from landmark_asl.live.loop import check_landmark_model
from landmark_asl.model.recognizer import Recognizer, prediction_row
from landmark_asl.model.store import LoadedModel, load_model
from landmark_asl.serve.protocol import (
    COMMANDS,
    DEFAULT_COLLECT_LETTERS,
    MAX_COMMAND_CHARS,
    MAX_LETTERS_CHARS,
    MAX_TEXT_CHARS,
    SIGNER_PATTERN,
    card_summary,
    model_label,
)
from landmark_asl.serve.session import Session
from landmark_asl.serve.settings import DEFAULT_HOST, DEFAULT_PORT, LOOPBACK_HOSTS, ServeSettings, host_name
from landmark_asl.training.adapt import adapt_model, resolve_base_rows
from landmark_asl.training.collect import (
    DEFAULT_COUNTDOWN,
    DEFAULT_EVERY,
    DEFAULT_PER_LETTER,
    DEFAULT_SIGNER,
    parse_letters,
    read_samples,
)

try:
    import anyio
    from starlette.applications import Starlette
    from starlette.datastructures import Headers
    from starlette.formparsers import MultiPartException, MultiPartParser
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.staticfiles import StaticFiles
    from starlette.websockets import WebSocket, WebSocketDisconnect
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    from landmark_asl.exceptions import MissingExtraError

    raise MissingExtraError(
        f"landmark-asl serve needs the 'serve' extra ({exc.name} is missing): pip install 'landmark_asl[serve]'"
    ) from exc

_log = logging.getLogger(__name__)

#: The page, its script and style sheet: served as they are (no build step, nothing from a CDN).
STATIC_DIR = Path(__file__).with_name("static")

#: WebSocket close code "try again later" (RFC 6455 registry), sent when max_connections is reached.
_TRY_AGAIN_LATER = 1013

#: File under ``personal_dir`` with the last build's times (the next build's estimate, across restarts).
BUILD_TIMES = "build_times.json"
#: A first build (read the base's training landmarks from the filled cache, then fit) on the
#: 2-core reference machine took 33.7 s and 39.4 s for the shipped base's 23,725 rows
#: (``benchmarks/bench_serve.py``, 2026-12-06): seconds per base row, the estimate before any
#: build was recorded here (scaled by the base's row count, ``n_fit`` on its card).
REFERENCE_S_PER_ROW = 37.0 / 23725


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class _Personal:
    """The folders of ``personal_dir``: ``<signer>/samples.parquet`` and ``<signer>/model/``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @staticmethod
    def signer(value: Any) -> str:
        if not isinstance(value, str) or not SIGNER_PATTERN.fullmatch(value):
            raise LandmarkASLError(f"bad name {str(value)[:40]!r}: use 1-32 letters, digits, '_' or '-' (it names "
                                   "the folder of your samples)")
        return value

    def samples(self, signer: str) -> Path:
        return self.root / self.signer(signer) / "samples.parquet"

    def model(self, signer: str) -> Path:
        return self.root / self.signer(signer) / "model"

    def build_times(self) -> dict[str, float]:
        """Seconds the last build took here (``read_s``: the base landmarks, ``fit_s``), for the next
        build's estimate after a server restart; empty when none was recorded or the file is unreadable."""
        try:
            times = json.loads((self.root / BUILD_TIMES).read_text())
        except (OSError, ValueError):
            return {}
        return {k: float(v) for k, v in times.items() if k in ("read_s", "fit_s") and isinstance(v, (int, float))}

    def record_build_times(self, read_s: float | None, fit_s: float) -> None:
        """Remember a build's times (the read only when this build read the base landmarks)."""

        times = self.build_times()
        times["fit_s"] = round(fit_s, 2)
        if read_s is not None:
            times["read_s"] = round(read_s, 2)
        with contextlib.suppress(OSError):  # an estimate is a nicety: a read-only folder does not fail a build
            self.root.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.root / BUILD_TIMES, json.dumps(times) + "\n")

    def known(self, limit: int = 100) -> dict[str, dict[str, bool]]:
        """Signer -> whether samples and a built model are on disk (so the page can tell which buttons work)."""
        if not self.root.is_dir():
            return {}
        found = {}
        for folder in sorted(self.root.iterdir())[:limit]:
            if folder.is_dir() and SIGNER_PATTERN.fullmatch(folder.name):
                found[folder.name] = {"samples": (folder / "samples.parquet").is_file(),
                                      "model": (folder / "model" / "metadata.json").is_file()}
        return found


class _App:
    """The state shared by the routes: the model, the settings, the open connections."""

    def __init__(self, model: LoadedModel, settings: ServeSettings) -> None:

        check_landmark_model(model)
        self.model = model
        self.recognizer = Recognizer(model)  # POST /api/predict (one at a time: predict_limiter)
        self.settings = settings
        self.n_connections = 0
        self.n_uploads = 0  # POST /api/predict requests held now (max_uploads)
        # One call before the first frame: some classifiers build fast-path state lazily.
        model.predict_proba_one(np.zeros(N_RAW_FEATURES))
        self.predict_limiter = anyio.CapacityLimiter(1)
        self.personal = _Personal(settings.personal_dir) if settings.personal_dir is not None else None
        self._adapt_lock = threading.Lock()  # one personal model built at a time
        self._base_rows = None  # the base model's training rows, read on the first adapt
        self._last_build_s: float | None = None  # the last fit's seconds, the next build's estimate
        self.bound_host: str | None = None  # the address run_app binds, answered too
        self.stopping = threading.Event()  # set when the server shuts down: a build then saves nothing

    def allowed_hosts(self) -> tuple[str, ...]:
        """Host names a request may name: this machine's, the bound address and ``settings.allowed_hosts``."""
        bound = host_name(self.bound_host) if self.bound_host else None
        extra = () if bound in (None, "0.0.0.0", "[::]") else (bound,)
        return tuple(dict.fromkeys(LOOPBACK_HOSTS + extra + self.settings.allowed_hosts))

    def limits(self) -> dict[str, int]:
        return {**{name: getattr(self.settings, name) for name in
                   ("max_upload_bytes", "max_frame_bytes", "max_frame_side", "max_connections", "max_uploads")},
                "max_text_chars": MAX_TEXT_CHARS}

    async def health(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__, "model": self.model.name,
                             "connections": self.n_connections, **self.limits()})

    async def model_card(self, request: Request) -> JSONResponse:
        return JSONResponse(card_summary(self.model))

    async def predict(self, request: Request) -> JSONResponse:
        # Each request held may buffer max_upload_bytes while it waits for the one predict_limiter:
        # beyond max_uploads, later ones are told to come back rather than queued without bound.
        if self.n_uploads >= self.settings.max_uploads:
            response = _error(f"busy: {self.settings.max_uploads} uploads are being handled; retry in a moment", 503)
            response.headers["Retry-After"] = "1"
            return response
        self.n_uploads += 1
        try:
            return await self._predict(request)
        finally:
            self.n_uploads -= 1

    async def _predict(self, request: Request) -> JSONResponse:
        limit = self.settings.max_upload_bytes
        declared = request.headers.get("content-length", "")
        too_large = f"upload too large: at most {limit:,} bytes are accepted; send a smaller image"
        if declared.isdigit() and int(declared) > limit:
            return _error(too_large + f" (got {int(declared):,})", 413)
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return _error("expected a multipart/form-data upload with the image in the field 'image' "
                          "(e.g. curl -F image=@photo.jpg)", 415)

        class _TooLarge(Exception):
            pass

        async def limited():
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _TooLarge
                yield chunk

        try:
            form = await MultiPartParser(request.headers, limited(), max_files=1, max_fields=4).parse()
        except _TooLarge:
            return _error(too_large, 413)
        except MultiPartException as exc:
            return _error(f"malformed multipart upload: {exc.message.rstrip('.')}; send the image in the field "
                          "'image' (e.g. curl -F image=@photo.jpg)", 400)
        upload = form.get("image")
        if upload is None or isinstance(upload, str):
            return _error("no file in the field 'image': send the image as multipart field 'image' "
                          "(e.g. curl -F image=@photo.jpg)", 400)
        # As `predict --labels A,B --min-confidence P`: form fields or query parameters.
        options = {key: form.get(key, request.query_params.get(key)) for key in ("labels", "min_confidence")}
        if any(value is not None and not isinstance(value, str) for value in options.values()):
            return _error("labels and min_confidence are text fields, not files", 400)
        try:
            min_confidence = None if options["min_confidence"] in (None, "") else float(options["min_confidence"])
            labels = options["labels"] or None
            if labels is not None:
                self.recognizer.answerable(labels)  # unknown labels: one clear error before the image is read
            if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
                raise ValueError
        except LandmarkASLError as exc:  # before ValueError: DatasetError (unknown labels) is one too
            return _error(str(exc), 400)
        except ValueError:
            return _error(f"min_confidence must be a number in [0, 1]; got {options['min_confidence'][:40]!r}", 400)
        data = await upload.read()
        name = printable_path(upload.filename or "upload")
        result = await anyio.to_thread.run_sync(self._predict_bytes, data, name, labels, min_confidence,
                                                limiter=self.predict_limiter)
        return JSONResponse(result, status_code=400 if result["error"] else 200)

    def _predict_bytes(self, data: bytes, name: str, labels: str | None = None,
                       min_confidence: float | None = None) -> dict[str, Any]:

        # Decoded in memory (no temporary file); the recognizer's extractor is reused by every upload.
        try:
            return prediction_row(name, self.recognizer.predict(decode_image(data, name=name), labels=labels,
                                                                min_confidence=min_confidence))
        except DatasetError as exc:
            return prediction_row(name, None, str(exc))

    def collect_settings(self) -> dict[str, Any]:

        return {"enabled": self.personal is not None, "letters": DEFAULT_COLLECT_LETTERS, "per_letter": DEFAULT_PER_LETTER,
                "max_per_letter": self.settings.max_per_letter, "every": DEFAULT_EVERY, "countdown": DEFAULT_COUNTDOWN,
                "signers": self.personal.known() if self.personal is not None else {}}

    async def websocket(self, websocket: WebSocket) -> None:
        await websocket.accept()
        if not _same_origin(websocket.headers):
            await _refuse(websocket, 1008, "cross-origin WebSocket refused: open the page served by "
                          "landmark-asl serve itself")
            return
        if self.n_connections >= self.settings.max_connections:
            await _refuse(websocket, _TRY_AGAIN_LATER, f"too many connections: at most "
                          f"{self.settings.max_connections} at once; close another tab and retry")
            return
        self.n_connections += 1
        session = None
        send_lock = anyio.Lock()

        async def send(reply: dict[str, Any]) -> None:  # replies and a background build's message never interleave
            async with send_lock:
                await websocket.send_text(json.dumps(reply))

        try:
            session = await anyio.to_thread.run_sync(Session, self.model, self.settings)
            await send({"type": "hello", "model": model_label(self.model), "classes": [str(c) for c in self.model.classes],
                        "live": dataclasses.asdict(self.settings.live), "limits": self.limits(),
                        "collect": self.collect_settings()})
            async with anyio.create_task_group() as background:
                try:
                    while True:
                        message = await websocket.receive()
                        if message["type"] == "websocket.disconnect":
                            break
                        await send(await self._answer(session, message, background, send))
                except WebSocketDisconnect:
                    pass
                # A personal model still being built is finished and saved by its thread, unseen.
                background.cancel_scope.cancel()
        except WebSocketDisconnect:
            return
        finally:
            try:
                if session is not None:
                    # Shielded: a cancelled handler (the client gone, the server stopping) still writes
                    # what collect mode recorded.
                    with anyio.CancelScope(shield=True):
                        await anyio.to_thread.run_sync(session.close)
            finally:
                self.n_connections -= 1  # once closed: a client seeing 0 finds every sample on disk

    async def _answer(self, session: Session, message: dict[str, Any], background, send) -> dict[str, Any]:
        data, text = message.get("bytes"), message.get("text")
        if data is not None:
            if len(data) > self.settings.max_frame_bytes:
                return {"type": "error", "error": f"frame too large: {len(data):,} bytes, at most "
                        f"{self.settings.max_frame_bytes:,}; send a JPEG of about 640x480"}
            try:
                return await anyio.to_thread.run_sync(session.frame, data)
            except DatasetError as exc:
                return {"type": "error", "error": f"bad frame: {exc}"}
            except (LandmarkASLError, OSError) as exc:  # e.g. writing collected samples to a full disk
                return {"type": "error", "error": f"frame {session.index}: {exc}"}
        if len(text or "") > MAX_COMMAND_CHARS:
            return {"type": "error", "error": f"command too long: {len(text):,} characters, at most "
                    f"{MAX_COMMAND_CHARS:,}"}
        try:
            command = json.loads(text or "")
        except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
            command = None
        kind = command.get("type") if isinstance(command, dict) else None
        if kind not in COMMANDS:
            return {"type": "error", "error": f"bad message {(text or '')[:80]!r}: expected a binary JPEG frame or "
                    f"a JSON command whose type is one of {', '.join(COMMANDS)}"}
        try:
            if kind in ("clear", "edit"):
                seq = command.get("seq")  # the page's number for it, answered with it
                if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**53):
                    raise LandmarkASLError(f"{kind}'s 'seq' must be an integer from 0 to 2**53 - 1; got {seq!r:.40}")
                if kind == "clear":
                    session.recognizer.clear_text()
                    reply = {"type": "cleared", "text": session.recognizer.text}
                else:
                    reply = await anyio.to_thread.run_sync(session.edit, command)
                return reply if seq is None else {**reply, "seq": seq}
            if kind != "use" and self.personal is None:
                raise LandmarkASLError("collect mode is off: this server was started without a folder for "
                                       "personal samples (landmark-asl serve --personal-dir DIR)")
            if kind == "collect":
                return await anyio.to_thread.run_sync(self._start_collect, session, command)
            if kind.startswith("collect_"):
                return await anyio.to_thread.run_sync(session.collect_command, kind)
            if kind == "adapt":
                return await self._adapt(session, command, background, send)
            return await anyio.to_thread.run_sync(self._use, session, command)
        except (LandmarkASLError, OSError) as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a bug must not end the connection: logged, told in one line
            _log.exception("command %s failed", kind)
            error = f"{kind} failed: {type(exc).__name__}: {exc}"
        # Whether a recording goes on, so that the page's buttons follow the server after any refusal;
        # for a refused edit or clear, the server's text, which the page takes back.
        reply = {"type": "error", "command": kind, "error": error, "collecting": session.recorder is not None}
        if kind in ("edit", "clear"):
            reply["text"] = session.recognizer.text
        return reply

    def _start_collect(self, session: Session, command: dict[str, Any]) -> dict[str, Any]:

        signer = self.personal.signer(command.get("signer", DEFAULT_SIGNER))
        letters_text = command.get("letters", DEFAULT_COLLECT_LETTERS)
        if not isinstance(letters_text, str):
            raise LandmarkASLError("letters must be a string such as 'A-I,K-Y'")
        if len(letters_text) > MAX_LETTERS_CHARS:
            raise LandmarkASLError(f"letters: {len(letters_text):,} characters, at most {MAX_LETTERS_CHARS}; "
                                   "name each letter once, e.g. 'A-I,K-Y,SPACE'")
        letters = parse_letters(letters_text)
        unknown = [c for c in letters if c not in {str(k) for k in self.model.classes}]
        if unknown:
            raise LandmarkASLError(f"the model does not know {', '.join(unknown)}: record some of "
                                   f"{' '.join(str(c) for c in self.model.classes)}")
        per_letter = _int_field(command, "per_letter", DEFAULT_PER_LETTER, 1, self.settings.max_per_letter)
        every = _int_field(command, "every", DEFAULT_EVERY, 1, 30)
        countdown = _int_field(command, "countdown", DEFAULT_COUNTDOWN, 0, 300)
        return session.start_collect(self.personal.samples(signer), signer, letters, per_letter, every, countdown)

    async def _adapt(self, session: Session, command: dict[str, Any], background, send) -> dict[str, Any]:
        """Build the personal model of a signer from their samples in the background; the session switches to it."""
        signer = self.personal.signer(command.get("signer") or session.signer or DEFAULT_SIGNER)
        if self._adapt_lock.locked():
            raise LandmarkASLError(_BUILDING)
        if session.recorder is not None and signer != session.signer:
            raise LandmarkASLError(f"recording {session.signer}'s samples: stop it before building the model of {signer}")
        # A recording of this signer ends first: its samples are what the model learns.
        stopped = await anyio.to_thread.run_sync(session.stop_collect)
        samples = self.personal.samples(signer)
        if not samples.is_file() or not await anyio.to_thread.run_sync(_n_samples, samples):
            raise _no_samples(signer)
        choice = session.choice
        started = time.monotonic()

        token = anyio.lowlevel.current_token()  # the build's daemon thread reaches this event loop through it

        def report(phase: str) -> None:  # from the build's thread: the page shows the phase and the elapsed time
            with contextlib.suppress(Exception):
                anyio.from_thread.run(send, {"type": "adapt_progress", "signer": signer, "phase": phase,
                                             "elapsed_s": round(time.monotonic() - started, 2)}, token=token)

        async def build() -> None:
            try:
                model = await _in_daemon_thread(self._build, signer, report)
            except Exception as exc:  # noqa: BLE001 - any failure is told to the page; the connection stays
                if not isinstance(exc, (LandmarkASLError, OSError, ValueError)):
                    _log.exception("building the personal model of %s failed", signer)
                with contextlib.suppress(WebSocketDisconnect):
                    await send({"type": "error", "command": "adapt", "error": f"cannot build the personal model "
                                f"of {signer}: {exc}"})
                return
            used = session.offer(model, choice)
            adapted = model.card.training["adapted"]
            with contextlib.suppress(WebSocketDisconnect):  # the page may be gone: the model is saved anyway
                await send({"type": "adapted", "model": model_label(model), "signer": signer,
                            "directory": f"{signer}/model", "sample_counts": adapted["sample_counts"],
                            "n_samples": adapted["n_samples"], "seconds": round(adapted["seconds"], 2),
                            "elapsed_s": round(time.monotonic() - started, 2), "used": used})

        background.start_soon(build)
        return {"type": "adapting", "signer": signer, "samples": printable_path(samples),
                "estimate_s": self._estimate(), **stopped}

    def _estimate(self) -> float | None:
        """Seconds the next build should take, from the last build's recorded times (``build_times.json``
        in the personal folder, so a restarted server knows them): its fit, plus the reading of the base
        model's training landmarks while they are not in memory. Before any build was recorded, the
        reference machine's time for a base of this size (:data:`REFERENCE_S_PER_ROW`); None when
        the base's card does not say how many rows it was fitted on."""
        times = self.personal.build_times() if self.personal is not None else {}
        fit = self._last_build_s if self._last_build_s is not None else times.get("fit_s")
        if fit is None:
            n_fit = getattr(self.model, "card", None) and self.model.card.training.get("n_fit")
            return round(REFERENCE_S_PER_ROW * n_fit, 2) if isinstance(n_fit, int) and n_fit > 0 else None
        if self._base_rows is None:
            if "read_s" not in times:
                return None
            fit += times["read_s"]
        return round(fit, 2)

    def _build(self, signer: str, report=lambda phase: None) -> LoadedModel:
        """Fit and save a signer's personal model (blocking; in a worker thread, one at a time); ``report(phase)`` says what it does."""

        if not self._adapt_lock.acquire(blocking=False):  # another page asked at the same moment
            raise LandmarkASLError(_BUILDING)
        try:
            samples = read_samples(self.personal.samples(signer))
            if samples.empty:
                raise _no_samples(signer)
            read_s = None
            if self._base_rows is None:
                report("reading the base model's training landmarks (from the landmark cache, extracting any "
                       "image not in it, or the packaged rows on a server without the datasets)")
                read_start = time.monotonic()
                self._base_rows = resolve_base_rows(self.model, cache_dir=self.settings.cache_dir,
                                                    n_jobs=self.settings.adapt_jobs)
                read_s = time.monotonic() - read_start
            report(f"fitting your model on {len(samples)} samples and the base model's data")
            start = time.monotonic()
            output = adapt_model(samples, output=self.personal.model(signer), base=self.model.directory,
                                 signer=signer, cache_dir=self.settings.cache_dir, n_jobs=self.settings.adapt_jobs,
                                 base_rows=self._base_rows, progress=False, stop=self.stopping)
            model = load_model(output)
            self._last_build_s = time.monotonic() - start  # the fit alone: the landmarks stay in memory
            self.personal.record_build_times(read_s, self._last_build_s)
            return model
        finally:
            self._adapt_lock.release()

    def _use(self, session: Session, command: dict[str, Any]) -> dict[str, Any]:
        """``{"type": "use", "model": "base"}``, or ``"personal"`` with a ``signer`` whose model was built."""
        which = command.get("model")
        if which == "base":
            model, signer = self.model, None
        elif which == "personal":
            if self.personal is None:
                raise LandmarkASLError("personal models are off: this server was started without a folder for personal "
                                       "samples (landmark-asl serve --personal-dir DIR)")
            signer = self.personal.signer(command.get("signer") or session.signer or DEFAULT_SIGNER)
            directory = self.personal.model(signer)
            if not (directory / "metadata.json").is_file():
                raise LandmarkASLError(f"no personal model of {signer} yet: record samples and build it first")
            model = load_model(directory)
        else:
            raise LandmarkASLError(f"use: model must be 'base' or 'personal'; got {str(which)[:40]!r}")
        session.choice += 1
        session.offer(None, session.choice)
        session.switch(model)
        return {"type": "using", "model": model_label(model), "personal": signer}


async def _in_daemon_thread(func, *args) -> Any:
    """``func(*args)`` in a daemon thread, awaited.

    A personal model's fit takes up to a minute and cannot be interrupted; in a daemon thread
    it does not hold the process when the server stops (Ctrl-C), while anyio's worker threads
    would be waited for. The fit is then lost, and the build saves nothing (``_App.stopping``).
    """

    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if not future.done():
            future.set_exception(error) if error is not None else future.set_result(result)

    def run() -> None:
        try:
            result, error = func(*args), None
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the event loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="landmark-asl personal model", daemon=True).start()
    return await future


_BUILDING = "another personal model is being built on this server (one at a time); try again when it is done"


def _no_samples(signer: str) -> LandmarkASLError:
    return LandmarkASLError(f"no samples of {signer} yet: record some first (collect)")


def _n_samples(path: Path) -> int:

    return len(read_samples(path))


def _int_field(command: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = command.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise LandmarkASLError(f"{name} must be an integer from {low} to {high}; got {str(value)[:40]!r}")
    return value


async def _refuse(websocket: WebSocket, code: int, message: str) -> None:
    """Say why in an error message and in the close frame's reason (at most 123 bytes), then close."""
    await websocket.send_json({"type": "error", "error": message})
    await websocket.close(code=code, reason=message.split(";")[0][:123])


def _same_origin(headers: Headers) -> bool:
    """A browser sends Origin: refuse pages of other sites (WebSockets are not covered by CORS)."""
    origin = headers.get("origin")
    if origin is None:  # not a browser: a script on this machine
        return True
    return origin.split("://", 1)[-1].rstrip("/").lower() == headers.get("host", "").lower()


class _RequestGuard:
    """ASGI middleware: every HTTP and WebSocket request must name an allowed host; HTTP requests from another site's page are refused.

    Checking ``Host`` defeats DNS rebinding: a page whose name is made to resolve to 127.0.0.1
    is same-origin with itself, but its requests still say ``Host: attacker.example``.
    """

    def __init__(self, app, state: _App) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        host = headers.get("host")
        allowed = self.state.allowed_hosts()
        problem = None
        if host is None or host_name(host) not in allowed:
            shown = "no Host header" if host is None else f"host {host[:80]!r}"
            problem = (f"{shown} is not served here: this server answers {', '.join(allowed)}; to open it to "
                       "other machines start it with `landmark-asl serve --host 0.0.0.0 --allow-host NAME` (the name they use)")
        elif scope["type"] == "http" and not _same_origin(headers):
            problem = "cross-origin request refused: open the page served by landmark-asl serve itself"
        if problem is None:
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":  # closing before the handshake is answered: HTTP 403
            await send({"type": "websocket.close", "code": 1008, "reason": problem[:123]})
            return None
        await _error(problem, 403 if host is not None and host_name(host) in allowed else 400)(scope, receive, send)
        return None


def create_app(model: str | Path | LoadedModel | None = None, settings: ServeSettings | None = None) -> Starlette:
    """Build the ASGI app: the page at ``/``, ``/ws``, ``/api/health``, ``/api/model``, ``/api/predict``.

    Parameters
    ----------
    model : str, Path, LoadedModel or None
        A landmark model directory or loaded model; None loads the shipped default.
    settings : ServeSettings, optional
        Limits and live settings; defaults to ``ServeSettings()``.

    Returns
    -------
    starlette.applications.Starlette

    Raises
    ------
    ModelLoadError
        The model cannot be loaded or is not a landmark model.
    """
    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    state = _App(loaded, settings if settings is not None else ServeSettings())
    routes = [
        Route("/api/health", state.health),
        Route("/api/model", state.model_card),
        Route("/api/predict", state.predict, methods=["POST"]),
        WebSocketRoute("/ws", state.websocket),
        # StaticFiles refuses any path that resolves outside STATIC_DIR, symbolic links included.
        Mount("/", app=StaticFiles(directory=STATIC_DIR, html=True), name="static"),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:
            state.stopping.set()  # a personal model still fitting is not saved

    app = Starlette(routes=routes, middleware=[Middleware(_RequestGuard, state=state)], lifespan=lifespan)
    app.state.serve = state
    return app


def run_app(app: Starlette, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve an app of :func:`create_app` with uvicorn until Ctrl-C.

    Parameters
    ----------
    app : Starlette
        From :func:`create_app`.
    host : str
        Interface to bind; the default 127.0.0.1 serves this machine only.
    port : int
        TCP port (0: any free one).

    Notes
    -----
    Requests are answered only when their ``Host`` names 127.0.0.1, localhost, [::1], ``host``
    (unless a wildcard such as 0.0.0.0) or one of ``ServeSettings.allowed_hosts``.
    """

    uvicorn = import_extra("uvicorn", extra="serve", purpose="landmark-asl serve")
    app.state.serve.bound_host = host
    settings = app.state.serve.settings
    # Frames above the limit get the app's clear error; far larger ones are cut by uvicorn (code 1009).
    uvicorn.run(app, host=host, port=port, log_level="warning", ws_max_size=4 * settings.max_frame_bytes)
