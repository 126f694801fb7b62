"""Feature experiment: which landmark normalisation and descriptors carry across datasets and signers.

Reads plain-detector landmark tables (``--tables``, default .cache/plain, written by tools/extract_plain.py) with columns
path, dataset, label, group, detected, handedness, x0..z20, wx0..wz20 and prints a Markdown
table of accuracy on detected images, one row per feature variant, one column per evaluation:

- ``asl2text``: train asl2text/train, test asl2text/test (another recording session);
- ``->massey``: train asl2text/train + asl_alphabet_64 (train, else test), test massey
  letters; classes restricted to those the test set has (massey never in training);
- ``->massey static``: the same without the motion letters J and Z (24 classes);
- ``massey LOSO``: leave-one-signer-out inside massey (hand1..hand5), mean over signers.

Usage::

    python experiments/exp_features.py --model rf --n-estimators 100 [--variants 'raw;tip distances only (default)']
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from landmark_asl.estimators.features import augment_landmarks, raw_features
from landmark_asl.estimators.registry import make_estimator

LETTERS = [chr(c) for c in range(ord("A"), ord("Z") + 1)]

#: name -> (LandmarkNormalizer params or "raw", augmentation copies)
VARIANTS: dict[str, tuple[dict | str, int]] = {
    "raw": ("raw", 0),
    "coords (wrist, scale, mirror)": (
        {"rotate": "none", "distances": "none", "angles": False, "orientation": False, "finger_directions": False},
        0,
    ),
    "+ rotation": ({"distances": "none", "angles": False, "orientation": False, "finger_directions": False}, 0),
    "+ distances (all pairs)": ({"distances": "all", "angles": False, "orientation": False, "finger_directions": False}, 0),
    "+ angles": ({"distances": "all", "orientation": False, "finger_directions": False}, 0),
    "+ orientation": ({"distances": "all", "finger_directions": False}, 0),
    "+ finger directions": ({"distances": "all"}, 0),
    "tip distances only (default)": ({}, 0),
    # Alternatives measured on the "+ orientation" base (all distances, no finger directions):
    "orientation base, tip distances": ({"finger_directions": False}, 0),
    "orientation base, 3D hand frame": ({"distances": "all", "finger_directions": False, "rotate": "3d"}, 0),
    "orientation base + world": ({"distances": "all", "finger_directions": False, "world": True}, 0),
    "orientation base + augmentation x2": ({"distances": "all", "finger_directions": False}, 2),
    "orientation base, no mirroring": ({"distances": "all", "finger_directions": False, "mirror": False}, 0),
    "orientation base, invariants only": ({"distances": "all", "finger_directions": False, "coords": False}, 0),
    "default, no mirroring": ({"mirror": False}, 0),
    "default + world": ({"world": True}, 0),
    "invariants only (no coords)": ({"coords": False}, 0),
    "default, 3D hand frame": ({"rotate": "3d"}, 0),
    "default + augmentation x2": ({}, 2),
}


def load(tables: Path, name: str) -> pd.DataFrame | None:
    path = tables / f"{name}.parquet"
    if not path.is_file():
        return None
    table = pd.read_parquet(path)
    return table[table["detected"].astype(bool)].reset_index(drop=True)


def build(model: str, params: dict | str, n_estimators: int, seed: int):
    if params == "raw":
        raw = FunctionTransformer(lambda X: np.asarray(X)[:, :63])
        estimator = make_estimator(model, n_estimators=n_estimators, random_state=seed)
        return Pipeline([("raw", raw), ("clf", estimator.named_steps["clf"])])
    extra = {"device": "cpu"} if model == "xgb" else {}
    return make_estimator(model, n_estimators=n_estimators, random_state=seed, **params, **extra)


def accuracy(model: str, variant: tuple, train: pd.DataFrame, test: pd.DataFrame, args) -> float:
    params, copies = variant
    X, y = raw_features(train), train["label"].to_numpy()
    if copies:
        X, y = augment_landmarks(X, y, n_copies=copies, random_state=args.seed)
    estimator = build(model, params, args.n_estimators, args.seed).fit(X, y)
    return float((estimator.predict(raw_features(test)) == test["label"].to_numpy()).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", type=Path, default=Path(".cache/plain"))  # tools/extract_plain.py
    parser.add_argument("--model", default="rf", choices=["rf", "xgb"])
    parser.add_argument("--n-estimators", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", default="all", help="variant names separated by ; or 'all'")
    parser.add_argument("--evals", default="asl2text,->massey,->massey static,massey LOSO")
    args = parser.parse_args(argv)

    a_train, a_test = load(args.tables, "asl2text_train"), load(args.tables, "asl2text_test")
    massey = load(args.tables, "massey")
    asl64 = load(args.tables, "asl64_train")
    asl64_name = "asl64_train"
    if asl64 is None:
        asl64, asl64_name = load(args.tables, "asl64_test"), "asl64_test"
    m_letters = massey[massey["label"].isin(LETTERS)]
    cross_train = pd.concat([a_train, asl64])
    cross_train = cross_train[cross_train["label"].isin(set(m_letters["label"]))]
    # J and Z are motion letters: their single frames differ most between datasets.
    m_static = m_letters[~m_letters["label"].isin(["J", "Z"])]
    static_train = cross_train[cross_train["label"].isin(set(m_static["label"]))]
    print(
        f"detected rows: asl2text train {len(a_train)}, test {len(a_test)}; {asl64_name} {len(asl64)}; "
        f"massey {len(massey)} ({len(m_letters)} letters); model {args.model}, n_estimators {args.n_estimators}",
        file=sys.stderr,
    )
    evals = {
        "asl2text": lambda v: accuracy(args.model, v, a_train, a_test, args),
        "->massey": lambda v: accuracy(args.model, v, cross_train, m_letters, args),
        "->massey static": lambda v: accuracy(args.model, v, static_train, m_static, args),
        "massey LOSO": lambda v: float(
            np.mean(
                [
                    accuracy(args.model, v, massey[massey["group"] != g], massey[massey["group"] == g], args)
                    for g in sorted(massey["group"].unique())
                ]
            )
        ),
    }
    chosen = [e for e in args.evals.split(",") if e]
    names = list(VARIANTS) if args.variants == "all" else args.variants.split(";")
    print(f"| variant ({args.model}) | " + " | ".join(chosen) + " |")
    print("| --- |" + " --- |" * len(chosen))
    for name in names:
        start = time.perf_counter()
        cells = [f"{100 * evals[e](VARIANTS[name]):.1f}" for e in chosen]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
        print(f"  {name}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
