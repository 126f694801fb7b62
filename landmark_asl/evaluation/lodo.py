"""Leave-one-group-out evaluation: every signer, session or source held out in turn (the dev protocol)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from landmark_asl.data.landmark_cache import log
from landmark_asl.estimators.calibration import TemperatureScaling
from landmark_asl.estimators.registry import get_spec
from landmark_asl.evaluation.metrics import apply_no_hand_rule, calibration_metrics
from landmark_asl.exceptions import DatasetError
from landmark_asl.training.recipe import Recipe
from landmark_asl.training.train import fit_estimator, fit_pointing, gated_proba, model_inputs

#: The letter groups a new signer confuses (issue 21), scored by :func:`confusion_errors`: the
#: share of a group's held-out rows predicted as ANOTHER letter of the same group.
CONFUSABLE_GROUPS: dict[str, tuple[str, ...]] = {
    "M/N": ("M", "N"),
    "X/Z": ("X", "Z"),
    "G/Z": ("G", "Z"),
    "T/L/G/Y": ("T", "L", "G", "Y"),
    "P/Q": ("P", "Q"),
    "U/R": ("U", "R"),
    "C/O": ("C", "O"),
    "I/J": ("I", "J"),
    "S/A/E": ("S", "A", "E"),
}


def leave_one_group_out(
    table: pd.DataFrame,
    recipe: Recipe,
    *,
    seeds: Sequence[int] = (0,),
    n_jobs: int = 1,
    apart: Mapping[str, str] | None = None,
    views: pd.DataFrame | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Hold out each group of ``table`` in turn, train on all the others, score the held-out one.

    A group is a signer, a recording session or a source (the table's ``group`` column:
    ``massey/hand1`` .. ``hand5``, ``ml_slr/user_3`` .., ``asl2text/train``, ``nejohnson2`` ...),
    so every fold measures people, rooms or cameras the model never saw. The model trains on the
    other groups' rows with a hand; it is scored on every held-out row (a row without a hand counts
    as wrong unless NOTHING is a class, see :func:`~landmark_asl.evaluation.metrics.apply_no_hand_rule`)
    and, for calibration, on the held-out rows with a hand. Calibration is reported raw and
    after temperature scaling, each fold's temperature fitted on the out-of-fold predictions of
    the OTHER folds (never on the fold it is scored on, never on a fold ``apart``).

    Parameters
    ----------
    table : pandas.DataFrame
        A landmark table (``label``, ``group``, ``detected`` and landmark columns), e.g. from
        :func:`landmark_asl.data.landmark_cache.load_landmarks`.
    recipe : Recipe
        How each fold's model is trained (a landmark model: ``'rf'``, ``'rf_mlp'``, ``'mlp'`` or ``'xgb'``;
        :func:`landmark_asl.training.train.fit_estimator`; with ``recipe.pointing`` each fold's
        probabilities go through the pointing gates fitted on its training rows). ``recipe.calibrate``
        is not used: calibration is reported both raw and temperature-scaled.
    seeds : sequence of int
        One fit per fold and seed; the spread over seeds is reported.
    n_jobs : int
        Worker threads of each fit.
    apart : mapping of str to str, optional
        Groups reported apart, with the reason (e.g. ``{"asl_alphabet_64/test": "64x64 pixels:
        poor landmarks"}``): scored, but left out of the means and of every temperature fit.
    views : pandas.DataFrame, optional
        More landmark estimates of the same photos (:mod:`landmark_asl.hands.views`: a landmark table
        whose ``sample_id`` names a row of ``table``, any number of rows per photo): a held-out
        photo's probabilities are the mean over its own estimate and its views with a hand.
        Training never sees them.
    progress : bool
        One line per fit on stderr.

    Returns
    -------
    dict
        ``runs`` (one dict per fold and seed), ``summary`` (:func:`summarise_folds`), and the
        out-of-fold probabilities ``oof`` (seed -> ndarray of shape (n_rows, n_classes), rows
        of ``table`` in order, zero where no hand) with their ``classes``, from which
        :func:`score_predictions` scores any combination (e.g. two models' mean).

    Raises
    ------
    DatasetError
        Fewer than two groups, or the pixel model (it has no landmark rows to hold out).
    """

    model_name = recipe.model_name
    if get_spec(model_name).input_kind != "landmarks":
        raise DatasetError(f"{model_name}: leave-one-group-out evaluation is for landmark models (rf, rf_mlp, mlp, xgb)")
    recipe.check()
    table = table.reset_index(drop=True)
    groups = table["group"].astype(str).to_numpy(dtype=object)
    folds = sorted(set(groups))
    if len(folds) < 2:
        raise DatasetError(
            f"leave-one-group-out needs at least two groups (signers, sessions or sources); got {folds}: "
            "give more sources, or use a random or group split"
        )
    detected = table["detected"].astype(bool).to_numpy()
    classes_all = sorted(set(table["label"].to_numpy(dtype=object)[detected]))
    extra = _view_rows(table, views)
    oof = {seed: np.zeros((len(table), len(classes_all))) for seed in seeds}
    seconds: dict[tuple[str, int], float] = {}
    for fold in folds:
        held = groups == fold
        test = held & detected
        gate = fit_pointing(recipe, table[~held & detected])  # no seed in it: once a fold
        for seed in seeds:
            start = time.perf_counter()
            estimator, _ = fit_estimator(recipe, table[~held & detected], random_state=seed, n_jobs=n_jobs)
            columns = [classes_all.index(str(c)) for c in estimator.classes_]
            if test.any():
                proba = gated_proba(gate, estimator, model_inputs(model_name, estimator, table[test]))
                if extra is not None:
                    proba = _average_views(proba, np.flatnonzero(test), extra, estimator, model_name, gate)
                oof[seed][np.ix_(test, columns)] = proba
            seconds[(fold, seed)] = time.perf_counter() - start
            log(progress, f"  {model_name} without {fold} (seed {seed}): {int(test.sum())} held-out rows with a "
                          f"hand ({seconds[(fold, seed)]:.0f} s)")
    result = score_predictions(table, oof, classes_all, apart=apart, seconds=seconds)
    return {**result, "oof": oof, "classes": classes_all}


