"""Leave-one-group-out evaluation: every signer, session or source held out in turn (the dev protocol)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from landmark_asl.exceptions import DatasetError


def leave_one_group_out(
    table: pd.DataFrame,
    model_name: str,
    *,
    params: dict[str, Any] | None = None,
    balance: str | None = None,
    augment: dict[str, Any] | None = None,
    seeds: Sequence[int] = (0,),
    n_jobs: int = 1,
    apart: Mapping[str, str] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Hold out each group of ``table`` in turn, train on all the others, score the held-out one.

    A group is a signer, a recording session or a source (the table's ``group`` column:
    ``massey/hand1`` .. ``hand5``, ``asl2text/train``, ``nejohnson2`` ...), so every fold
    measures people, rooms or cameras the model never saw. The model trains on the other
    groups' rows with a hand; it is scored on every held-out row (a row without a hand counts
    as wrong unless NOTHING is a class, see :func:`~landmark_asl.evaluation.apply_no_hand_rule`)
    and, for calibration, on the held-out rows with a hand. Calibration is reported raw and
    after temperature scaling, each fold's temperature fitted on the out-of-fold predictions of
    the OTHER folds (never on the fold it is scored on, never on a fold ``apart``).

    Parameters
    ----------
    table : pandas.DataFrame
        A landmark table (``label``, ``group``, ``detected`` and landmark columns), e.g. from
        :func:`landmark_asl.landmark_cache.load_landmarks`.
    model_name : str
        Registry name of a landmark model (``'rf'``, ``'xgb'``).
    params, balance, augment
        The training recipe (:func:`landmark_asl.training.fit_estimator`).
    seeds : sequence of int
        One fit per fold and seed; the spread over seeds is reported.
    n_jobs : int
        Worker threads of each fit.
    apart : mapping of str to str, optional
        Groups reported apart, with the reason (e.g. ``{"asl_alphabet_64/test": "64x64 pixels:
        poor landmarks"}``): scored, but left out of the means and of every temperature fit.
    progress : bool
        One line per fit on stderr.

    Returns
    -------
    dict
        ``runs`` (one dict per fold and seed) and ``summary`` (:func:`summarise_folds`).

    Raises
    ------
    DatasetError
        Fewer than two groups, or the pixel model (it has no landmark rows to hold out).
    """
    from landmark_asl.estimators import get_spec
    from landmark_asl.evaluation import apply_no_hand_rule, calibration_metrics
    from landmark_asl.landmark_cache import log
    from landmark_asl.training import check_recipe, fit_estimator, model_inputs

    if get_spec(model_name).input_kind != "landmarks":
        raise DatasetError(f"{model_name}: leave-one-group-out evaluation is for landmark models (rf, xgb)")
    check_recipe(model_name, balance, augment)
    apart = dict(apart or {})
    table = table.reset_index(drop=True)
    groups = table["group"].astype(str).to_numpy(dtype=object)
    folds = sorted(set(groups))
    if len(folds) < 2:
        raise DatasetError(
            f"leave-one-group-out needs at least two groups (signers, sessions or sources); got {folds}: "
            "give more sources, or use a random or group split"
        )
    detected = table["detected"].astype(bool).to_numpy()
    labels = table["label"].to_numpy(dtype=object)
    classes_all = sorted(set(labels[detected]))
    runs: list[dict[str, Any]] = []
    oof = {seed: np.zeros((len(table), len(classes_all))) for seed in seeds}
    for fold in folds:
        held = groups == fold
        for seed in seeds:
            start = time.perf_counter()
            estimator, _ = fit_estimator(model_name, table[~held & detected], random_state=seed, n_jobs=n_jobs,
                                         params=params, balance=balance, augment=augment)
            classes = [str(c) for c in estimator.classes_]
            test = held & detected
            predicted = np.full(len(table), None, dtype=object)
            run: dict[str, Any] = {"fold": fold, "seed": seed, "n_test": int(held.sum()), "n_detected": int(test.sum())}
            if test.any():
                proba = estimator.predict_proba(model_inputs(model_name, estimator, table[test]))
                oof[seed][np.ix_(test, [classes_all.index(c) for c in classes])] = proba
                predicted[test] = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
                cal = calibration_metrics(labels[test], proba, classes)
                run.update({k: cal[k] for k in ("ece", "brier", "auroc", "median_confidence_correct")})
            final = apply_no_hand_rule(predicted[held], detected[held], classes)
            right = final == labels[held]
            run.update({
                "coverage": float(detected[held].mean()),
                "accuracy_all": float(right.mean()),
                "accuracy_detected": float(right[detected[held]].mean()) if test.any() else None,
                "seconds": time.perf_counter() - start,
            })
            runs.append(run)
            log(progress, f"  {model_name} without {fold} (seed {seed}): {run['accuracy_all']:.1%} of "
                          f"{run['n_test']} held-out rows ({time.perf_counter() - start:.0f} s)")
    add_scaled_calibration(runs, oof, groups, labels, detected, classes_all, apart)
    return {"runs": runs, "summary": summarise_folds(runs, apart)}


def add_scaled_calibration(runs: Sequence[dict[str, Any]], oof: Mapping[int, np.ndarray], groups: np.ndarray,
                           labels: np.ndarray, detected: np.ndarray, classes_all: Sequence[str],
                           apart: Mapping[str, str]) -> None:
    """Add temperature-scaled calibration to each run (``fold``, ``seed``), in place.

    Each run's temperature is fitted on the out-of-fold predictions ``oof[seed]`` (shape
    (n_rows, n_classes), columns ``classes_all``) of the rows with a hand of the OTHER groups,
    groups ``apart`` left out, and scored on the run's own held-out rows with a hand.
    """
    from landmark_asl.calibration import TemperatureScaling
    from landmark_asl.evaluation import calibration_metrics

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
    """Per-fold means over seeds, and the mean and worst fold (folds ``apart`` left out).

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
