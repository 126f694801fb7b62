"""Extract the extra landmark views (landmark_asl.hands.views) of every photo with a hand of the dev protocol's image sources.

For each photo whose cached landmark row has a hand, every view of ``landmark_asl.hands.views.VIEWS``
(mirror, crop, zoom_out) is estimated around that hand and written as a landmark-table row
with the photo's ``sample_id`` and a ``view`` column, one Parquet file per source under
``--output`` (resumed: a source already written is skipped). ``benchmarks/bench_lodo.py --views``
then averages each held-out photo's probabilities over its estimates.

Usage::

    python experiments/extract_views.py [--sources asl2text/test,massey,...] [--cache-dir DIR]
        [--output .cache/views] [--n-jobs 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from landmark_asl.data.landmark_cache import load_landmarks
from landmark_asl.data.table import TABLE_COLUMNS
from landmark_asl.hands.landmarks import IMAGE_COLUMNS, WORLD_COLUMNS, HandLandmarks
from landmark_asl.hands.views import VIEWS

SOURCES = ["asl2text/train", "asl2text/test", "massey", "ml_slr"]

_EXTRACTOR: list = []


def _hand(row: pd.Series) -> HandLandmarks:
    image = row[list(IMAGE_COLUMNS)].to_numpy(np.float32).reshape(21, 3)
    world = row[list(WORLD_COLUMNS)].to_numpy(np.float32).reshape(21, 3)
    return HandLandmarks(image, world, row["handedness"], float(row["handedness_score"]),
                         (int(row["image_width"]), int(row["image_height"])))


def _views_of(rows: pd.DataFrame) -> list[dict]:
    from landmark_asl.hands.extractor import HandLandmarkExtractor, quiet_native_logs
    from landmark_asl.hands.images import read_image
    from landmark_asl.hands.views import estimate_view

    if not _EXTRACTOR:
        quiet_native_logs()
        _EXTRACTOR.append(HandLandmarkExtractor())
    extractor = _EXTRACTOR[0]
    out = []
    for _, row in rows.iterrows():
        rgb = read_image(row["source"])
        for view in VIEWS:
            hand = estimate_view(extractor, rgb, _hand(row), view)
            record = {k: row[k] for k in ("sample_id", "source", "dataset", "label", "group", "split")}
            record.update({"view": view, "detected": hand is not None, "reason": "" if hand else "no hand found",
                           "strategy": view if hand else "", "image_width": int(row["image_width"]),
                           "image_height": int(row["image_height"])})
            if hand is not None:
                record.update({"handedness": hand.handedness, "handedness_score": hand.handedness_score})
                record.update(dict(zip(IMAGE_COLUMNS, hand.image.ravel().tolist())))
                record.update(dict(zip(WORLD_COLUMNS, hand.world.ravel().tolist())))
            out.append(record)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default=",".join(SOURCES))
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="Landmark cache (default: the per-user cache, landmark_asl.paths).")
    parser.add_argument("--output", type=Path, default=Path(".cache/views"))
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    for source in args.sources.split(","):
        path = args.output / (source.replace("/", "_") + ".parquet")
        if path.exists():
            print(f"{source}: {path} exists, skipped", file=sys.stderr)
            continue
        table = load_landmarks([source], cache_dir=args.cache_dir, progress=False)[0]
        table = table[table["detected"].astype(bool)].reset_index(drop=True)
        start = time.perf_counter()
        chunks = np.array_split(np.arange(len(table)), max(1, len(table) // 50))
        # Spawned, not forked: load_landmarks above may have run MediaPipe here, whose threads a fork breaks.
        with ProcessPoolExecutor(args.n_jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            records = [r for part in pool.map(_views_of, [table.iloc[c] for c in chunks]) for r in part]
        frame = pd.DataFrame(records)
        frame = frame.reindex(columns=[*TABLE_COLUMNS, "view"])
        tmp = path.with_name(path.name + ".tmp")  # a killed run leaves no half-written table that would be skipped
        frame.to_parquet(tmp)
        tmp.replace(path)
        found = frame.groupby("view")["detected"].mean()
        print(f"{source}: {len(table)} photos, views found {found.round(3).to_dict()}, "
              f"{time.perf_counter() - start:.0f} s -> {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
