"""Benchmark: images/second of extraction.extract_table against a bare HandLandmarker.detect loop on one core.

Usage::

    python benchmarks/bench_extract.py [--n-images 300] [--dataset asl2text] [--repeats 2]

The bare loop (the limit) decodes each image with ``datasets.read_sample`` and runs MediaPipe's
``HandLandmarker.detect`` once (no recovery, no table), pinned to one core. The pipeline runs
``extract_table`` on the same images, at one worker (this process, pinned to the same core) and
at two workers (worker processes, one core each), with the recovery passes off ("plain") and on.

"cold" times include everything a user waits for (importing mediapipe in workers, loading the
model, writing the table); "warm" is the rate once the extractor or every worker is ready
(``images_per_second_after_startup`` of the summary; for the bare loop, after model creation).
Targets: 1 worker >= 90% of the bare loop (warm); 2 workers >= 1.8x 1 worker (warm). Numbers are noisy on a shared machine: use --repeats and read the best.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from landmark_asl.data.datasets import load_manifest, read_sample
from landmark_asl.data.extraction import extract_table
from landmark_asl.hands.extractor import ExtractorSettings, model_bundle_path, quiet_native_logs


def sample_manifest(dataset: str, n_images: int):
    """``n_images`` images spread evenly over the classes of ``dataset`` (deterministic)."""
    manifest, _ = load_manifest(dataset)
    manifest = manifest.drop_duplicates("sample_id")
    per_class = -(-n_images // manifest["label"].nunique())
    picked = [g.iloc[:: max(1, len(g) // per_class)][:per_class] for _, g in manifest.groupby("label")]
    return pd.concat(picked).iloc[:n_images].reset_index(drop=True)


def bare_loop(sources: list[str]) -> tuple[float, float, int]:
    """(seconds including model creation, seconds of the loop alone, hands found)."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    start = time.perf_counter()
    options = vision.HandLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model_bundle_path())),
        running_mode=vision.RunningMode.IMAGE,
        num_hands=1,
        min_hand_detection_confidence=0.5,
        min_hand_presence_confidence=0.5,
    )
    with vision.HandLandmarker.create_from_options(options) as landmarker:
        loop_start = time.perf_counter()
        found = 0
        for source in sources:
            rgb = read_sample(source)
            result = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
            found += bool(result.hand_landmarks)
        end = time.perf_counter()
    return end - start, end - loop_start, found


def pipeline(manifest, n_jobs: int, recovery: bool, folder: Path) -> tuple[float, float, int]:
    """(seconds of the whole call, seconds after start-up, hands found)."""
    output = Path(tempfile.mkdtemp(dir=folder)) / "table.parquet"
    start = time.perf_counter()
    summary = extract_table(manifest, output, settings=ExtractorSettings(recovery=recovery), n_jobs=n_jobs, progress=False)
    cold = time.perf_counter() - start
    # Warm time: all images at the rate reached once every worker was ready.
    return cold, len(manifest) / summary["images_per_second_after_startup"], summary["n_detected"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=300)
    parser.add_argument("--dataset", default="asl2text")
    parser.add_argument("--repeats", type=int, default=2, help="rounds over all configurations; the best of each is kept")
    parser.add_argument("-v", "--verbose", action="store_true", help="show MediaPipe's native logs")
    args = parser.parse_args()
    if not args.verbose:
        quiet_native_logs()
    cpus = sorted(os.sched_getaffinity(0))
    manifest = sample_manifest(args.dataset, args.n_images)
    sources = list(manifest["source"])
    for source in sources:  # warm the page cache so that the first configuration is not penalised
        Path(source).read_bytes()
    n = len(sources)
    configs = [("bare HandLandmarker.detect loop", 1, "plain")]
    configs += [("extract_table", n_jobs, passes) for n_jobs in (1, 2) for passes in ("plain", "recovery")]
    if len(cpus) < 2:
        print("only one core available: skipping 2 workers", file=sys.stderr)
        configs = [c for c in configs if c[1] == 1]
    best: dict[tuple, tuple[float, float, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Rounds of every configuration, best warm time kept: on a shared machine the load drifts,
        # and interleaving exposes every configuration to it alike.
        for _ in range(args.repeats):
            for config in configs:
                name, n_jobs, passes = config
                # One core for the bare loop and the in-process pipeline; workers pin themselves.
                os.sched_setaffinity(0, {cpus[0]} if n_jobs == 1 else set(cpus))
                if name.startswith("bare"):
                    result = bare_loop(sources)
                else:
                    result = pipeline(manifest, n_jobs, passes == "recovery", Path(tmp))
                if config not in best or result[1] < best[config][1]:
                    best[config] = result
        os.sched_setaffinity(0, set(cpus))
    rows = [(*config, best[config][2], best[config][0], best[config][1]) for config in configs]
    bare_warm = best[configs[0]][1]
    print(f"{n} images of {args.dataset}; cores available: {len(cpus)}; repeats: {args.repeats}")
    header = "| configuration | workers | passes | hands found | cold s | cold img/s | warm img/s | warm vs bare loop |"
    print(header)
    print("|" + "---|" * 8)
    by_key = {}
    for name, n_jobs, passes, found, cold, warm in rows:
        by_key[(name, n_jobs, passes)] = n / warm
        print(
            f"| {name} | {n_jobs} | {passes} | {found}/{n} | {cold:.2f} | {n / cold:.1f} | {n / warm:.1f} | "
            f"{(n / warm) / (n / bare_warm):.0%} |"
        )
    one = by_key.get(("extract_table", 1, "plain"))
    two = by_key.get(("extract_table", 2, "plain"))
    print()
    print(f"1 worker (plain, warm) / bare loop: {one / (n / bare_warm):.0%} (target >= 90%)")
    if two:
        print(f"2 workers / 1 worker (plain, warm): {two / one:.2f}x (target >= 1.8x)")
        rec1, rec2 = by_key[("extract_table", 1, "recovery")], by_key[("extract_table", 2, "recovery")]
        print(f"2 workers / 1 worker (recovery, warm): {rec2 / rec1:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
