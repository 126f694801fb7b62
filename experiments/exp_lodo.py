"""Experiments on the leave-one-source-out protocol: candidate features, augmentation, source weighting.

Each named configuration is scored with one seed (``--seeds`` for more) on the folds of
``benchmarks/bench_lodo.py``; the raw features of every fold are computed once. Defaults are
chosen on these figures (the protocol), never on the README's target columns.

Usage::

    python experiments/exp_lodo.py base handshape stretch ... [--seeds 0] [--json OUT]
    python experiments/exp_lodo.py --list
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from landmark_asl.estimators.features import augment_landmarks, raw_features
from landmark_asl.estimators.registry import build_estimator
from landmark_asl.evaluation.lodo import add_scaled_calibration
from landmark_asl.evaluation.metrics import calibration_metrics
from landmark_asl.evaluation.protocol import APART, load_folds
from landmark_asl.training.recipe import DEFAULT_RECIPE

#: The forest part of the shipped recipe (the configurations vary the rest).
FOREST = {k: v for k, v in DEFAULT_RECIPE.params.items() if k != "handshape"}

#: name -> (normalizer/forest parameters, training-time options). Options: ``aug`` keyword
#: arguments of augment_landmarks, ``weight`` ('source': each held-in source weighs the same).
CONFIGS: dict[str, tuple[dict, dict]] = {
    "base": ({}, {}),
    "rotate3d": ({"rotate": "3d"}, {}),
    "world": ({"world": True}, {}),
    "handshape": ({"handshape": True}, {}),
    "weight": ({}, {"weight": "source"}),
    "aug_rot30": ({}, {"aug": {"n_copies": 1, "max_angle": 30.0}}),
    "aug_stretch": ({}, {"aug": {"n_copies": 1, "max_angle": 15.0, "stretch": 0.3}}),
    "aug_rot45_stretch": ({}, {"aug": {"n_copies": 1, "max_angle": 45.0, "stretch": 0.3}}),
    "handshape_stretch": ({"handshape": True}, {"aug": {"n_copies": 1, "max_angle": 15.0, "stretch": 0.3}}),
    "handshape_weight": ({"handshape": True}, {"weight": "source"}),
    "hs_stretch_weight": ({"handshape": True}, {"weight": "source", "aug": {"n_copies": 1, "max_angle": 15.0, "stretch": 0.3}}),
    "hs_stretch_weight_rot30": ({"handshape": True}, {"weight": "source", "aug": {"n_copies": 1, "max_angle": 30.0, "stretch": 0.3}}),
    "hs_stretch50_weight": ({"handshape": True}, {"weight": "source", "aug": {"n_copies": 1, "max_angle": 15.0, "stretch": 0.5}}),
    "hs_world_stretch_weight": ({"handshape": True, "world": True}, {"weight": "source", "aug": {"n_copies": 1, "max_angle": 15.0, "stretch": 0.3}}),
}


def fit_predict(train_X, train_y, train_src, test_X, *, params: dict, options: dict, seed: int, n_jobs: int):
    estimator = build_estimator("rf", random_state=seed, n_jobs=n_jobs, params={**FOREST, **params})
    X, y, src = train_X, train_y, train_src
    if "aug" in options:
        n_copies = options["aug"].get("n_copies", 1)
        X, y = augment_landmarks(X, y, random_state=seed, **options["aug"])
        src = np.tile(src, 1 + n_copies)
    weight = None
    if options.get("weight") == "source":
        names, inverse, counts = np.unique(src, return_inverse=True, return_counts=True)
        weight = (len(src) / (len(names) * counts))[inverse]
    estimator.fit(X, y, clf__sample_weight=weight)
    return estimator, estimator.predict_proba(test_X)


def run(config: str, rows, X, seeds, n_jobs) -> list[dict]:
    params, options = CONFIGS[config]
    y = rows["label"].to_numpy(dtype=object)
    folds = rows["fold"].to_numpy(dtype=object)
    # Source weighting treats massey as one source (its five signers together).
    sources = np.array([f.split("/")[0] if f.startswith("massey") else f for f in folds], dtype=object)
    out = []
    classes_all = sorted(set(y))
    oof = {seed: np.zeros((len(y), len(classes_all))) for seed in seeds}
    for fold in sorted(set(folds)):
        test = folds == fold
        for seed in seeds:
            start = time.perf_counter()
            estimator, proba = fit_predict(X[~test], y[~test], sources[~test], X[test],
                                           params=params, options=options, seed=seed, n_jobs=n_jobs)
            classes = list(estimator.classes_)
            predicted = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
            cal = calibration_metrics(y[test], proba, classes)
            oof[seed][np.ix_(test, [classes_all.index(c) for c in classes])] = proba
            out.append({"config": config, "fold": fold, "seed": seed, "n_test": int(test.sum()),
                        "accuracy": float((predicted == y[test]).mean()), "ece": cal["ece"],
                        "median_confidence_correct": cal["median_confidence_correct"],
                        "seconds": time.perf_counter() - start})
            print(f"  {config} {fold} seed {seed}: {out[-1]['accuracy']:.1%} ({out[-1]['seconds']:.0f} s)", file=sys.stderr)
    add_scaled_calibration(out, oof, folds, y, np.ones(len(y), dtype=bool), classes_all, APART)
    return out


def summary_line(config: str, results: list[dict]) -> str:
    main = [r for r in results if r["fold"] not in APART]
    folds = sorted({r["fold"] for r in main})
    acc = {f: np.mean([r["accuracy"] for r in main if r["fold"] == f]) for f in folds}
    apart = [r["accuracy"] for r in results if r["fold"] in APART]
    cells = " | ".join(f"{acc[f]:.1%}" for f in folds)
    ece = np.mean([r["ece"] for r in main])
    ece_t = np.mean([r["ece_scaled"] for r in main])
    conf_t = np.mean([r["median_confidence_correct_scaled"] for r in main])
    temp = np.mean([r["temperature"] for r in main])
    return (f"| {config} | {np.mean(list(acc.values())):.1%} | {min(acc.values()):.1%} | {cells} | "
            f"{np.mean(apart) if apart else float('nan'):.1%} | {ece:.3f} | {ece_t:.3f} (T={temp:.2f}) | {conf_t:.2f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", default=["base"])
    parser.add_argument("--list", action="store_true", help="List the configurations and exit.")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--cache-dir", default=None, help="Landmark cache (default: the per-user cache).")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.list:
        for name, (params, options) in CONFIGS.items():
            print(f"{name}: {params} {options}")
        return 0
    unknown = [c for c in args.configs if c not in CONFIGS]
    if unknown:
        parser.error(f"unknown configuration(s) {unknown}; --list shows them")
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = load_folds(args.cache_dir, args.n_jobs)
    X = raw_features(rows)
    results = []
    for config in args.configs:
        results += run(config, rows, X, seeds, args.n_jobs)
    folds = sorted({r["fold"] for r in results if r["fold"] not in APART})
    print(f"| configuration | mean | worst | {' | '.join(folds)} | asl_alphabet_64/test (apart) | ECE | ECE scaled | median conf. right, scaled |")
    print("| --- |" + " ---: |" * (len(folds) + 6))
    for config in args.configs:
        print(summary_line(config, [r for r in results if r["config"] == config]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
