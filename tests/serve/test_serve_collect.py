"""Collect mode of the web page's WebSocket: record a signer's samples from frames, build and use a personal model.

Real frames (massey photos of one signer, a dataset the small base model never saw) against the
small base model of conftest (A, B, L, V), with Starlette's TestClient.
"""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest

from landmark_asl.serve.app import REFERENCE_S_PER_ROW, ServeSettings, create_app
from landmark_asl.training.collect import read_samples

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def frames(data_dir) -> dict[str, bytes]:
    """640x480 JPEG frames: massey hand2 photos of A and V on black, and a frame without a hand."""
    import cv2

    out = {}
    for letter in ("A", "V"):
        photos = sorted((data_dir / "massey" / letter.lower()).glob("hand2_*"))[:4]
        for i, photo in enumerate(photos):
            canvas = np.zeros((480, 640, 3), np.uint8)
            canvas[40:440, 120:520] = cv2.resize(cv2.imread(str(photo)), (400, 400))
            out[f"{letter}{i}"] = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
    out["none"] = cv2.imencode(".jpg", np.full((480, 640, 3), 128, np.uint8))[1].tobytes()
    return out


@pytest.fixture()
def server(small_base, tmp_path):
    from starlette.testclient import TestClient

    settings = ServeSettings(personal_dir=tmp_path / "personal", cache_dir=small_base["cache"], adapt_jobs=1,
                             allowed_hosts=("testserver",))
    with TestClient(create_app(small_base["base"], settings)) as client:
        yield client, tmp_path / "personal"


def wait_until_closed(client, timeout: float = 20.0) -> None:
    """The server closes a connection (and writes its samples) after the client has gone: wait for it."""
    import time

    deadline = time.monotonic() + timeout
    while client.get("/api/health").json()["connections"]:
        assert time.monotonic() < deadline, "the server never closed the connection"
        time.sleep(0.02)


@contextlib.contextmanager
def recording(client, signer: str, letters: str, per_letter: int):
    """A connection recording ``signer`` (every frame with a hand, no countdown); yields the socket."""
    with client.websocket_connect("/ws") as ws:
        ws.receive_json()
        started = command(ws, type="collect", signer=signer, letters=letters, per_letter=per_letter, every=1,
                          countdown=0)
        assert started["type"] == "collect", started
        yield ws


def receive(ws, progress: list | None = None) -> dict:
    """The next message that is not a build's progress report (those go to ``progress``, if given)."""
    while True:
        message = ws.receive_json()
        if message["type"] != "adapt_progress":
            return message
        if progress is not None:
            progress.append(message)


def command(ws, **message) -> dict:
    ws.send_text(json.dumps(message))
    return receive(ws)


def frame(ws, data: bytes) -> dict:
    ws.send_bytes(data)
    reply = receive(ws)
    assert reply["type"] == "result", reply
    return reply


def test_hello_offers_collect_mode(server):
    client, _ = server
    with client.websocket_connect("/ws") as ws:
        hello = ws.receive_json()
    assert hello["collect"]["enabled"] is True and hello["collect"]["letters"] == "A-I,K-Y"
    assert hello["collect"]["max_per_letter"] == 50 and hello["model"] == "rf"


