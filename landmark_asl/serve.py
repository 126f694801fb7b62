"""The web page for live recognition: an ASGI app serving a static page, a WebSocket that spells camera frames, and a small JSON API.

Every WebSocket connection gets its own video-mode ``HandLandmarkExtractor`` and
``LiveRecognizer`` (the code path of ``landmark-asl live``); MediaPipe runs in a worker thread
so the event loop keeps serving other clients. The page sends its next frame only when the
previous result has arrived, so a slow machine lowers the frame rate instead of building a queue.

Protocol of ``/ws``: the server first sends ``{"type": "hello", ...}`` (model, live settings,
limits); each binary message is one encoded image (JPEG, about 640x480) answered by
``{"type": "result", ...}`` (every public scalar field of ``live.FrameResult`` plus the hand's 21
image landmarks and timings); the text message ``{"type": "clear"}`` forgets the spelled text.
A bad frame or message is answered by ``{"type": "error", "error": ...}`` and the connection stays.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from landmark_asl import __version__
from landmark_asl.exceptions import DatasetError
from landmark_asl.images import decode_image, printable_path
from landmark_asl.live import FrameResult, LiveRecognizer, LiveSettings, check_landmark_model
from landmark_asl.persistence import LoadedModel, load_model

try:
    import anyio
    from starlette.applications import Starlette
    from starlette.formparsers import MultiPartException, MultiPartParser
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.staticfiles import StaticFiles
    from starlette.websockets import WebSocket, WebSocketDisconnect
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        f"landmark-asl serve needs the 'serve' extra ({exc.name} is missing): pip install 'landmark_asl[serve]'"
    ) from exc

#: The page, its script and style sheet: served as they are (no build step, nothing from a CDN).
STATIC_DIR = Path(__file__).with_name("static")

#: WebSocket close code "try again later" (RFC 6455 registry), sent when max_connections is reached.
_TRY_AGAIN_LATER = 1013


@dataclass(frozen=True)
class ServeSettings:
    """Limits of the server and the live settings of every connection.

    Attributes
    ----------
    max_upload_bytes : int
        Largest request body of ``POST /api/predict`` (413 above).
    max_frame_bytes : int
        Largest WebSocket frame; a 640x480 JPEG at quality 0.8 is 30-80 KB.
    max_frame_side : int
        Frames are downscaled so their longer side is at most this before detection.
    max_connections : int
        WebSocket connections served at once; one more is told so and closed (code 1013).
    live : LiveSettings
        Smoothing, threshold and spelling of every connection (the page mirrors frames itself).
    """

    max_upload_bytes: int = 10 * 1024 * 1024
    max_frame_bytes: int = 1024 * 1024
    max_frame_side: int = 1280
    max_connections: int = 4
    live: LiveSettings = field(default_factory=LiveSettings)

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_frame_bytes", "max_frame_side", "max_connections"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {value!r}")


def result_message(result: FrameResult, frame_size: tuple[int, int]) -> dict[str, Any]:
    """The JSON message of one frame: every public scalar field of ``result`` plus the hand.

    Fields are read generically, so a field added to ``FrameResult`` reaches the page without
    a change here; arrays (the frame) are left out, floats rounded to 4 decimals.

    Parameters
    ----------
    result : FrameResult
    frame_size : (width, height)
        Size of the frame as detected.

    Returns
    -------
    dict
        ``type='result'``, the fields, ``frame_size`` and ``hand`` (None, or ``landmarks``: a
        list of 21 ``[x, y]`` in [0, 1] of the frame, ``handedness``, ``handedness_score``).
    """
    message: dict[str, Any] = {"type": "result"}
    for item in dataclasses.fields(result):
        if item.name.startswith("_") or item.name in ("hand", "image"):  # the hand below; the frame stays
            continue
        value = getattr(result, item.name)
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float):
            message[item.name] = round(value, 4) if np.isfinite(value) else None
        elif value is None or isinstance(value, (bool, int, str)):
            message[item.name] = value
    hand = result.hand
    message["hand"] = None if hand is None else {
        "landmarks": np.round(hand.image[:, :2].astype(np.float64), 4).tolist(),
        "handedness": hand.handedness,
        "handedness_score": round(float(hand.handedness_score), 4),
    }
    message["frame_size"] = list(frame_size)
    return message


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class _Session:
    """One WebSocket client: its video-mode extractor and recognizer, used from one worker thread at a time."""

    def __init__(self, model: LoadedModel, settings: ServeSettings) -> None:
        from landmark_asl.landmarks import HandLandmarkExtractor

        self.settings = settings
        self.extractor = HandLandmarkExtractor(model.card.extractor_settings, mode="video")
        self.recognizer = LiveRecognizer(model, settings.live, extractor_settings=model.card.extractor_settings)
        self.recognizer.reset()
        self.index = 0
        self.last_ts = -1
        self.start = time.monotonic()

    def frame(self, data: bytes) -> dict[str, Any]:
        """Detect, classify and spell one encoded frame (blocking: run it in a thread)."""
        t0 = time.perf_counter()
        rgb = decode_image(data, name=f"frame {self.index}", max_side=self.settings.max_frame_side)
        # The server's clock: MediaPipe refuses a timestamp that does not increase.
        timestamp_ms = max(int((time.monotonic() - self.start) * 1000.0), self.last_ts + 1)
        self.last_ts = timestamp_ms
        hand = self.extractor.detect_video(rgb, timestamp_ms)
        detect_ms = (time.perf_counter() - t0) * 1000.0
        frame_size = (rgb.shape[1], rgb.shape[0])
        result = self.recognizer.process(hand, self.index, timestamp_ms, frame_size=frame_size)
        self.recognizer.stats.detect_ms_total += detect_ms
        self.index += 1
        message = result_message(dataclasses.replace(result, detect_ms=detect_ms), frame_size)
        message["server_ms"] = round((time.perf_counter() - t0) * 1000.0, 3)
        return message

    def close(self) -> None:
        self.extractor.close()


class _App:
    """The state shared by the routes: the model, the settings, the open connections."""

    def __init__(self, model: LoadedModel, settings: ServeSettings) -> None:
        from landmark_asl.features import N_RAW_FEATURES

        check_landmark_model(model)
        self.model = model
        self.settings = settings
        self.n_connections = 0
        # One call before the first frame: some classifiers build fast-path state lazily.
        model.predict_proba_one(np.zeros(N_RAW_FEATURES))
        self.predict_limiter = anyio.CapacityLimiter(1)

    def limits(self) -> dict[str, int]:
        return {name: getattr(self.settings, name) for name in
                ("max_upload_bytes", "max_frame_bytes", "max_frame_side", "max_connections")}

    async def health(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__, "model": self.model.name,
                             "connections": self.n_connections, **self.limits()})

    async def model_card(self, request: Request) -> JSONResponse:
        return JSONResponse({**self.model.metadata, "directory": printable_path(self.model.directory)})

    async def predict(self, request: Request) -> JSONResponse:
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
        data = await upload.read()
        name = printable_path(upload.filename or "upload")
        result = await anyio.to_thread.run_sync(self._predict_bytes, data, name, limiter=self.predict_limiter)
        return JSONResponse(result, status_code=400 if result["error"] else 200)

    def _predict_bytes(self, data: bytes, name: str) -> dict[str, Any]:
        from landmark_asl.inference import predict_images

        # predict_images reads files: the upload goes to a private temporary folder, deleted after.
        with tempfile.TemporaryDirectory(prefix="landmark-asl-upload-") as folder:
            path = Path(folder) / "upload"
            path.write_bytes(data)
            (result,) = predict_images([path], model=self.model)
        result["path"] = name
        if result["error"]:
            result["error"] = result["error"].replace(printable_path(path), name)
        return result

    async def websocket(self, websocket: WebSocket) -> None:
        await websocket.accept()
        if not _same_origin(websocket):
            await _refuse(websocket, 1008, "cross-origin WebSocket refused: open the page served by "
                          "landmark-asl serve itself")
            return
        if self.n_connections >= self.settings.max_connections:
            await _refuse(websocket, _TRY_AGAIN_LATER, f"too many connections: at most "
                          f"{self.settings.max_connections} at once; close another tab and retry")
            return
        self.n_connections += 1
        session = None
        try:
            session = await anyio.to_thread.run_sync(_Session, self.model, self.settings)
            await websocket.send_json({"type": "hello", "model": self.model.name,
                                       "classes": [str(c) for c in self.model.classes],
                                       "live": dataclasses.asdict(self.settings.live), "limits": self.limits()})
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                reply = await self._answer(session, message)
                await websocket.send_text(json.dumps(reply))
        except WebSocketDisconnect:
            return
        finally:
            self.n_connections -= 1
            if session is not None:
                await anyio.to_thread.run_sync(session.close)

    async def _answer(self, session: _Session, message: dict[str, Any]) -> dict[str, Any]:
        data, text = message.get("bytes"), message.get("text")
        if data is not None:
            if len(data) > self.settings.max_frame_bytes:
                return {"type": "error", "error": f"frame too large: {len(data):,} bytes, at most "
                        f"{self.settings.max_frame_bytes:,}; send a JPEG of about 640x480"}
            try:
                return await anyio.to_thread.run_sync(session.frame, data)
            except DatasetError as exc:
                return {"type": "error", "error": f"bad frame: {exc}"}
        try:
            command = json.loads(text or "")
        except ValueError:
            command = None
        if not isinstance(command, dict) or command.get("type") != "clear":
            return {"type": "error", "error": f"bad message {(text or '')[:80]!r}: expected a binary JPEG frame "
                    "or the text {\"type\": \"clear\"}"}
        session.recognizer.clear_text()
        return {"type": "cleared", "text": session.recognizer.text}


async def _refuse(websocket: WebSocket, code: int, message: str) -> None:
    """Say why in an error message and in the close frame's reason (at most 123 bytes), then close."""
    await websocket.send_json({"type": "error", "error": message})
    await websocket.close(code=code, reason=message.split(";")[0][:123])


def _same_origin(websocket: WebSocket) -> bool:
    """A browser sends Origin: refuse pages of other sites (WebSockets are not covered by CORS)."""
    origin = websocket.headers.get("origin")
    if origin is None:  # not a browser: a script on this machine
        return True
    return origin.split("://", 1)[-1].rstrip("/") == websocket.headers.get("host", "")


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
    app = Starlette(routes=routes)
    app.state.serve = state
    return app


def run_app(app: Starlette, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve an app of :func:`create_app` with uvicorn until Ctrl-C.

    Parameters
    ----------
    app : Starlette
        From :func:`create_app`.
    host : str
        Interface to bind; the default 127.0.0.1 serves this machine only.
    port : int
        TCP port (0: any free one).
    """
    import uvicorn

    settings = app.state.serve.settings
    # Frames above the limit get the app's clear error; far larger ones are cut by uvicorn (code 1009).
    uvicorn.run(app, host=host, port=port, log_level="warning", ws_max_size=4 * settings.max_frame_bytes)
