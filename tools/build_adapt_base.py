"""Build ``models/adapt_base/rows.npz``: the landmark rows ``adapt`` retrains on when the datasets are not there.

The file is derived data of licence-compatible sources (below), committed with their attribution
(``models/adapt_base/README.md``) so that a wheel built from any clone carries it; this script
rebuilds it (``make`` and ``tools/check_wheel.sh`` run it when it is missing).

Only sources whose licence allows shipping derived data go in (raw landmark features, never
pixels): asl2text train and test (Apache-2.0, keptsecret/ASLAlphabets), the borisgraudt landmark
CSV (MIT repository, CC0 on Kaggle) and the nejohnson2 landmark CSV (MIT). massey (licence not
stated) and asl_alphabet_64 (GPL-2.0) are left out. At most ``--per-label`` rows per label and
source (seeded), as float16: the file stays small (docs/guide/own-hands.md).

Usage: ``python tools/build_adapt_base.py [--per-label 60] [--cache-dir DIR]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from landmark_asl.data.landmark_cache import load_landmarks
from landmark_asl.estimators.features import raw_features
from landmark_asl.training.adapt import PACKAGED_SOURCES
from landmark_asl.training.recipe import DEFAULT_LABELS

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-label", type=int, default=60)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=REPO / "models" / "adapt_base" / "rows.npz")
    args = parser.parse_args(argv)
    parts = [load_landmarks([source], cache_dir=args.cache_dir, n_jobs=2, progress=True)[0] for source in PACKAGED_SOURCES]
    table = pd.concat(parts, ignore_index=True)
    table = table[table["detected"].astype(bool) & table["label"].isin(DEFAULT_LABELS)]
    rng = np.random.default_rng(0)
    table = table.iloc[rng.permutation(len(table))]
    table = table.groupby(["group", "label"], group_keys=False).head(args.per_label).sort_values(["group", "label"])
    X = raw_features(table).astype(np.float16)
    np.savez_compressed(args.output, X=X, label=table["label"].to_numpy(dtype=str),
                        dataset=table["dataset"].to_numpy(dtype=str), group=table["group"].to_numpy(dtype=str))
    counts = table.groupby("group").size().to_dict()
    print(f"{args.output}: {len(table)} rows {counts}, {args.output.stat().st_size / 1e6:.2f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
