"""Leave-one-source-out dev protocol: accuracy and calibration on signers, rooms and cameras never trained on.

Each fold holds out one source with its own signers or camera and trains on all the others:
asl2text/train and asl2text/test (two recording sessions), massey's five signers
(``hand1`` .. ``hand5``, each a fold), ml_slr's seven signers (``user_3`` .. ``user_10``, each a
fold: one classroom, an unusual side/back view), the nejohnson2 and borisgraudt landmark CSVs and
asl_alphabet_64/test. Classes: A-Z and DEL, NOTHING, SPACE (massey's digits are left out).
Figures are on the held-out images with a hand (landmark CSV rows always have one). The
asl_alphabet_64/test fold is reported apart: its 64x64 pixels give poor landmarks (docs/benchmarks.md,
"Hand coverage"), so it measures the detector more than the classifier.

This is the protocol on which defaults are to be chosen; the target columns of docs/benchmarks.md
(massey cross-dataset, asl2text train -> test) are reported elsewhere and never used to choose.

Image sources are read from the landmark cache (``--cache-dir``; extracted on first use,
about 5 minutes on 2 cores for all of them).

Usage::

    python benchmarks/bench_lodo.py [--model-name rf] [--param n_estimators=50 ...] [--balance none|dataset]
        [--augment NAME=VALUE ... | --augment none] [--seeds 0,1,2] [--views mirror --views-dir .cache/views] [--json OUT]

Defaults: the configuration chosen on this protocol and shipped (``DEFAULT_RECIPE`` of
``landmark_asl.training``); ``--plain`` starts from the plain forest shipped before it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from landmark_asl.estimators.registry import parse_params
from landmark_asl.evaluation.lodo import format_confusions, format_folds, leave_one_group_out
from landmark_asl.evaluation.protocol import APART, load_table, load_views
from landmark_asl.training.recipe import DEFAULT_RECIPE, Recipe

from _common import add_cache_dir, add_n_jobs

#: The shipped recipe, and the forest part of it (``--plain`` varies the rest).
RECIPE = DEFAULT_RECIPE.training_kwargs()
FOREST = {k: v for k, v in RECIPE["params"].items() if k != "handshape"}


def _seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 0,1,2; got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-name", default="rf")
    parser.add_argument("--param", action="append", default=[], help="KEY=VALUE model parameter (repeatable).")
    parser.add_argument("--seeds", type=_seeds, default="0,1,2", help="Comma-separated integer seeds.")
    add_cache_dir(parser)
    add_n_jobs(parser)
    parser.add_argument("--plain", action="store_true",
                        help="Start from the plain forest shipped before the chosen recipe (no handshape "
                             "features, no balance, no augmentation).")
    parser.add_argument("--balance", default=None, choices=["none", "dataset"],
                        help="Training weights (default: the chosen configuration's).")
    parser.add_argument("--augment", action="append", default=None, metavar="NAME=VALUE",
                        help="augment_landmarks parameter (repeatable; default: the chosen configuration's; 'none' for none).")
    parser.add_argument("--drop", action="append", default=[], metavar="GROUP",
                        help="Leave this group out entirely (neither trained on nor scored), to measure a training "
                             "mix; repeatable.")
    parser.add_argument("--views", default=None, metavar="NAMES",
                        help="Score each held-out photo on the mean over its landmarks and these views "
                             "(comma-separated, landmark_asl.hands.views.VIEWS), read from --views-dir.")
    parser.add_argument("--views-dir", type=Path, default=Path(".cache/views"))
    parser.add_argument("--json", type=Path, default=None, help="Write the results as JSON here.")
    args = parser.parse_args(argv)
    base = {"params": FOREST if args.model_name == "rf" else {}, "balance": None, "augment": None} if args.plain else RECIPE
    params = {**base["params"], **parse_params(args.param, per_model=False)}
    seeds = args.seeds
    if args.augment is None:
        augment = base["augment"]
    else:
        augment = None if args.augment == ["none"] else parse_params(args.augment, per_model=False)
    balance = base["balance"] if args.balance is None else (None if args.balance == "none" else args.balance)
    recipe = {"balance": balance, "augment": augment}

    table = load_table(args.cache_dir, args.n_jobs)
    unknown = sorted(set(args.drop) - set(table["group"]))
    if unknown:
        parser.error(f"--drop: unknown group(s) {unknown}; the groups are {sorted(set(table['group']))}")
    table = table[~table["group"].isin(args.drop)].reset_index(drop=True)
    print(f"{len(table)} rows in {table['group'].nunique()} groups; model {args.model_name} {params} {recipe}",
          file=sys.stderr)
    views = load_views(args.views_dir, args.views.split(",")) if args.views else None
    model_recipe = Recipe(model_name=args.model_name, params=params, calibrate=False, **recipe)
    result = leave_one_group_out(table, model_recipe, seeds=seeds, n_jobs=args.n_jobs, apart=APART, views=views,
                                 progress=True)
    summary = {"model_name": args.model_name, "params": params, "recipe": recipe, "seeds": seeds, "dropped": args.drop,
               "views": args.views.split(",") if args.views else [],
               **result["summary"], "runs": result["runs"]}
    print(format_folds(result["summary"]))
    print()
    print(format_confusions(result["summary"]["errors"]))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