def _view_rows(table: pd.DataFrame, views: pd.DataFrame | None) -> pd.DataFrame | None:
    """The views with a hand, each with ``row``: the position in ``table`` of the photo it estimates."""
    if views is None:
        return None
    rows = views[views["detected"].astype(bool)]
    position = pd.Series(np.arange(len(table)), index=table["sample_id"].to_numpy())
    if position.index.has_duplicates:
        raise DatasetError("views need a table whose sample_id names one row each; found duplicates")
    rows = rows[rows["sample_id"].isin(position.index)]
    return rows.assign(row=position.loc[rows["sample_id"].to_numpy()].to_numpy()).reset_index(drop=True)


def _average_views(proba: np.ndarray, rows: np.ndarray, extra: pd.DataFrame, estimator: Any,
                   model_name: str, gate: Any = ()) -> np.ndarray:
    """Mean of each test row's probabilities (``proba``, rows ``rows`` of the table) and its views'
    (each view's through the pointing gates ``gate`` with its own landmarks, as a loaded model answers)."""

    mine = extra[extra["row"].isin(rows)]
    if mine.empty:
        return proba
    where = pd.Series(np.arange(len(rows)), index=rows).loc[mine["row"].to_numpy()].to_numpy()
    total = proba.copy()
    np.add.at(total, where, gated_proba(gate, estimator, model_inputs(model_name, estimator, mine)))
    count = np.ones(len(rows))
    np.add.at(count, where, 1.0)
    return total / count[:, None]


