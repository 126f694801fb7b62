"""Pointing gates (letters told apart by where the index points), measured three ways.

- ``angles``: how far below level the index points, per letter and source (median and 5-95%), on
  the protocol's rows with a hand: which pairs a gate can tell apart.
- ``search``: the shipped gates (``pointing.DEFAULT_GATES``) plus one more pair at a time, on the
  stored protocol runs of ``exp_newsigner.py run --candidate base`` (no fit: each fold's gates are
  fitted on the other folds' rows, every view gated, as ``report ...+gq`` does); prints the mean,
  the worst fold, the named groups' and some letters' errors a seed.
- ``cross``: the shipped recipe fitted without one source (seed 0, one estimate a photo, no
  calibration) and scored on it with no gate, the G/Q gate, and both gates, each pair's second gate
  form too: the check the protocol cannot make (a source never trained on).

Usage::

    python experiments/exp_pointing_gates.py angles [--letters G,Q,K,P,H]
    python experiments/exp_pointing_gates.py search --pairs D/Z,G/Z,P/Z [--seeds 0,1,2] [--mode odds]
    python experiments/exp_pointing_gates.py cross [--held asl2text,massey]

Figures: docs/experiments.md (2026-12-07, "G or Q by where the index points", "K or P by where
the index points too").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from landmark_asl.estimators.features import raw_features
from landmark_asl.estimators.pointing import DEFAULT_GATES, MODES, apply_gates, fit_gates, index_pointing
from landmark_asl.evaluation.protocol import APART, load_table

#: Letters whose errors ``search`` prints beside the named groups.
LETTERS = ("D", "G", "K", "P", "Q", "X", "Z")


def angle_table(table: pd.DataFrame, letters: list[str]) -> pd.DataFrame:
    """Degrees below level the index points: median (5% to 95%) per letter (rows) and dataset (columns)."""
    rows = table[table["detected"].astype(bool) & table["label"].isin(letters)]
    degrees = pd.Series(index_pointing(raw_features(rows)), index=rows.index)

    def cell(values: pd.Series) -> str:
        low, mid, high = np.percentile(values, [5, 50, 95])
        return f"{mid:.0f} ({low:.0f} to {high:.0f})"

    out = degrees.groupby([rows["label"], rows["dataset"]]).apply(cell).unstack(fill_value="-")
    return out.reindex([letter for letter in letters if letter in out.index])


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """``'D/Z,G/Z'`` -> ``[('D', 'Z'), ('G', 'Z')]``; anything else is a usage error."""
    pairs = []
    for item in text.split(","):
        parts = item.strip().split("/")
        if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
            raise SystemExit(f"--pairs: expected comma-separated pairs like D/Z, got {item!r}")
        pairs.append((parts[0], parts[1]))
    return pairs


def search(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from exp_newsigner import combine, load_run, pointing_gated

    from landmark_asl.evaluation.lodo import score_predictions

    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        raise SystemExit(f"--seeds: expected comma-separated whole numbers, got {args.seeds!r}") from None
    pairs = parse_pairs(args.pairs)
    table = load_table(args.cache_dir, 2).reset_index(drop=True)
    runs = {}
    for seed in seeds:
        path = Path("out/newsigner") / f"base_s{seed}.npz"
        if not path.is_file():
            raise SystemExit(f"{path} is missing: run `python experiments/exp_newsigner.py run --candidate base "
                             f"--seeds {seed}` first")
        runs[seed] = dict(load_run(path))
    classes = [str(c) for c in runs[seeds[0]]["classes"]]
    print("| gates | mean | worst | " + " | ".join(LETTERS) + " | named groups' errors a seed |")
    print("| --- | ---: | ---: | " + " | ".join("---:" for _ in LETTERS) + " | --- |")
    for extra in [None, *pairs]:
        spec = list(DEFAULT_GATES) + ([(extra, args.mode)] if extra else [])
        oof = {seed: combine(pointing_gated(data, table, classes, spec), "rf+mirror+crop+zoom_out+below0.7", seed,
                             classes, table) for seed, data in runs.items()}
        s = score_predictions(table, oof, classes, apart=APART)["summary"]
        letters = s["errors"]["letters"]
        groups = ", ".join(f"{k} {v['errors']:.1f}" for k, v in s["errors"]["groups"].items())
        name = "shipped" if extra is None else f"shipped + {'/'.join(extra)} ({args.mode})"
        print(f"| {name} | {s['mean_accuracy']:.2%} | {s['worst_accuracy']:.1%} | "
              + " | ".join(f"{letters[k]['errors']:.1f}" if k in letters else "-" for k in LETTERS)
              + f" | {groups} |", flush=True)


def cross(args: argparse.Namespace) -> None:
    from landmark_asl.training.recipe import DEFAULT_RECIPE
    from landmark_asl.training.train import fit_estimator

    table = load_table(args.cache_dir, 2)
    table = table[table["detected"].astype(bool)].reset_index(drop=True)
    X = raw_features(table)
    labels = table["label"].astype(str).to_numpy()
    datasets = table["dataset"].astype(str).to_numpy()
    recipe = DEFAULT_RECIPE.replace(calibrate=False)
    print("| held out | gates | accuracy | G | K | P | Q |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for held in args.held.split(","):
        test = datasets == held
        if not test.any():
            raise SystemExit(f"--held: no protocol rows of {held!r}")
        forest = fit_estimator(recipe, table[~test], random_state=0, n_jobs=2)[0]
        classes = [str(c) for c in forest.classes_]
        proba = forest.predict_proba(X[test])
        forms = {"none": []}
        for k in range(1, len(DEFAULT_GATES) + 1):
            spec = list(DEFAULT_GATES[:k])
            forms[" + ".join(f"{'/'.join(p)} {m}" for p, m in spec)] = spec
            other = [m for m in MODES if m != spec[-1][1]][0]
            forms[" + ".join(f"{'/'.join(p)} {m}" for p, m in spec[:-1] + [(spec[-1][0], other)])] = (
                spec[:-1] + [(spec[-1][0], other)])
        for name, spec in forms.items():
            gates = fit_gates(X[~test], labels[~test], datasets[~test], spec)
            out = apply_gates(gates, proba, X[test], classes) if gates else proba
            predicted = np.asarray(classes)[out.argmax(axis=1)]
            truth = labels[test]
            cells = " | ".join(f"{np.sum(predicted[truth == c] == c)}/{np.sum(truth == c)}" for c in "GKPQ")
            print(f"| {held} | {name} | {np.mean(predicted == truth):.2%} | {cells} |", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", default=None, help="Landmark cache (default: the per-user cache).")
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("angles", help="Where the index points, per letter and source.")
    a.add_argument("--letters", default="G,Q,K,P,H,D,Z,X")
    s = sub.add_parser("search", help="The shipped gates plus one more pair at a time, on stored runs.")
    s.add_argument("--pairs", required=True, help="Comma-separated pairs, e.g. D/Z,G/Z.")
    s.add_argument("--seeds", default="0,1,2")
    s.add_argument("--mode", default="odds", choices=MODES)
    c = sub.add_parser("cross", help="Sources never trained on, with and without the gates.")
    c.add_argument("--held", default="asl2text,massey")
    args = parser.parse_args(argv)
    if args.command == "angles":
        table = load_table(args.cache_dir, 2)
        out = angle_table(table, [x.strip() for x in args.letters.split(",") if x.strip()])
        print("| letter | " + " | ".join(out.columns) + " |")
        print("| --- | " + " | ".join("---:" for _ in out.columns) + " |")
        for letter, row in out.iterrows():
            print(f"| {letter} | " + " | ".join(row) + " |")
    elif args.command == "search":
        search(args)
    else:
        cross(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