def test_collect_records_each_letter_in_turn_and_writes_it_at_once(server, frames):
    client, personal = server
    path = personal / "ann" / "samples.parquet"
    with client.websocket_connect("/ws") as ws:
        ws.receive_json()
        started = command(ws, type="collect", signer="ann", letters="A,V", per_letter=2, every=1, countdown=1)
        assert started["type"] == "collect" and started["letter"] == "A" and started["countdown"] == 1
        assert started["earlier"] == {"A": 0, "V": 0} and started["letters"] == ["A", "V"]
        first = frame(ws, frames["A0"])  # the countdown: time to form the letter, nothing recorded
        assert first["collect"]["countdown"] == 0 and not first["collect"]["recorded"]
        assert frame(ws, frames["A1"])["collect"]["recorded"]
        assert not frame(ws, frames["none"])["collect"]["recorded"]  # no hand, nothing recorded
        moved = frame(ws, frames["A2"])["collect"]
        assert moved["letter"] == "V" and moved["count"] == 0
        assert list(read_samples(path)["label"]) == ["A", "A"]  # on disk before V is asked for
        frame(ws, frames["V0"])  # V's countdown
        frame(ws, frames["V1"])
        last = frame(ws, frames["V2"])
        assert last["committed"] is None  # collect mode spells nothing
        assert last["collect"]["done"] and last["collect"]["counts"] == {"A": 2, "V": 2}
        assert last["collect"]["n_samples"] == 4 and last["collect"]["samples"].endswith("samples.parquet")
        assert "collect" not in frame(ws, frames["V3"])  # back to spelling
    wait_until_closed(client)
    table = read_samples(path)
    assert list(table["label"]) == ["A", "A", "V", "V"] and set(table["group"]) == {"ann"}
    assert table["source"].str.startswith("serve/ann#").all() and table["sample_id"].is_unique
    xy = table[[f"{a}{i}" for i in range(21) for a in "xy"]].to_numpy(dtype=float)
    assert np.abs(xy[2:] - xy[0]).mean() > 3 * np.abs(xy[1] - xy[0]).mean()  # V's rows show another hand shape
    assert not path.with_name("samples.parquet.lock").exists()


def test_a_closed_page_loses_nothing_and_the_next_session_resumes(server, frames):
    client, personal = server
    path = personal / "bob" / "samples.parquet"
    with recording(client, "bob", "A,V", 3) as ws:
        frame(ws, frames["A0"])
        frame(ws, frames["A1"])
    wait_until_closed(client)
    assert list(read_samples(path)["label"]) == ["A", "A"]  # the letter in progress too
    with client.websocket_connect("/ws") as ws:
        ws.receive_json()
        resumed = command(ws, type="collect", signer="bob", letters="A,V", per_letter=3, every=1, countdown=0)
        assert resumed["earlier"] == {"A": 2, "V": 0} and resumed["letter"] == "A" and resumed["count"] == 2
        assert frame(ws, frames["A2"])["collect"]["letter"] == "V"
        assert command(ws, type="collect_skip")["type"] == "collect_stopped"  # V was the last letter
    table = read_samples(path)
    assert list(table["label"]) == ["A", "A", "A"] and table["sample_id"].is_unique


def test_redo_skip_and_stop(server, frames):
    client, personal = server
    with recording(client, "cy", "A,B,V", 2) as ws:
        frame(ws, frames["A0"])
        redo = command(ws, type="collect_redo")
        assert redo["type"] == "collect" and redo["letter"] == "A" and redo["count"] == 0
        assert command(ws, type="collect_skip")["letter"] == "B"
        stopped = command(ws, type="collect_stop")
        assert stopped["type"] == "collect_stopped" and stopped["counts"] == {} and stopped["n_samples"] == 0
        assert "not recording" in command(ws, type="collect_skip")["error"]


def test_the_text_spelled_before_collect_mode_is_there_after_it(server, frames):
    client, _ = server
    with client.websocket_connect("/ws") as ws:
        ws.receive_json()
        assert command(ws, type="edit", text="HELLO")["text"] == "HELLO"
        assert command(ws, type="collect", signer="dee", letters="A", per_letter=50, every=1, countdown=0)["type"] == "collect"
        for _ in range(12):  # an A held for longer than a commit takes: recorded, spelled nothing
            assert frame(ws, frames["A0"])["text"] == "HELLO"
        assert command(ws, type="collect_stop")["type"] == "collect_stopped"
        # The page kept showing HELLO all along: the server spells on after it, not after nothing.
        assert frame(ws, frames["A1"])["text"] == "HELLO"
        # A clear (or an edit) during collect mode is the user's, and stays after it.
        command(ws, type="collect", signer="dee", letters="A", per_letter=50, every=1, countdown=0)
        assert command(ws, type="clear")["text"] == ""
        assert command(ws, type="edit", text="HI ", base="")["text"] == "HI "
        frame(ws, frames["A0"])
        assert command(ws, type="collect_stop")["type"] == "collect_stopped"
        assert frame(ws, frames["A1"])["text"] == "HI "


