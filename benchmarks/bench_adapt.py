"""Benchmark: how far a few of a new signer's own samples lift a model for that signer, and what it forgets.

For each held-out user (a signer or session never trained on): a base model of the shipped
recipe (``DEFAULT_RECIPE``, ``landmark_asl.training``) is trained on every other source except
that user and a "forget" set; then ``landmark_asl.training.adapt.adapt_model`` adds k samples per
letter of the user (k = 3, 5, 10, drawn from a fixed pool of 10 per letter, see below) and the model is
scored on the user's OTHER photos (the same ones for every k) and on the forget set (never
trained on by either model: what the personal model forgets shows there).

Users: massey ``hand1`` and ``hand2`` (the dev users: the weight is chosen on them, ``--weights``)
and asl2text/test (another session of asl2text's signer, the test user, reported with the chosen
weight only). Forget set: asl2text/test for the massey users, massey/hand1 for asl2text/test.
``--users`` may also name the protocol's weakest folds (``HARD_USERS``: the two webcam signers of
the landmark CSVs, whose letters C, O, M, X, P and Z are formed otherwise than in every other
source, and ml_slr's weakest signer), or ``protocol``: every fold of the dev protocol but the apart
one, each in turn (the dev users keep their role). The others are reported with the default
weight only, never chosen on; forget set asl2text/test (massey/hand1 for the asl2text sessions):
what a personal model does for each new signer, and for a signer the shared model cannot reach. A
user's samples come from a pool of up to 10 a letter, at most half of its fewest rows of a letter
(ml_slr: 5 of 10 photos), so that rows are left to score; a k above the pool is skipped for that
user, and a user with no k left is skipped before any fit (massey hand3 and hand4, 5 photos a
letter, with k = 3 or more). The last line gives, for each k, the mean and the worst user before
and with the personal model (default weight).

``--pool-order first`` takes each letter's first rows in the source's order as the samples (one
draw) and scores the later ones: for borisgraudt, whose rows are numbered frames, the earliest
frames of the recording; for nejohnson2 the file's order, assumed to be the recording's (its
letters come in A..Z blocks, then a few stray rows).

``--base-rows datasets,packaged`` also builds each personal model on the rows shipped with the
package (``models/adapt_base``, without the user's and the forget set's groups) instead of the
base model's own training rows: what ``adapt`` does on a machine without the datasets.

Usage::

    python benchmarks/bench_adapt.py [--weights 10,30,100] [--ks 3,5,10] [--draws 1] [--base-rows datasets,packaged]
        [--users protocol | USER,...] [--pool-order random|first] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from landmark_asl.estimators.features import raw_features
from landmark_asl.evaluation.protocol import load_table
from landmark_asl.model.store import load_model, save_model
from landmark_asl.training.adapt import DEFAULT_WEIGHT, PERSONAL_COPIES, adapt_model, packaged_base_rows
from landmark_asl.training.recipe import DEFAULT_RECIPE
from landmark_asl.training.train import fit_estimator

from _common import add_cache_dir, stopwatch

#: user group -> (forget group, role)
USERS = {"massey/hand1": ("asl2text/test", "dev"), "massey/hand2": ("asl2text/test", "dev"),
         "asl2text/test": ("massey/hand1", "test")}
#: The protocol's weakest folds (``--users``; not in the default run): reported, never chosen on.
HARD_USERS = {"nejohnson2": ("asl2text/test", "report"), "borisgraudt": ("asl2text/test", "report"),
              "ml_slr/user_10": ("asl2text/test", "report")}
POOL = 10
#: The dev protocol's folds a ``--users`` name may start with (checked against the table once read).
FOLD_PREFIXES = ("massey/", "ml_slr/", "asl2text/")


def pool_size(rows: pd.DataFrame) -> int:
    """How many samples a letter a user's pool holds: up to ``POOL``, at most half of the user's
    fewest rows of a letter (so that rows are left to score); 0 for a user with no rows or a
    letter with a single row."""
    if rows.empty:
        return 0
    return min(POOL, int(rows["label"].value_counts().min()) // 2)


def protocol_users(table: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Every fold of the dev protocol but the apart ones, as users: (forget set, role)."""
    from landmark_asl.evaluation.protocol import APART

    users = {}
    for group in sorted(set(table["group"].astype(str)) - set(APART)):
        known = {**USERS, **HARD_USERS}.get(group)
        users[group] = known or ("massey/hand1" if group.startswith("asl2text/") else "asl2text/test", "report")
    return users


