"""Write plain-detector landmark tables (no recovery passes) for the feature experiments.

`experiments/exp_features.py`, `experiments/exp_accuracy.py` and `benchmarks/bench_predict.py` read
these tables from `.cache/plain/<name>.parquet` (or `--out`). They are ordinary landmark
tables written by `landmark_asl.data.extraction.extract_table` with `recovery=False`, so the
figures of those scripts describe what MediaPipe's plain pass finds.

    python tools/extract_plain.py [--out .cache/plain] [--n-jobs 2] [--only asl2text_train,...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from landmark_asl.data.extraction import extract_table
from landmark_asl.hands.extractor import ExtractorSettings

TABLES = {
    "asl2text_train": "asl2text/train",
    "asl2text_test": "asl2text/test",
    "massey": "massey",
    "asl64_test": "asl_alphabet_64/test",
    "asl64_train": "asl_alphabet_64/train",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(".cache/plain"))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--only", default=",".join(TABLES), help="comma-separated table names")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only.split(","):
        summary = extract_table([TABLES[name]], args.out / f"{name}.parquet",
                                settings=ExtractorSettings(recovery=False), n_jobs=args.n_jobs)
        print(f"{name}: {summary['n_detected']}/{summary['n_samples']} with a hand", flush=True)


if __name__ == "__main__":
    main()