@pytest.mark.parametrize(("message", "error"), [
    ({"signer": "../etc"}, "bad name '../etc'"),
    ({"signer": ""}, "bad name"),
    ({"signer": 7}, "bad name"),
    ({"letters": "A,?"}, "unknown letter '?'"),
    ({"letters": "A,Z"}, "the model does not know Z"),
    ({"letters": ["A"]}, "letters must be a string"),
    ({"per_letter": 0}, "per_letter must be an integer from 1 to 50"),
    ({"per_letter": 1000}, "per_letter must be an integer from 1 to 50"),
    ({"per_letter": "3"}, "per_letter must be an integer"),
    ({"countdown": -1}, "countdown must be an integer from 0 to 300"),
    ({"every": True}, "every must be an integer"),
])
def test_bad_collect_commands_get_one_line_errors(server, message, error):
    client, personal = server
    with client.websocket_connect("/ws") as ws:
        ws.receive_json()
        reply = command(ws, type="collect", **{"signer": "dee", "letters": "A", **message})
        assert reply["type"] == "error" and reply["command"] == "collect" and error in reply["error"]
        assert "\n" not in reply["error"]
        assert command(ws, type="clear")["type"] == "cleared"  # the connection stays
    assert not (personal / "etc").exists() and not personal.parent.joinpath("etc").exists()


def test_one_page_at_a_time_records_a_signer(server):
    client, _ = server
    with client.websocket_connect("/ws") as first, client.websocket_connect("/ws") as second:
        first.receive_json(), second.receive_json()
        assert command(first, type="collect", signer="eve", letters="A")["type"] == "collect"
        refused = command(second, type="collect", signer="eve", letters="A")
        assert refused["type"] == "error" and "is being written by" in refused["error"]
        assert command(second, type="collect", signer="fay", letters="A")["type"] == "collect"


def test_personal_model_is_built_used_and_saved(server, frames, small_base):
    from landmark_asl.estimators.features import raw_features
    from landmark_asl.model.store import load_model

    client, personal = server
    with client.websocket_connect("/ws") as ws:
        ws.receive_json()
        assert "no samples of gil yet" in command(ws, type="adapt", signer="gil")["error"]
        assert "no personal model of gil yet" in command(ws, type="use", model="personal", signer="gil")["error"]
        command(ws, type="collect", signer="gil", letters="A,V", per_letter=3, every=1, countdown=0)
        for name in ("A0", "A1", "A2", "V0", "V1"):
            frame(ws, frames[name])
        started = command(ws, type="adapt")  # the signer of the collect session; its letter in progress is kept
        assert started["type"] == "adapting" and started["signer"] == "gil" and started["counts"] == {"A": 3, "V": 2}
        # Nothing recorded yet: the reference machine's time for a base of this size.
        n_fit = load_model(small_base["base"]).card.training["n_fit"]
        assert n_fit > 0 and started["estimate_s"] == pytest.approx(REFERENCE_S_PER_ROW * n_fit, abs=0.01)
        ws.send_bytes(frames["V2"])  # frames go on with the base model while the model is built
        progress = []
        replies = [receive(ws, progress), receive(ws, progress)]  # the frame's result and, before or after it, adapted
        assert sorted(r["type"] for r in replies) == ["adapted", "result"], replies
        adapted = next(r for r in replies if r["type"] == "adapted")
        assert adapted["model"] == "rf (personal: gil)" and adapted["sample_counts"] == {"A": 3, "V": 2}
        # The build said what it did, and its real time counts the reading of the base landmarks.
        assert [m["phase"].split(" ")[0] for m in progress] == ["reading", "fitting"], progress
        assert adapted["elapsed_s"] >= adapted["seconds"] > 0 and adapted["elapsed_s"] >= progress[-1]["elapsed_s"]
        assert frame(ws, frames["V3"])["model"] == "rf (personal: gil)"  # the page now uses it
        assert command(ws, type="use", model="base") == {"type": "using", "model": "rf", "personal": None}
        assert frame(ws, frames["V3"])["model"] == "rf"
        assert command(ws, type="use", model="personal", signer="gil")["model"] == "rf (personal: gil)"
        assert "model must be 'base' or 'personal'" in command(ws, type="use", model="../x")["error"]
        again = command(ws, type="adapt", signer="gil")  # the landmarks are in memory: the last fit is the estimate
        assert again["type"] == "adapting" and 0 < again["estimate_s"] <= adapted["elapsed_s"]
        assert receive(ws)["type"] == "adapted"
    # The times are kept in the personal folder: a restarted server estimates its first build (read + fit).
    times = json.loads((personal / "build_times.json").read_text())
    assert set(times) == {"read_s", "fit_s"} and times["read_s"] >= 0 and times["fit_s"] > 0
    with client.websocket_connect("/ws") as ws:  # the same server, the landmarks in memory: the fit alone
        ws.receive_json()
        assert command(ws, type="adapt", signer="gil")["estimate_s"] == pytest.approx(times["fit_s"], abs=0.11)
        assert receive(ws)["type"] == "adapted"
    me = load_model(personal / "gil" / "model")
    assert me.card.training["adapted"]["signer"] == "gil"
    own = read_samples(personal / "gil" / "samples.parquet")
    assert (me.classes[me.predict_proba(raw_features(own)).argmax(axis=1)] == own["label"].to_numpy()).all()


