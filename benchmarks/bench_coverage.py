"""Benchmark: hand-detection coverage per dataset and per recovery pass, and false hands on empty images.

Usage::

    python benchmarks/bench_coverage.py [--per-class 10] [--n-nothing 600] [--offset 0] [--n-jobs 1]

Samples ``--per-class`` images of every class of each dataset (evenly spaced through the class
folder, so deterministic), runs ``extraction.extract_table`` with the default settings and
prints, per dataset: coverage of the plain pass alone and after each recovery pass (the
passes run in order, each only on images still without a hand). Letters (A-Z) and the
other classes are reported apart: in ``asl_alphabet_64`` the ``nothing`` class is an empty
scene, so any hand found there is a false detection (``--n-nothing`` of those images per split;
by default all 700).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd

from landmark_asl.data.datasets import load_manifest
from landmark_asl.data.extraction import extract_table
from landmark_asl.data.table import read_table
from landmark_asl.hands.extractor import RECOVERY_STRATEGIES, ExtractorSettings, quiet_native_logs
from landmark_asl.labels import LETTERS

DATASETS = ("asl_alphabet_64/test", "asl2text/test", "massey", "asl_alphabet_200_official_test")


def spaced(frame: pd.DataFrame, n: int, offset: int = 0) -> pd.DataFrame:
    """``n`` rows spread evenly through ``frame``, starting at ``offset`` (all of them if it has fewer)."""
    if n <= 0:
        return frame.iloc[:0]
    step = max(1, len(frame) // n)
    return frame.iloc[min(offset, step - 1) :: step][:n]


def sample(per_class: int, n_nothing: int, offset: int) -> pd.DataFrame:
    frames = []
    for dataset in DATASETS:
        manifest, _ = load_manifest(dataset)
        manifest = manifest[manifest["label"] != "NOTHING"] if dataset.startswith("asl_alphabet_64") else manifest
        frames += [spaced(g, per_class, offset) for _, g in manifest.groupby("label")]
    for split in ("train", "test"):
        manifest, _ = load_manifest(f"asl_alphabet_64/{split}")
        frames.append(spaced(manifest[manifest["label"] == "NOTHING"], n_nothing, offset))
    table = pd.concat(frames, ignore_index=True)
    return table.drop_duplicates("sample_id").reset_index(drop=True)


def report(table: pd.DataFrame) -> str:
    passes = ("plain",) + RECOVERY_STRATEGIES
    letters = table["label"].isin(LETTERS)
    groups = {}
    for dataset, rows in table.groupby("dataset"):
        is_empty = rows["label"] == "NOTHING"
        if dataset == "asl_alphabet_64":
            groups[f"{dataset} letters"] = rows[letters.loc[rows.index]]
            groups[f"{dataset} nothing (empty scene: hands are false)"] = rows[is_empty]
        else:
            groups[f"{dataset} letters"] = rows[letters.loc[rows.index]]
            groups[f"{dataset} all classes"] = rows
    header = "| images | n | " + " | ".join(f"+{p}" if i else p for i, p in enumerate(passes)) + " |"
    lines = [header, "|" + "---|" * (len(passes) + 2)]
    for name, rows in groups.items():
        n = len(rows)
        if not n:
            continue
        cells, found = [], 0
        for strategy in passes:
            found += int((rows["strategy"] == strategy).sum())
            cells.append(f"{found / n:.1%}")
        lines.append(f"| {name} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=10)
    parser.add_argument("--n-nothing", type=int, default=600,
                        help="empty asl_alphabet_64 images per split (train has 600, test 100: default all)")
    parser.add_argument("--offset", type=int, default=0, help="shift the sampled images (a second, disjoint sample)")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--table", type=Path, default=None, help="keep the landmark table here (resumable)")
    args = parser.parse_args()
    quiet_native_logs()
    manifest = sample(args.per_class, args.n_nothing, args.offset)
    with tempfile.TemporaryDirectory() as tmp:
        output = args.table or Path(tmp) / "coverage.parquet"
        summary = extract_table(manifest, output, settings=ExtractorSettings(), n_jobs=args.n_jobs)
        table, _ = read_table(output)
    table = table[table["sample_id"].isin(set(manifest["sample_id"]))]
    print(f"{len(table)} images, {args.per_class} per class; cumulative coverage after each pass "
          f"(passes run in order on images still without a hand); {summary['seconds']:.0f} s")
    print(report(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
