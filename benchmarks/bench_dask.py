"""Benchmark: extraction throughput on a local Dask cluster (1 and 2 worker processes) against local ``n_jobs`` runs.

The same images (``--n-images`` asl2text/train photos, copied to a temporary folder) are
extracted four ways into fresh tables: ``n_jobs=1``, ``n_jobs=2``, a ``LocalCluster`` with one
worker process and with two (one thread each). Cluster workers are warmed up first (each builds
its extractor on its first batch, once per process); local runs report images/second after
their workers' start-up (``images_per_second_after_startup``), so both sides are compared
without start-up. Prints a Markdown table; ``--repeats`` runs everything again for the spread.

Usage::

    python benchmarks/bench_dask.py [--n-images 320] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from landmark_asl.data.datasets import data_root
from landmark_asl.data.extraction import extract_table

from _common import stopwatch


def _images(n: int, folder: Path) -> Path:
    source = data_root() / "asl2text" / "train"
    letters = sorted(p for p in source.iterdir() if p.is_dir())
    per = -(-n // len(letters))
    for letter in letters:
        (folder / letter.name).mkdir(parents=True)
        for f in sorted(letter.glob("*.jpg"))[:per]:
            shutil.copy(f, folder / letter.name / f.name)
    return folder


def _cluster_rate(n_workers: int, images: Path, warm: Path, tmp: Path, tag: str) -> float:
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      host="127.0.0.1") as cluster, Client(cluster) as client:
        extract_table([warm], tmp / f"warm-{tag}.parquet", scheduler=client, progress=False)
        with stopwatch() as clock:
            summary = extract_table([images], tmp / f"dask-{tag}.parquet", scheduler=client, progress=False)
        return summary["n_processed"] / clock["seconds"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=320)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        images = _images(args.n_images, tmp / "images")
        warm = _images(64, tmp / "warm")
        for repeat in range(args.repeats):
            rates = {}
            for n_jobs in (1, 2):
                summary = extract_table([images], tmp / f"local{n_jobs}-{repeat}.parquet", n_jobs=n_jobs, progress=False)
                rates[f"local n_jobs={n_jobs}"] = summary["images_per_second_after_startup"]
            for n_workers in (1, 2):
                rates[f"dask {n_workers} worker(s)"] = _cluster_rate(n_workers, images, warm, tmp, f"{n_workers}-{repeat}")
            rows.append(rates)
            print(f"repeat {repeat}: " + ", ".join(f"{k} {v:.1f} img/s" for k, v in rates.items()), file=sys.stderr)
    print(f"{args.n_images} asl2text/train images, {os.cpu_count()} CPUs, load average {load:.1f} at the start\n")
    print("| run | images/s (per repeat) |")
    print("| --- | --- |")
    for key in rows[0]:
        print(f"| {key} | {' / '.join(f'{r[key]:.1f}' for r in rows)} |")
    d1 = [r["dask 1 worker(s)"] for r in rows]
    d2 = [r["dask 2 worker(s)"] for r in rows]
    l1 = [r["local n_jobs=1"] for r in rows]
    print(f"\n2 workers / 1 worker: {' / '.join(f'{b / a:.2f}x' for a, b in zip(d1, d2))} (target >= 1.8x); "
          f"1 Dask worker / local one process: {' / '.join(f'{a / b:.0%}' for a, b in zip(d1, l1))} (target >= 90%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