def _accuracy(model, rows: pd.DataFrame) -> float:
    proba = model.predict_proba(raw_features(rows))
    return float((model.classes[proba.argmax(axis=1)] == rows["label"].to_numpy(dtype=object)).mean())


def _split_user(rows: pd.DataFrame, seed: int, size: int = POOL, order: str = "random") -> tuple[pd.DataFrame, pd.DataFrame]:
    """A pool of up to ``size`` samples per letter and the user's other rows.

    ``order``: ``"random"`` draws the pool in a seeded order; ``"first"`` takes each letter's first
    rows in the source's own order (``seed`` unused): for a recording, the frames a user would
    give in one sitting, scored on the later frames (less alike than random neighbours).
    """
    if order not in ("random", "first"):
        raise ValueError(f"order must be 'random' or 'first', got {order!r}")
    if order == "random":
        rows = rows.iloc[np.random.default_rng(seed).permutation(len(rows))]
    pool = rows.groupby("label", group_keys=False).head(size)
    return pool, rows.drop(pool.index)


def run_user(table: pd.DataFrame, user: str, forget: str, *, weights: list[float], ks: list[int], draws: int,
             tmp: Path, copies: int = PERSONAL_COPIES, base_rows_kinds: tuple[str, ...] = ("datasets",),
             pool_order: str = "random") -> list[dict]:
    mine = table[table["group"] == user]
    size = pool_size(mine)
    ks = [k for k in ks if k <= size]
    if not ks:
        print(f"{user}: skipped ({len(mine)} rows; a pool of {size} a letter is under every k)", file=sys.stderr)
        return []
    base_rows = table[~table["group"].isin([user, forget])].reset_index(drop=True)
    start = time.perf_counter()
    estimator, training = fit_estimator(DEFAULT_RECIPE, base_rows, random_state=0, n_jobs=2)
    training["train_sources"] = [f"(benchmark: every source but {user} and {forget})"]
    base_dir = save_model(estimator, tmp / "base", name=DEFAULT_RECIPE.model_name, training=training)
    base = load_model(base_dir)
    print(f"{user}: base fitted on {len(base_rows)} rows ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    forget_rows = table[table["group"] == forget]
    rows_of = {"datasets": base_rows, "packaged": packaged_base_rows(exclude_groups=[user, forget])}
    results = []
    for draw in range(draws):
        pool, test = _split_user(mine, seed=draw, size=size, order=pool_order)
        before = {"accuracy_user": _accuracy(base, test), "accuracy_forget": _accuracy(base, forget_rows)}
        results.append({"user": user, "draw": draw, "k": 0, "weight": None, **before, "n_test": len(test)})
        for weight, kind, k in ((w, b, k) for w in weights for b in base_rows_kinds for k in ks):
            samples = pool.groupby("label", group_keys=False).head(k)
            with stopwatch() as clock:
                out = adapt_model(samples, output=tmp / f"me_{k}_{weight}_{kind}", base=base_dir, weight=weight,
                                  base_rows=rows_of[kind], n_jobs=2, copies=copies, progress=False)
            seconds = clock["seconds"]
            model = load_model(out)
            size_mb = sum(p.stat().st_size for p in out.iterdir()) / 1e6
            r = {"user": user, "draw": draw, "k": k, "weight": weight, "base_rows": kind,
                 "n_base_rows": len(rows_of[kind]), "copies": copies, "n_samples": len(samples),
                 "accuracy_user": _accuracy(model, test), "accuracy_forget": _accuracy(model, forget_rows),
                 "n_test": len(test), "seconds": seconds, "size_mb": size_mb}
            results.append(r)
            print(f"  {user} draw {draw} k={k} w={weight:g} {kind}: {r['accuracy_user']:.1%} on the user "
                  f"(base {before['accuracy_user']:.1%}), forget set {r['accuracy_forget']:.1%} "
                  f"(base {before['accuracy_forget']:.1%}), {seconds:.0f} s", file=sys.stderr)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=f"{DEFAULT_WEIGHT:g}", help="Comma-separated weights tried on the dev users.")
    parser.add_argument("--ks", default="3,5,10")
    parser.add_argument("--draws", type=int, default=1)
    parser.add_argument("--copies", type=int, default=PERSONAL_COPIES, help="Perturbed copies of each sample.")
    parser.add_argument("--users", default=",".join(USERS),
                        help=f"Comma-separated, from {', '.join(USERS)} (the default) and {', '.join(HARD_USERS)}; "
                             "or 'protocol' (every fold of the dev protocol but the apart one).")
    parser.add_argument("--base-rows", default="datasets", help="datasets, packaged or both (comma-separated).")
    parser.add_argument("--pool-order", choices=("random", "first"), default="random",
                        help="Draw each letter's samples at random (seeded by the draw) or take its first rows "
                             "in the source's order (a recording's earliest frames; one draw).")
    add_cache_dir(parser)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    known = {**USERS, **HARD_USERS}
    # A protocol fold (massey/hand3, ml_slr/user_4...) is checked against the table once it is read.
    unknown = [u for u in args.users.split(",") if u not in known and u != "protocol" and not u.startswith(FOLD_PREFIXES)]
    if unknown:
        parser.error(f"unknown user {unknown[0]!r}; expected one of {', '.join(known)}, another fold of the "
                     "dev protocol, or protocol")
    if args.pool_order == "first" and args.draws != 1:
        parser.error("--pool-order first takes the same samples every draw: use --draws 1")
    weights = [float(w) for w in args.weights.split(",")]
    ks = [int(k) for k in args.ks.split(",")]
    table = load_table(args.cache_dir, 2)
    table = table[table["detected"].astype(bool)].reset_index(drop=True)
    names = args.users.split(",")
    everyone = protocol_users(table)
    known = {**everyone, **known}
    names = list(dict.fromkeys(u for n in names for u in (everyone if n == "protocol" else [n])))
    missing = [u for u in names if u not in everyone]
    if missing:
        parser.error(f"no rows with a hand of user {missing[0]!r} in the dev protocol's table")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for user in names:
            forget, role = known[user]
            # The weight is chosen on the dev users; the test user is scored with the default only.
            user_weights = weights if role == "dev" else [DEFAULT_WEIGHT]
            for r in run_user(table, user, forget, weights=user_weights, ks=ks, draws=args.draws, tmp=Path(tmp),
                              copies=args.copies, base_rows_kinds=tuple(args.base_rows.split(",")),
                              pool_order=args.pool_order):
                results.append({**r, "role": role})
    if not results:
        print("no user scored: every user named was skipped (see above)", file=sys.stderr)
        return 1
    frame = pd.DataFrame(results)
    if "base_rows" not in frame:
        frame["base_rows"] = None
    print("| user (role) | base rows | k per letter | weight | accuracy on the user's other photos | forget set | adapt s "
          "| size MB |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (user, kind, k, weight), g in frame.groupby(["user", "base_rows", "k", "weight"], dropna=False, sort=False):
        base = frame[(frame["user"] == user) & (frame["k"] == 0)]
        drop = (g["accuracy_forget"].mean() - base["accuracy_forget"].mean()) * 100
        shown_weight = "-" if pd.isna(weight) else f"{weight:g}"
        seconds = "-" if k == 0 else f"{g['seconds'].mean():.1f}"
        size = "-" if k == 0 else f"{g['size_mb'].mean():.2f}"
        rows = "-" if k == 0 else f"{kind} ({int(g['n_base_rows'].iloc[0])})"
        print(f"| {user} ({g['role'].iloc[0]}) | {rows} | {k} | {shown_weight} | {g['accuracy_user'].mean():.1%} | "
              f"{g['accuracy_forget'].mean():.1%} ({drop:+.1f} pts) | {seconds} | {size} |")
    print(summary_line(frame))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def summary_line(frame: pd.DataFrame) -> str:
    """For each k, over the users scored with it (at the default weight, the first base-rows kind):
    the mean and the worst user before (the base model) and with the personal model; users not
    scored with a k at that weight (a pool under k, or another weight) are named."""
    if frame.empty:
        return "no user scored"
    kind = frame["base_rows"].dropna().iloc[0] if frame["base_rows"].notna().any() else None
    before = frame[frame["k"] == 0].groupby("user")["accuracy_user"].mean()
    adapted = frame[(frame["k"] > 0) & (frame["weight"] == DEFAULT_WEIGHT) & (frame["base_rows"] == kind)]
    parts = []
    for k in sorted(set(adapted["k"])):
        after = adapted[adapted["k"] == k].groupby("user")["accuracy_user"].mean()
        users = sorted(set(after.index) & set(before.index))
        left = sorted(set(before.index) - set(users))
        parts.append(f"k={k}, {len(users)} users: mean {before[users].mean():.1%} -> {after[users].mean():.1%}, "
                     f"worst {before[users].min():.1%} ({before[users].idxmin()}) -> {after[users].min():.1%} "
                     f"({after[users].idxmin()})"
                     + (f" (not scored with this k at this weight: {', '.join(left)})" if left else ""))
    return "Personal models (weight " + f"{DEFAULT_WEIGHT:g}): " + ("; ".join(parts) if parts else "no k scored")


if __name__ == "__main__":
    sys.exit(main())