def test_collect_mode_off(small_base):
    from starlette.testclient import TestClient

    app = create_app(small_base["base"], ServeSettings(personal_dir=None, allowed_hosts=("testserver",)))
    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        assert ws.receive_json()["collect"]["enabled"] is False
        for kind in ("collect", "adapt", "collect_stop"):
            assert "collect mode is off" in command(ws, type=kind)["error"]
        assert "personal models are off" in command(ws, type="use", model="personal")["error"]


def test_a_failed_build_is_told_to_the_page_and_the_connection_stays(small_base, frames, tmp_path, monkeypatch):
    import shutil

    from starlette.testclient import TestClient

    bare = tmp_path / "bare"  # a base model whose card names no training data: adapt cannot retrain it
    shutil.copytree(small_base["base"], bare)
    meta = json.loads((bare / "metadata.json").read_text())
    meta["training"].pop("train_sources")
    (bare / "metadata.json").write_text(json.dumps(meta))
    settings = ServeSettings(personal_dir=tmp_path / "personal", cache_dir=small_base["cache"], adapt_jobs=1,
                             allowed_hosts=("testserver",))
    with TestClient(create_app(bare, settings)) as client, client.websocket_connect("/ws") as ws:
        ws.receive_json()
        command(ws, type="collect", signer="hal", letters="A", per_letter=1, every=1, countdown=0)
        frame(ws, frames["A0"])
        assert command(ws, type="adapt")["type"] == "adapting"
        failed = receive(ws)
        assert failed["type"] == "error" and failed["command"] == "adapt"
        assert "cannot build the personal model of hal" in failed["error"] and "names no training sources" in failed["error"]
        import landmark_asl.serve.app

        def broken(*args, **kwargs):
            raise RuntimeError("out of luck")

        monkeypatch.setattr(landmark_asl.serve.app, "resolve_base_rows", broken)  # where the server looks it up
        assert command(ws, type="adapt")["type"] == "adapting"
        failed = receive(ws)
        assert failed["command"] == "adapt" and "out of luck" in failed["error"]
        assert frame(ws, frames["A1"])["model"] == "rf"  # still the base, still answering
    assert not (tmp_path / "personal" / "hal" / "model").exists()


