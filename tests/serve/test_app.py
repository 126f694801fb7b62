"""The server's API and WebSocket protocol (landmark_asl.serve.app) with Starlette's TestClient, on real photos."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from landmark_asl.live.loop import FrameResult
from landmark_asl.live.settings import LiveSettings
from landmark_asl.serve.app import ServeSettings, create_app
from landmark_asl.serve.protocol import result_message

# A photo of a dataset the shipped model never trained on (massey: new signers and camera).
PHOTO = "massey/l/hand1_l_dif_seg_1_cropped.jpeg"


@pytest.fixture(scope="module")
def model():
    from landmark_asl.model.store import load_model

    return load_model()


@pytest.fixture(scope="module")
def client(model):
    from starlette.testclient import TestClient

    settings = ServeSettings(max_upload_bytes=300_000, max_frame_bytes=200_000, max_connections=2,
                             allowed_hosts=("testserver",))  # the TestClient's Host
    with TestClient(create_app(model, settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def frame_640(data_dir):
    """A 640x480 JPEG frame of a real photo (asl2text/test L, scaled to 480x480, edges repeated)."""
    import cv2

    photo = cv2.resize(cv2.imread(str(data_dir / "asl2text/test/L/L0.jpg")), (480, 480))
    frame = cv2.copyMakeBorder(photo, 0, 0, 80, 80, cv2.BORDER_REPLICATE)
    return cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()


def test_health_and_model_card(client, model):
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["model"] == model.name
    assert health["connections"] == 0 and health["max_connections"] == 2
    card = client.get("/api/model").json()
    assert card["classes"] == [str(c) for c in model.classes]
    assert card["name"] == model.name and card["input_kind"] == "landmarks"


def test_page_and_its_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'src="app.js"' in page.text and "http" not in page.text.replace("http-equiv", "")  # no CDN
    assert client.get("/app.js").status_code == 200
    assert client.get("/style.css").status_code == 200
    # The page names its (empty) icon, so the browser does not ask for /favicon.ico, a 404.
    assert '<link rel="icon" href="data:,">' in page.text


@pytest.mark.parametrize("path", ["/../setup.cfg", "/%2e%2e/setup.cfg", "/..%2fserve.py", "/%2e%2e/serve.py",
                                  "/static/../../setup.cfg", "/..%2f..%2fsetup.cfg", "/etc/passwd"])
def test_no_path_outside_the_static_folder(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "[metadata]" not in response.text and "import" not in response.text


@pytest.mark.slow
def test_predict_answers_a_real_photo_like_the_predict_command(client, data_dir, model):
    from landmark_asl.model.recognizer import Recognizer, prediction_row

    photo = data_dir / PHOTO
    response = client.post("/api/predict", files={"image": ("hand.jpeg", photo.read_bytes(), "image/jpeg")})
    assert response.status_code == 200
    answer = response.json()
    assert answer["label"] == "L" and answer["detected"] is True and answer["error"] == ""
    with Recognizer(model) as recognizer:
        expected = prediction_row("hand.jpeg", recognizer.predict(photo))
    assert answer == json.loads(json.dumps(expected))  # the JSON of `landmark-asl predict --json`


@pytest.mark.slow
def test_predict_takes_labels_and_min_confidence_like_the_predict_command(client, data_dir, model):
    from landmark_asl.model.recognizer import Recognizer, prediction_row

    photo = data_dir / PHOTO
    image = {"image": ("hand.jpeg", photo.read_bytes(), "image/jpeg")}
    as_form = client.post("/api/predict", files=image, data={"labels": "a,b", "min_confidence": "0.99"})
    as_query = client.post("/api/predict?labels=A,B&min_confidence=0.99", files=image)
    with Recognizer(model) as recognizer:
        expected = prediction_row("hand.jpeg", recognizer.predict(photo, labels="A,B", min_confidence=0.99))
    assert as_form.status_code == as_query.status_code == 200
    assert as_form.json() == as_query.json() == json.loads(json.dumps(expected))
    assert {label for label, _ in as_form.json()["top_k"]} <= {"A", "B"}
    unknown = client.post("/api/predict", files=image, data={"labels": "A,7"})
    assert unknown.status_code == 400 and unknown.json()["error"].startswith("labels 7 are not classes")
    # A label no data set spells (normalize_label's DatasetError, a ValueError too): the label's own
    # error, not a server error, and not the min_confidence message when that is given as well.
    for fields in ({"labels": "foo"}, {"labels": "foo", "min_confidence": "0.5"}, {"labels": "\u00e9"}):
        odd = client.post("/api/predict", files=image, data=fields)
        assert odd.status_code == 400, fields
        assert "min_confidence" not in odd.json()["error"] and odd.json()["error"].count("\n") == 0, fields
    for bad in ("1.5", "nan", "lots"):
        refused = client.post("/api/predict", files=image, data={"min_confidence": bad})
        assert refused.status_code == 400 and "min_confidence must be a number in [0, 1]" in refused.json()["error"]


def test_predict_refuses_a_bad_image(client):
    response = client.post("/api/predict", files={"image": ("notes.jpg", b"this is not an image", "image/jpeg")})
    assert response.status_code == 400
    answer = response.json()
    assert answer["path"] == "notes.jpg" and answer["label"] == ""
    assert "cannot decode image notes.jpg" in answer["error"] and "landmark-asl-upload" not in answer["error"]


def png_bomb(width: int, height: int) -> bytes:
    """A small grey PNG whose header claims ``width`` x ``height`` pixels (one row of data)."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    pixels = zlib.compress(b"\x00" + bytes(width), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def test_predict_refuses_a_decompression_bomb(client):
    response = client.post("/api/predict", files={"image": ("bomb.png", png_bomb(12_000, 12_000), "image/png")})
    assert response.status_code == 400
    assert "refusing image bomb.png: it claims 12000x12000 pixels" in response.json()["error"]


