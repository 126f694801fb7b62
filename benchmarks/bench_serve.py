"""Benchmark of `landmark-asl serve`: frame round trip over the WebSocket and sustained frames per second per client, with 1 and 4 concurrent clients on localhost.

The server runs as its own process (``python -m landmark_asl.cli.commands serve``) on a free port of
127.0.0.1; the clients run in this process (asyncio, the ``websockets`` client) and behave like
the page: each sends its next 640x480 JPEG only when the previous result has arrived. The frames
are real asl2text/test photos (letters of HELLO, scaled to 480x480, edges repeated to 640x480,
JPEG quality 80 as the page's 0.8), encoded once before the clock starts.

Then (unless ``--no-collect``) the page's collect mode with one client that follows the prompt
(it sends a photo of the letter the server asks for, 10 samples each of H, E, L, O, the page's
default timing): the frame rate while recording, then the time from the ``adapt`` command to the
``adapted`` message for a personal model of the shipped model (twice: the first build reads the
base model's training landmarks from the landmark cache, ``--cache-dir``; later ones reuse them),
and the frame rate while the model is being built.

Usage::

    nice -n 5 python benchmarks/bench_serve.py [--model DIR] [--frames 300] [--warmup 30] [--clients 1,4]
                                            [--no-collect] [--cache-dir DIR] [--json OUT]

Targets: >= 25 fps sustained for one client, >= 10 fps each for 4 clients (2 cores), round trip
p95 <= 60 ms for one client. Always exits 0 (a benchmark reports; it does not fail the build).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

from _common import add_cache_dir, add_model

WORD = "HELO"
WIDTH, HEIGHT = 640, 480
PHOTOS_PER_LETTER = 10


def real_frames(data_dir: Path, word: str = WORD) -> list[bytes]:
    """640x480 JPEG frames of real photos, the letters of ``word`` in turn."""
    import cv2

    frames = []
    for letter in word:
        for path in sorted((data_dir / "asl2text" / "test" / letter).glob("*.jpg"))[:PHOTOS_PER_LETTER]:
            photo = cv2.resize(cv2.imread(str(path)), (HEIGHT, HEIGHT))
            pad = (WIDTH - HEIGHT) // 2
            frame = cv2.copyMakeBorder(photo, 0, 0, pad, WIDTH - HEIGHT - pad, cv2.BORDER_REPLICATE)
            frames.append(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes())
    return frames


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, model: Path | None, personal_dir: str, cache_dir: Path | None) -> subprocess.Popen:
    """`landmark-asl serve` in its own process; returns once /api/health answers."""
    command = [sys.executable, "-m", "landmark_asl.cli", "serve", "--port", str(port), "--personal-dir", personal_dir]
    if cache_dir is not None:
        command += ["--cache-dir", str(cache_dir)]
    if model:
        command += ["--model", str(model)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with status {server.returncode}: run {' '.join(command)}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as response:
                if json.load(response)["status"] == "ok":
                    return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not answer /api/health within 120 s")


def wait_for_no_connections(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as response:
            if json.load(response)["connections"] == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"connections still open after {timeout:.0f} s")


async def client(url: str, frames: list[bytes], n_frames: int, n_warmup: int, start: asyncio.Barrier) -> dict:
    """One page-like client: next frame when the previous result arrived; times after the warm-up."""
    from websockets.asyncio.client import connect

    async with connect(url, max_size=2**22) as ws:
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello", hello
        for i in range(n_warmup):  # MediaPipe graph start, first detections
            await ws.send(frames[i % len(frames)])
            await ws.recv()
        await start.wait()
        round_trips, server_ms, hands = [], [], 0
        began = time.perf_counter()
        for i in range(n_frames):
            t0 = time.perf_counter()
            await ws.send(frames[(n_warmup + i) % len(frames)])
            message = json.loads(await ws.recv())
            round_trips.append((time.perf_counter() - t0) * 1000.0)
            if message["type"] != "result":
                raise RuntimeError(f"the server answered {message}")
            server_ms.append(message["server_ms"])
            hands += message["hand"] is not None
        elapsed = time.perf_counter() - began
    return {"fps": n_frames / elapsed, "round_trip_ms": round_trips, "server_ms": server_ms,
            "hand_rate": hands / n_frames}


async def run_clients(url: str, frames: list[bytes], n_clients: int, n_frames: int, n_warmup: int) -> list[dict]:
    # Every client connects and warms up, then all start the clock together: they run concurrently.
    start = asyncio.Barrier(n_clients)
    return await asyncio.gather(*(client(url, frames, n_frames, n_warmup, start) for _ in range(n_clients)))


async def collect_and_adapt(url: str, frames: dict[str, list[bytes]], n_builds: int = 2) -> dict:
    """Collect mode as a user following the prompt, then personal models built while frames go on."""
    from websockets.asyncio.client import connect

    async with connect(url, max_size=2**22) as ws:
        hello = json.loads(await ws.recv())
        settings = hello["collect"]
        await ws.send(json.dumps({"type": "collect", "signer": "bench", "letters": ",".join(frames),
                                  "per_letter": settings["per_letter"], "every": settings["every"],
                                  "countdown": settings["countdown"]}))
        state = json.loads(await ws.recv())
        assert state["type"] == "collect", state
        letter, n, round_trips, began = state["letter"], 0, [], time.perf_counter()
        while True:
            t0 = time.perf_counter()
            await ws.send(frames[letter][n % len(frames[letter])])
            message = json.loads(await ws.recv())
            round_trips.append((time.perf_counter() - t0) * 1000.0)
            n += 1
            if message["collect"]["done"]:
                break
            letter = message["collect"]["letter"]
        collect = {"frames": n, "seconds": time.perf_counter() - began, "fps": n / (time.perf_counter() - began),
                   "round_trip_ms_p50": float(np.percentile(round_trips, 50)),
                   "round_trip_ms_p95": float(np.percentile(round_trips, 95)),
                   "samples": message["collect"]["n_samples"]}
        builds, all_frames = [], [f for letter_frames in frames.values() for f in letter_frames]
        for _ in range(n_builds):
            await ws.send(json.dumps({"type": "adapt", "signer": "bench"}))
            reply = json.loads(await ws.recv())
            assert reply["type"] == "adapting", reply
            t0, n_frames, i = time.perf_counter(), 0, 0
            while True:  # the page keeps sending frames while the model is built
                await ws.send(all_frames[i % len(all_frames)])
                i += 1
                message = json.loads(await ws.recv())
                while message["type"] not in ("result", "adapted", "error"):
                    message = json.loads(await ws.recv())
                if message["type"] == "error":
                    raise RuntimeError(f"adapt failed: {message['error']}")
                if message["type"] == "adapted":
                    seconds = time.perf_counter() - t0
                    await ws.recv()  # the frame's own result
                    break
                n_frames += 1
            builds.append({"seconds": seconds, "fps_while_building": n_frames / seconds, "model": message["model"],
                           "estimate_s": reply.get("estimate_s"), "server_elapsed_s": message.get("elapsed_s")})
    return {"collect": collect, "builds": builds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_model(parser)
    parser.add_argument("--frames", type=int, default=300, help="timed frames per client")
    parser.add_argument("--warmup", type=int, default=30, help="untimed frames per client first")
    parser.add_argument("--clients", default="1,4", help="comma-separated numbers of concurrent clients")
    parser.add_argument("--no-collect", dest="collect", action="store_false",
                        help="skip the collect-mode and personal-model measurement")
    add_cache_dir(parser)  # the base model's training landmarks, for adapt
    parser.add_argument("--json", dest="json_out", default=None, help="also write the results here")
    args = parser.parse_args()

    import tempfile

    from landmark_asl.data.datasets import data_root

    frames = real_frames(data_root())
    sizes = [len(f) for f in frames]
    load_before = os.getloadavg()[0]
    port = free_port()
    personal = tempfile.TemporaryDirectory(prefix="bench-serve-personal-")
    server = start_server(port, args.model, personal.name, args.cache_dir)
    runs, personal_run = {}, None
    try:
        for n_clients in (int(n) for n in args.clients.split(",")):
            wait_for_no_connections(port)  # the previous run's connections are closed on the server's side
            results = asyncio.run(run_clients(f"ws://127.0.0.1:{port}/ws", frames, n_clients, args.frames, args.warmup))
            round_trips = np.concatenate([r["round_trip_ms"] for r in results])
            server_ms = np.concatenate([r["server_ms"] for r in results])
            runs[n_clients] = {
                "fps_per_client": [round(r["fps"], 2) for r in results],
                "fps_min": min(r["fps"] for r in results),
                "round_trip_ms_p50": float(np.percentile(round_trips, 50)),
                "round_trip_ms_p95": float(np.percentile(round_trips, 95)),
                "server_ms_p50": float(np.percentile(server_ms, 50)),
                "hand_rate": float(np.mean([r["hand_rate"] for r in results])),
            }
        if args.collect:
            wait_for_no_connections(port)
            by_letter = {letter: real_frames(data_root(), letter) for letter in WORD}
            personal_run = asyncio.run(collect_and_adapt(f"ws://127.0.0.1:{port}/ws", by_letter))
    finally:
        server.terminate()
        server.wait(timeout=30)
        personal.cleanup()

    load_after = os.getloadavg()[0]
    print(f"bench_serve: {len(frames)} real {WIDTH}x{HEIGHT} JPEG frames (mean {np.mean(sizes) / 1024:.0f} KB), "
          f"{args.frames} timed frames per client after {args.warmup} warm-up; server and clients on "
          f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}, python {platform.python_version()}); "
          f"load average {load_before:.1f} before, {load_after:.1f} after"
          + (" (busy machine: timings are inflated)" if max(load_before, load_after) > 1.0 else ""))
    print()
    print("| clients | fps per client (min / each) | round trip ms p50 / p95 | server ms p50 | hand found | targets | met |")
    print("| ---: | --- | --- | ---: | ---: | --- | --- |")
    for n_clients, run in runs.items():
        if n_clients == 1:
            target = ">= 25 fps, p95 <= 60 ms"
            met = run["fps_min"] >= 25 and run["round_trip_ms_p95"] <= 60
        else:
            target = ">= 10 fps each" if n_clients == 4 else ""
            met = run["fps_min"] >= 10 if n_clients == 4 else None
        each = ", ".join(f"{f:.1f}" for f in run["fps_per_client"])
        print(f"| {n_clients} | {run['fps_min']:.1f} / {each} | {run['round_trip_ms_p50']:.1f} / "
              f"{run['round_trip_ms_p95']:.1f} | {run['server_ms_p50']:.1f} | {run['hand_rate']:.0%} | {target} | "
              f"{'' if met is None else ('yes' if met else 'NO')} |")
    if personal_run:
        collect, builds = personal_run["collect"], personal_run["builds"]
        print()
        print(f"collect mode, 1 client following the prompt ({', '.join(WORD)}; the page's default timing): "
              f"{collect['samples']} samples in {collect['frames']} frames, {collect['seconds']:.1f} s, "
              f"{collect['fps']:.1f} fps, round trip p50 {collect['round_trip_ms_p50']:.1f} / p95 "
              f"{collect['round_trip_ms_p95']:.1f} ms")
        for i, build in enumerate(builds):
            kind = "first (reads the base model's training landmarks)" if i == 0 else "again (base rows in memory)"
            estimate = build.get("estimate_s")
            error = f" ({100 * (estimate - build['seconds']) / build['seconds']:+.0f}%)" if estimate else ""
            print(f"personal model built from the page, {kind}: {build['seconds']:.1f} s from 'adapt' to 'adapted', "
                  f"{build['fps_while_building']:.1f} fps meanwhile -> {build['model']}; the page's estimate "
                  f"{'none' if estimate is None else f'{estimate:.1f} s'}{error}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({
            "frames": len(frames), "size": [WIDTH, HEIGHT], "timed_frames": args.frames, "warmup": args.warmup,
            "runs": runs, "personal": personal_run, "load_average": [load_before, load_after], "cpus": os.cpu_count(),
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
