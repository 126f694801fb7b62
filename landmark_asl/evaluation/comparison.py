"""The model comparison: one split file, every model fitted and scored the same way, one report."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from landmark_asl._util import atomic_write_text, file_sha256, load_json, package_versions
from landmark_asl.data.landmark_cache import load_landmarks, log
from landmark_asl.data.splits import MANIFEST_COLUMNS, make_cross_dataset_split, make_split, read_split, write_split
from landmark_asl.estimators.features import FEATURE_VERSION
from landmark_asl.estimators.registry import REGISTRY, get_spec
from landmark_asl.evaluation.lodo import format_confusions, format_folds, leave_one_group_out
from landmark_asl.evaluation.metrics import (
    apply_no_hand_rule,
    calibration_metrics,
    classification_metrics,
    directory_size,
    measure_latency,
)
from landmark_asl.evaluation.reporting import REPORT_FORMAT_VERSION, json_default, write_report
from landmark_asl.exceptions import DatasetError, LandmarkASLError
from landmark_asl.labels import NO_PREDICTION, NOTHING, no_hand_label
from landmark_asl.model.store import load_model, save_model
from landmark_asl.training.recipe import Recipe
from landmark_asl.training.train import (
    as_list,
    fit_calibration,
    fit_estimator,
    fit_pointing,
    gated_proba,
    model_inputs,
    resolve_calibrate,
    trainable_rows,
)

#: The list of files :func:`compare` wrote into its output folder: the only ones ``overwrite`` removes.
MANIFEST = "manifest.json"
#: What :func:`compare` writes into its output folder (and may replace with ``overwrite``).
REPORT_ENTRIES = ("report.json", "report.md", "rejection.png", "split.csv", "split.csv.json", "models", "landmarks",
                  MANIFEST)


def _is_report_entry(name: str) -> bool:
    return name in REPORT_ENTRIES or (name.startswith("confusion_") and name.endswith(".png"))


def check_report_folder(output: Path, *, overwrite: bool) -> None:
    """Refuse an ``output`` that would lose files: one holding anything but a report, or a finished report.

    A new or empty folder is fine. A folder holding only what :func:`compare` writes
    (an interrupted run: landmark cache, split) is resumed. A finished report
    (``report.json``) is replaced only with ``overwrite``; its report files and ``models/``
    are removed first, the landmark cache is kept.
    """
    if output.is_symlink() or (output.exists() and not output.is_dir()):
        raise LandmarkASLError(f"cannot write a report to {output}: it exists and is not a folder; choose a new path")
    if not output.is_dir():
        return
    entries = sorted(p.name for p in output.iterdir())
    foreign = [name for name in entries if not _is_report_entry(name)]
    if foreign:
        raise LandmarkASLError(
            f"refusing to write a report into {output}: it holds files that are not an earlier report "
            f"({', '.join(foreign[:3])}{' ...' if len(foreign) > 3 else ''}); choose a new or empty folder"
        )
    written = _manifest(output)
    unknown = sorted(set(_report_files(output)) - written)
    if unknown:
        older = "" if (output / MANIFEST).is_file() else f" (it has no {MANIFEST}: a report of an older landmark_asl?)"
        raise LandmarkASLError(
            f"refusing to write a report into {output}: compare did not write {', '.join(unknown[:3])}"
            f"{' ...' if len(unknown) > 3 else ''}{older}; move them away, or choose a new folder"
        )
    if "report.json" in entries:
        if not overwrite:
            raise LandmarkASLError(
                f"{output} already holds a report: choose a new folder, or pass overwrite=True to replace it"
            )
        for name in sorted(written, reverse=True):
            (output / name).unlink(missing_ok=True)
        for folder, _, _ in sorted(os.walk(output), reverse=True):  # the folders emptied, deepest first
            if Path(folder) != output and Path(folder).relative_to(output).parts[0] != "landmarks":
                with contextlib.suppress(OSError):
                    Path(folder).rmdir()
        (output / MANIFEST).unlink(missing_ok=True)


def _report_files(output: Path) -> list[str]:
    """Files and links below ``output`` (POSIX paths relative to it), but the landmark cache and the manifest."""
    found = []
    for folder, dirs, files in os.walk(output):
        rel = Path(folder).relative_to(output)
        if rel == Path("."):
            dirs[:] = [d for d in dirs if d != "landmarks"]
            files = [f for f in files if f != MANIFEST]
        found += [(rel / name).as_posix() for name in files]
        found += [(rel / name).as_posix() for name in dirs if (Path(folder) / name).is_symlink()]
    return found


def _manifest(output: Path) -> set[str]:
    """The files an earlier :func:`compare` recorded as written into ``output`` (empty without a manifest)."""

    try:
        listed = load_json((output / MANIFEST).read_text(encoding="utf-8")).get("written", [])
    except FileNotFoundError:
        return set()
    except (OSError, ValueError, AttributeError) as exc:
        raise LandmarkASLError(f"cannot read {output / MANIFEST} ({exc}): move the folder away or choose a new one") from exc
    return {name for name in listed if isinstance(name, str)}


def _record_written(output: Path) -> None:
    """List every file now in ``output`` (landmark cache aside) in its manifest: compare is its only writer."""
    if output.is_dir():
        files = sorted(set(_report_files(output)) | _manifest(output))
        atomic_write_text(output / MANIFEST, json.dumps({"written": files}, indent=1) + "\n")


def prepare_split(
    train_table: pd.DataFrame,
    test_table: pd.DataFrame | None,
    split_path: str | Path,
    *,
    split: str = "random",
    test_size: float = 0.2,
    test_groups: Sequence[str] | None = None,
    random_state: int = 0,
) -> dict[str, Any]:
    """Make the split once, write it to ``split_path`` and describe it.

    Without ``test_table`` the training table is split (``random``: stratified, optimistic
    for video frames; ``group``: whole signers/sessions held out). With it, a
    cross-dataset split: training rows against test rows, labels intersected.

    Parameters
    ----------
    train_table, test_table : DataFrame
        Landmark tables (their manifest columns are used).
    split_path : str or Path
        Split file to write (CSV, read back by every model).
    split : {'random', 'group'}
        Split mode when ``test_table`` is None.
    test_size : float
        Test share for ``random`` and ``group`` (when ``test_groups`` is None).
    test_groups : sequence of str, optional
        Groups to hold out for ``group`` (e.g. ``['massey/hand5']``).
    random_state : int
        Seed of the split.

    Returns
    -------
    dict
        ``mode``, ``classes_kept`` (None unless cross-dataset), ``dropped_labels``.
    """
    columns = list(MANIFEST_COLUMNS)
    if test_table is None:
        split_df = make_split(
            train_table[columns], mode=split, test_size=test_size,
            random_state=random_state, test_groups=list(test_groups) if test_groups else None,
        )
        info = {"mode": split, "classes_kept": None, "dropped_labels": []}
    else:
        split_df, kept, dropped = make_cross_dataset_split(train_table[columns], test_table[columns])
        info = {"mode": "cross-dataset", "classes_kept": sorted(kept), "dropped_labels": sorted(dropped)}
    write_split(split_df, split_path)
    return info


def model_recipes(models: Sequence[str], *, params: Mapping[str, Mapping[str, Any]] | None = None,
                  balance: str | None = None, augment: Mapping[str, Any] | None = None,
                  calibrate: bool = False, pointing: bool = False) -> dict[str, Recipe]:
    """The :class:`Recipe` of each model of a comparison: ``params[name]``, and the shared options.

    Balance, augmentation and calibration apply to the landmark models; the pixel model gets
    its parameters only.
    """
    recipes = {}
    for name in models:
        landmark = get_spec(name).input_kind == "landmarks"
        recipes[name] = Recipe(model_name=name, params=dict((params or {}).get(name) or {}),
                               balance=balance if landmark else None,
                               augment=dict(augment) if landmark and augment else None,
                               calibrate=bool(calibrate) if landmark else False,
                               pointing=bool(pointing) if landmark else False)
    return recipes


def compare(
    train: str | Path | Sequence[str | Path],
    test: str | Path | Sequence[str | Path] | None = None,
    *,
    output: str | Path,
    models: Sequence[str] = ("rf", "xgb", "cnn"),
    split: str = "random",
    test_size: float = 0.2,
    test_groups: Sequence[str] | None = None,
    split_file: str | Path | None = None,
    random_state: int = 0,
    n_jobs: int = 1,
    cache_dir: str | Path | None = None,
    settings: Any = None,
    save_models: bool = True,
    params: dict[str, dict[str, Any]] | None = None,
    progress: bool = True,
    overwrite: bool = False,
    balance: str | None = None,
    augment: dict[str, Any] | None = None,
    calibrate: bool = False,
    scheduler: Any = None,
    pointing: bool = False,
) -> dict[str, Any]:
    """Train and score several models on one split and write the report.

    The split is written once to ``<output>/split.csv`` (or read from ``split_file``);
    every model reads it. Landmark models train on the training images where a hand
    was found; the pixel CNN trains on all training images. Every model is scored on
    ALL test images (no hand = wrong, except the NOTHING rule, see
    :func:`apply_no_hand_rule`) and on the test images with a hand.

    Parameters
    ----------
    train : str, Path or sequence of them
        Training sources: dataset names/paths (landmarks extracted into ``cache_dir``
        and reused) or landmark tables.
    test : str, Path or sequence of them, optional
        Test sources for a cross-dataset comparison; None splits ``train`` by ``split``.
    output : str or Path
        Report folder: ``report.json``, ``report.md``, ``confusion_<model>.png``,
        ``split.csv`` and (``save_models``) ``models/<model>/``.
    models : sequence of str
        Registry names, e.g. ``('rf', 'xgb', 'cnn')``.
    split : {'random', 'group', 'lodo'}
        Split mode when ``test`` is None. ``lodo`` (leave one group out) holds out every
        group (signer, session or source) in turn and trains on all the others; it is for
        landmark models and writes a per-group report (see :func:`compare_lodo`).
    test_size : float
        Test share of a ``random`` or ``group`` split.
    test_groups : sequence of str, optional
        Groups held out by a ``group`` split, e.g. ``['massey/hand5']``.
    split_file : str or Path, optional
        Reuse this split file instead of making one.
    random_state : int
        Seed of the split and of every model.
    n_jobs : int
        Worker processes/threads for extraction and fitting.
    cache_dir : str or Path, optional
        Landmark cache (default ``<output>/landmarks``).
    settings : ExtractorSettings, optional
        Extractor settings.
    save_models : bool
        Save each fitted model under ``<output>/models/<name>`` (its size on disk is
        reported either way).
    params : dict of str to dict, optional
        Factory parameters per model name, e.g. ``{"rf": {"n_estimators": 50}}``
        (recorded in the report).
    progress : bool
        Progress messages on stderr.
    overwrite : bool
        Replace a finished report in ``output`` (see :func:`check_report_folder`);
        a folder holding anything else is always refused.
    balance, augment : optional
        Training recipe of the landmark models (:func:`landmark_asl.training.train.fit_estimator`);
        the pixel model trains without it.
    calibrate : bool
        Landmark models: fit a temperature on out-of-group predictions of the training rows
        (:func:`landmark_asl.training.train.fit_calibration`; needs two or more training groups) and
        store it with the model, so the calibration figures are those of the calibrated model.
    scheduler : str or dask.distributed.Client, optional
        Extract on this Dask cluster, and train ``xgb`` there with ``xgboost.dask``.
    pointing : bool
        Landmark models: tell G from Q by where the index points
        and K from P (:class:`~landmark_asl.estimators.pointing.PointingGate`, fitted on the training rows),
        as the shipped recipe does.

    Returns
    -------
    dict
        The report: ``{"metadata": {...}, "models": {name: metrics}}``, also written
        to ``<output>/report.json``. Each model's metrics include ``calibration`` (ECE,
        Brier, AUROC of confidence, median confidence of right answers, the
        accuracy-vs-coverage curve) on the test images with a hand; ``rejection.png``
        plots the curves.
    """
    train_sources, test_sources = as_list(train), as_list(test)
    if not train_sources:
        raise DatasetError("no training sources given: pass at least one dataset name, folder or landmark table")
    unknown = [m for m in models if m not in REGISTRY]
    if unknown or not models:
        raise LandmarkASLError(
            f"unknown model name(s) {unknown or list(models)}: expected some of {sorted(REGISTRY)}"
        )
    recipes = model_recipes(models, params=params, balance=balance, augment=augment, calibrate=calibrate,
                            pointing=pointing)
    for recipe in recipes.values():  # bad parameters and recipes fail here, before extraction (as in train_model)
        recipe.check()
    if split == "lodo":
        if test_sources or split_file is not None:
            raise LandmarkASLError("split 'lodo' holds out each training group in turn: give no test sources and no split file")
        cnn = [m for m in models if get_spec(m).input_kind != "landmarks"]
        if cnn:
            raise LandmarkASLError(
                f"split 'lodo' is for landmark models; drop {', '.join(cnn)} from the models (e.g. models=['rf', 'xgb'])"
            )
    output = Path(output)
    check_report_folder(output, overwrite=overwrite)
    created = not output.exists()
    output.mkdir(parents=True, exist_ok=True)
    try:
        return _compare(train_sources, test_sources, output=output, models=models, split=split, test_size=test_size,
                        test_groups=test_groups, split_file=split_file, random_state=random_state, n_jobs=n_jobs,
                        cache_dir=cache_dir, settings=settings, progress=progress, save_models=save_models,
                        recipes=recipes, balance=balance, augment=augment, calibrate=calibrate, scheduler=scheduler)
    finally:
        with contextlib.suppress(OSError):
            if created and not any(output.iterdir()):
                output.rmdir()  # a run that failed before writing anything leaves no empty folder
            else:
                _record_written(output)


def _compare(train_sources, test_sources, *, output, models, split, test_size, test_groups, split_file, random_state,
             n_jobs, cache_dir, settings, progress, save_models, recipes, balance, augment, calibrate, scheduler):
    """:func:`compare` once its output folder is checked."""
    train_table, train_meta = load_landmarks(train_sources, cache_dir=cache_dir, settings=settings, n_jobs=n_jobs,
                                             progress=progress, scheduler=scheduler)
    recipe = {"balance": balance, "augment": dict(augment) if augment else None, "calibrate": calibrate}
    if split == "lodo":
        return compare_lodo(train_table, train_meta, output=output, models=models, sources=train_sources,
                            random_state=random_state, n_jobs=n_jobs, recipes=recipes, recipe=recipe, progress=progress)
    test_table, test_meta = (None, {"tables": {}})
    if test_sources:
        test_table, test_meta = load_landmarks(test_sources, cache_dir=cache_dir, settings=settings, n_jobs=n_jobs,
                                               progress=progress, scheduler=scheduler)

    if split_file is not None:
        split_path = Path(split_file)
        info = {"mode": "file", "classes_kept": None, "dropped_labels": []}
    else:
        split_path = output / "split.csv"
        info = prepare_split(
            train_table, test_table, split_path, split=split, test_size=test_size,
            test_groups=test_groups, random_state=random_state,
        )
        _record_written(output)  # a run killed later is resumed: the split is its own
    split_df = read_split(split_path)
    table = pd.concat([train_table] + ([test_table] if test_table is not None else []), ignore_index=True)
    table = table.drop(columns=["split"]).drop_duplicates("sample_id", keep="first")
    data = table.merge(split_df[["sample_id", "split"]], on="sample_id", how="inner")
    if split_file is not None and len(data) < len(table):
        warnings.warn(f"the split file {split_path} has no row for {len(table) - len(data):,} of the {len(table):,} "
                      "samples of the sources: they are left out of training and test; was it made for other "
                      "sources?", UserWarning, stacklevel=2)
    train_rows = data[data["split"] == "train"].reset_index(drop=True)
    test_rows = data[data["split"] == "test"].reset_index(drop=True)
    if train_rows.empty or test_rows.empty:
        raise DatasetError(
            f"split {split_path} leaves {len(train_rows)} training and {len(test_rows)} test samples: "
            "expected both to be non-empty; check the sources, test_size or test_groups"
        )
    resolve_calibrate(calibrate, train_rows)  # the same check as train_model's
    classes = sorted(set(train_rows["label"]))
    detected_test = test_rows["detected"].to_numpy(dtype=bool)
    metadata = {
        "format_version": REPORT_FORMAT_VERSION,
        "title": f"{'+'.join(train_sources)} -> {'+'.join(test_sources) if test_sources else info['mode'] + ' split'}",
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "train_sources": train_sources,
        "test_sources": test_sources,
        "split_mode": info["mode"],
        "split_file": str(split_path),
        "split_file_sha256": file_sha256(split_path),
        "test_size": test_size if not test_sources else None,
        "test_groups": list(test_groups) if test_groups else None,
        "random_state": random_state,
        "classes": classes,
        "dropped_labels": info["dropped_labels"],
        "n_train": int(len(train_rows)),
        "n_test": int(len(test_rows)),
        "train_groups": sorted(set(train_rows["group"])),
        "test_groups_found": sorted(set(test_rows["group"])),
        "train_hand_coverage": float(train_rows["detected"].mean()),
        "test_hand_coverage": float(detected_test.mean()),
        "no_hand_rule": (
            "a test image without a hand is predicted NOTHING (NOTHING is a class)"
            if no_hand_label(classes) == NOTHING else "a test image without a hand counts as wrong"
        ),
        "landmark_tables": {**train_meta["tables"], **test_meta["tables"]},
        "extractor_settings": dataclasses.asdict(train_meta["extractor_settings"]),
        "versions": package_versions(),
    }
    metadata["feature_version"] = FEATURE_VERSION

    results: dict[str, Any] = {}
    for name in models:
        log(progress, f"{name}: fitting on {metadata['title']}")
        results[name] = _fit_and_score(
            name, train_rows, test_rows, classes, metadata,
            output=output, random_state=random_state, n_jobs=n_jobs, save=save_models,
            extractor_settings=train_meta["extractor_settings"],
            recipe=recipes[name], scheduler=scheduler,
        )
    report = {"metadata": metadata, "models": results}
    write_report(report, output)
    return report


def _fit_and_score(
    name: str,
    train_rows: pd.DataFrame,
    test_rows: pd.DataFrame,
    classes: list[str],
    metadata: dict[str, Any],
    *,
    output: Path,
    random_state: int,
    n_jobs: int,
    save: bool,
    extractor_settings: Any,
    recipe: Recipe,
    scheduler: Any = None,
) -> dict[str, Any]:
    """Fit one model on the training rows, score it on every test row, time, size and calibrate it."""
    landmark = get_spec(name).input_kind == "landmarks"
    estimator, training = fit_estimator(recipe, train_rows, random_state=random_state, n_jobs=n_jobs,
                                        scheduler=scheduler)
    gate = fit_pointing(recipe, train_rows)
    calibration = None
    if recipe.calibrate:
        calibration = fit_calibration(recipe, trainable_rows(train_rows, name), [str(c) for c in estimator.classes_],
                                      random_state=random_state, n_jobs=n_jobs)
    detected = test_rows["detected"].to_numpy(dtype=bool)
    predicted = np.full(len(test_rows), NO_PREDICTION, dtype=object)
    if landmark:
        X_test = model_inputs(name, estimator, test_rows[detected]) if detected.any() else np.empty((0, 127))
        if detected.any():
            proba = gated_proba(gate, estimator, X_test)
            predicted[detected] = np.asarray(estimator.classes_, dtype=object)[proba.argmax(axis=1)]
        predicted = apply_no_hand_rule(predicted, detected, classes)
        coverage = float(detected.mean())
    else:
        X_test = model_inputs(name, estimator, test_rows)
        predicted[:] = estimator.predict(X_test)
        coverage = 1.0
    result = classification_metrics(test_rows["label"].to_numpy(dtype=object), predicted, detected, coverage=coverage)
    fit_recipe = {"balance": recipe.balance, "augment": dict(recipe.augment) if recipe.augment else None}
    result.update({"kind": get_spec(name).input_kind, "params": dict(recipe.params),
                   "recipe": {**fit_recipe, "calibrate": calibration is not None, "pointing": bool(gate)}
                   if landmark else None,
                   "n_fit": training["n_fit"], "fit_seconds": training["fit_seconds"]})

    model_dir = output / "models" / name if save else Path(tempfile.mkdtemp(prefix=f"landmark_asl_{name}_"))
    try:
        training.update({"split_file": metadata["split_file"], "train_sources": metadata["train_sources"],
                         "test_sources": metadata["test_sources"]})
        metrics = {k: result[k] for k in ("coverage", "accuracy_all", "accuracy_detected", "macro_f1")}
        if not save:
            shutil.rmtree(model_dir)  # save_model writes a fresh folder
        save_model(estimator, model_dir, name=name, extractor_settings=extractor_settings,
                   training=training, metrics=metrics, split_file_sha256=metadata["split_file_sha256"],
                   trained_labels=classes, calibration=calibration,
                   recipe=recipe.replace(calibrate=calibration is not None, pointing=bool(gate)),
                   pointing=gate)
        result["size_mb"] = directory_size(model_dir) / 1e6
        loaded = load_model(model_dir)
        result["calibration"] = _calibration(loaded, X_test if landmark else X_test[detected],
                                             test_rows["label"].to_numpy(dtype=object)[detected])
        if len(X_test):
            if landmark:
                timing = measure_latency(loaded.predict_proba_one, loaded.predict_proba, X_test)
            else:
                timing = measure_latency(lambda x: loaded.predict_proba(x[None]), loaded.predict_proba, X_test, n_single=50)
            result.update(timing)
        result["model_dir"] = str(model_dir) if save else None
    finally:
        if not save:
            shutil.rmtree(model_dir, ignore_errors=True)
    return result


def _calibration(model, X: np.ndarray, y: np.ndarray) -> dict[str, Any] | None:
    """Calibration metrics of a loaded model's probabilities (calibrated if its card says so)."""
    if not len(X):
        return None
    classes = [str(c) for c in model.classes]
    result = calibration_metrics(y, model.predict_proba(X), classes)
    result["temperature"] = (model.card.calibration or {}).get("temperature")
    return result


