"""Pointing gates (letters told apart by where the index points), measured three ways, and other cues.

- ``angles``: how far below level the index points (or another ``--cue``), per letter and
  source (median and 5-95%), on the protocol's rows with a hand: which pairs a gate can tell apart.
- ``search``: the shipped gates (``pointing.DEFAULT_GATES``) plus one more pair at a time, on the
  stored protocol runs of ``exp_newsigner.py run --candidate base`` (no fit: each fold's gates are
  fitted on the other folds' rows, every view gated, as ``report ...+gq`` does); prints the mean,
  the worst fold, the named groups' and some letters' errors a seed. ``--cue`` makes the added
  gate read another number than where the index points (:data:`CUES`: how far the index bends,
  whether the index and middle fingers cross, the gap between thumb and index tips).
- ``cross``: the shipped recipe fitted without one source (seed 0, one estimate a photo, no
  calibration) and scored on it with no gate, the G/Q gate, and both gates, each pair's second gate
  form too: the check the protocol cannot make (a source never trained on).
- ``within``: the shipped recipe's forest fitted and scored within each source on its rows of
  ``--letters`` (five folds in table order): whether a source's letters differ at all in its own
  landmarks (an upper bound: neighbouring video frames are near-duplicates).
- ``prior``: one letter's probability scaled by each of ``--weights`` (then renormalised) before
  the views and the gates, on the same stored runs: the mean, the worst fold, the groups, the
  letter's own recall and the per-letter recall (every letter alike), and the apart fold's errors
  into and out of the letter. The still Z absorbs pointing hands of signers who sign no Z.

Usage::

    python experiments/exp_pointing_gates.py angles [--letters G,Q,K,P,H] [--cue curl]
    python experiments/exp_pointing_gates.py search --pairs D/Z,G/Z,P/Z [--seeds 0,1,2] [--mode odds] [--cue curl]
    python experiments/exp_pointing_gates.py cross [--held asl2text,massey]
    python experiments/exp_pointing_gates.py prior [--letter Z] [--weights 1,0.7,0.5,0.35]
    python experiments/exp_pointing_gates.py within [--letters X,Z]

Figures: docs/experiments.md (2026-12-07, "G or Q by where the index points", "K or P by where
the index points too", "Other cues, and a smaller still Z").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from landmark_asl.estimators.features import raw_features
from landmark_asl.estimators.pointing import DEFAULT_GATES, MODES, PointingGate, apply_gates, fit_gates, index_pointing
from landmark_asl.evaluation.protocol import APART, load_table

#: Letters whose errors ``search`` prints beside the named groups.
LETTERS = ("C", "D", "G", "K", "O", "P", "Q", "R", "U", "X", "Z")


def _points(X: np.ndarray, *indices: int) -> list[np.ndarray]:
    """Landmarks ``indices`` of raw rows as (n, 3) arrays of image coordinates (y, z in x's unit)."""
    X = np.asarray(X, dtype=np.float64)
    return [X[:, 3 * i:3 * i + 3] for i in indices]


def index_curl(X: np.ndarray) -> np.ndarray:
    """How far the index bends at its two upper joints (PIP and DIP), in degrees, summed (0: straight;
    an X's hook is 90 or more)."""
    mcp, pip, dip, tip = _points(X, 5, 6, 7, 8)

    def bend(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        u, v = b - a, c - b
        cos = np.sum(u * v, axis=1) / (np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1))
        return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))

    return bend(mcp, pip, dip) + bend(pip, dip, tip)


def finger_crossing(X: np.ndarray) -> np.ndarray:
    """The index tip's side of the middle tip, in knuckle spacings, signed so that the knuckles' own
    order is positive: near 1 for U (side by side), below 0 where the fingers cross (R)."""
    index_mcp, middle_mcp, index_tip, middle_tip = _points(X, 5, 9, 8, 12)
    knuckles = index_mcp[:, 0] - middle_mcp[:, 0]
    spacing = np.linalg.norm(index_mcp[:, :2] - middle_mcp[:, :2], axis=1)
    return (index_tip[:, 0] - middle_tip[:, 0]) * np.sign(knuckles) / spacing


