"""The network beside the forest only where it may help: gated by the forest's confidence, or a share per letter.

Reads stored protocol runs of ``experiments/exp_newsigner.py`` (no fit): the forest of candidate
``--forest`` (``<candidate>_s<seed>.npz``) and the network of candidate ``--network``
(``<candidate>_s<seed>_mlp.npz``), each with the shipped views averaged when its own first answer
is unsure (``combine``'s ``below0.7``). Then, for the network's shares ``--shares``:

- ``blend``: the forest and the network blended everywhere;
- ``gate G``: blended only where the forest's calibrated confidence (the shipped model's
  temperature) is under G, the forest alone elsewhere;
- ``per letter``: a share for each letter's column, chosen for each held-out fold on the other
  scored folds by coordinate ascent over ``PER_LETTER_SHARES`` (two passes, starting from 0.3).

Scored as ``report`` scores (mean over the scored folds, worst fold, the named groups' errors).

Usage::

    python experiments/exp_blend_gates.py [--forest base] [--network base] [--seed 0] [--shares 0.2,0.3]
        [--gates 0.5,0.7,0.9] [--per-letter]

Figures: docs/experiments.md (2026-12-07).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import exp_newsigner as exp  # noqa: E402

from landmark_asl.estimators.calibration import TemperatureScaling  # noqa: E402
from landmark_asl.evaluation.protocol import APART, load_table  # noqa: E402

VIEWS = "mirror+crop+zoom_out+below0.7"
PER_LETTER_SHARES = (0.0, 0.15, 0.3, 0.5)


def _stored(candidate: str, seed: int, network: bool) -> dict[str, np.ndarray]:
    suffix = "_mlp.npz" if network else ".npz"
    paths = [p for p in exp.run_files(candidate) if p.name.endswith(suffix) and (network or "_mlp" not in p.name
                                                                                     and "_xgb" not in p.name)]
    data = {k: v for p in paths for k, v in exp.load_run(p).items()}
    key = f"{'mlp' if network else 'rf'}|plain|{seed}"
    if key not in data:
        raise SystemExit(f"no stored {'network' if network else 'forest'} run of {candidate!r} with seed {seed} "
                         f"in {exp.OUT}: run exp_newsigner.py run --candidate {candidate}"
                         f"{' --mlp-only' if network else ''} --seeds {seed} first")
    return data


def _line(table, classes: list[str], name: str, proba: np.ndarray) -> str:
    s = exp.score_predictions(table, {0: proba}, classes, apart=APART)["summary"]
    groups = s["errors"]["groups"]
    return (f"| {name} | {s['mean_accuracy']:.2%} | {s['worst_fold']} {s['worst_accuracy']:.1%} | "
            + " | ".join(f"{groups[k]['errors']:.0f}" for k in groups) + " |")


def per_letter_shares(forest: np.ndarray, network: np.ndarray, truth: np.ndarray, rows: dict[str, np.ndarray],
                      folds: list[str]) -> np.ndarray:
    """Each column's network share, chosen by the mean accuracy over ``folds`` (their ``rows``)."""
    share = np.full(forest.shape[1], 0.3)

    def score(w: np.ndarray) -> float:
        right = (forest * (1 - w) + network * w).argmax(axis=1) == truth
        return float(np.mean([right[rows[f]].mean() for f in folds]))

    best = score(share)
    for _ in range(2):
        for column in range(len(share)):
            for value in PER_LETTER_SHARES:
                if value != share[column]:
                    trial = share.copy()
                    trial[column] = value
                    if (got := score(trial)) > best + 1e-12:
                        best, share = got, trial
    return share


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forest", default="base")
    parser.add_argument("--network", default="base")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shares", default="0.2,0.3")
    parser.add_argument("--gates", default="0.5,0.7,0.9")
    parser.add_argument("--per-letter", action="store_true", help="Also a share per letter (about a minute).")
    parser.add_argument("--cache-dir", default=None, help="Landmark cache (default: the per-user cache).")
    args = parser.parse_args(argv)
    try:
        shares = [float(x) for x in args.shares.split(",")]
        gates = [float(x) for x in args.gates.split(",")]
    except ValueError:
        parser.error("--shares and --gates: comma-separated numbers")
    forest_run, network_run = _stored(args.forest, args.seed, False), _stored(args.network, args.seed, True)
    table = load_table(args.cache_dir, 2).reset_index(drop=True)
    if not (forest_run["sample_id"] == table["sample_id"].to_numpy().astype(str)).all():
        raise SystemExit("the stored runs are of another protocol table: run them again")
    classes = [str(c) for c in forest_run["classes"]]
    forest = exp.combine(forest_run, f"rf+{VIEWS}", args.seed, classes, table)
    network = exp.combine(network_run, f"mlp+{VIEWS}", args.seed, classes, table)
    scaling = TemperatureScaling.from_dict({"method": "temperature", "temperature": exp.GATE_TEMPERATURE,
                                            "smoothing": 0.001})
    have = forest.sum(axis=1) > 0
    confidence = np.zeros(len(forest))
    confidence[have] = scaling.apply(forest[have]).max(axis=1)
    groups = list(exp.score_predictions(table, {0: forest}, classes, apart=APART)["summary"]["errors"]["groups"])
    print(f"forest {args.forest}, network {args.network}, seed {args.seed}; errors a seed")
    print("| combination | mean | worst fold | " + " | ".join(groups) + " |")
    print("| --- | ---: | --- | " + " | ".join("---:" for _ in groups) + " |")
    print(_line(table, classes, "the forest", forest))
    for w in shares:
        blend = (1 - w) * forest + w * network
        print(_line(table, classes, f"blend {w:g}", blend), flush=True)
        for gate in gates:
            print(_line(table, classes, f"blend {w:g}, gate {gate:g}",
                        np.where((confidence < gate)[:, None], blend, forest)), flush=True)
    if args.per_letter:
        truth = np.array([classes.index(c) if c in classes else -1 for c in table["label"].astype(str)])
        group = table["group"].astype(str).to_numpy()
        detected = table["detected"].astype(bool).to_numpy()
        folds = [f for f in sorted(set(group)) if f not in APART]
        rows = {f: np.flatnonzero((group == f) & detected) for f in folds}
        proba = np.zeros_like(forest)
        for fold in sorted(set(group)):
            share = per_letter_shares(forest, network, truth, rows, [f for f in folds if f != fold])
            held = group == fold
            proba[held] = forest[held] * (1 - share) + network[held] * share
        print(_line(table, classes, "a share per letter, chosen on the other folds", proba))
    return 0


if __name__ == "__main__":
    sys.exit(main())