def test_predict_refuses_an_oversized_upload(client):
    response = client.post("/api/predict", files={"image": ("big.jpg", b"\xff" * 400_000, "image/jpeg")})
    assert response.status_code == 413
    assert "at most 300,000 bytes" in response.json()["error"]


def test_predict_refuses_an_oversized_chunked_upload(client):
    """Without Content-Length the body is counted while it streams."""

    def chunks():
        boundary = b"--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.jpg\"\r\n\r\n"
        yield boundary
        for _ in range(40):
            yield b"\0" * 10_000

    response = client.post("/api/predict", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"})
    assert response.status_code == 413 and "upload too large" in response.json()["error"]


@pytest.mark.parametrize(("kwargs", "status", "message"), [
    ({"content": b"raw", "headers": {"content-type": "image/jpeg"}}, 415, "multipart/form-data"),
    ({"content": b"raw", "headers": {"content-type": "multipart/form-data"}}, 400,
     "malformed multipart upload: Missing boundary in multipart; send"),
    ({"content": b"raw", "headers": {"content-type": "multipart/form-data; boundary=zz"}}, 400,
     "malformed multipart upload"),
    ({"files": {"photo": ("a.jpg", b"x", "image/jpeg")}}, 400, "no file in the field 'image'"),
    ({"data": {"image": "text, not a file"}, "files": {"note": ("a.txt", b"x", "text/plain")}}, 400,
     "no file in the field 'image'"),
])
def test_predict_refuses_a_bad_request(client, kwargs, status, message):
    response = client.post("/api/predict", **kwargs)
    assert response.status_code == status and message in response.json()["error"]


def receive_result(ws):
    message = ws.receive_json()
    assert message["type"] == "result", message
    return message


@pytest.mark.slow
def test_websocket_spells_real_frames(client, frame_640, model):
    with client.websocket_connect("/ws") as ws:
        hello = ws.receive_json()
        assert hello["type"] == "hello" and hello["model"] == model.name
        assert hello["live"]["stable_frames"] == LiveSettings().stable_frames
        assert hello["limits"]["max_frame_bytes"] == 200_000 and hello["limits"]["max_text_chars"] == 2000
        results = []
        for _ in range(10):
            ws.send_bytes(frame_640)
            results.append(receive_result(ws))
    assert [r["index"] for r in results] == list(range(10))
    stamps = [r["timestamp_ms"] for r in results]
    assert stamps == sorted(set(stamps))  # strictly increasing, as MediaPipe's video mode needs
    last = results[-1]
    assert last["label"] == "L" and last["text"] == "L" and 0.5 <= last["confidence"] <= 1.0
    assert [r["committed"] for r in results].count("L") == 1  # once, after stable_frames held frames
    assert last["frame_size"] == [640, 480] and last["detect_ms"] > 0 and last["server_ms"] >= last["detect_ms"]
    landmarks = np.array(last["hand"]["landmarks"])
    assert landmarks.shape == (21, 2) and (landmarks >= 0).all() and (landmarks <= 1).all()
    assert "image" not in last
    # The three most likely letters, best first, and words for what was spelled on the committing frame.
    assert last["top"][0][0] == "L" and len(last["top"]) == 3 and last["top"][0][1] >= last["top"][1][1]
    committing = next(r for r in results if r["committed"])
    assert len(committing["suggestions"]) == 3 and "L" in committing["suggestions"]
    assert "suggestions" not in results[0] and last["trail"] == [] and last["hint"] == ""


@pytest.mark.slow
def test_websocket_edit_sets_the_text_and_answers_suggestions(client, frame_640):
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json()["type"] == "hello"
        ws.send_text(json.dumps({"type": "edit", "text": "HELL"}))
        edited = ws.receive_json()
        assert edited["type"] == "edited" and edited["text"] == "HELL" and "HELLO" in edited["suggestions"]
        ws.send_text(json.dumps({"type": "edit", "text": "HELLO "}))
        assert ws.receive_json()["suggestions"] == []  # a new word: nothing to suggest yet
        for _ in range(8):  # the server spells on from the page's text
            ws.send_bytes(frame_640)
            last = receive_result(ws)
        assert last["text"] == "HELLO L"
        ws.send_text(json.dumps({"type": "edit", "text": 42}))
        refused = ws.receive_json()
        assert refused["type"] == "error" and "edit needs 'text', a string" in refused["error"]
        # A page holds at most 2,000 characters: a longer edit is cut, and a letter that would not fit
        # is not committed (its result says so). An edit of two full texts is not too long a command.
        send_edit(ws, "X" * 2000 + " ", base="X" * 2000)
        assert ws.receive_json()["text"] == "X" * 2000
        results = []
        for frame in [grey_640()] * 3 + [frame_640] * 10:  # the hand drops, then L is held again
            ws.send_bytes(frame)
            results.append(receive_result(ws))
        assert all(r["text"] == "X" * 2000 and r["committed"] is None for r in results)
        assert [r.get("full", False) for r in results].count(True) == 1  # the L held: said once
        send_edit(ws, "X" * 1999, base="X" * 2000)  # room again: a backspace works
        assert ws.receive_json()["text"] == "X" * 1999
        # At the limit, a letter committed by a frame on its way stays and the page's space gives way.
        send_edit(ws, "A" * 1999 + "X")  # the server's text once that frame committed X
        ws.receive_json()
        send_edit(ws, "A" * 1999 + " ", base="A" * 1999)
        assert ws.receive_json()["text"] == "A" * 1999 + "X"
        # The page numbers its edits and clears; the answer carries the number.
        send_edit(ws, "AB", seq=41)
        edited = ws.receive_json()
        assert edited["type"] == "edited" and edited["text"] == "AB" and edited["seq"] == 41
        ws.send_text(json.dumps({"type": "clear", "seq": 42}))
        assert ws.receive_json() == {"type": "cleared", "text": "", "seq": 42}
        for bad in (True, -1, 2**53, 1.5, "7"):
            send_edit(ws, "AB", seq=bad)
            refused = ws.receive_json()
            assert refused["command"] == "edit" and "edit's 'seq' must be an integer" in refused["error"], refused
            assert refused["text"] == ""  # the server's text, which the page takes back


def grey_640() -> bytes:
    """A 640x480 JPEG frame without a hand."""
    import cv2

    return cv2.imencode(".jpg", np.full((480, 640, 3), 128, np.uint8))[1].tobytes()


def send_edit(ws, text, **fields) -> None:
    ws.send_text(json.dumps({"type": "edit", "text": text, **fields}))


@pytest.mark.slow
def test_an_edit_keeps_a_letter_committed_by_a_frame_already_on_its_way(client, frame_640):
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json()["type"] == "hello"
        send_edit(ws, "HE")
        assert ws.receive_json()["text"] == "HE"
        # The page sends frames; before their results arrive, the user presses space on "HE".
        for _ in range(8):
            ws.send_bytes(frame_640)
        send_edit(ws, "HE ", base="HE")
        results = [receive_result(ws) for _ in range(8)]
        assert results[-1]["text"] == "HEL"  # the server committed L meanwhile
        edited = ws.receive_json()
        assert edited["type"] == "edited" and edited["text"] == "HE L"  # the space, and the L kept
        # A frame on its way changed the end (its J replaced the I the page shows) and the page only
        # added a space: the J stays, the space follows. The same after a DEL.
        send_edit(ws, "HJ")
        assert ws.receive_json()["text"] == "HJ"
        send_edit(ws, "HI ", base="HI")
        assert ws.receive_json()["text"] == "HJ "
        send_edit(ws, "HI")
        ws.receive_json()
        send_edit(ws, "HIX ", base="HIX")
        assert ws.receive_json()["text"] == "HI "
        # The page changed the end too (a backspace, a chosen word): the page's text wins.
        for server_text, base, text in (("HJ", "HI", "H"), ("THJ", "THI", "THIS "), ("HE", "HEL", "HELLO "),
                                        ("", "HELLO", "HELLO ")):  # the last: a server text cleared meanwhile
            send_edit(ws, server_text)
            ws.receive_json()
            send_edit(ws, text, base=base)
            assert ws.receive_json()["text"] == text, (server_text, base, text)
        # Without a base, or with a base the server's text does not continue, the page's text wins.
        send_edit(ws, "NO", base="XY")
        assert ws.receive_json()["text"] == "NO"
        send_edit(ws, "HI", base=7)
        assert "edit's 'base' must be the text the page edited" in ws.receive_json()["error"]


@pytest.mark.slow
def test_a_model_switch_keeps_the_text_and_its_suggestions(client, frame_640):
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json()["type"] == "hello"
        send_edit(ws, "HELL")
        assert "HELLO" in ws.receive_json()["suggestions"]
        ws.send_text(json.dumps({"type": "use", "model": "base"}))
        assert ws.receive_json()["type"] == "using"
        ws.send_bytes(frame_640)
        assert receive_result(ws)["text"] == "HELL"  # the new recognizer spells on from the text
        send_edit(ws, "HELL")
        assert "HELLO" in ws.receive_json()["suggestions"]
        # A letter held across a switch is committed once; a clear does not bring it back either.
        texts = []
        for _ in range(10):
            ws.send_bytes(frame_640)
            texts.append(receive_result(ws)["text"])
        assert texts[-1] == "HELLL", texts
        ws.send_text(json.dumps({"type": "use", "model": "base"}))
        assert ws.receive_json()["type"] == "using"
        for _ in range(10):
            ws.send_bytes(frame_640)
            assert receive_result(ws)["text"] == "HELLL"
        ws.send_text(json.dumps({"type": "clear"}))
        assert ws.receive_json()["text"] == ""
        for _ in range(10):
            ws.send_bytes(frame_640)
            assert receive_result(ws)["text"] == ""


@pytest.mark.slow
def test_websocket_answers_bad_messages_and_stays_open(client, frame_640):
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json()["type"] == "hello"
        ws.send_text("hello?")
        assert "bad message 'hello?'" in ws.receive_json()["error"]
        ws.send_text(json.dumps({"type": "shutdown"}))
        assert ws.receive_json()["type"] == "error"
        ws.send_bytes(b"not a jpeg")
        assert "bad frame: cannot decode image frame 0" in ws.receive_json()["error"]
        ws.send_bytes(png_bomb(12_000, 12_000))
        assert "bad frame: refusing image frame 0: it claims 12000x12000" in ws.receive_json()["error"]
        ws.send_bytes(b"\xff" * 250_000)
        assert "frame too large: 250,000 bytes, at most 200,000" in ws.receive_json()["error"]
        ws.send_bytes(frame_640)  # still usable
        assert receive_result(ws)["index"] == 0
        ws.send_text(json.dumps({"type": "clear"}))
        assert ws.receive_json() == {"type": "cleared", "text": ""}


@pytest.mark.slow
def test_websocket_connections_are_limited(client):
    from starlette.websockets import WebSocketDisconnect

    with client.websocket_connect("/ws") as first, client.websocket_connect("/ws") as second:
        assert first.receive_json()["type"] == second.receive_json()["type"] == "hello"
        assert client.get("/api/health").json()["connections"] == 2
        with client.websocket_connect("/ws") as third:
            assert "too many connections: at most 2" in third.receive_json()["error"]
            with pytest.raises(WebSocketDisconnect) as closed:
                third.receive_json()
            assert closed.value.code == 1013 and closed.value.reason == "too many connections: at most 2 at once"
    assert client.get("/api/health").json()["connections"] == 0


def test_websocket_refuses_another_site(client):
    from starlette.websockets import WebSocketDisconnect

    with client.websocket_connect("/ws", headers={"origin": "http://evil.example"}) as ws:
        assert "cross-origin" in ws.receive_json()["error"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1008


def test_result_message_carries_every_scalar_field():
    """New FrameResult fields (e.g. the hold progress) reach the page without a change to the server."""

    @dataclasses.dataclass(frozen=True)
    class Extended(FrameResult):
        progress: float = 0.375
        candidate: str | None = "B"

    hand_image = np.tile(np.linspace(0.1, 0.9, 21, dtype=np.float32)[:, None], (1, 3))
    from landmark_asl.hands.landmarks import HandLandmarks

    hand = HandLandmarks(hand_image, np.zeros((21, 3), np.float32), "Left", 0.9)
    result = Extended(3, 100, hand, "A", np.float64(0.81234), None, "AB", detect_ms=7.0, image=np.zeros((2, 2, 3)))
    message = result_message(result, (640, 480))
    assert message["progress"] == 0.375 and message["candidate"] == "B"
    assert message["confidence"] == 0.8123 and message["committed"] is None and message["text"] == "AB"
    assert "image" not in message and message["hand"]["handedness"] == "Left"
    # Tuples of scalars (top three, the motion trail) become JSON lists.
    trail = Extended(0, 0, None, None, 0.0, None, "", top=(("A", 0.5), ("B", 0.25)), trail=((0.1, 0.2), (0.3, 0.4)),
                     trail_letter="J")
    drawn = result_message(trail, (640, 480))
    assert drawn["top"] == [["A", 0.5], ["B", 0.25]] and drawn["trail"] == [[0.1, 0.2], [0.3, 0.4]]
    assert drawn["trail_letter"] == "J"
    assert np.allclose(np.array(message["hand"]["landmarks"]), np.round(hand_image[:, :2], 4))
    json.dumps(message)  # JSON-ready


def test_settings_validate():
    with pytest.raises(ValueError, match="max_connections must be an integer >= 1"):
        ServeSettings(max_connections=0)
    with pytest.raises(ValueError, match="max_per_letter must be an integer >= 1"):
        ServeSettings(max_per_letter=0)
    with pytest.raises(ValueError, match="adapt_jobs must be -1 or an integer >= 1"):
        ServeSettings(adapt_jobs=0)


def test_cli_serve_binds_localhost_by_default(monkeypatch):
    import uvicorn
    from click.testing import CliRunner

    from landmark_asl.cli import main

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append((app, kwargs)))
    result = CliRunner(mix_stderr=False).invoke(main, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.stderr
    app, kwargs = calls[0]
    assert kwargs["host"] == "127.0.0.1" and kwargs["port"] == 8123
    assert "http://127.0.0.1:8123/" in result.stderr and "collect mode: samples and personal models go to personal/" in result.stderr
    assert app.state.serve.settings.personal_dir == Path("personal")
    # Port 0 (any free one): the port is chosen before the address is printed, so the one printed is served.
    result = CliRunner(mix_stderr=False).invoke(main, ["serve", "--port", "0"])
    port = calls[1][1]["port"]
    assert result.exit_code == 0 and port > 0 and f"http://127.0.0.1:{port}/" in result.stderr


def test_cli_serve_personal_folder_and_no_collect(monkeypatch, tmp_path):
    import uvicorn
    from click.testing import CliRunner

    from landmark_asl.cli import commands, main

    apps = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: apps.append(app))
    monkeypatch.setattr(commands, "_bindable_port", lambda host, port: port)  # port 8000 may be taken on this machine
    runner = CliRunner(mix_stderr=False)
    assert runner.invoke(main, ["serve", "--personal-dir", str(tmp_path / "p"), "--cache-dir", str(tmp_path / "c")]).exit_code == 0
    settings = apps[-1].state.serve.settings
    assert settings.personal_dir == tmp_path / "p" and settings.cache_dir == tmp_path / "c"
    result = runner.invoke(main, ["serve", "--no-collect"])
    assert result.exit_code == 0 and apps[-1].state.serve.personal is None and "collect mode" not in result.stderr
    assert not (tmp_path / "p").exists()  # nothing is written before a page records
    assert apps[-1].state.serve.settings.live.recover_every == 10
    assert runner.invoke(main, ["serve", "--recover-every", "0"]).exit_code == 0
    assert apps[-1].state.serve.settings.live.recover_every == 0
    refused = runner.invoke(main, ["serve", "--recover-every", "-1"])
    assert refused.exit_code == 2 and "not in the range 0<=x<=1000" in refused.stderr


def test_cli_serve_refuses_a_folder_without_a_model(tmp_path):
    from click.testing import CliRunner

    from landmark_asl.cli import main

    result = CliRunner(mix_stderr=False).invoke(main, ["serve", "--model", str(tmp_path)])
    assert result.exit_code == 1 and result.stderr.startswith("Error: ") and "serving" not in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_uploads_beyond_max_uploads_are_told_to_retry_not_queued(model, frame_640):
    import anyio
    import httpx2 as httpx

    app = create_app(model, ServeSettings(max_uploads=2, allowed_hosts=("testserver",)))
    head = (b'--B\r\nContent-Disposition: form-data; name="image"; filename="f.jpg"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n")
    tail = frame_640 + b"\r\n--B--\r\n"
    headers = {"content-type": "multipart/form-data; boundary=B"}
    statuses = []

    async def scenario():
        release = anyio.Event()

        async def held_body():  # the upload stops halfway until released: its request is held
            yield head
            await release.wait()
            yield tail

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as web:
            async def held():
                statuses.append((await web.post("/api/predict", content=held_body(), headers=headers)).status_code)

            async with anyio.create_task_group() as group:
                group.start_soon(held)
                group.start_soon(held)
                with anyio.fail_after(30):
                    while app.state.serve.n_uploads < 2:
                        await anyio.sleep(0.01)
                busy = await web.post("/api/predict", content=head + tail, headers=headers)
                assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
                assert "busy: 2 uploads are being handled" in busy.json()["error"]
                release.set()
            assert app.state.serve.n_uploads == 0
            after = await web.post("/api/predict", content=head + tail, headers=headers)
            statuses.append(after.status_code)

    anyio.run(scenario)
    assert statuses == [200, 200, 200]
    with pytest.raises(ValueError, match="max_uploads must be an integer >= 1"):
        ServeSettings(max_uploads=0)
