"""The forest and the network blended, scored on a source neither was trained on, letter G apart.

The dev protocol's massey folds keep the other massey signers in training, so it cannot see what a
model does for a camera and room it never saw. This check trains the forest (the shipped recipe)
and the network (``mlp``, the same recipe, 30 epochs) on every protocol source but one, the network
optionally without the apart fold's 64x64 photos (``--network-without-apart``), and scores their
blends on the held-out source's photos with a hand (one estimate a photo, no calibration, seed 0):
accuracy, and how its G photos are read (asl2text and massey show G from the thumb side).

Usage::

    python experiments/exp_cross_blend.py [--held asl2text,massey] [--weights 0,0.2,0.3,1]
        [--network-without-apart] [--cache-dir DIR]

Figures: docs/experiments.md (2026-12-07).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from landmark_asl.evaluation.protocol import APART, load_table
from landmark_asl.training.recipe import DEFAULT_RECIPE, Recipe
from landmark_asl.training.train import fit_estimator, model_inputs

RECIPE = DEFAULT_RECIPE.training_kwargs()
NETWORK = {"handshape": True, "epochs": 30}


def _fit(name: str, rows, params: dict):
    recipe = Recipe(model_name=name, params=params, balance=RECIPE["balance"], augment=RECIPE["augment"],
                    calibrate=False)
    return fit_estimator(recipe, rows, random_state=0, n_jobs=2)[0]


def _proba(estimator, name: str, rows, classes: list[str]) -> np.ndarray:
    """Probabilities in the columns ``classes`` (a class the model never saw: 0)."""
    proba = estimator.predict_proba(model_inputs(name, estimator, rows))
    own = [str(c) for c in estimator.classes_]
    return np.stack([proba[:, own.index(c)] if c in own else np.zeros(len(rows)) for c in classes], axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--held", default="asl2text,massey", help="Comma-separated datasets, each held out in turn.")
    parser.add_argument("--weights", default="0,0.2,0.3,1", help="The network's shares (0: the forest alone).")
    parser.add_argument("--network-without-apart", action="store_true",
                        help="Train the network without the apart fold's photos (the forest keeps them).")
    parser.add_argument("--cache-dir", default=None, help="Landmark cache (default: the per-user cache).")
    args = parser.parse_args(argv)
    try:
        weights = [float(w) for w in args.weights.split(",")]
    except ValueError:
        parser.error(f"--weights: expected comma-separated numbers, got {args.weights!r}")
    if any(not 0.0 <= w <= 1.0 for w in weights):
        parser.error("--weights: each share must lie in [0, 1]")
    table = load_table(args.cache_dir, 2)
    table = table[table["detected"].astype(bool)].reset_index(drop=True)
    datasets = table["dataset"].astype(str).to_numpy()
    unknown = [d for d in args.held.split(",") if d not in set(datasets)]
    if unknown:
        parser.error(f"--held: no protocol rows of {unknown[0]!r}; expected one of {', '.join(sorted(set(datasets)))}")
    apart = table["group"].astype(str).isin(list(APART)).to_numpy()
    print("| held out | network's share | accuracy (photos with a hand) | G read as G | G read as Q | G read as Z |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for held in args.held.split(","):
        test = datasets == held
        forest = _fit("rf", table[~test], RECIPE["params"])
        network = _fit("mlp", table[~test & ~apart] if args.network_without_apart else table[~test], NETWORK)
        classes = [str(c) for c in forest.classes_]
        rows = table[test]
        truth = rows["label"].astype(str).to_numpy()
        f, n = _proba(forest, "rf", rows, classes), _proba(network, "mlp", rows, classes)
        g = truth == "G"
        for w in weights:
            predicted = np.asarray(classes)[((1 - w) * f + w * n).argmax(axis=1)]
            print(f"| {held} | {w:g} | {np.mean(predicted == truth):.1%} | {np.sum(predicted[g] == 'G')}/{g.sum()} | "
                  f"{np.sum(predicted[g] == 'Q')} | {np.sum(predicted[g] == 'Z')} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
