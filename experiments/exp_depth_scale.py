"""How flat MediaPipe's depth is, per source: the z scale that keeps the palm's rigid segments constant.

MediaPipe gives z in units of the frame's width, as x, "roughly". The palm's rigid segments
(wrist to knuckles, knuckle to knuckle: ``estimate_frame_aspect``'s) keep their 3D length as a
hand turns, so the y and z scales that make those lengths vary least across a source's rows
(each hand relative to its own size) are the frame's aspect and the depth's flattening. The
search is a grid over both at once, on the table's coordinates as stored (photos' y in units of
their height, so a 4:3 photo's aspect comes out near 0.75).

Usage::

    python experiments/exp_depth_scale.py [--sources asl2text/train,massey,...]

Figures: docs/experiments.md (2026-12-07, "MediaPipe's depth").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from landmark_asl.hands.landmarks import rigid_segments  # noqa: E402

SOURCES = ("asl2text/train", "asl2text/test", "massey", "ml_slr", "landmarks/borisgraudt_raw_gestures.csv",
           "landmarks/nejohnson2_wrist_relative.csv")


def depth_scale(image: np.ndarray, *, aspects: np.ndarray | None = None,
                depths: np.ndarray | None = None) -> tuple[float, float, float]:
    """(aspect, depth scale, spread) that make the palm's rigid segments most constant.

    ``image``: (n, 21, 3) landmarks of many hands of one camera, x and z in one unit and y
    divided by the frame's aspect (as MediaPipe stores them). y times the aspect and z times the
    depth scale give one unit on all three axes. Rows with a non-finite point, or a palm segment
    under 5% of the row's median one, are left out.
    """
    delta = rigid_segments(image)
    if len(delta) < 2:
        raise ValueError("fewer than two usable rows: the scales need many hands in varied poses")
    delta = delta[:: max(1, len(delta) // 4000)]
    aspects = np.exp(np.linspace(np.log(0.3), np.log(2.0), 60)) if aspects is None else aspects
    depths = np.exp(np.linspace(np.log(0.1), np.log(10.0), 80)) if depths is None else depths
    best = (np.inf, np.nan, np.nan)
    for aspect in aspects:
        for depth in depths:
            log_length = 0.5 * np.log(delta[..., 0] ** 2 + (aspect * delta[..., 1]) ** 2 + (depth * delta[..., 2]) ** 2)
            log_length -= log_length.mean(axis=1, keepdims=True)  # each hand relative to its own size
            spread = float(log_length.std(axis=0).mean())
            if spread < best[0]:
                best = (spread, float(aspect), float(depth))
    return best[1], best[2], best[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", default=",".join(SOURCES), help="comma-separated sources (dataset names or CSVs)")
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args(argv)
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    if not sources:
        parser.error("--sources: give at least one source")
    from landmark_asl.data.landmark_cache import load_landmarks
    from landmark_asl.exceptions import LandmarkASLError

    print("| source | rows with a hand | aspect (height / width) | depth scale | spread |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for source in sources:
        try:
            table, _ = load_landmarks([source], cache_dir=args.cache_dir, n_jobs=2, progress=False)
            table = table[table["detected"].astype(bool)]
            image = table[[f"{a}{i}" for i in range(21) for a in "xyz"]].to_numpy(np.float64).reshape(-1, 21, 3)
            aspect, depth, spread = depth_scale(image)
        except (LandmarkASLError, ValueError) as exc:
            raise SystemExit(f"exp_depth_scale.py: {source}: {exc}") from None
        print(f"| {source} | {len(table)} | {aspect:.3f} | {depth:.2f} | {spread:.4f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
