"""Accuracy experiment: extra training data, model capacity and features, chosen on dev evaluations and reported on the two targets.

Decisions use only the dev columns, which never touch the target test sets:

- ``dev1``: train asl2text/train (+ extra), test asl_alphabet_64/test (other signers, camera);
- ``dev2``: train asl_alphabet_64/train (+ extra), test asl2text/train.

Reported, never used for choosing:

- ``(a)``: train asl2text/train (+ extra), test asl2text/test (target >= 98%);
- ``(b)``: train asl2text/train + asl_alphabet_64/train (+ extra), test massey letters
  (massey never in training; classes A-Z; target >= 90%).

Accuracy on detected images. Landmark tables: full-pipeline tables in ``LANDMARK_CACHE``
(default: the per-user cache, as written by ``landmark-asl compare``/``train``; newest file
per source) for asl2text, asl_alphabet_64/test and massey; the quick plain-detector table
``.cache/plain/asl64_train.parquet`` (``tools/extract_plain.py``) for asl_alphabet_64/train (no full table of its
17k images). Extra rows: the landmark CSVs (``BG`` borisgraudt, ``NJ`` nejohnson2) via
``load_landmark_csv``. Random forest / ExtraTrees / XGBoost fitted on LandmarkNormalizer
output with one thread.

A second table (``--shipped``) measures the shipped model's cross-dataset configuration:
train asl2text/train + asl2text/test + asl_alphabet_64/test (+ CSV rows), rf 50 trees,
min_samples_leaf 5, test massey letters, for seeds 0, 1, 2.

Usage::

    python experiments/exp_accuracy.py "base;+BG+NJ;et300"     # config names, see CONFIGS
    python experiments/exp_accuracy.py --shipped
"""
import argparse
import glob
import os
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

from landmark_asl.data.datasets import load_landmark_csv
from landmark_asl.estimators.features import (
    LandmarkNormalizer,
    augment_landmarks,
    canonical_points,
    hand_frame,
    raw_features,
)
from landmark_asl.estimators.trees import XGBLandmarkClassifier
from landmark_asl.paths import landmark_cache_dir

LETTERS = {chr(c) for c in range(ord("A"), ord("Z") + 1)}


def _detected(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["detected"].astype(bool)].reset_index(drop=True)


def load_tables(cache: str, quick: str) -> dict[str, pd.DataFrame]:
    """Landmark tables by short name: A_tr, A_te, S64te, Q64, M (massey letters), BG, NJ (+ *_old)."""

    def full(name: str) -> pd.DataFrame:
        files = glob.glob(os.path.join(cache, f"{name}-*.parquet"))
        if not files:
            raise SystemExit(f"no cached table {name}-*.parquet in {cache}: run `landmark-asl compare` first")
        return _detected(pd.read_parquet(max(files, key=os.path.getmtime)))

    t = {
        "A_tr": full("asl2text_train"),
        "A_te": full("asl2text_test"),
        "S64te": full("asl_alphabet_64_test"),
        "Q64": _detected(pd.read_parquet(os.path.join(quick, "asl64_train.parquet"))),
        "BG": load_landmark_csv("landmarks/borisgraudt_raw_gestures.csv"),
        "NJ": load_landmark_csv("landmarks/nejohnson2_wrist_relative.csv"),
    }
    # borisgraudt is ONE signer with more rows than all image sets: a 1,000-row sample (seeded).
    t["BG1k"] = t["BG"].sample(1000, random_state=0).reset_index(drop=True)
    massey = full("massey")
    t["M"] = massey[massey["label"].isin(LETTERS)].reset_index(drop=True)
    # Handedness as load_landmark_csv gave it before the mirrored-webcam fix.
    t["BG_old"], t["NJ_old"] = t["BG"].assign(handedness=""), t["NJ"].assign(handedness="Right")
    print("rows: " + ", ".join(f"{k} {len(v)}" for k, v in t.items()), file=sys.stderr, flush=True)
    return t