def score_predictions(
    table: pd.DataFrame,
    oof: Mapping[int, np.ndarray],
    classes: Sequence[str],
    *,
    apart: Mapping[str, str] | None = None,
    seconds: Mapping[tuple[str, int], float] | None = None,
) -> dict[str, Any]:
    """Score out-of-fold probabilities fold by fold: accuracy, calibration, confusions.

    Parameters
    ----------
    table : pandas.DataFrame
        The protocol's table (``label``, ``group``, ``detected``), rows in the order of ``oof``.
    oof : mapping of int to ndarray of shape (n_rows, n_classes)
        Per seed, each row's probabilities from the model trained without its group (columns
        ``classes``; rows without a hand are ignored).
    classes : sequence of str
        The columns of ``oof``.
    apart : mapping of str to str, optional
        Groups scored but left out of the means (see :func:`leave_one_group_out`).
    seconds : mapping of (fold, seed) to float, optional
        Time of each fit, reported per run.

    Returns
    -------
    dict
        ``runs`` (one dict per fold and seed, with ``confusions``: ``'TRUE>PREDICTED'`` -> count
        of the wrong answers, and ``letter_counts``) and ``summary`` (:func:`summarise_folds`).
    """

    apart = dict(apart or {})
    table = table.reset_index(drop=True)
    groups = table["group"].astype(str).to_numpy(dtype=object)
    detected = table["detected"].astype(bool).to_numpy()
    labels = table["label"].to_numpy(dtype=object)
    names = np.asarray(classes, dtype=object)
    runs: list[dict[str, Any]] = []
    for fold in sorted(set(groups)):
        held = groups == fold
        test = held & detected
        for seed, proba in oof.items():
            predicted = np.full(len(table), None, dtype=object)
            run: dict[str, Any] = {"fold": fold, "seed": seed, "n_test": int(held.sum()), "n_detected": int(test.sum())}
            if test.any():
                predicted[test] = names[proba[test].argmax(axis=1)]
                cal = calibration_metrics(labels[test], proba[test], classes)
                run.update({k: cal[k] for k in ("ece", "brier", "auroc", "median_confidence_correct")})
                wrong = predicted[test] != labels[test]
                pairs = pd.Series([f"{t}>{p}" for t, p in zip(labels[test][wrong], predicted[test][wrong])])
                run["confusions"] = {str(k): int(v) for k, v in pairs.value_counts().sort_index().items()}
                run["letter_counts"] = {str(k): int(v) for k, v in
                                        pd.Series(labels[test]).value_counts().sort_index().items()}
            final = apply_no_hand_rule(predicted[held], detected[held], classes)
            right = final == labels[held]
            run.update({
                "coverage": float(detected[held].mean()),
                "accuracy_all": float(right.mean()),
                "accuracy_detected": float(right[detected[held]].mean()) if test.any() else None,
                "seconds": (seconds or {}).get((fold, seed)),
            })
            runs.append(run)
    add_scaled_calibration(runs, oof, groups, labels, detected, classes, apart)
    return {"runs": runs, "summary": summarise_folds(runs, apart)}