def compare_lodo(
    table: pd.DataFrame,
    table_meta: dict[str, Any],
    *,
    output: Path,
    models: Sequence[str],
    sources: Sequence[str],
    random_state: int = 0,
    n_jobs: int = 1,
    recipes: Mapping[str, Recipe],
    recipe: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """The leave-one-group-out comparison behind ``compare(..., split='lodo')``.

    Every group of ``table`` (signer, session or source) is held out in turn; each model is
    trained on the others (:func:`landmark_asl.evaluation.lodo.leave_one_group_out`) and scored on the
    held-out group. Writes ``report.json`` and ``report.md`` (one per-group table per model,
    the mean and the worst group) into ``output``; no model is saved (each fold has its own).
    ``recipes`` holds each model's :class:`Recipe`; ``recipe`` the shared options, for the report.
    """

    recipe = dict(recipe or {})
    metadata = {
        "format_version": REPORT_FORMAT_VERSION,
        "title": f"{'+'.join(sources)}: leave one group out",
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "train_sources": list(sources),
        "test_sources": [],
        "split_mode": "lodo",
        "groups": sorted(set(table["group"].astype(str))),
        "n_rows": int(len(table)),
        "hand_coverage": float(table["detected"].astype(bool).mean()),
        "random_state": random_state,
        "recipe": recipe,
        "landmark_tables": table_meta["tables"],
        "extractor_settings": dataclasses.asdict(table_meta["extractor_settings"]),
        "feature_version": FEATURE_VERSION,
        "versions": package_versions(),
    }
    results = {}
    for name in models:
        log(progress, f"{name}: leave one group out over {len(metadata['groups'])} groups")
        result = leave_one_group_out(table, recipes[name], seeds=(random_state,), n_jobs=n_jobs, progress=progress)
        # The out-of-fold probabilities stay out of the report (an array per seed).
        results[name] = {"kind": "landmarks", "params": dict(recipes[name].params),
                         "runs": result["runs"], "summary": result["summary"]}
    report = {"metadata": metadata, "models": results}
    lines = [f"# Comparison: {metadata['title']}", "",
             f"- groups ({len(metadata['groups'])}), each held out in turn: {' '.join(metadata['groups'])}",
             f"- {metadata['n_rows']} rows, hand found in {100 * metadata['hand_coverage']:.1f}%",
             f"- training recipe of every model: {json.dumps(recipe)}", ""]
    for name, result in results.items():
        lines += [f"## {name}", "", format_folds(result["summary"]), "",
                  format_confusions(result["summary"]["errors"], letters=False), ""]
    lines.append("accuracy, with a hand: on the held-out rows where MediaPipe found a hand; accuracy, all: "
                 "every held-out row, no hand = wrong (unless NOTHING is a class). ECE, Brier, AUROC: calibration "
                 "of the fold model's raw probabilities; temperature-scaled: T fitted on the other folds' "
                 "out-of-fold predictions, as a recipe with calibrate=True would ship it.")
    atomic_write_text(output / "report.md", "\n".join(lines) + "\n")
    atomic_write_text(output / "report.json", json.dumps(report, indent=2, default=json_default) + "\n")
    return report
