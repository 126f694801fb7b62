"""Candidates for a new signer (issue 21), measured on the leave-one-group-out dev protocol.

One run per training candidate fits each fold once and keeps every held-out photo's
probabilities from its own landmarks AND from each extra view (``experiments/extract_views.py``),
and, with ``--xgb``, from an XGBoost model too; ``--report`` then scores any combination
(views averaged, rf+xgb averaged, a specialist second look) with
:func:`landmark_asl.evaluation.lodo.score_predictions`, so test-time candidates cost no extra fit.

Training candidates (``--candidate``):

- ``base``: the shipped recipe (``DEFAULT_RECIPE`` of ``landmark_asl.training``);
- ``no_still_z``: the still Z rows left out of training (Z is signed with motion; the live loop
  reads it from the motion, and a still "Z" class absorbs pointing hands);
- ``geo_hand``: ``is_left`` from the landmarks' own 3D chirality instead of MediaPipe's label
  where the two disagree and MediaPipe's score is below 0.9;
- (``noz``/``noj`` in a report combination: the still Z/J class taken out of the answer, a free
  stand-in for ``no_still_z``);
- ``no_apart``: the apart fold's photos (``APART``: asl_alphabet_64/test, 64x64 pixels, poor
  landmarks) left out of training; still scored;
- ``a64train``: the shipped recipe with asl_alphabet_64/train (17,400 photos of the apart fold's
  signer and room, 64x64 pixels, ``EXTRA``) added to the training rows of every fold but the apart
  one (the same signer); never scored (the protocol's table, and so every report, is unchanged);
- ``clean``: rows flagged by cleanlab on the base run's out-of-fold probabilities left out
  (``--flagged FILE``: the sample ids, written by ``--report --cleanlab``);
- ``yaw45``, ``yaw90``, ``yaw180``: the recipe's augmentation with a further turn of every row about
  the image's vertical axis (``max_yaw``), the hand seen from another side; ``yaw180_gh``: of the G
  and H rows only (the shipped recipe since 2026-12-06, latest, so ``base`` is the same now);
  ``no_yaw``: the recipe without any turn (the shipped recipe before; the stored ``aspect_common``
  runs were made with it);
- ``roll5``, ``roll15_ghpq``, ``ghpq``, ``roll5_ghpq``: the rotation about the camera's axis limited
  to 5 or 15 degrees (``max_roll``; the other axes keep 30) and/or the P and Q copies turned like
  G and H (P and Q point down; where the fingers point relative to gravity tells them from G, H, K);
- ``pqroll5``, ``pointroll5``: the 5-degree roll for the rows of P and Q only, or of G, H, K, P and
  Q (``roll_labels``), the letters told apart by where they point; every other row keeps 30;
  ``pointroll5_ghpq``: the latter with the P and Q copies turned about the vertical axis too;
- ``down_pq``, ``down_pq_ghpq``: the P and Q copies turned a random part of the way towards pointing
  straight down (``down_labels``; sources show them anywhere from level to straight down), and with
  the P and Q copies also turned about the vertical axis;
- ``ghco``: the C and O copies turned about the vertical axis too (one signer shows C and O with
  the palm to the camera, the others from the side);
- ``no_bg_z``: the shipped recipe with borisgraudt's still Z rows left out of training
  (``LEFT_OUT``; that signer froze Z at a moment that reads as X); they are still scored when
  borisgraudt is held out;
- ``leaf3``, ``leaf10``, ``mf_log2``, ``mf30``, ``trees100``: the shipped recipe with the forest's
  own parameters changed (``PARAMS``: smallest leaf, features tried at each split, trees);
- ``z14``, ``z17``: every image landmark's z (depth) times 1.4 or 1.7 (``ZSCALES``), in the rows
  trained on and scored and in the views (MediaPipe's depth is flatter than x and y:
  ``exp_depth_scale.py``); ``zs50``: the shipped augmentation with each copy's depth stretched
  by a factor from 1/1.5 to 1.5 (``depth_stretch``);
- ``group_bal``, ``sqrt_bal``: the shipped augmentation with the rows weighed otherwise than by
  dataset (``BALANCES``): every group (signer or session) alike, or each dataset by the square root
  of its number of groups;
- (``compose NAME --members CAND@SEED,...``: several stored forests pooled into one, i.e. their
  probabilities averaged, one ``--members`` per seed of the pool; reported as ``NAME``);
- ``specialist``: the base forest plus, for each confusable group, a forest trained on that
  group's rows only, on the same features; when the base forest's top class lies in a group, the
  group's probability mass is shared as the specialist says.

The network (``mlp``, :mod:`landmark_asl.estimators.mlp`) beside the forest: ``run --mlp-only``
(``--mlp-params '{"epochs": 30}'``) writes ``<candidate>_s<seeds>_mlp.npz``; ``report base:rf+mlp+w0.3``
blends them as the ``rf_mlp`` model does (the network's share 0.3); ``base:rf+mlp@no_apart+w0.3`` takes
the network of another candidate's runs (here trained without the 64x64 photos) beside ``base``'s forest.

``report --where`` names the folds carrying most of each named group's errors (:func:`group_folds`).
``report --conflicts`` lists each fold's letters formed otherwise (70% or more of its rows of a letter
read as one and the same other letter, :func:`letter_conflicts`) and the fold's accuracy on its
other letters.

XGBoost beside the forest: ``run --xgb-only`` fits XGBoost alone and writes
``<candidate>_s<seeds>_xgb.npz`` beside the forest's run, so a stored forest run is reused;
``report base:rf+xgb`` averages the two, ``base:rf+xgb+w0.3`` weighs XGBoost 0.3, ``base:rf+xgb+wdev``
chooses the weight for each held-out fold on the other folds only. A run writes its file after
every fold (``folds_done``); a report of an unfinished run (of the seeds and models it reads) scores
every name on the finished folds. A report prints, for each name, the mean and worst fold, each
named group's error rate, its errors a seed +- their sd over seeds, and every label's errors a seed;
then the apart fold's (``APART``: scored, left out of the mean and the tables) group errors and
most frequent confusions a seed.

Usage::

    python experiments/exp_newsigner.py run --candidate base [--xgb | --xgb-only] [--seeds 0] [--quick]
    python experiments/exp_newsigner.py report [NAME ...] [--seeds 0]   # NAME like base, base:rf+mirror, base:rf+xgb
    python experiments/exp_newsigner.py compose NAME --members base@0,base@1 [--members ...]  # then report NAME:...

Writes ``out/newsigner/<candidate>_s<seeds>.npz`` (out-of-fold probabilities) and prints
Markdown. Figures: docs/experiments.md (2026-12-05, 2026-12-06, 2026-12-07).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from landmark_asl.data.landmark_cache import log
from landmark_asl.estimators.features import raw_features
from landmark_asl.estimators.pointing import DEFAULT_GATES, apply_gates, fit_gates
from landmark_asl.evaluation.lodo import confusion_errors, score_predictions
from landmark_asl.evaluation.protocol import APART, CSV_SOURCES, IMAGE_SOURCES, load_table
from landmark_asl.hands.views import VIEWS
from landmark_asl.training.recipe import DEFAULT_RECIPE, Recipe
from landmark_asl.training.train import fit_estimator, model_inputs

#: The shipped recipe's parameters, balance and augmentation.
RECIPE = DEFAULT_RECIPE.training_kwargs()

OUT = Path("out/newsigner")
#: Temperature of the shipped model's card (0.66 before issue 21), for the ``below<t>`` gate.
GATE_TEMPERATURE = 0.66
#: Frame aspect (height / width) assumed for the landmark CSVs: the common webcam sizes nearest
#: the estimate from rigid palm segments (what ``load_landmark_csv`` does since 2026-12-06, so
#: ``base`` is the same), the estimates themselves, and none (the size unknown: y left as
#: stored, as before 2026-12-06).
ASPECTS = {"aspect_common": {"nejohnson2": 0.75, "borisgraudt": 0.5625},
           "aspect_est": {"nejohnson2": 0.6625, "borisgraudt": 0.475},
           "aspect_43": {"nejohnson2": 0.75, "borisgraudt": 0.75},
           "aspect_none": {"nejohnson2": None, "borisgraudt": None}}
#: Training candidates that change the recipe's augmentation only (the table as ``base``): a
#: further turn about the image's vertical axis, uniform in +-N degrees (``augment_landmarks``'s
#: ``max_yaw``): G and H are photographed from opposite sides in different sources; ``max_roll``
#: limits the rotation in the image plane (where the fingers point relative to gravity: P, Q).
AUGMENTS = {"yaw45": {"max_yaw": 45.0, "yaw_labels": None}, "yaw90": {"max_yaw": 90.0, "yaw_labels": None},
            "yaw180": {"max_yaw": 180.0, "yaw_labels": None},
            "yaw180_gh": {"max_yaw": 180.0, "yaw_labels": ["G", "H"]},
            "no_yaw": {"max_yaw": 0.0, "yaw_labels": None},
            "ghpq": {"yaw_labels": ["G", "H", "P", "Q"]},
            "roll5": {"max_roll": 5.0},
            "roll5_ghpq": {"max_roll": 5.0, "yaw_labels": ["G", "H", "P", "Q"]},
            "roll15_ghpq": {"max_roll": 15.0, "yaw_labels": ["G", "H", "P", "Q"]},
            "pqroll5": {"max_roll": 5.0, "roll_labels": ["P", "Q"]},
            "pointroll5": {"max_roll": 5.0, "roll_labels": ["G", "H", "K", "P", "Q"]},
            "down_pq": {"down_labels": ["P", "Q"]},
            "down_pq_ghpq": {"down_labels": ["P", "Q"], "yaw_labels": ["G", "H", "P", "Q"]},
            "ghco": {"yaw_labels": ["G", "H", "C", "O"]},
            "pointroll5_ghpq": {"max_roll": 5.0, "roll_labels": ["G", "H", "K", "P", "Q"],
                                "yaw_labels": ["G", "H", "P", "Q"]},
            # The shipped augmentation with the depth of each copy stretched (``ZSCALES`` below).
            "zs50": {"depth_stretch": 0.5},
            # The shipped augmentation with some source's rows of a letter left out of training
            # (``LEFT_OUT``): borisgraudt froze its Z at a moment that reads as X.
            "no_bg_z": {"max_yaw": 180.0, "yaw_labels": ["G", "H"]}}
#: Candidates that leave (dataset, label) rows out of training (they are still scored when held out).
LEFT_OUT = {"no_bg_z": [("borisgraudt", "Z")]}
#: Training candidates that weigh the rows otherwise than the recipe's ``balance='dataset'`` (every
#: dataset alike, so borisgraudt's one signer weighs as much as ml_slr's seven): ``group_bal``
#: every group (a signer, or a session) alike; ``sqrt_bal`` each dataset in proportion to the square
#: root of its number of groups, its groups alike (:func:`balance_weights`). Shipped augmentation.
BALANCES = {"group_bal": "group", "sqrt_bal": "sqrt"}
#: Training candidates that change the forest's own parameters (the shipped ones were chosen on
#: the dev setup of 2026-11-22, before the protocol): leaves of at least 3 or 10 rows (5 shipped),
#: fewer or more features tried at each split (sqrt of about 220 shipped: log2, 30%), twice the trees.
PARAMS = {"leaf3": {"min_samples_leaf": 3}, "leaf10": {"min_samples_leaf": 10},
          "mf_log2": {"max_features": "log2"}, "mf30": {"max_features": 0.3},
          "trees100": {"n_estimators": 100}}
#: Training candidates that multiply every image landmark's z (depth) by a factor, in the rows a
#: fold trains on and in those it scores (the views too), before augmentation and features.
#: MediaPipe's z is in units of the frame's width, as x, but flatter: the factor that keeps the
#: palm's rigid segments (``estimate_frame_aspect``'s) most constant as hands turn is 1.1-1.7 on
#: every source (asl2text 1.1-1.3, massey and borisgraudt 1.4, ml_slr and nejohnson2 1.7). A
#: flattened z makes the 3D turns of the augmentation shear the hand, and the 3D distances and
#: angles change as the hand turns about the vertical axis (ml_slr's side views).
ZSCALES = {"z14": 1.4, "z17": 1.7}
#: Training candidates that add the rows of sources outside the protocol to every fold's training
#: rows (the shipped augmentation), except when an ``APART`` fold of the same signer is held out.
EXTRA = {"a64train": ("asl_alphabet_64/train",)}
#: Every training candidate of ``run``.
CANDIDATES = ("base", "no_still_z", "geo_hand", "clean", "no_apart", "specialist", *ASPECTS, *AUGMENTS, *BALANCES,
              *EXTRA, *PARAMS, *ZSCALES)
SPECIALISTS = {"MNSTAE": ("M", "N", "S", "T", "A", "E"), "XZGD": ("X", "Z", "G", "D"), "PQK": ("P", "Q", "K")}


def geometric_is_left(table: pd.DataFrame) -> np.ndarray:
    """Left hand by the 3D chirality of the landmarks: the sign of (index knuckle - wrist) x
    (little knuckle - wrist) . (thumb base - wrist), in image coordinates with z, y flipped
    to point up (agrees with MediaPipe's label on 96-100% of the rows of every source). Returns a
    bool per row (rows need a hand)."""
    p = table[[f"{a}{i}" for i in range(21) for a in "xyz"]].to_numpy(np.float64).reshape(-1, 21, 3)
    width = table["image_width"].to_numpy(np.float64) if "image_width" in table else np.ones(len(table))
    height = table["image_height"].to_numpy(np.float64) if "image_height" in table else np.ones(len(table))
    aspect = np.where((width > 0) & (height > 0), height / np.where(width > 0, width, 1.0), 1.0)
    p[:, :, 1] *= -aspect[:, None]
    w = p[:, 0]
    triple = np.einsum("nc,nc->n", np.cross(p[:, 5] - w, p[:, 17] - w), p[:, 2] - w)
    return triple > 0


def balance_weights(rows: pd.DataFrame, how: str) -> np.ndarray:
    """Row weights (mean 1) under which every group weighs the same (``how='group'``), or each
    dataset weighs in proportion to the square root of its number of groups and its groups
    alike (``'sqrt'``)."""
    groups = rows["group"].astype(str).to_numpy()
    datasets = rows["dataset"].astype(str).to_numpy()
    names, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    if how == "group":
        share = np.full(len(names), 1.0 / len(names))
    elif how == "sqrt":
        of = {g: d for g, d in zip(groups, datasets)}
        k = pd.Series([of[g] for g in names]).value_counts()
        share = np.array([1.0 / np.sqrt(k[of[g]]) for g in names])
        share /= share.sum()
    else:
        raise ValueError(f"unknown balance {how!r}")
    return (len(rows) * share / counts)[inverse]


def candidate_table(name: str, table: pd.DataFrame, flagged: Path | None) -> tuple[pd.DataFrame, np.ndarray]:
    """The protocol's table and the mask of rows a candidate may train on."""
    trainable = np.ones(len(table), dtype=bool)
    if name == "no_still_z":
        trainable &= table["label"].to_numpy() != "Z"
    elif name == "geo_hand":
        detected = table["detected"].astype(bool).to_numpy()
        geo = np.zeros(len(table), dtype=bool)
        geo[detected] = geometric_is_left(table[detected])
        score = table["handedness_score"].fillna(1.0).to_numpy()
        label_left = table["handedness"].astype(str).to_numpy() == "Left"
        swap = detected & (geo != label_left) & (score < 0.9)
        log(True, f"geo_hand: {swap.sum()} rows change handedness")
        table = table.copy()
        table.loc[swap, "handedness"] = np.where(label_left[swap], "Right", "Left")
    elif name.startswith("aspect_"):
        # Landmark CSVs of unknown frame size: y rescaled by height / width as for photos.
        aspects = ASPECTS[name]
        table = table.copy()
        for dataset, aspect in aspects.items():
            rows = table["dataset"].to_numpy() == dataset
            table.loc[rows, "image_width"] = np.nan if aspect is None else 1000.0
            table.loc[rows, "image_height"] = np.nan if aspect is None else 1000.0 * aspect
        log(True, f"{name}: {aspects}")
    elif name in ZSCALES:
        table = scale_depth(table, ZSCALES[name])
        log(True, f"{name}: z of every image landmark times {ZSCALES[name]}")
    elif name in LEFT_OUT:
        for dataset, label in LEFT_OUT[name]:
            out = (table["dataset"].astype(str).to_numpy() == dataset) & (table["label"].astype(str).to_numpy() == label)
            trainable &= ~out
            log(True, f"{name}: {out.sum()} {dataset} {label} rows left out of training")
    elif name == "no_apart":
        apart = table["group"].astype(str).isin(list(APART)).to_numpy()
        trainable &= ~apart
        log(True, f"no_apart: {apart.sum()} rows of {', '.join(APART)} left out of training")
    elif name == "clean":
        ids = set(json.loads(flagged.read_text()))
        trainable &= ~table["sample_id"].isin(ids).to_numpy()
        log(True, f"clean: {len(ids)} flagged rows left out of training")
    return table, trainable


def scale_depth(rows: pd.DataFrame, factor: float) -> pd.DataFrame:
    """A copy of a landmark table with the image landmarks' z (``z0`` .. ``z20``) times ``factor``."""
    rows = rows.copy()
    columns = [f"z{i}" for i in range(21)]
    rows[columns] = rows[columns].to_numpy(np.float64) * factor
    return rows


def _training(args: argparse.Namespace) -> dict:
    """What a run's forests were trained with, stored in its file (``training``) and checked by
    ``report --write-lodo`` before a result goes on the shipped model's card."""
    augment = None if args.quick else {**RECIPE["augment"], **AUGMENTS.get(args.candidate, {})}
    models = run_models(args)
    balance = BALANCES.get(args.candidate, RECIPE["balance"])
    return {"candidate": args.candidate, "models": models, "params": {**RECIPE["params"], **PARAMS.get(args.candidate, {})},
            "balance": balance,
            "extra_sources": list(EXTRA.get(args.candidate, ())), "z_scale": ZSCALES.get(args.candidate, 1.0),
            "augment": augment, "quick": bool(args.quick), "mlp_params": args.mlp_params if "mlp" in models else None}


def run(args: argparse.Namespace) -> None:
    table = load_table(args.cache_dir, 2).reset_index(drop=True)
    table, trainable = candidate_table(args.candidate, table, args.flagged)
    position = pd.Series(np.arange(len(table)), index=table["sample_id"].to_numpy())
    groups = table["group"].astype(str).to_numpy()
    detected = table["detected"].astype(bool).to_numpy()
    classes = sorted(set(table["label"][detected]))
    models = run_models(args)
    kinds = ["plain", *VIEWS] + ([f"spec_{g}" for g in SPECIALISTS] if args.candidate == "specialist" else [])
    oof = {(m, k, s): np.full((len(table), len(classes)), np.nan) for m in models for k in kinds for s in args.seeds}
    # Folds whose photos' views are extracted first come first (extract_views.py may still run).
    order = ["ml_slr", "massey", "asl2text/test", "asl2text/train"]
    folds = sorted(set(groups), key=lambda f: (next((i for i, o in enumerate(order) if f.startswith(o)), -1), f))
    OUT.mkdir(parents=True, exist_ok=True)
    suffix = "_xgb" if args.xgb_only else "_mlp" if args.mlp_only else ""  # beside the forest's file of the same seeds; report reads both
    path = OUT / f"{'q' if args.quick else ''}{args.candidate}_s{''.join(map(str, args.seeds))}{suffix}.npz"
    training = _training(args)  # what the forests are fitted with, recorded in the run's file
    extra = extra_rows(args.candidate, args.cache_dir)
    done: list[str] = []
    for fold in folds:
        held = groups == fold
        test = held & detected
        views = _fold_views(Path(args.views), table[test])
        if args.candidate in ZSCALES and len(views):
            views = scale_depth(views, ZSCALES[args.candidate])
        for seed in args.seeds:
            for model in models:
                start = time.perf_counter()
                params = {"rf": training["params"], "mlp": {"handshape": True, **args.mlp_params},
                          "xgb": {"handshape": True, "n_estimators": args.xgb_rounds,
                                  "learning_rate": 20.0 / args.xgb_rounds}}[model]
                if args.quick and model == "rf":
                    params = {**params, "n_estimators": 25}
                rows = training_rows(table[~held & detected & trainable], extra, fold)
                reweigh = args.candidate in BALANCES
                recipe = Recipe(model_name=model, params=params, balance=None if reweigh else RECIPE["balance"],
                                augment=training["augment"], calibrate=False)
                weight = balance_weights(rows, BALANCES[args.candidate]) if reweigh else None
                estimator, _ = fit_estimator(recipe, rows, random_state=seed, n_jobs=2, row_weight=weight)
                cols = [classes.index(str(c)) for c in estimator.classes_]
                if not test.any():
                    continue
                proba = estimator.predict_proba(model_inputs(model, estimator, table[test]))
                oof[(model, "plain", seed)][np.ix_(test, cols)] = proba
                for view in VIEWS:
                    mine = views[(views["view"] == view) & views["sample_id"].isin(table["sample_id"][test])]
                    if len(mine):
                        where = position.loc[mine["sample_id"].to_numpy()].to_numpy()
                        target = oof[(model, view, seed)]
                        target[np.ix_(where, cols)] = estimator.predict_proba(model_inputs(model, estimator, mine))
                if args.candidate == "specialist" and model == "rf":
                    for g, letters in SPECIALISTS.items():
                        sub = rows[rows["label"].isin(letters)]
                        spec, _ = fit_estimator(recipe, sub, random_state=seed, n_jobs=2)
                        scols = [classes.index(str(c)) for c in spec.classes_]
                        oof[("rf", f"spec_{g}", seed)][np.ix_(test, scols)] = spec.predict_proba(
                            model_inputs("rf", spec, table[test]))
                log(True, f"{args.candidate} {model} without {fold} seed {seed}: {time.perf_counter() - start:.0f} s")
        done.append(fold)
        # Written after every fold: a run cut short still leaves its finished folds (``folds_done``).
        tmp = path.with_suffix(".part.npz")
        np.savez_compressed(tmp, classes=np.array(classes), sample_id=table["sample_id"].to_numpy().astype(str),
                            folds_done=np.array(done), training=np.array(json.dumps(training)),
                            **{"|".join(map(str, k)): v for k, v in oof.items()})
        tmp.replace(path)
    log(True, f"-> {path}")


def training_rows(rows: pd.DataFrame, extra: pd.DataFrame, fold: str) -> pd.DataFrame:
    """A fold's training rows with a candidate's extra rows (``EXTRA``) added, except when the
    held-out fold is an apart one (the extra rows are that fold's signer)."""
    if extra.empty or fold in APART:
        return rows
    return pd.concat([rows, extra], ignore_index=True)


def extra_rows(candidate: str, cache_dir: str | None) -> pd.DataFrame:
    """The training-only rows of a candidate of ``EXTRA`` (with a hand, protocol labels); empty otherwise."""
    if candidate not in EXTRA:
        return pd.DataFrame()
    from landmark_asl.data.landmark_cache import load_landmarks
    from landmark_asl.evaluation.protocol import LABELS

    rows = pd.concat([load_landmarks([s], cache_dir=cache_dir, n_jobs=2, progress=False)[0] for s in EXTRA[candidate]],
                     ignore_index=True)
    rows = rows[rows["detected"].astype(bool) & rows["label"].isin(LABELS)].reset_index(drop=True)
    log(True, f"{candidate}: {len(rows)} rows of {', '.join(EXTRA[candidate])} added to training "
              f"(datasets {sorted(set(rows['dataset'].astype(str)))})")
    return rows


def run_models(args: argparse.Namespace) -> list[str]:
    """The models a ``run`` fits: the forest, and/or XGBoost, or the MLP alone."""
    if args.mlp_only:
        return ["mlp"]
    return (["rf"] if not args.xgb_only else []) + (["xgb"] if args.xgb or args.xgb_only else [])


def mlp_params(text: str) -> dict:
    """``--mlp-params``: a JSON object of the network's parameters, checked before any data is read."""
    from landmark_asl.estimators.registry import build_estimator
    from landmark_asl.exceptions import LandmarkASLError

    try:
        params = json.loads(text)
        if not isinstance(params, dict):
            raise ValueError("not a JSON object")
        build_estimator("mlp", params={"handshape": True, **params})
    except (ValueError, LandmarkASLError) as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    return params


def compose(args: argparse.Namespace) -> None:
    """Write ``<name>_s<seeds>.npz``: forests pooled, from the stored runs of single forests.

    A forest made of several forests of equal size predicts the mean of their probabilities, so
    a pool's protocol comes from its members' stored runs (each fitted exactly as it would be
    inside the pool) without fitting anything again. ``--members CAND@SEED,...`` is given once
    per seed of the pool: the k-th is written as seed k.
    """
    if args.name in CANDIDATES or not args.name.isidentifier():
        raise SystemExit(f"compose: {args.name!r} is a training candidate's name or not a plain name: pick another")
    result, classes, sample_id, folds = {}, None, None, None
    for seed, spec in enumerate(args.members):
        members = []
        if len(set(spec.split(","))) != len(spec.split(",")):
            raise SystemExit(f"compose: {spec} names a forest twice")
        for member in spec.split(","):
            name, _, member_seed = member.partition("@")
            if not member_seed.isdigit():
                raise SystemExit(f"compose: {member!r} is not CANDIDATE@SEED (e.g. base@0)")
            # The run of that seed with the most finished folds (a run cut short may be stored too).
            runs = [d for d in map(load_run, run_files(name)) if f"rf|plain|{member_seed}" in d.files]
            if not runs:
                raise SystemExit(f"no stored run of {name} with seed {member_seed}: "
                                 f"run exp_newsigner.py run --candidate {name} --seeds {member_seed}")
            found = max(runs, key=lambda d: len(d["folds_done"]) if "folds_done" in d.files else 0)
            if classes is not None and (list(found["classes"]) != classes or list(found["sample_id"]) != sample_id):
                raise SystemExit(f"{member}: another table or classes than the other members")
            classes, sample_id = list(found["classes"]), list(found["sample_id"])
            done = set(found["folds_done"]) if "folds_done" in found.files else None  # older runs: every fold
            folds = done if folds is None else (folds if done is None else folds & done)
            members.append((found, member_seed))
        for kind in ["plain", *VIEWS]:
            result[f"rf|{kind}|{seed}"] = np.mean([_scored_as_zero(m[f"rf|{kind}|{s}"]) for m, s in members], axis=0)
        log(True, f"{args.name} seed {seed}: mean of {spec}")
    path = OUT / f"{args.name}_s{''.join(map(str, range(len(args.members))))}.npz"
    extra = {} if folds is None else {"folds_done": np.array(sorted(folds))}
    tmp = path.with_suffix(".part.npz")  # a run killed while writing leaves no half file under the name
    np.savez_compressed(tmp, classes=np.array(classes), sample_id=np.array(sample_id), **extra, **result)
    tmp.replace(path)
    log(True, f"-> {path}" + ("" if folds is None else f" (scored on the {len(folds)} folds every member finished)"))


def run_files(name: str) -> list[Path]:
    """The stored files of candidate (or pool) ``name``: one per run, the forest's and XGBoost's."""
    return sorted(p for p in OUT.glob(f"{name}_s*.npz") if ".part." not in p.name)


def name_files(name: str) -> tuple[list[Path], str]:
    """The stored files a report name reads, and its combination with any ``@CANDIDATE`` taken off.

    ``base:rf+mlp@no_apart+w0.3`` reads the forest of ``base`` and the network of ``no_apart`` (the
    network's runs, ``*_mlp.npz``, of that other candidate in place of ``base``'s own).
    """
    candidate, _, recipe = name.partition(":")
    parts = (recipe or "").split("+")
    borrowed = [p.partition("@") for p in parts if "@" in p]
    if len(borrowed) > 1 or any(model != "mlp" or not other for model, _, other in borrowed):
        raise SystemExit(f"{name}: only the network can come from another candidate, once (mlp@CANDIDATE)")
    paths = run_files(candidate)
    if borrowed:
        other = [p for p in run_files(borrowed[0][2]) if p.name.endswith("_mlp.npz")]
        if not other:
            raise SystemExit(f"{name}: candidate {borrowed[0][2]!r} has no stored network run "
                             f"({OUT}/{borrowed[0][2]}_s*_mlp.npz): run it with --mlp-only first")
        paths = [p for p in paths if not p.name.endswith("_mlp.npz")] + other
    return paths, "+".join(p.partition("@")[0] for p in parts) if recipe else recipe


def load_run(path: Path):
    """A stored run's arrays (lazily), or a one-line exit naming a file that is not one."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise SystemExit(f"{path}: not a stored run ({exc}); delete it or run it again") from None


def trained_as_shipped(candidate: str, paths: list[Path]) -> bool:
    """Whether the forest runs in ``paths`` recorded training with the shipped recipe (their file's
    ``training``) on the shipped table (``base``'s: the augmentation candidates use it too): only
    those may go on the shipped model's card (``report --write-lodo``)."""
    forests = [p for p in paths if not p.name.endswith(("_xgb.npz", "_mlp.npz"))]
    if candidate not in ("base", *AUGMENTS) or not forests:
        return False
    for path in forests:
        run = load_run(path)
        if "training" not in run.files:  # runs made before the recipe was recorded
            return False
        try:
            recorded = json.loads(str(run["training"]))
        except ValueError:  # a damaged record: not known to be the shipped recipe
            return False
        if not isinstance(recorded, dict) or recorded.get("quick") or {k: recorded.get(k) for k in ("params", "balance", "augment")} != RECIPE:
            return False
    return True


def _scored_as_zero(proba: np.ndarray) -> np.ndarray:
    """A run's probabilities with a class it never saw at 0 on the rows it scored (as a pooled forest
    gives it), rows it did not score left NaN."""
    scored = ~np.isnan(proba).all(axis=1)
    return np.where(scored[:, None], np.nan_to_num(proba), np.nan)


def _fold_views(folder: Path, rows: pd.DataFrame) -> pd.DataFrame:
    """The views with a hand of ``rows``' photos (waits for extract_views.py to write their source)."""
    source = "" if rows.empty else str(rows["source"].iloc[0])
    name = next((n for n in ("asl2text/train", "asl2text/test", "massey", "ml_slr") if f"/{n}/" in source), None)
    if name is None:  # landmark CSVs have no photo; asl_alphabet_64/test is apart
        return pd.DataFrame(columns=["sample_id", "view"])
    path = folder / (name.replace("/", "_") + ".parquet")
    while not path.exists():
        time.sleep(20)
    views = pd.read_parquet(path)
    return views[views["detected"].astype(bool) & views["sample_id"].isin(set(rows["sample_id"]))]


def combine(data: dict[str, np.ndarray], recipe: str, seed: int, classes: list[str],
            table: pd.DataFrame | None = None) -> np.ndarray:
    """Out-of-fold probabilities of a combination like ``rf+mirror+crop`` or ``rf+xgb`` or ``rf+spec``.

    ``rf+xgb`` averages the two models' probabilities; ``rf+xgb+w0.3`` gives XGBoost the weight 0.3;
    ``rf+xgb+wdev`` chooses the weight for each held-out fold on the other folds (needs ``table``),
    from ``XGB_WEIGHTS``, by their mean accuracy on the rows with a hand.
    """
    parts = recipe.split("+")
    models = [p for p in parts if p in ("rf", "xgb", "mlp")] or ["rf"]
    if "wdev" in parts:
        return _dev_weighted(data, parts, seed, classes, table)
    weights = [float(p[1:]) for p in parts if p.startswith("w") and p[1:].replace(".", "", 1).isdigit()]
    xgb_weight = weights[0] if weights else 0.5
    views = ["plain"] + [p for p in parts if p in VIEWS]
    proba = 0.0
    for model in models:
        total, count = 0.0, 0.0
        for view in views:
            part = data[f"{model}|{view}|{seed}"]
            have = ~np.isnan(part).all(axis=1)
            total = total + np.where(have[:, None], np.nan_to_num(part), 0.0)
            count = count + have
        weight = 1.0 if len(models) == 1 else (xgb_weight if model != "rf" else 1.0 - xgb_weight)
        proba = proba + weight * total / np.maximum(count, 1)[:, None]
    below = [float(p[len("below"):]) for p in parts if p.startswith("below")]
    if below:
        # Views only where the first estimate's calibrated confidence is under the threshold, as
        # views.photo_probabilities does (the shipped model's temperature stands in for the fold's).
        from landmark_asl.estimators.calibration import TemperatureScaling

        first = combine(data, "+".join(p for p in parts if p in ("rf", "xgb", "mlp") or p.startswith("w")) or "rf",
                        seed, classes, table)
        scaling = TemperatureScaling.from_dict({"method": "temperature", "temperature": GATE_TEMPERATURE,
                                                "smoothing": 0.001})
        have = first.sum(axis=1) > 0
        sure = np.zeros(len(first), dtype=bool)
        sure[have] = scaling.apply(first[have]).max(axis=1) >= below[0]
        proba = np.where(sure[:, None], first, proba)
    # noz / noj: the still Z (J) class taken out of the answer (its votes go to the other letters),
    # a free stand-in for training without the still Z (J) rows.
    for part, letter in (("noz", "Z"), ("noj", "J")):
        if part in parts and letter in classes:
            proba = proba.copy()
            proba[:, classes.index(letter)] = 0.0
            proba = proba / np.maximum(proba.sum(axis=1, keepdims=True), 1e-12)
    if "spec" in parts:
        proba = proba.copy()
        top = proba.argmax(axis=1)
        for g, letters in SPECIALISTS.items():
            cols = [classes.index(c) for c in letters if c in classes]
            spec = np.nan_to_num(data[f"rf|spec_{g}|{seed}"][:, cols])
            use = np.isin(top, cols) & (spec.sum(axis=1) > 0)
            mass = proba[use][:, cols].sum(axis=1, keepdims=True)
            proba[np.ix_(use, cols)] = mass * spec[use] / spec[use].sum(axis=1, keepdims=True)
    return proba


#: XGBoost's weights tried by ``wdev`` (0: the forest alone, 1: XGBoost alone).
XGB_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def _dev_weighted(data: dict[str, np.ndarray], parts: list[str], seed: int, classes: list[str],
                  table: pd.DataFrame) -> np.ndarray:
    """``combine`` with XGBoost's weight chosen for each held-out fold on the other scored folds only."""
    rest = [p for p in parts if p != "wdev"]
    groups = table["group"].astype(str).to_numpy()
    detected = table["detected"].astype(bool).to_numpy()
    truth = table["label"].astype(str).to_numpy()
    folds = sorted(set(groups))
    tries = {w: combine(data, "+".join(rest + [f"w{w}"]), seed, classes, table) for w in XGB_WEIGHTS}
    right = {w: np.asarray(classes, dtype=object)[p.argmax(axis=1)] == truth for w, p in tries.items()}
    accuracy = {(w, f): right[w][detected & (groups == f)].mean() for w in XGB_WEIGHTS for f in folds
                if (detected & (groups == f)).any()}
    scored = [f for f in folds if f not in APART and (0.5, f) in accuracy]
    proba = tries[0.5].copy()
    for fold in folds:
        others = [f for f in scored if f != fold]
        best = max(XGB_WEIGHTS, key=lambda w: (np.mean([accuracy[(w, f)] for f in others]), -abs(w - 0.5)))
        held = groups == fold
        proba[held] = tries[best][held]
        log(True, f"wdev seed {seed}: {fold} -> xgb weight {best}")
    return proba


def pointing_gated(data: dict[str, np.ndarray], table: pd.DataFrame, classes: list[str],
                   spec: list | tuple = DEFAULT_GATES) -> dict[str, np.ndarray]:
    """Every stored probability array (each model, view and seed) through the pointing gates per fold.

    The ``gq`` part of a report name: what a model trained with ``Recipe.pointing`` answers
    (:class:`landmark_asl.estimators.pointing.PointingGate`: G or Q, K or P by where the index points),
    each held-out fold's gate fitted on the other folds' rows with a hand (every dataset alike, as
    :func:`landmark_asl.training.train.fit_pointing` does). Every view is gated with the angle of
    the photo's first estimate (the views' own landmarks are not stored; the mirror view's angle
    is the same, and the re-estimated ones differ by landmark noise). ``spec``: the gates,
    ``(letters, mode)`` pairs (``exp_pointing_gates.py search`` adds one).
    """
    detected = table["detected"].astype(bool).to_numpy()
    groups = table["group"].astype(str).to_numpy()
    labels = table["label"].astype(str).to_numpy()
    datasets = table["dataset"].astype(str).to_numpy()
    X = np.zeros((len(table), 127))
    X[detected] = raw_features(table[detected])
    gates = {}
    for fold in np.unique(groups[detected]):
        train = detected & (groups != fold)  # as fit_pointing does for the recipe's balance
        gates[fold] = fit_gates(X[train], labels[train], datasets[train], spec)
    out = dict(data)
    for key, proba in data.items():
        if key.count("|") != 2:
            continue
        gated = proba.copy()
        for fold, gate in gates.items():
            rows = detected & (groups == fold) & ~np.isnan(proba).all(axis=1)
            if gate and rows.any():
                gated[rows] = apply_gates(gate, proba[rows], X[rows], classes)
        out[key] = gated
    return out


def errors_line(groups: dict, names: list[str]) -> str:
    """Each group's errors a seed (pooled over the folds) with their sd over seeds, e.g. ``M/N 5.2 +- 2.2``.

    ``groups``: ``confusion_errors(...)["groups"]``, whose ``rate_seed_sd`` is a share of the
    group's ``n`` rows a seed; a group missing from ``groups`` is left out.
    """
    return ", ".join(f"{k} {groups[k]['errors']:.1f} +- {groups[k]['rate_seed_sd'] * groups[k]['n']:.1f}"
                     for k in names if k in groups)


def fold_errors_line(runs: list[dict], groups: list[str], top: int = 8) -> str:
    """One fold's named-group errors a seed (``errors_line``) and its ``top`` most frequent
    confusions a seed, e.g. ``X->Z 40.0``; ``runs``: that fold's runs of ``score_predictions``, one a seed."""
    pairs: dict[str, float] = {}
    for run in runs:
        for pair, count in run["confusions"].items():
            pairs[pair] = pairs.get(pair, 0.0) + count / len(runs)
    common = sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return (f"{errors_line(confusion_errors(runs)['groups'], groups)}; most often: "
            + ", ".join(f"{pair.replace('>', '->')} {n:.1f}" for pair, n in common))


def group_folds(runs: list[dict], groups: dict[str, list[str]] | None = None, top: int = 3) -> dict[str, list]:
    """Where each named group's errors are: the folds carrying most of them.

    ``runs``: :func:`~landmark_asl.evaluation.lodo.score_predictions` runs (the apart folds left out
    by the caller). A group's errors are its rows read as another letter of the group, as in the
    tables. Returns group -> ``[(fold, errors a seed, share of the group's errors), ...]``, the
    ``top`` folds with most errors first; a group without errors gets ``[]``.
    """
    from landmark_asl.evaluation.lodo import CONFUSABLE_GROUPS

    groups = dict(CONFUSABLE_GROUPS if groups is None else groups)
    seeds = max(1, len({r["seed"] for r in runs}))
    out = {}
    for name, members in groups.items():
        per_fold: dict[str, float] = {}
        for run in runs:
            for pair, n in run.get("confusions", {}).items():
                truth, predicted = pair.split(">")
                if truth in members and predicted in members and truth != predicted:
                    per_fold[run["fold"]] = per_fold.get(run["fold"], 0.0) + n / seeds
        total = sum(per_fold.values())
        ranked = sorted(per_fold.items(), key=lambda item: (-item[1], item[0]))[:top]
        out[name] = [(fold, errors, errors / total) for fold, errors in ranked]
    return out


def letter_conflicts(runs: list[dict], share: float = 0.7) -> dict[str, dict]:
    """Each fold's letters formed otherwise: a letter most of whose rows (``share`` or more, pooled
    over the seeds) are read as one and the same other letter, and the fold's accuracy on its other
    letters.

    ``runs``: ``score_predictions(...)["runs"]`` (``confusions`` ``'TRUE>PREDICTED'`` -> count and
    ``letter_counts``, a run per fold and seed). Returns ``{fold: {"letters": [(letter, read_as,
    share), ...], "rest_accuracy": float | None, "rest_rows": int, "accuracy": float}}`` for the folds
    with at least one such letter (a fold whose letters are all formed otherwise has no rest).
    """
    out: dict[str, dict] = {}
    for fold in sorted({r["fold"] for r in runs}):
        mine = [r for r in runs if r["fold"] == fold and r.get("letter_counts")]
        if not mine:
            continue
        counts: dict[str, int] = {}
        wrong: dict[tuple[str, str], int] = {}
        for r in mine:
            for letter, n in r["letter_counts"].items():
                counts[letter] = counts.get(letter, 0) + n
            for pair, n in r["confusions"].items():
                true, _, predicted = pair.partition(">")
                wrong[(true, predicted)] = wrong.get((true, predicted), 0) + n
        letters = sorted(((t, p, n / counts[t]) for (t, p), n in wrong.items() if n / counts[t] >= share),
                         key=lambda x: (-x[2], x[0]))
        if not letters:
            continue
        gone = {t for t, _, _ in letters}
        errors = {t: sum(n for (a, _), n in wrong.items() if a == t) for t in counts}
        rest = sum(n for t, n in counts.items() if t not in gone)
        right = sum(counts[t] - errors[t] for t in counts if t not in gone)
        out[fold] = {"letters": letters, "rest_accuracy": right / rest if rest else None, "rest_rows": rest // len(mine),
                     "accuracy": sum(counts[t] - errors[t] for t in counts) / sum(counts.values())}
    return out


def holds_seed(keys: list[str], seeds: list[int] | None, models: list[str]) -> bool:
    """Whether a stored run's arrays (``keys``, e.g. ``rf|plain|3``) hold one of ``seeds`` (None: any)
    for one of ``models`` (``rf``, ``xgb``): the runs a report of those seeds and models reads."""
    held = {(k.split("|")[0], int(k.split("|")[2])) for k in keys
            if k.count("|") == 2 and k.split("|")[2].isdigit()}
    return any(m in models and (seeds is None or s in seeds) for m, s in held)


def recipe_models(recipe: str) -> list[str]:
    """The models a report combination (``rf+xgb+wdev+mirror``...) reads: ``rf`` and/or ``xgb``."""
    return [p for p in (recipe or "rf").split("+") if p in ("rf", "xgb", "mlp")] or ["rf"]


def group_letters(groups: list[str]) -> list[str]:
    """The letters of the named groups (``M/N``, ``T/L/G/Y``...), each once, in alphabetical order."""
    return sorted({letter for g in groups for letter in g.split("/")})


def report(args: argparse.Namespace) -> None:
    table = load_table(args.cache_dir, 2).reset_index(drop=True)
    ids = table["sample_id"].to_numpy().astype(str)
    files = {name: name_files(name)[0] for name in args.names}  # one file per run: their seeds together
    # A run cut short (``folds_done``): every name is scored on the folds all its runs finished.
    # Only the runs of the seeds asked for: another seed's run still going does not narrow the report.
    unfinished = [set(d["folds_done"]) for name, ps in files.items() for d in map(load_run, ps)
                  if "folds_done" in d and holds_seed(d.files, args.seeds, recipe_models(name_files(name)[1]))]
    keep = np.ones(len(table), dtype=bool)
    if unfinished:
        keep = table["group"].astype(str).isin(set.intersection(*unfinished)).to_numpy()
        print(f"scored on the {len(set.intersection(*unfinished))} finished folds only: "
              f"{', '.join(sorted(set.intersection(*unfinished)))}")
        table = table[keep].reset_index(drop=True)
    rows, apart_runs, all_runs = [], {}, {}
    for name in args.names:
        candidate = name.partition(":")[0]
        recipe = name_files(name)[1]
        paths = files[name]
        data = {k: v for path in paths for k, v in load_run(path).items()}
        assert (data["sample_id"] == ids).all()
        data = {k: v[keep] if k.count("|") == 2 else v for k, v in data.items()}
        path = ", ".join(map(str, paths))
        classes = [str(c) for c in data["classes"]]
        models = recipe_models(recipe)
        seeds = sorted(int(k.split("|")[2]) for k in data if k.count("|") == 2 and k.startswith(f"{models[0]}|plain|")
                       and all(f"{m}|plain|{k.split('|')[2]}" in data for m in models)
                       and (args.seeds is None or int(k.split("|")[2]) in args.seeds))
        if "gq" in (recipe or "").split("+"):
            data = pointing_gated(data, table, classes)
        oof = {s: combine(data, recipe or "rf", s, classes, table) for s in seeds}
        result = score_predictions(table, oof, classes, apart=APART)
        s = result["summary"]
        rows.append((name, s))
        apart_runs[name] = [r for r in result["runs"] if r["fold"] in APART]
        all_runs[name] = result["runs"]
        if args.write_lodo:
            parts = (recipe or "rf").split("+")
            below = [float(p[len("below"):]) for p in parts if p.startswith("below")] or [None]
            if not trained_as_shipped(candidate, paths) or {p for p in parts if not p.startswith("below")} - {"rf", "gq", *VIEWS}:
                raise SystemExit("--write-lodo: only runs that recorded the shipped recipe (candidate base or an "
                                 "augmentation candidate equal to it), with views, can go on the card")
            Path(args.write_lodo).write_text(json.dumps({
                **result, "recipe": RECIPE, "views": [p for p in parts if p in VIEWS],
                "pointing": [[list(letters), mode] for letters, mode in DEFAULT_GATES] if "gq" in parts else [],
                "views_below": below[0],
                "seeds": seeds,
                "sources": sorted(IMAGE_SOURCES + CSV_SOURCES), "oof_file": str(path)}, indent=2))
        if args.cleanlab:
            from cleanlab.filter import find_label_issues

            keep = table["detected"].astype(bool).to_numpy() & ~table["group"].isin(list(APART)).to_numpy()
            labels = np.array([classes.index(c) for c in table["label"][keep]])
            issues = find_label_issues(labels, oof[seeds[0]][keep] / oof[seeds[0]][keep].sum(1, keepdims=True),
                                       return_indices_ranked_by="self_confidence", n_jobs=1)
            flagged = table[keep].iloc[issues]
            print(f"cleanlab flags {len(flagged)} rows; by group and label:")
            print(flagged.groupby(["group", "label"]).size().sort_values(ascending=False).head(40).to_string())
            Path(args.cleanlab).write_text(json.dumps(flagged["sample_id"].tolist()))
            flagged[["sample_id", "source", "group", "label"]].to_csv(Path(args.cleanlab).with_suffix(".csv"), index=False)
    groups = list(rows[0][1]["errors"]["groups"])
    print("| candidate | mean (seed sd) | worst fold | " + " | ".join(groups) + " |")
    print("| --- | ---: | --- | " + " | ".join("---:" for _ in groups) + " |")
    for name, s in rows:
        g = s["errors"]["groups"]
        print(f"| {name} | {s['mean_accuracy']:.1%} ({s['mean_accuracy_seed_sd']:.1%}) | {s['worst_fold']} "
              f"{s['worst_accuracy']:.1%} | " + " | ".join(
                  f"{g[k]['rate']:.1%} (w {g[k]['worst_rate']:.0%})" if k in g else "-" for k in groups) + " |")
    print("\nErrors per seed (mean over seeds +- their sd over seeds):")
    for name, s in rows:
        print(f"- {name}: {errors_line(s['errors']['groups'], groups)}")
    print("\nErrors per seed of each label, read as any other (the named groups' letters first):")
    for name, s in rows:
        first = group_letters(groups)
        rest = sorted(set(s["errors"]["letters"]) - set(first))
        print(f"- {name}: {errors_line(s['errors']['letters'], first + rest)}")
    # The apart folds are scored but left out of the mean and the tables above; their photos
    # (Kaggle-style, one room) are the closest here to photos a user takes.
    for fold in APART:
        if any(r["fold"] == fold for runs in apart_runs.values() for r in runs):
            print(f"\nErrors per seed on {fold} (apart: not in the mean or the tables above):")
            for name, _ in rows:
                mine = [r for r in apart_runs[name] if r["fold"] == fold]
                if mine:
                    print(f"- {name}: {fold_errors_line(mine, groups)}")
    if args.conflicts:
        print("\nLetters formed otherwise (70% or more of a fold's rows of a letter read as one other letter), "
              "and the fold's accuracy on its other letters:")
        for name, runs in all_runs.items():
            for fold, c in letter_conflicts([r for r in runs if r["fold"] not in APART]).items():
                rest = "-" if c["rest_accuracy"] is None else f"{c['rest_accuracy']:.1%}"
                print(f"- {name}, {fold} ({c['accuracy']:.1%}): " + ", ".join(f"{t}->{p} {x:.0%}" for t, p, x in c["letters"])
                      + f"; the other letters {rest} ({c['rest_rows']} rows)")
    if args.where:
        print("\nWhere each group's errors are (errors a seed, share of the group's; the 3 folds with most):")
        for name, runs in all_runs.items():
            where = group_folds([r for r in runs if r["fold"] not in APART])
            print(f"- {name}: " + "; ".join(
                f"{group} " + (", ".join(f"{fold} {n:.1f} ({share:.0%})" for fold, n, share in folds) or "none")
                for group, folds in where.items()))
    if args.folds:
        for name, s in rows:
            print(f"\n{name}: " + ", ".join(f"{r['fold']} {r['accuracy_detected']:.1%}" for r in s["per_fold"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--candidate", default="base", choices=CANDIDATES)
    r.add_argument("--flagged", type=Path, default=None)
    r.add_argument("--xgb", action="store_true")
    r.add_argument("--xgb-only", action="store_true",
                   help="Fit XGBoost alone (written as <candidate>_s<seeds>_xgb.npz, beside a forest run's file).")
    r.add_argument("--mlp-only", action="store_true",
                   help="Fit the network (the 'mlp' model) alone (written as <candidate>_s<seeds>_mlp.npz).")
    r.add_argument("--mlp-params", type=mlp_params, default={},
                   help='The MLP\'s parameters as JSON, e.g. \'{"epochs": 60}\'.')
    r.add_argument("--xgb-rounds", type=int, default=200,
                   help="XGBoost's boosting rounds, learning rate 20 / rounds (200: the class's defaults).")
    r.add_argument("--quick", action="store_true",
                   help="Screening: 25 trees, no augmentation (written as q<candidate>, e.g. report qbase).")
    r.add_argument("--seeds", type=lambda t: [int(x) for x in t.split(",")], default=[0])
    c = sub.add_parser("compose", help="Forests pooled, from stored single-forest runs (writes NAME_s<seeds>.npz).")
    c.add_argument("name", help="Name of the pool, reported like a candidate (NAME:rf+mirror...).")
    c.add_argument("--members", action="append", required=True, metavar="CAND@SEED,...",
                   help="One pool seed's forests, e.g. base@0,base@1,yaw180@3; repeat for each seed.")
    p = sub.add_parser("report")
    p.add_argument("names", nargs="+", help="CANDIDATE[:COMBINATION], e.g. base:rf+mirror, base:rf+xgb")
    p.add_argument("--cleanlab", default=None, help="Write the rows cleanlab flags (JSON of sample ids) here.")
    p.add_argument("--folds", action="store_true")
    p.add_argument("--where", action="store_true",
                   help="The folds carrying most of each named group's errors (group_folds).")
    p.add_argument("--conflicts", action="store_true",
                   help="Each fold's letters formed otherwise (letter_conflicts) and its accuracy on the others.")
    p.add_argument("--seeds", type=lambda t: [int(x) for x in t.split(",")], default=None,
                   help="Score these seeds only (default: every seed each combination has).")
    p.add_argument("--write-lodo", default=None, metavar="FILE",
                   help="Write the (one) named combination's protocol result for train_default.py --lodo-json.")
    for q in (r, p):
        q.add_argument("--cache-dir", default=None, help="Landmark cache (default: the per-user cache).")
        q.add_argument("--views", default=".cache/views")
    args = parser.parse_args(argv)
    {"run": run, "compose": compose, "report": report}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