def confusion_errors(runs: Sequence[dict[str, Any]], apart: Mapping[str, str] | None = None,
                     groups: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """Error rates of each letter and each confusable group, over the folds not ``apart``.

    A letter's error is the share of its held-out rows (with a hand) predicted as anything
    else; a group's (:data:`CONFUSABLE_GROUPS`) is the share of the rows of its letters
    predicted as ANOTHER letter of the group (M -> N and N -> M for M/N). Each is given
    pooled over the folds (all their rows together; mean over seeds, with the sd over seeds),
    as the mean of the folds' rates (folds holding the letters) and as the worst fold.

    Parameters
    ----------
    runs : sequence of dict
        Runs of :func:`score_predictions` (with ``confusions`` and ``letter_counts``).
    apart : mapping of str to str, optional
        Folds left out.
    groups : mapping of str to sequence of str, optional
        The groups; default :data:`CONFUSABLE_GROUPS`.

    Returns
    -------
    dict
        ``letters`` and ``groups``: name -> ``{"n", "errors", "rate", "rate_seed_sd",
        "fold_mean", "worst_fold", "worst_rate"}`` (``n`` and ``errors`` per seed, pooled).
    """
    apart = dict(apart or {})
    groups = dict(CONFUSABLE_GROUPS if groups is None else groups)
    kept = [r for r in runs if r["fold"] not in apart and r.get("letter_counts")]
    letters = sorted({k for r in kept for k in r["letter_counts"]})
    sets = {**{letter: ((letter,), None) for letter in letters},
            **{name: (tuple(members), set(members)) for name, members in groups.items()}}
    counts: dict[str, list[tuple[str, int, int, int]]] = {name: [] for name in sets}
    for run in kept:
        for name, (members, within) in sets.items():
            n = sum(run["letter_counts"].get(m, 0) for m in members)
            errors = 0
            for pair, count in run["confusions"].items():
                true, predicted = pair.split(">", 1)
                if true in members and (within is None or predicted in within):
                    errors += count
            counts[name].append((run["fold"], run["seed"], n, errors))
    out: dict[str, Any] = {"letters": {}, "groups": {}}
    for name, rows in counts.items():
        frame = pd.DataFrame(rows, columns=["fold", "seed", "n", "errors"])
        frame = frame[frame["n"] > 0]
        if frame.empty:
            continue
        per_seed = frame.groupby("seed")[["n", "errors"]].sum()
        rates = per_seed["errors"] / per_seed["n"]
        per_fold = frame.groupby("fold")[["n", "errors"]].sum()
        fold_rates = per_fold["errors"] / per_fold["n"]
        n_seeds = frame["seed"].nunique()
        out["letters" if sets[name][1] is None else "groups"][name] = {
            "n": int(per_seed["n"].iloc[0]),
            "errors": float(per_seed["errors"].mean()),
            "rate": float(rates.mean()),
            "rate_seed_sd": float(rates.std()) if n_seeds > 1 else 0.0,
            "fold_mean": float(fold_rates.mean()),
            "worst_fold": str(fold_rates.idxmax()),
            "worst_rate": float(fold_rates.max()),
        }
    return out


def format_confusions(errors: dict[str, Any], *, letters: bool = True) -> str:
    """The tables of :func:`confusion_errors` as Markdown: the confusable groups, then every letter."""

    def block(title: str, items: dict[str, Any]) -> list[str]:
        lines = [f"| {title} | rows | errors | error, pooled (seed sd) | mean of folds | worst fold |",
                 "| --- | ---: | ---: | ---: | ---: | --- |"]
        for name, e in items.items():
            lines.append(f"| {name} | {e['n']} | {e['errors']:.1f} | {e['rate']:.1%} ({e['rate_seed_sd']:.1%}) | "
                         f"{e['fold_mean']:.1%} | {e['worst_fold']} {e['worst_rate']:.1%} |")
        return lines

    lines = block("confusable group (errors within it)", errors["groups"])
    if letters:
        lines += [""] + block("letter (any error)", errors["letters"])
    return "\n".join(lines)


def add_scaled_calibration(runs: Sequence[dict[str, Any]], oof: Mapping[int, np.ndarray], groups: np.ndarray,
                           labels: np.ndarray, detected: np.ndarray, classes_all: Sequence[str],
                           apart: Mapping[str, str]) -> None:
    """Add temperature-scaled calibration to each run (``fold``, ``seed``), in place.

    Each run's temperature is fitted on the out-of-fold predictions ``oof[seed]`` (shape
    (n_rows, n_classes), columns ``classes_all``) of the rows with a hand of the OTHER groups,
    groups ``apart`` left out, and scored on the run's own held-out rows with a hand.
    """

    for run in runs:
        test = (groups == run["fold"]) & detected
        fit = (groups != run["fold"]) & detected & ~np.isin(groups, list(apart))
        if not test.any() or not fit.any():
            continue
        scaling = TemperatureScaling.fit(labels[fit], oof[run["seed"]][fit], classes_all)
        cal = calibration_metrics(labels[test], scaling.apply(oof[run["seed"]][test]), classes_all)
        run.update({"temperature": scaling.temperature, "ece_scaled": cal["ece"], "brier_scaled": cal["brier"],
                    "median_confidence_correct_scaled": cal["median_confidence_correct"]})


_MEANS = ("coverage", "accuracy_all", "accuracy_detected", "ece", "brier", "auroc", "median_confidence_correct",
          "ece_scaled", "brier_scaled", "median_confidence_correct_scaled", "temperature")


def summarise_folds(runs: Sequence[dict[str, Any]], apart: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Per-fold means over seeds, the mean and worst fold, and the letters' and confusable groups'
    errors (:func:`confusion_errors`; folds ``apart`` left out).

    The headline is the accuracy on held-out rows with a hand (``accuracy_detected``), as the
    classifier's figure; ``accuracy_all`` (no hand = wrong) and ``coverage`` sit beside it.
    """
    apart = dict(apart or {})
    frame = pd.DataFrame(list(runs))
    for key in _MEANS:
        if key not in frame:
            frame[key] = np.nan
    frame[list(_MEANS)] = frame[list(_MEANS)].astype(float)
    agg = {key: (key, "mean") for key in _MEANS}
    per_fold = frame.groupby("fold").agg(n_test=("n_test", "first"), n_detected=("n_detected", "first"),
                                         accuracy_sd=("accuracy_detected", "std"), **agg)
    per_fold["accuracy_sd"] = per_fold["accuracy_sd"].fillna(0.0)
    per_fold["apart"] = [apart.get(fold) for fold in per_fold.index]
    main = per_fold[~per_fold.index.isin(list(apart))]
    by_seed = frame[~frame["fold"].isin(list(apart))].groupby("seed")["accuracy_detected"].mean()

    def mean(key: str) -> float | None:
        value = main[key].mean()
        return None if pd.isna(value) else float(value)

    return {
        "per_fold": [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
                     for row in per_fold.reset_index().to_dict(orient="records")],
        "n_folds": int(len(main)),
        "mean_accuracy": mean("accuracy_detected"),
        "mean_accuracy_all": mean("accuracy_all"),
        "mean_accuracy_seed_sd": float(by_seed.std()) if len(by_seed) > 1 else 0.0,
        "worst_fold": str(main["accuracy_detected"].idxmin()) if main["accuracy_detected"].notna().any() else None,
        "worst_accuracy": float(main["accuracy_detected"].min()) if main["accuracy_detected"].notna().any() else None,
        **{f"mean_{k}": mean(k) for k in ("ece", "brier", "auroc", "median_confidence_correct", "ece_scaled",
                                           "median_confidence_correct_scaled", "temperature")},
        "apart": apart,
        "errors": confusion_errors(runs, apart),
    }


def format_folds(summary: dict[str, Any]) -> str:
    """The per-fold table of :func:`summarise_folds` as Markdown, with a closing line of means."""

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    def num(value: float | None, digits: int = 3) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    lines = ["| held-out group | rows | hand found | accuracy, with a hand (seed sd) | accuracy, all | ECE | Brier "
             "| AUROC | median conf. of right | ECE, temperature-scaled | median conf. of right, scaled |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in summary["per_fold"]:
        note = f" ({r['apart']}; not in the mean)" if r.get("apart") else ""
        lines.append(
            f"| {r['fold']}{note} | {r['n_test']} | {pct(r['coverage'])} | {pct(r['accuracy_detected'])} "
            f"({pct(r['accuracy_sd'])}) | {pct(r['accuracy_all'])} | {num(r['ece'])} | {num(r['brier'])} | "
            f"{num(r['auroc'])} | {num(r['median_confidence_correct'], 2)} | {num(r['ece_scaled'])} | "
            f"{num(r['median_confidence_correct_scaled'], 2)} |"
        )
    s = summary
    lines.append(
        f"\nMean over {s['n_folds']} folds: {pct(s['mean_accuracy'])} with a hand (sd over seeds "
        f"{pct(s['mean_accuracy_seed_sd'])}), {pct(s['mean_accuracy_all'])} of all rows; worst fold "
        f"{s['worst_fold']} {pct(s['worst_accuracy'])}; mean ECE {num(s['mean_ece'])}, median confidence of right "
        f"answers {num(s['mean_median_confidence_correct'], 2)}; temperature-scaled (T fitted on the other folds, "
        f"mean T {num(s['mean_temperature'], 2)}): mean ECE {num(s['mean_ece_scaled'])}, median confidence of "
        f"right answers {num(s['mean_median_confidence_correct_scaled'], 2)}"
    )
    return "\n".join(lines)