def thumb_gap(X: np.ndarray) -> np.ndarray:
    """Thumb tip to index tip over wrist to middle knuckle: near 0 for O (touching), near 1 for C."""
    wrist, middle_mcp, thumb_tip, index_tip = _points(X, 0, 9, 4, 8)
    return np.linalg.norm(thumb_tip - index_tip, axis=1) / np.linalg.norm(middle_mcp - wrist, axis=1)


#: The numbers a gate can read: name -> (function of raw rows, unit in the fitted regression, what
#: it is). ``pointing`` is the shipped gates' cue.
CUES = {
    "pointing": (index_pointing, 30.0, "degrees below level the index points"),
    "curl": (index_curl, 30.0, "degrees the index bends at its upper joints"),
    "cross": (finger_crossing, 1.0, "index tip's side of the middle tip, in knuckle spacings"),
    "pinch": (thumb_gap, 1.0, "thumb tip to index tip over the palm's length"),
}


def gate_class(cue: str) -> type[PointingGate]:
    """A :class:`PointingGate` that reads ``cue`` (one of :data:`CUES`)."""
    if cue not in CUES:
        raise SystemExit(f"--cue: expected one of {', '.join(CUES)}, got {cue!r}")
    function, scale, _ = CUES[cue]
    if cue == "pointing":
        return PointingGate
    return type(f"{cue.title()}Gate", (PointingGate,), {"cue": staticmethod(function), "cue_scale": scale})


def angle_table(table: pd.DataFrame, letters: list[str], cue: str = "pointing") -> pd.DataFrame:
    """A cue (:data:`CUES`; default: degrees below level the index points): median (5% to 95%) per
    letter (rows) and dataset (columns)."""
    rows = table[table["detected"].astype(bool) & table["label"].isin(letters)]
    degrees = pd.Series(CUES[cue][0](raw_features(rows)), index=rows.index)

    digits = 0 if CUES[cue][1] >= 10 else 2

    def cell(values: pd.Series) -> str:
        low, mid, high = np.nanpercentile(values, [5, 50, 95])
        return f"{mid:.{digits}f} ({low:.{digits}f} to {high:.{digits}f})"

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


def parse_seeds(text: str) -> list[int]:
    """``'0,1,2'`` -> ``[0, 1, 2]``; anything else is a usage error."""
    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise SystemExit(f"--seeds: expected comma-separated whole numbers, got {text!r}") from None


