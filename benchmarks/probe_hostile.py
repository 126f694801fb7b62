"""Run the hostile-input probes of issues 8 and 22 against the `landmark-asl` CLI and print their outcomes.

Each probe runs the installed CLI in a subprocess (a timeout catches hangs; the child's peak
memory is measured) inside a scratch folder built from a few real images of the data root, and
is judged by what a user should see: exit status 1 (2 for an option click refuses, after its
usage line) with exactly one ``Error:`` line and no traceback, or success where the input is valid, and no file lost.

    python benchmarks/probe_hostile.py               # Markdown table on stdout
    python benchmarks/probe_hostile.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

from landmark_asl.data.datasets import data_root

CLI = [sys.executable, "-m", "landmark_asl.cli"]


def _limit_memory() -> None:
    """In the child: at most 4 GiB of address space, so a probe that allocates what a file declares fails alone."""
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def run(args, *, cwd: Path, timeout: float = 120, env=None, limit: bool = False) -> dict:
    """Run the CLI; return exit code, stderr lines, seconds and the child's peak RSS in MB.

    ``limit``: the child gets at most 4 GiB of address space (for probes whose files declare huge sizes).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    command = CLI + [str(a) for a in args]
    try:
        proc = subprocess.run(command, cwd=cwd, capture_output=True, timeout=timeout, env=env,
                              preexec_fn=_limit_memory if limit else None)
        code, out, err = proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as exc:
        code, out, err = "timeout", (exc.stdout or b"").decode("utf-8", "replace"), (exc.stderr or b"").decode("utf-8", "replace")
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "code": code,
        "stdout": out,
        "stderr": err,
        "seconds": round(time.perf_counter() - start, 1),
        # ru_maxrss of children is the largest child so far: only meaningful when it grew.
        "peak_mb": round(after / 1024) if after > before else None,
    }


def one_line_error(result: dict, *, contains: str = "") -> tuple[bool, str]:
    errors = [line for line in result["stderr"].splitlines() if line.startswith("Error:")]
    ok = (
        result["code"] in (1, 2)  # 1: the library refused the input; 2: click refused an option
        and len(errors) == 1
        and "Traceback" not in result["stderr"]
        and (contains.lower() in errors[0].lower() if errors else False)
    )
    shown = errors[0] if errors else (result["stderr"].strip().splitlines() or [f"exit {result['code']}"])[-1]
    return ok, shown[:160]