def test_oversized_nested_and_empty_commands(server):
    client, personal = server
    with client.websocket_connect("/ws") as ws:
        ws.receive_json()
        assert "command too long: 10,000 characters" in command_text(ws, "[" * 5000 + "]" * 5000)["error"]
        assert "bad message" in command_text(ws, "[" * 2000 + "]" * 2000)["error"]  # deep, yet short
        command(ws, type="collect", signer="ida", letters="A")
        assert command(ws, type="collect_stop")["n_samples"] == 0
        reply = command(ws, type="adapt", signer="ida")  # a file without a sample: refused at once
        assert reply["type"] == "error" and "no samples of ida yet" in reply["error"]
        assert command(ws, type="clear")["type"] == "cleared"


def command_text(ws, text: str) -> dict:
    ws.send_text(text)
    return ws.receive_json()


def test_refusals_leave_the_recording_as_it_was(server, frames):
    client, personal = server
    with recording(client, "jo", "A,V", 2) as ws:
        refused = command(ws, type="adapt", signer="kim")  # another name while jo records
        assert "recording jo's samples: stop it before" in refused["error"] and refused["collecting"] is True
        assert frame(ws, frames["A0"])["collect"]["count"] == 1  # still recording
        bad = command(ws, type="collect", signer="../x")
        assert bad["type"] == "error" and bad["collecting"] is True  # a refused new session leaves this one
        assert command(ws, type="collect_stop")["counts"] == {"A": 1}
        assert command(ws, type="collect_skip")["collecting"] is False
        command(ws, type="collect", signer="kim", letters="A")
        command(ws, type="collect_stop")
    assert not (personal / "kim" / "samples.parquet").exists()  # nothing recorded: no empty file


def test_the_users_choice_of_model_outlasts_a_build_in_flight(server, frames, monkeypatch):
    import threading

    import landmark_asl.serve.app
    import landmark_asl.training.adapt

    client, personal = server
    release = threading.Event()
    real = landmark_asl.training.adapt.adapt_model

    def slow(*args, **kwargs):
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(landmark_asl.serve.app, "adapt_model", slow)  # where the server looks it up
    with recording(client, "lu", "A", 2) as ws:
        frame(ws, frames["A0"])
        frame(ws, frames["A1"])
        assert command(ws, type="adapt")["type"] == "adapting"
        assert command(ws, type="use", model="base")["model"] == "rf"  # chosen while the model is built
        release.set()
        adapted = receive(ws)
        assert adapted["type"] == "adapted" and adapted["used"] is False
        assert frame(ws, frames["A2"])["model"] == "rf"  # the choice stands
        assert command(ws, type="use", model="personal")["model"] == "rf (personal: lu)"


def test_a_failed_write_is_told_and_the_samples_are_kept(server, frames):
    client, personal = server
    path = personal / "mo" / "samples.parquet"
    with recording(client, "mo", "A,V", 1) as ws:
        path.mkdir()  # the samples file cannot be written now
        failed = frame_reply(ws, frames["A0"])  # A is done: its write fails
        assert failed["type"] == "error" and "samples.parquet" in failed["error"]
        refused = command(ws, type="collect_stop")  # the write fails again: the recording goes on
        assert refused["type"] == "error" and refused["collecting"] is True
        path.rmdir()
        assert frame(ws, frames["V0"])["collect"]["counts"] == {"A": 1, "V": 1}  # written with the next letter
    wait_until_closed(client)
    assert list(read_samples(path)["label"]) == ["A", "V"]


def frame_reply(ws, data: bytes) -> dict:
    ws.send_bytes(data)
    return ws.receive_json()


def test_a_broken_samples_file_is_one_line_and_left_as_it_was(server):
    client, personal = server
    path = personal / "nat" / "samples.parquet"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a parquet file")
    with client.websocket_connect("/ws") as ws:
        ws.receive_json()
        reply = command(ws, type="collect", signer="nat", letters="A")
        assert reply["type"] == "error" and "cannot read landmark table" in reply["error"] and "\n" not in reply["error"]
        assert reply["collecting"] is False
        assert command(ws, type="adapt", signer="nat")["type"] == "error"
    assert path.read_bytes() == b"not a parquet file" and not path.with_name("samples.parquet.lock").exists()