def base_runs(seeds: list[int]) -> dict[int, dict[str, np.ndarray]]:
    """The stored protocol runs of the shipped recipe, one per seed (``out/newsigner/base_s<seed>.npz``)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from exp_newsigner import load_run

    runs = {}
    for seed in seeds:
        path = Path("out/newsigner") / f"base_s{seed}.npz"
        if not path.is_file():
            raise SystemExit(f"{path} is missing: run `python experiments/exp_newsigner.py run --candidate base "
                             f"--seeds {seed}` first")
        runs[seed] = dict(load_run(path))
    return runs


def search(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from exp_newsigner import combine, pointing_gated

    from landmark_asl.evaluation.lodo import score_predictions

    seeds = parse_seeds(args.seeds)
    pairs = parse_pairs(args.pairs)
    kind = gate_class(args.cue)
    table = load_table(args.cache_dir, 2).reset_index(drop=True)
    runs = base_runs(seeds)
    classes = [str(c) for c in runs[seeds[0]]["classes"]]
    print("| gates | mean | worst | " + " | ".join(LETTERS) + " | named groups' errors a seed |")
    print("| --- | ---: | ---: | " + " | ".join("---:" for _ in LETTERS) + " | --- |")
    for extra in [None, *pairs]:
        spec = list(DEFAULT_GATES) + ([(extra, args.mode, kind)] if extra else [])
        oof = {seed: combine(pointing_gated(data, table, classes, spec), "rf+mirror+crop+zoom_out+below0.7", seed,
                             classes, table) for seed, data in runs.items()}
        s = score_predictions(table, oof, classes, apart=APART)["summary"]
        letters = s["errors"]["letters"]
        groups = ", ".join(f"{k} {v['errors']:.1f}" for k, v in s["errors"]["groups"].items())
        name = "shipped" if extra is None else f"shipped + {'/'.join(extra)} ({args.mode}, {args.cue})"
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


def scaled(data: dict[str, np.ndarray], classes: list[str], letter: str, weight: float) -> dict[str, np.ndarray]:
    """Every stored probability array (model|view|seed) with ``letter``'s column times ``weight``, each
    row renormalised (rows without an estimate stay NaN)."""
    column = classes.index(letter)
    out = dict(data)
    for key, proba in data.items():
        if key.count("|") != 2:
            continue
        proba = np.array(proba, dtype=np.float64, copy=True)
        proba[:, column] *= weight
        with np.errstate(invalid="ignore", divide="ignore"):
            out[key] = proba / proba.sum(axis=1, keepdims=True)
    return out


def prior(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from exp_newsigner import combine, pointing_gated

    from landmark_asl.evaluation.lodo import score_predictions

    seeds = parse_seeds(args.seeds)
    try:
        weights = [float(w) for w in args.weights.split(",")]
    except ValueError:
        raise SystemExit(f"--weights: expected comma-separated numbers, got {args.weights!r}") from None
    if not all(0 < w <= 10 for w in weights):
        raise SystemExit(f"--weights: each must be above 0 and at most 10, got {args.weights!r}")
    runs = base_runs(seeds)
    classes = [str(c) for c in runs[seeds[0]]["classes"]]
    if args.letter not in classes:
        raise SystemExit(f"--letter: {args.letter!r} is not a class of the stored runs")
    table = load_table(args.cache_dir, 2).reset_index(drop=True)
    letter = args.letter
    print(f"| weight of {letter} | mean | worst | {letter} recall | per-letter recall | named groups' errors a seed "
          f"| apart fold: into {letter} / out of {letter}, a seed |")
    print("| ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    details: list[str] = []
    for weight in weights:
        oof = {seed: combine(pointing_gated(scaled(data, classes, letter, weight), table, classes),
                             "rf+mirror+crop+zoom_out+below0.7", seed, classes, table) for seed, data in runs.items()}
        result = score_predictions(table, oof, classes, apart=APART)
        s = result["summary"]
        # Each letter's recall, pooled over the folds of the mean (the summary's per-letter error rates).
        recalls = {letter: 1.0 - e["rate"] for letter, e in s["errors"]["letters"].items()}
        groups = ", ".join(f"{k} {v['errors']:.1f}" for k, v in s["errors"]["groups"].items())
        into = out = 0
        moved: dict[str, float] = {}  # the confusions into and out of the letter, a seed, every fold
        for run in result["runs"]:
            for pair, n in run.get("confusions", {}).items():
                truth, predicted = pair.split(">")
                if letter in (truth, predicted):
                    key = f"{run['fold']} {truth}->{predicted}"
                    moved[key] = moved.get(key, 0.0) + n / len(seeds)
                if run["fold"] in APART:
                    into += n * (predicted == letter)
                    out += n * (truth == letter)
        if args.folds:
            details.append(f"- weight {weight:g}: " + ", ".join(
                f"{r['fold']} {r['accuracy_detected']:.1%}" for r in s["per_fold"]) + "; most often: " + ", ".join(
                f"{k} {v:.1f}" for k, v in sorted(moved.items(), key=lambda item: -item[1])[:12]))
        print(f"| {weight:g} | {s['mean_accuracy']:.2%} | {s['worst_accuracy']:.1%} | {recalls.get(letter, np.nan):.1%} "
              f"| {np.mean(list(recalls.values())):.2%} | {groups} | {into / len(seeds):.1f} / {out / len(seeds):.1f} |",
              flush=True)
    if details:
        print("\nPer fold, and the confusions into or out of the letter a seed:\n" + "\n".join(details))


def within(args: argparse.Namespace) -> None:
    """Can a forest tell the letters apart within one source? Five folds of each source's rows, in
    table order (so neighbouring frames mostly share a fold; near-duplicate frames still make this
    an upper bound)."""
    from sklearn.model_selection import KFold

    from landmark_asl.training.recipe import DEFAULT_RECIPE
    from landmark_asl.training.train import fit_estimator

    letters = [x.strip() for x in args.letters.split(",") if x.strip()]
    if len(letters) < 2:
        raise SystemExit(f"--letters: expected two or more comma-separated letters, got {args.letters!r}")
    table = load_table(args.cache_dir, 2)
    table = table[table["detected"].astype(bool) & table["label"].isin(letters)].reset_index(drop=True)
    recipe = DEFAULT_RECIPE.replace(calibrate=False, pointing=False)
    print(f"| source | rows ({', '.join(letters)}) | read right, 5 folds within the source | most frequent errors |")
    print("| --- | ---: | ---: | --- |")
    for dataset in sorted(table["dataset"].astype(str).unique()):
        rows = table[table["dataset"].astype(str) == dataset].reset_index(drop=True)
        if rows["label"].nunique() < 2:
            continue
        predicted = np.empty(len(rows), dtype=object)
        for train, test in KFold(5).split(rows):
            forest = fit_estimator(recipe, rows.iloc[train], random_state=0, n_jobs=2)[0]
            predicted[test] = forest.classes_[forest.predict_proba(raw_features(rows.iloc[test])).argmax(axis=1)]
        truth = rows["label"].astype(str).to_numpy()
        wrong = pd.Series([f"{t}->{p}" for t, p in zip(truth, predicted) if t != p]).value_counts().head(3)
        counts = ", ".join(str(int((truth == letter).sum())) for letter in letters)
        print(f"| {dataset} | {counts} | {np.mean(predicted == truth):.1%} | "
              + (", ".join(f"{k} {v}" for k, v in wrong.items()) or "none") + " |", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", default=None, help="Landmark cache (default: the per-user cache).")
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("angles", help="Where the index points, per letter and source.")
    a.add_argument("--letters", default="G,Q,K,P,H,D,Z,X")
    a.add_argument("--cue", default="pointing", choices=list(CUES))
    s = sub.add_parser("search", help="The shipped gates plus one more pair at a time, on stored runs.")
    s.add_argument("--pairs", required=True, help="Comma-separated pairs, e.g. D/Z,G/Z.")
    s.add_argument("--seeds", default="0,1,2")
    s.add_argument("--mode", default="odds", choices=MODES)
    s.add_argument("--cue", default="pointing", choices=list(CUES), help="What the added gate reads.")
    c = sub.add_parser("cross", help="Sources never trained on, with and without the gates.")
    c.add_argument("--held", default="asl2text,massey")
    w = sub.add_parser("prior", help="One letter's probability scaled, on stored runs.")
    w.add_argument("--letter", default="Z")
    w.add_argument("--weights", default="1,0.7,0.5,0.35")
    w.add_argument("--seeds", default="0,1,2")
    w.add_argument("--folds", action="store_true", help="Each fold's accuracy and the letter's confusions too.")
    n = sub.add_parser("within", help="The letters told apart within each source (five folds).")
    n.add_argument("--letters", default="X,Z")
    args = parser.parse_args(argv)
    if args.command == "angles":
        table = load_table(args.cache_dir, 2)
        out = angle_table(table, [x.strip() for x in args.letters.split(",") if x.strip()], args.cue)
        print("| letter | " + " | ".join(out.columns) + " |")
        print("| --- | " + " | ".join("---:" for _ in out.columns) + " |")
        for letter, row in out.iterrows():
            print(f"| {letter} | " + " | ".join(row) + " |")
    elif args.command == "search":
        search(args)
    elif args.command == "prior":
        prior(args)
    elif args.command == "within":
        within(args)
    else:
        cross(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