def png_bytes(width: int, height: int, *, header_only: bool = False) -> bytes:
    """An all-black grayscale PNG of any size in a few hundred KB (a decompression bomb).

    ``header_only`` writes the pixel data of one row only: a header that claims the size.
    """
    row = b"\x00" + bytes(width)
    raw = zlib.compress(row if header_only else row * height, 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None, help="Also write the outcomes as JSON here.")
    args = parser.parse_args(argv)
    data = data_root()
    work = Path(tempfile.mkdtemp(prefix="probe_hostile_"))
    rows: list[dict] = []

    def record(item: str, probe: str, ok: bool, outcome: str, result: dict | None = None) -> None:
        extra = ""
        if result is not None:
            extra = f" ({result['seconds']} s" + (f", peak {result['peak_mb']} MB" if result.get("peak_mb") else "") + ")"
        rows.append({"item": item, "probe": probe, "ok": bool(ok), "outcome": outcome + extra})
        print(f"[{'ok' if ok else 'FAIL'}] {item} {probe}: {outcome}{extra}", file=sys.stderr, flush=True)

    images = work / "images"
    for label in ("B", "L"):
        (images / label).mkdir(parents=True)
        for path in sorted((data / "asl2text" / "test" / label).glob("*.jpg"))[:6]:
            shutil.copy(path, images / label / path.name)
    frame = data / "asl2text" / "test" / "L" / "L0.jpg"
    cache = ["--cache-dir", str(work / "cache")]

    # A small model to probe predict/live/train with.
    model = work / "model"
    r = run(["train", str(images), "--model-name", "rf", "-o", str(model), "--param", "n_estimators=5", *cache], cwd=work)
    assert r["code"] == 0, r["stderr"]

    # 1. train -o over a folder that is not a model
    victim = work / "victim"
    victim.mkdir()
    (victim / "notes.txt").write_text("keep me")
    r = run(["train", str(images), "--model-name", "rf", "-o", str(victim), *cache], cwd=work)
    ok, shown = one_line_error(r, contains="not a model directory")
    record("1", "train -o <folder with a file>", ok and (victim / "notes.txt").is_file(), shown, r)
    r = run(["train", str(images), "--model-name", "rf", "-o", ".", *cache], cwd=victim)
    ok, shown = one_line_error(r, contains="not a model directory")
    record("1", "train -o . (cwd holds a file)", ok and (victim / "notes.txt").is_file(), shown, r)

    # 2. two extract runs into one table
    big = work / "big"
    labels = ("A", "C", "D", "E", "F", "G")
    for label in labels:
        shutil.copytree(data / "asl2text" / "test" / label, big / label)
    n_big = sum(1 for _ in big.rglob("*.jpg"))
    table = work / "shared.parquet"
    first = subprocess.Popen(CLI + ["extract", str(big), "-o", str(table)], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (work / "shared.parquet.lock").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    r = run(["extract", str(images), "-o", str(table)], cwd=work)
    ok, shown = one_line_error(r, contains="is being written by process")
    first.communicate(timeout=300)
    run(["extract", str(images), "-o", str(table), "--json"], cwd=work)
    import pyarrow.parquet as pq

    total = pq.read_table(table).num_rows
    record("2", "two concurrent extract -o same.parquet", ok and first.returncode == 0 and total == n_big + 12,
           f"{shown}; after both: {total} rows ({n_big} + 12 expected)", r)

    # 3. compare -o into a folder that holds other files
    folder = work / "reports"
    folder.mkdir()
    (folder / "mine.txt").write_text("keep me")
    compare = ["compare", "--train", str(images), "--models", "rf", "--param", "rf.n_estimators=5", *cache]
    r = run([*compare, "-o", str(folder)], cwd=work)
    ok, shown = one_line_error(r, contains="not an earlier report")
    record("3", "compare -o <folder with other files>", ok and (folder / "mine.txt").is_file(), shown, r)
    fresh = work / "report1"
    r = run([*compare, "-o", str(fresh)], cwd=work)
    r2 = run([*compare, "-o", str(fresh)], cwd=work)
    ok2, shown2 = one_line_error(r2, contains="--overwrite")
    r3 = run([*compare, "-o", str(fresh), "--overwrite"], cwd=work)
    record("3", "compare -o <earlier report> without / with --overwrite",
           r["code"] == 0 and ok2 and r3["code"] == 0, f"{shown2}; with --overwrite: exit {r3['code']}", r3)

    # 4. the cache follows deleted and moved files
    moving = work / "moving"
    shutil.copytree(images, moving)
    r = run(["train", str(moving), "--model-name", "rf", "-o", str(work / "m4"), "--param", "n_estimators=5", *cache], cwd=work)
    before = [line for line in r["stderr"].splitlines() if "fitting on" in line]
    sorted((moving / "B").glob("*.jpg"))[0].unlink()
    moved = sorted((moving / "L").glob("*.jpg"))[0]
    moved.rename(moving / "B" / moved.name)
    r = run(["train", str(moving), "--model-name", "rf", "-o", str(work / "m4"), "--param", "n_estimators=5", *cache,
             "--overwrite"], cwd=work)
    after = [line for line in r["stderr"].splitlines() if "fitting on" in line]
    meta = json.loads((work / "m4" / "metadata.json").read_text()) if (work / "m4" / "metadata.json").is_file() else {}
    counts = meta.get("training", {}).get("class_counts", {})
    record("4", "train after deleting one image and moving one to another label",
           r["code"] == 0 and "fitting on 11 samples" in " ".join(after),
           f"{(before or ['?'])[0].split(': ', 1)[-1]} -> {(after or ['?'])[0].split(': ', 1)[-1]}; class counts {counts}", r)

    # 5./6. bad landmark CSVs
    header = "label,source_file," + ",".join(f"{a}{i}" for i in range(21) for a in "xyz")
    good = ",".join(["0.5"] * 63)
    for item, name, cells in (("5", "inf", "inf"), ("5", "1e39", "1e39"), ("5", "-inf", "-inf"), ("6", "label zz", None)):
        csv = work / f"borisgraudt_{name.replace(' ', '_')}.csv"
        body = [f"A,a.jpg,{good}", f"B,b.jpg,{good}"]
        if cells is None:
            body.append(f"zz,c.jpg,{good}")
        else:
            body.append("C,c.jpg," + ",".join([cells] + ["0.5"] * 62))
        csv.write_text(header + "\n" + "\n".join(body) + "\n")
        r = run(["train", str(csv), "--model-name", "rf", "-o", str(work / f"m5{name}"), *cache], cwd=work)
        ok, shown = one_line_error(r, contains="row 2" if cells is not None else "zz")
        record(item, f"landmark CSV with {name}", ok, shown, r)

    # 7. a worker killed during extract --n-jobs 2
    out7 = work / "killed.parquet"
    proc = subprocess.Popen(CLI + ["extract", str(big), "-o", str(out7), "--n-jobs", "2"], cwd=work,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    parts = work / "killed.parquet.parts"
    deadline = time.monotonic() + 60
    while not list(parts.glob("part-*")) and time.monotonic() < deadline:
        time.sleep(0.02)
    children = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(proc.pid)], capture_output=True, text=True).stdout
    workers = [int(line.split()[0]) for line in children.splitlines() if "spawn_main" in line and "resource_tracker" not in line]
    if workers:
        os.kill(workers[0], signal.SIGKILL)
    try:
        _, err = proc.communicate(timeout=120)
        result = {"code": proc.returncode, "stderr": err.decode("utf-8", "replace"), "seconds": 0, "peak_mb": None}
        ok, shown = one_line_error(result, contains="worker process died")
    except subprocess.TimeoutExpired:
        proc.kill()
        ok, shown = False, "hung (killed after 120 s)"
    r = run(["extract", str(big), "-o", str(out7), "--json"], cwd=work)
    resumed = json.loads(r["stdout"])["n_resumed"] if r["code"] == 0 else None
    record("7", "kill -9 of one worker of extract --n-jobs 2", ok and bool(workers) and r["code"] == 0,
           f"{shown}; re-run: exit {r['code']}, {resumed} resumed", r)

    # 8. non-UTF-8 file names
    odd = work / "odd"
    (odd / "L").mkdir(parents=True)
    shutil.copy(frame, odd / "L" / "good.jpg")
    bad_name = os.fsencode(odd / "L") + b"/\xff\xfe.jpg"
    shutil.copy(frame, bad_name)
    r = run(["extract", str(odd), "-o", str(work / "odd.parquet"), "--json"], cwd=work)
    summary = json.loads(r["stdout"]) if r["code"] == 0 else {}
    rejected = [x["reason"] for x in summary.get("rejected", [])]
    record("8", "extract on a folder holding a non-UTF-8 file name", r["code"] == 0 and len(rejected) == 1,
           f"exit {r['code']}; rejected: {rejected}" if r["code"] == 0 else one_line_error(r)[1], r)
    r = run(["extract", str(odd), "-o", str(work / "odd.parquet"), "--json"], cwd=work)
    record("8", "  ... and its re-run", r["code"] == 0, f"exit {r['code']}", r)
    frames = work / "frames"
    frames.mkdir()
    for i in range(10):
        shutil.copy(frame, frames / f"f{i:02d}.jpg")
    shutil.copy(frame, os.fsencode(frames) + b"/\xff.jpg")
    r = run(["live", "--source", str(frames), "--model", str(model), "--json"], cwd=work)
    record("8", "live --source <folder with a non-UTF-8 name>", r["code"] == 0, f"exit {r['code']}: {r['stdout'].strip().splitlines()[-1][:120] if r['stdout'].strip() else one_line_error(r)[1]}", r)
    video = os.fsencode(work) + b"/\xff.avi"
    import cv2

    writer = cv2.VideoWriter(str(work / "v.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (224, 224))
    image = cv2.imread(str(frame))
    for _ in range(10):
        writer.write(image)
    writer.release()
    os.rename(work / "v.avi", video)
    r = run(["live", "--source", os.fsdecode(video), "--model", str(model), "--json"], cwd=work)
    ok = r["code"] == 0 or one_line_error(r)[0]
    record("8", "live --source <video with a non-UTF-8 name>", ok and r["code"] != -signal.SIGSEGV,
           f"exit {r['code']}: {(r['stdout'].strip().splitlines() or [''])[-1][:100] or one_line_error(r)[1]}", r)

    # 9. a 10000x10000 PNG (about 300 KB)
    huge = work / "huge"
    (huge / "L").mkdir(parents=True)
    (huge / "L" / "huge.png").write_bytes(png_bytes(10_000, 10_000))
    size_kb = (huge / "L" / "huge.png").stat().st_size // 1024
    r = run(["predict", str(huge / "L" / "huge.png"), "--model", str(model), "--json"], cwd=work)
    record("9", f"predict a 10000x10000 PNG ({size_kb} KB)", r["code"] == 0 and (r["peak_mb"] or 0) < 1024,
           f"exit {r['code']}: {r['stdout'].strip()[:100]}", r)
    r = run(["extract", str(huge), "-o", str(work / "huge.parquet"), "--json"], cwd=work)
    record("9", "extract a folder with that PNG", r["code"] == 0 and (r["peak_mb"] or 0) < 1024, f"exit {r['code']}", r)
    (huge / "L" / "bomb.png").write_bytes(png_bytes(50_000, 50_000, header_only=True))
    r = run(["predict", str(huge / "L" / "bomb.png"), "--model", str(model), "--json"], cwd=work)
    reason = json.loads(r["stdout"])["error"] if r["code"] == 0 and r["stdout"].strip() else one_line_error(r)[1]
    record("9", "predict a 50000x50000 PNG bomb", "refusing" in reason and (r["peak_mb"] or 0) < 1024, reason[:140], r)

    # 10. a truncated part file
    out10 = work / "t10.parquet"
    (work / "t10.parquet.parts").mkdir()
    (work / "t10.parquet.parts" / "part-000000.parquet").write_bytes(b"PAR1 truncated")
    r = run(["extract", str(images), "-o", str(out10)], cwd=work)
    record("10", "extract with a truncated .parts file", r["code"] == 0 and "dropping unreadable part file" in r["stderr"],
           f"exit {r['code']}", r)

    # 11. tracebacks
    probes11 = [
        ("extract -o /proc/t.parquet", ["extract", str(images), "-o", "/proc/t.parquet"], "cannot write"),
        ("extract --min-detection-confidence nan", ["extract", str(images), "-o", str(work / "n.parquet"), "--min-detection-confidence", "nan"], "nan"),
        ("extract /dev/zero", ["extract", "/dev/zero", "-o", str(work / "z.parquet")], "/dev/zero"),
        ("live --smoothing-window 1000000000000", ["live", "--source", str(frames), "--model", str(model), "--smoothing-window", "1000000000000"], "smoothing-window"),
        ("live --threshold nan", ["live", "--source", str(frames), "--model", str(model), "--threshold", "nan"], "threshold"),
        ("compare --test-size 1.0", [*compare, "-o", str(work / "r11"), "--test-size", "1.0"], "test-size"),
        ("compare --param rf.n_estimators=abc", [*compare, "-o", str(work / "r12"), "--param", "rf.n_estimators=abc"], "n_estimators"),
        ("train --param n_estimators=-5", ["train", str(images), "--model-name", "rf", "-o", str(work / "m11"), "--param", "n_estimators=-5", *cache], "n_estimators"),
    ]
    for name, cli_args, contains in probes11:
        r = run(cli_args, cwd=work)
        ok, shown = one_line_error(r, contains=contains)
        record("11", name, ok, shown, r)
    # NaN landmarks on rows marked detected

    from landmark_asl.data.table import read_table, write_table

    tab, meta = read_table(work / "odd.parquet") if (work / "odd.parquet").is_file() else read_table(out10)
    tab.loc[tab["detected"], "x3"] = np.nan
    write_table(tab, work / "nan.parquet", meta)
    r = run(["train", str(work / "nan.parquet"), "--model-name", "rf", "-o", str(work / "m12"), *cache], cwd=work)
    ok, shown = one_line_error(r, contains="x3")
    record("11", "train on a table with NaN landmarks on detected rows", ok, shown, r)
    broken = work / "broken_model"
    shutil.copytree(model, broken)
    meta = json.loads((broken / "metadata.json").read_text())
    meta["artefacts"] = list(meta["artefacts"])
    (broken / "metadata.json").write_text(json.dumps(meta))
    r = run(["predict", str(frame), "--model", str(broken)], cwd=work)
    ok, shown = one_line_error(r, contains="artefacts")
    record("11", '"artefacts" as a list in metadata.json', ok, shown, r)

    # 12. misleading messages
    empty = work / "empty" / "L"
    empty.mkdir(parents=True)
    (empty / "zero.jpg").write_bytes(b"")
    r = run(["extract", str(work / "empty"), "-o", str(work / "e.parquet")], cwd=work)
    ok, shown = one_line_error(r, contains="zero.jpg")
    record("12", "folder holding only a 0-byte image", ok, shown, r)
    gif = work / "gif" / "L"
    gif.mkdir(parents=True)
    from PIL import Image

    pictures = [Image.new("RGB", (64, 64), (i * 40, 0, 0)) for i in range(3)]
    pictures[0].save(gif / "anim.gif", save_all=True, append_images=pictures[1:])
    shutil.copy(frame, gif / "still.jpg")
    r = run(["extract", str(work / "gif"), "-o", str(work / "g.parquet"), "--json"], cwd=work)
    text = r["stdout"] + r["stderr"]
    record("12", "animated GIF in a folder", r["code"] == 0 and "animated" in text, "reason recorded: " + str("animated" in text), r)
    mnist = work / "sign_mnist_bad.csv"
    mnist.write_text("label," + ",".join(f"pixel{i}" for i in range(1, 785)) + "\n" + "3," + ",".join(["0"] * 700) + "\n")
    r = run(["extract", str(mnist), "-o", str(work / "m.parquet")], cwd=work)
    ok, shown = one_line_error(r, contains="row")
    record("12", "Sign-MNIST row with the wrong column count", ok and "dtype" not in shown, shown, r)
    headonly = work / "sign_mnist_head.csv"
    headonly.write_text("label," + ",".join(f"pixel{i}" for i in range(1, 785)) + "\n")
    r = run(["extract", str(headonly), "-o", str(work / "h.parquet")], cwd=work)
    ok, shown = one_line_error(r, contains="no rows")
    record("12", "header-only Sign-MNIST CSV", ok and "dtype" not in shown, shown, r)
    r = run(["train", str(images), "--model-name", "rf", "-o", str(work / "m13"), "--labels", "X,Y", *cache], cwd=work)
    ok, shown = one_line_error(r, contains="X")
    record("12", "train --labels X,Y absent from the data", ok and "no training sample has a hand" not in shown, shown, r)
    nested = work / "nested"
    (nested / "L" / "deeper").mkdir(parents=True)
    shutil.copy(frame, nested / "L" / "top.jpg")
    shutil.copy(frame, nested / "L" / "deeper" / "below.jpg")
    r = run(["extract", str(nested), "-o", str(work / "nest.parquet"), "--json"], cwd=work)
    summary = json.loads(r["stdout"]) if r["code"] == 0 else {}
    listed = [x["reason"] for x in summary.get("rejected", []) if "below.jpg" in x["source"]]
    r2 = run(["predict", str(nested), "--model", str(model), "--json"], cwd=work)
    n_predict = len(r2["stdout"].strip().splitlines()) if r2["code"] == 0 else None
    # The rule: a labelled image is one directly inside its label folder (extract lists the
    # others as rejected, with the reason); predict needs no label and reads every image below.
    record("12", "nested L/deeper/*.jpg: extract vs predict", summary.get("n_samples") == 1 and len(listed) == 1 and n_predict == 2,
           f"extract {summary.get('n_samples')} image + lists the nested one ({(listed or ['not listed'])[0][:60]}...); predict {n_predict}", r2)
    r = run(["live", "--source", "", "--model", str(model)], cwd=work)
    ok, shown = one_line_error(r, contains="source")
    record("12", 'live --source ""', ok, shown, r)
    old = os.umask(0o022)
    os.umask(old)
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in (work / "odd.parquet", model, model / "metadata.json") if p.exists()}
    record("12", f"modes under umask {oct(old)}", all(m in ("0o644", "0o755") for m in modes.values()), str(modes))
    r = run(["extract", str(images), "-o", str(work / "j.parquet"), "--n-jobs", "100"], cwd=work)
    record("12", "extract --n-jobs 100", r["code"] == 0 and "capped" in r["stderr"],
           next((line for line in r["stderr"].splitlines() if "capped" in line), f"exit {r['code']}")[:140], r)

    round_two(work, images, model, cache, record)

    print("| item | probe | outcome | ok |\n| --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['item']} | {row['probe']} | {row['outcome'].replace('|', '/')} | {'yes' if row['ok'] else '**no**'} |")
    n_ok = sum(r["ok"] for r in rows)
    print(f"\n{n_ok}/{len(rows)} probes behave as they should")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0 if n_ok == len(rows) else 1



# --- issue 22: the second probe's 18 causes ------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(code_or_args, *, cwd: Path, port: int) -> subprocess.Popen:
    """A `serve` process (CLI arguments, or Python code); returns once /api/health answers."""
    import urllib.request

    command = [sys.executable, "-c", code_or_args] if isinstance(code_or_args, str) else CLI + code_or_args
    server = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and server.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5).read()
            return server
        except OSError:
            time.sleep(0.2)
    return server