def xy(*tables: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    t = pd.concat([x.dropna(axis=1, how="all") for x in tables], ignore_index=True)
    return raw_features(t), t["label"].to_numpy()


def make(clf: str, seed: int):
    if clf == "rf50_leaf5":
        return RandomForestClassifier(50, min_samples_leaf=5, n_jobs=1, random_state=seed)
    if clf.startswith("rf"):
        n, _, leaf = clf[2:].partition("_leaf")
        return RandomForestClassifier(int(n), min_samples_leaf=int(leaf or 1), n_jobs=1, random_state=seed)
    if clf.startswith("et"):
        return ExtraTreesClassifier(int(clf[2:]), n_jobs=1, random_state=seed)
    if clf == "xgb":
        return XGBLandmarkClassifier(random_state=seed, device="cpu")
    raise KeyError(clf)


def frame_tips(X: np.ndarray) -> np.ndarray:
    """Thumb IP and the 5 tips in the palm's own 3D frame, plus 4 crossing scores; shape (n, 22)."""
    X = X.astype(np.float64)
    n = len(X)
    p, _, _ = canonical_points(X[:, :63].reshape(n, 21, 3), X[:, 126] > 0.5, "none", True)
    tips = (p @ hand_frame(p).transpose(0, 2, 1))[:, [3, 4, 8, 12, 16, 20]].reshape(n, -1)
    across = p[:, 5] - p[:, 9]  # index knuckle side of the middle knuckle: U vs crossed R
    across /= np.maximum(np.linalg.norm(across, axis=1, keepdims=True), 1e-9)
    cross = [np.einsum("nc,nc->n", p[:, a] - p[:, b], across) for a, b in ((8, 12), (12, 16), (4, 8), (4, 12))]
    return np.hstack([tips, np.stack(cross, 1)])


def accuracy(train, test, clf="rf100", norm=None, aug=0, aug_kw=None, seed=0, restrict=None) -> float:
    (X, y), (Xt, yt) = train, test
    if restrict is not None:
        keep = np.isin(y, list(restrict))
        X, y = X[keep], y[keep]
    if aug:
        X, y = augment_landmarks(X, y, n_copies=aug, random_state=seed, **(aug_kw or {}))
    norm = dict(norm or {})
    extra: Callable | None = norm.pop("extra", None)
    normalizer = LandmarkNormalizer(**norm).fit(X[:2])
    F, Ft = normalizer.transform_array(X.astype(np.float64)), normalizer.transform_array(Xt.astype(np.float64))
    if extra is not None:
        F, Ft = np.hstack([F, extra(X)]), np.hstack([Ft, extra(Xt)])
    if clf == "rf+xgb":
        a, b = make("rf100", seed).fit(F, y), make("xgb", seed).fit(F, y)
        pred = a.classes_[(a.predict_proba(Ft) + b.predict_proba(Ft)).argmax(1)]
    else:
        pred = make(clf, seed).fit(F, y).predict(Ft)
    return float((pred == yt).mean())


#: name -> (names of extra training tables, accuracy() keyword arguments)
CONFIGS: dict[str, tuple[tuple[str, ...], dict]] = {
    "base": ((), {}),
    "rf100 seed1": ((), {"seed": 1}),
    "+BG+NJ old handedness": (("BG_old", "NJ_old"), {}),
    "+BG+NJ": (("BG", "NJ"), {}),
    "+BG+NJ seed1": (("BG", "NJ"), {"seed": 1}),
    "+NJ": (("NJ",), {}),
    "+NJ seed1": (("NJ",), {"seed": 1}),
    "+BG1k+NJ": (("BG1k", "NJ"), {}),
    "+BG1k+NJ seed1": (("BG1k", "NJ"), {"seed": 1}),
    "+BG": (("BG",), {}),
    "et300": ((), {"clf": "et300"}),
    "et300 seed1": ((), {"clf": "et300", "seed": 1}),
    "rf300": ((), {"clf": "rf300"}),
    "xgb": ((), {"clf": "xgb"}),
    "rf+xgb": ((), {"clf": "rf+xgb"}),
    "rf leaf3": ((), {"clf": "rf100_leaf3"}),
    "aug x2": ((), {"aug": 2}),
    "+frame tips": ((), {"norm": {"extra": frame_tips}}),
    "et300 +frame tips": ((), {"clf": "et300", "norm": {"extra": frame_tips}}),
    "+BG+NJ et300": (("BG", "NJ"), {"clf": "et300"}),
    "+BG+NJ et300 seed1": (("BG", "NJ"), {"clf": "et300", "seed": 1}),
    "+BG+NJ et300 +frame tips": (("BG", "NJ"), {"clf": "et300", "norm": {"extra": frame_tips}}),
    "+NJ et300 +frame tips": (("NJ",), {"clf": "et300", "norm": {"extra": frame_tips}}),
}


def evaluate(t: dict[str, pd.DataFrame], name: str) -> str:
    extra_names, kw = CONFIGS[name]
    ex = [t[e] for e in extra_names]
    out = {
        "dev1": accuracy(xy(t["A_tr"], *ex), xy(t["S64te"]), **kw),
        "dev2": accuracy(xy(t["Q64"], *ex), xy(t["A_tr"]), **kw),
        "a": accuracy(xy(t["A_tr"], *ex), xy(t["A_te"]), **kw),
        "b": accuracy(xy(t["A_tr"], t["Q64"], *ex), xy(t["M"]), restrict=LETTERS, **kw),
    }
    out["dev"] = (out["dev1"] + out["dev2"]) / 2
    return f"| {name} | " + " | ".join(f"{100 * out[k]:.1f}" for k in ("dev1", "dev2", "dev", "a", "b")) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("configs", nargs="?", default="base", help="config names separated by ; or 'all'")
    parser.add_argument("--shipped", action="store_true", help="measure the shipped model's cross configuration")
    parser.add_argument("--cache", default=str(landmark_cache_dir()), help="Landmark cache (default: the per-user cache).")
    parser.add_argument("--quick", default=".cache/plain")  # written by tools/extract_plain.py
    args = parser.parse_args(argv)
    t = load_tables(args.cache, args.quick)
    if args.shipped:
        base = (t["A_tr"], t["A_te"], t["S64te"])
        rows = {"none": (), "NJ old handedness": (t["NJ_old"],), "NJ": (t["NJ"],), "NJ + BG": (t["NJ"], t["BG"])}
        print("| added rows | seed 0 | seed 1 | seed 2 |\n| --- | --- | --- | --- |")
        for name, extra in rows.items():
            accs = [accuracy(xy(*base, *extra), xy(t["M"]), clf="rf50_leaf5", seed=s, restrict=LETTERS) for s in (0, 1, 2)]
            print(f"| {name} | " + " | ".join(f"{100 * a:.1f}" for a in accs) + " |", flush=True)
        return 0
    names = list(CONFIGS) if args.configs == "all" else args.configs.split(";")
    print("| config | dev1 | dev2 | dev mean | (a) asl2text test | (b) -> massey |\n| --- | --- | --- | --- | --- | --- |")
    for name in names:
        start = time.perf_counter()
        print(evaluate(t, name), flush=True)
        print(f"  {name}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