def _get(port: int, path: str, host: str) -> tuple[int, str]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path, headers={"Host": host})
    response = connection.getresponse()
    return response.status, response.read().decode("utf-8", "replace")


def _relist(model_dir: Path, name: str) -> None:
    import hashlib

    meta = json.loads((model_dir / "metadata.json").read_text())
    meta["artefacts"][name] = hashlib.sha256((model_dir / name).read_bytes()).hexdigest()
    (model_dir / "metadata.json").write_text(json.dumps(meta))


def _forged(model: Path, work: Path, name: str, **changes) -> Path:
    """A copy of ``model`` whose trees.npz arrays are changed, listed with their new SHA-256."""
    forged = work / name
    shutil.copytree(model, forged)
    with np.load(forged / "trees.npz") as data:
        arrays = {k: data[k] for k in data.files}
    for key, change in changes.items():
        arrays[key] = change(arrays[key]) if callable(change) else change
    np.savez_compressed(forged / "trees.npz", **arrays)
    _relist(forged, "trees.npz")
    return forged


def round_two(work: Path, images: Path, model: Path, cache: list, record) -> None:
    """The 18 causes of issue 22 (items numbered as in the issue; 'S' the smaller ones)."""
    import io
    import zipfile

    frame = next(images.glob("L/*.jpg"))
    predict = ["predict", str(frame), "--model"]

    # 1, 2, 10: hosts, what /api/model says, NaN metrics
    served = work / "served"
    shutil.copytree(model, served)
    meta = json.loads((served / "metadata.json").read_text())
    meta["metrics"] = {"accuracy_all": float("nan"), "coverage": 1.0}
    (served / "metadata.json").write_text(json.dumps(meta))
    port = _free_port()
    server = _serve(["serve", "--model", str(served), "--no-collect", "--port", str(port)], cwd=work, port=port)
    try:
        status, body = _get(port, "/api/model", f"attacker.example:{port}")
        record("22.1", "Host: attacker.example (DNS rebinding)", status == 400 and "--allow-host" in body,
               f"HTTP {status}: {body[:100]}")
        status, body = _get(port, "/api/model", f"127.0.0.1:{port}")
        try:
            card = json.loads(body)
        except ValueError:
            card = {}
        record("22.2", "/api/model names no server path", status == 200 and str(served) not in body and
               "directory" not in card, f"HTTP {status}, keys {sorted(card)[:8]}")
        record("22.10", "/api/model of a card with NaN metrics", status == 200 and card.get("metrics", {}).get(
            "accuracy_all", "x") is None, f"HTTP {status}, metrics {card.get('metrics')}")
    finally:
        server.terminate()
        server.communicate(timeout=60)

    # 3. compare --overwrite and a file the user put into models/
    report = work / "report22"
    compare = ["compare", "--train", str(images), "--models", "rf", "--param", "rf.n_estimators=3", *cache,
               "-o", str(report)]
    run(compare, cwd=work)
    (report / "models" / "notes.txt").write_text("keep me")
    r = run([*compare, "--overwrite"], cwd=work)
    ok, shown = one_line_error(r, contains="compare did not write models/notes.txt")
    record("22.3", "compare --overwrite with a user file in models/", ok and (report / "models" / "notes.txt").is_file(),
           shown, r)

    # 4. adapt -o equal to --base
    before = (model / "metadata.json").read_text()
    r = run(["adapt", str(images), "--base", str(model), "-o", str(model), *cache], cwd=work)
    ok, shown = one_line_error(r, contains="base model itself")
    record("22.4", "adapt -o <the base>", ok and (model / "metadata.json").read_text() == before, shown, r)

    # 5. collect re-run on the same photo folder
    samples = work / "me22.parquet"
    for per_letter in ("2", "4"):
        r = run(["collect", "--source", str(images), "--letters", "B,L", "--per-letter", per_letter, "-o", str(samples),
                 "--json"], cwd=work)
    import pandas as pd

    sources = pd.read_parquet(samples)["source"] if samples.is_file() else pd.Series(dtype=str)
    record("22.5", "collect run twice on one photo folder", r["code"] == 0 and not sources.duplicated().any(),
           f"exit {r['code']}, {len(sources)} samples, {int(sources.duplicated().sum())} taken twice", r)

    # 6-9, 11: crafted model directories
    crafted = {
        "22.6 trees.npz with NaN leaves": _forged(model, work, "nan_leaves", leaf=lambda a: a * np.nan),
        "22.7 n_features_in=200": _forged(model, work, "n200", n_features_in=np.int64(200)),
    }
    bomb = work / "npy_bomb"
    shutil.copytree(model, bomb)
    with np.load(bomb / "trees.npz") as data:
        arrays = {k: data[k] for k in data.files}
    with zipfile.ZipFile(bomb / "trees.npz", "w") as archive:
        for key, value in arrays.items():
            buffer = io.BytesIO()
            if key == "leaf":
                np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False,
                                                              "shape": (200_000_000_000, 29)})
                buffer.write(bytes(64))
            else:
                np.lib.format.write_array(buffer, value)
            archive.writestr(f"{key}.npy", buffer.getvalue())
    _relist(bomb, "trees.npz")
    crafted["22.8 .npy header declaring (2e11, 29)"] = bomb
    deep = work / "deep_meta"
    shutil.copytree(model, deep)
    (deep / "metadata.json").write_text((deep / "metadata.json").read_text().replace(
        '"training": {', '"training": {"deep": ' + "[" * 100_000 + "]" * 100_000 + ", ", 1))
    crafted["22.9 metadata.json nested 100,000 deep"] = deep
    r = run(["train", str(images), "--model-name", "xgb", "-o", str(work / "xgb22"), "--param", "n_estimators=3", *cache],
            cwd=work)
    for name, content in (("garbage", b"\x00garbage" * 100), ("a length of 23 GB", b"{L\x00\x00\x00\x05learner}")):
        corrupt = work / f"xgb_{name.split()[0]}"
        shutil.copytree(work / "xgb22", corrupt)
        (corrupt / "xgb_model.ubj").write_bytes(content)
        _relist(corrupt, "xgb_model.ubj")
        crafted[f"22.11 xgb_model.ubj: {name}"] = corrupt
    for name, directory in crafted.items():
        r = run([*predict, str(directory)], cwd=work, limit=True)
        ok, shown = one_line_error(r, contains=directory.name)
        record(name.split()[0], name.split(" ", 1)[1], ok and (r["peak_mb"] or 0) < 1024 and len(shown) < 400, shown, r)
    r = run(["adapt", str(images), "--base", str(model), "-o", str(work / "w308"), "--weight", "1e308", *cache], cwd=work)
    ok, shown = one_line_error(r, contains="weight")
    record("22.6", "adapt --weight 1e308", ok and not (work / "w308").exists(), shown, r)

    # 12. OS errors
    for name, args, path in (
        ("train -o /proc/m", ["train", str(images), "--model-name", "rf", "-o", "/proc/m22", *cache], "/proc/"),
        ("train --cache-dir /proc/c", ["train", str(images), "--model-name", "rf", "-o", str(work / "m22"),
                                        "--cache-dir", "/proc/c22"], "/proc/c22"),
        ("compare -o /proc/r", ["compare", "--train", str(images), "--models", "rf", *cache, "-o", "/proc/r22"], "/proc/r22"),
        ("collect -o /proc/s.parquet", ["collect", "--source", str(images), "--letters", "B", "-o", "/proc/s22.parquet"],
         "/proc/s22.parquet"),
        ("adapt -o /proc/pm", ["adapt", str(images), "--base", str(model), "-o", "/proc/pm22", *cache], "/proc/"),
    ):
        r = run(args, cwd=work)
        ok, shown = one_line_error(r, contains=path)
        record("22.12", name, ok, shown, r)

    # 13, 14, 15: bad values
    from landmark_asl.data.table import read_table, write_table

    table, meta = read_table(next((work / "cache").glob("*.parquet")))
    write_table(table, work / "text22.csv", meta)
    text = pd.read_csv(work / "text22.csv", dtype=str, keep_default_na=False)
    text.loc[1, "x3"] = "oops"
    text.to_csv(work / "text22.csv", index=False)
    r = run(["train", str(work / "text22.csv"), "--model-name", "rf", "-o", str(work / "m13")], cwd=work)
    ok, shown = one_line_error(r, contains="x3")
    record("22.13", "landmark table with text in x3", ok, shown, r)
    binary = work / "binary22.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    r = run(["compare", "--train", str(images), "--models", "rf", *cache, "-o", str(work / "r14"), "--split-file", str(binary)],
            cwd=work)
    ok, shown = one_line_error(r, contains="split file")
    record("22.14", "compare --split-file <binary>", ok and not (work / "r14").exists(), shown + " (no -o folder left)", r)
    for value in ("1e308", "1e30"):
        r = run(["train", str(images), "--model-name", "rf", "-o", str(work / "m15"), "--augment", f"stretch={value}", *cache],
                cwd=work)
        ok, shown = one_line_error(r, contains="stretch")
        record("22.15", f"train --augment stretch={value}", ok, shown, r)

    # 16. --scheduler
    import socket
    import threading

    listeners = []

    def fake(mode: str) -> str:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        listeners.append(listener)

        def answer():
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                listeners.append(conn)
                if mode == "http":
                    conn.recv(100)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" * 50)

        threading.Thread(target=answer, daemon=True).start()
        return f"tcp://127.0.0.1:{listener.getsockname()[1]}"

    for name, address in (("tls://", "tls://127.0.0.1:1"), ("ucx://", "ucx://127.0.0.1:1"),
                          ("a port answering HTTP", fake("http")), ("a port that never answers", fake("silent"))):
        r = run(["extract", str(images), "-o", str(work / "s16.parquet"), "--scheduler", address], cwd=work, timeout=60)
        ok, shown = one_line_error(r, contains="scheduler")
        record("22.16", f"--scheduler {name}", ok and "EiB" not in shown, shown, r)
    for listener in listeners:
        listener.close()

    # 17. SIGINT while a personal model builds (the fit made to take a minute)
    personal = work / "personal22"
    (personal / "me").mkdir(parents=True)
    run(["collect", "--source", str(images), "--letters", "B,L", "--per-letter", "2", "-o",
         str(personal / "me" / "samples.parquet")], cwd=work)
    port = _free_port()
    code = ("import time, landmark_asl.training.train as training\nreal = training.fit_estimator\n"
            "def slow(*a, **k):\n    print('fit started', flush=True)\n    time.sleep(60)\n    return real(*a, **k)\n"
            "training.fit_estimator = slow\nfrom landmark_asl.cli import main\n"
            f"main(['serve', '--model', {str(model)!r}, '--personal-dir', {str(personal)!r}, '--cache-dir', "
            f"{cache[1]!r}, '--port', '{port}'])\n")
    server = _serve(code, cwd=work, port=port)
    outcome, ok = "no server", False
    try:
        from websockets.sync.client import connect

        with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=30) as ws:
            ws.recv(timeout=30)
            ws.send(json.dumps({"type": "adapt", "signer": "me"}))
            ws.recv(timeout=30)
            server.stdout.readline()
            start = time.monotonic()
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
                left = sorted(p.name for p in (personal / "me").iterdir())
                ok = left == ["samples.parquet"]
                outcome = f"stopped {time.monotonic() - start:.1f} s after SIGINT; personal/me holds {left}"
            except subprocess.TimeoutExpired:
                outcome = "still running 30 s after SIGINT"
    except Exception as exc:  # noqa: BLE001 - the probe reports, it does not stop
        outcome = f"{type(exc).__name__}: {exc}"
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate()
    record("22.17", "SIGINT to serve during a personal build", ok, outcome)

    # smaller ones
    fifo = work / "pipe22.jpg"
    os.mkfifo(fifo)
    r = run(["predict", str(fifo), "--model", str(model)], cwd=work, timeout=60)
    ok, shown = one_line_error(r, contains="could not be read")
    record("22.S", "predict a FIFO", ok and "not a regular file" in r["stderr"], r["stderr"].strip().splitlines()[0][:140]
           if r["stderr"].strip() else f"exit {r['code']}", r)
    odd = work / "new\nline.jpg"
    shutil.copy(frame, odd)
    r = run(["predict", str(odd), "--model", str(model)], cwd=work)
    record("22.S", "predict a file name with a newline", r["code"] == 0 and r["stdout"].count("\n") == 1,
           repr(r["stdout"][-60:]), r)
    (work / "unreadable22.jpg").write_bytes(b"not a jpeg")
    r = run(["predict", str(work / "unreadable22.jpg"), "--model", str(model)], cwd=work)
    ok, shown = one_line_error(r, contains="could not be read")
    record("22.S", "plain predict of an unreadable file", ok and "(none)" not in r["stdout"], shown, r)
    lines = (report / "split.csv").read_text().splitlines()
    (work / "partial22.csv").write_text("\n".join(lines[:-1]) + "\n")
    r = run(["compare", "--train", str(images), "--models", "rf", "--param", "rf.n_estimators=3", *cache,
             "-o", str(work / "r22s"), "--split-file", str(work / "partial22.csv")], cwd=work)
    record("22.S", "split file missing a row", r["code"] == 0 and "has no row for 1" in r["stderr"],
           next((line for line in r["stderr"].splitlines() if "Warning" in line), f"exit {r['code']}")[:140], r)


if __name__ == "__main__":
    sys.exit(main())
