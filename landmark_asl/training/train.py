"""Training: which rows and inputs a model learns from, fitting, and the model trained on every sample of some sources."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from landmark_asl._util import load_json
from landmark_asl.data.datasets import source_record
from landmark_asl.data.landmark_cache import load_landmarks, log
from landmark_asl.estimators.calibration import TemperatureScaling
from landmark_asl.estimators.features import augment_landmarks, raw_features
from landmark_asl.estimators.pointing import PointingGate, apply_gates, fit_gates
from landmark_asl.estimators.registry import build_estimator, get_spec
from landmark_asl.exceptions import DatasetError, LandmarkASLError
from landmark_asl.labels import normalize_label
from landmark_asl.model.store import check_destination, save_model
from landmark_asl.training.recipe import DEFAULT_RECIPE, Recipe


def as_list(sources: str | Path | Sequence[str | Path] | None) -> list[str]:
    """Sources as a list of strings (one source may be given bare)."""
    if sources is None:
        return []
    if isinstance(sources, (str, Path)):
        return [str(sources)]
    return [str(s) for s in sources]


def trainable_rows(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """The rows model ``name`` can learn from.

    A landmark model learns from the samples with a hand; the pixel model from every sample
    that has pixels (landmark CSV rows have none).

    Raises
    ------
    DatasetError
        If no row qualifies.
    """
    landmark = get_spec(name).input_kind == "landmarks"
    rows = table[table["detected"].astype(bool) if landmark else table["strategy"] != "csv"]
    if rows.empty:
        raise DatasetError(
            f"{name}: no training sample has {'a hand' if landmark else 'pixels'}, so it cannot be trained"
        )
    return rows


def _pixels(estimator, rows: pd.DataFrame) -> np.ndarray:
    from landmark_asl.cnn import load_pixels  # torch, the optional cnn extra: only pixel models need it

    if "strategy" in rows and (rows["strategy"] == "csv").any():
        raise DatasetError(
            "the pixel model needs images, but some samples come from a landmark CSV (no pixels): "
            "drop 'cnn' from the models or the landmark CSV from the sources"
        )
    # Read at the network's input size (the network would resize anyway) to keep memory small;
    # colour is kept unless the model is told to be gray ("auto" detects gray images itself).
    size = estimator.image_size or 64
    return load_pixels(rows, image_size=size, grayscale=estimator.grayscale is True)


def model_inputs(name: str, estimator, rows: pd.DataFrame) -> np.ndarray:
    """Inputs of model ``name`` for some table rows.

    Returns
    -------
    ndarray
        Shape (n_rows, 127) raw landmark features for a landmark model (the rows must
        have a hand), or the images (n_rows, H, W[, 3]) uint8 for the pixel model.
    """
    if get_spec(name).input_kind == "landmarks":
        return raw_features(rows)
    return _pixels(estimator, rows)


def dataset_weights(rows: pd.DataFrame) -> np.ndarray:
    """Sample weights under which every dataset of ``rows`` weighs the same; they average 1."""
    names, inverse, counts = np.unique(rows["dataset"].astype(str).to_numpy(), return_inverse=True, return_counts=True)
    return (len(rows) / (len(names) * counts))[inverse]


def fit_estimator(recipe: Recipe, rows: pd.DataFrame, *, random_state: int = 0, n_jobs: int = 1,
                  row_weight: np.ndarray | None = None, scheduler: Any = None) -> tuple[Any, dict[str, Any]]:
    """Fit ``recipe``'s model on the table rows it can learn from.

    Parameters
    ----------
    recipe : Recipe
        Model name and parameters, and for landmark models ``balance`` (every dataset weighs
        the same, :func:`dataset_weights`) and ``augment`` (perturbed copies of the training
        rows, seeded by ``random_state``). ``recipe.calibrate`` is not used here
        (:func:`fit_calibration`).
    rows : pandas.DataFrame
        A landmark table.
    random_state, n_jobs : int
    row_weight : ndarray of shape (len(rows),), optional
        Landmark models: a weight per row of ``rows``, multiplied into the balance weights
        (e.g. a user's own samples weighing more, :mod:`landmark_asl.training.adapt`).
    scheduler : str or dask.distributed.Client, optional
        ``xgb`` only: train the boosting rounds on this Dask cluster with ``xgboost.dask``
        (:func:`landmark_asl.data.distributed.fit_xgb`); other models fit here.

    Returns
    -------
    estimator : fitted estimator
    training : dict
        ``n_fit``, ``label_counts``, ``fit_seconds``, ``params``, ``random_state``,
        ``balance``, ``augment``, for the model card.
    """
    recipe.check()
    name, params, balance = recipe.model_name, dict(recipe.params), recipe.balance
    augment = dict(recipe.augment) if recipe.augment else None
    estimator = build_estimator(name, random_state=random_state, n_jobs=n_jobs, params=params)
    fit_rows = trainable_rows(rows, name)
    X = model_inputs(name, estimator, fit_rows)
    y = fit_rows["label"].to_numpy(dtype=object)
    weight = dataset_weights(fit_rows) if balance == "dataset" else None
    if row_weight is not None:
        if get_spec(name).input_kind != "landmarks":
            raise LandmarkASLError(f"{name}: row weights apply to landmark models only")
        row_weight = np.asarray(row_weight, dtype=np.float64)
        if row_weight.shape != (len(rows),) or not np.all(np.isfinite(row_weight)) or np.any(row_weight < 0):
            raise LandmarkASLError(f"row_weight must hold {len(rows)} finite non-negative numbers, one per row")
        kept = row_weight[rows.index.get_indexer(fit_rows.index)] if rows.index.is_unique else None
        if kept is None:
            raise LandmarkASLError("row_weight needs rows with a unique index")
        weight = kept if weight is None else weight * kept
    if augment:
        X, y = augment_landmarks(X, y, random_state=random_state, **augment)
        if weight is not None:
            weight = np.tile(weight, len(y) // len(weight))
    start = time.perf_counter()
    if scheduler is not None and name == "xgb":
        from landmark_asl.data.distributed import fit_xgb

        fit_xgb(estimator, X, y, scheduler, sample_weight=weight)
    elif weight is None:
        estimator.fit(X, y)
    else:
        estimator.fit(X, y, clf__sample_weight=weight)
    fit_seconds = time.perf_counter() - start
    training = {
        "n_fit": int(len(fit_rows)),
        "n_without_hand": int((~rows["detected"].astype(bool)).sum()),
        "label_counts": {k: int(v) for k, v in fit_rows["label"].value_counts().sort_index().items()},
        "fit_seconds": fit_seconds,
        "params": dict(params or {}),
        "random_state": random_state,
        "balance": balance,
        "augment": dict(augment) if augment else None,
        "distributed": scheduler is not None and name == "xgb",
    }
    return estimator, training


def fit_pointing(recipe: Recipe, rows: pd.DataFrame) -> tuple[PointingGate, ...]:
    """The recipe's pointing gates (:data:`~landmark_asl.estimators.pointing.DEFAULT_GATES`: G or
    Q, K or P), fitted on ``rows``.

    Empty when ``recipe.pointing`` is off or for a pixel model; a pair the rows lack is left
    out. The gates are fitted on the rows as they are (never on augmented copies), every dataset
    weighing the same when the recipe balances datasets.
    """
    if not recipe.pointing or get_spec(recipe.model_name).input_kind != "landmarks":
        return ()
    fit_rows = trainable_rows(rows, recipe.model_name)
    groups = fit_rows["dataset"].to_numpy(dtype=object) if recipe.balance == "dataset" else None
    return fit_gates(raw_features(fit_rows), fit_rows["label"].to_numpy(dtype=object), groups)


def log_pointing(progress: bool, model_name: str, recipe: Recipe, gates: Sequence[PointingGate]) -> None:
    """Say what the recipe's pointing gates came to (the card's recipe records whether there are any)."""
    if not gates:
        if recipe.pointing and get_spec(recipe.model_name).input_kind == "landmarks":
            log(progress, f"{model_name}: no pointing gate: the training rows hold neither G and Q nor K and P")
        return
    for gate in gates:
        log(progress, f"{model_name}: {gate.describe()} ({gate.mode})")


def gated_proba(gates: Sequence[PointingGate], estimator: Any, X: np.ndarray) -> np.ndarray:
    """``estimator``'s probabilities for ``X`` (raw features), through ``gates`` in turn."""
    proba = estimator.predict_proba(X)
    return apply_gates(gates, proba, X, [str(c) for c in estimator.classes_]) if gates else proba


def out_of_fold_proba(
    recipe: Recipe,
    rows: Any,
    *,
    groups: Sequence[str],
    classes: Sequence[str],
    random_state: int = 0,
    n_jobs: int = 1,
    n_folds: int = 5,
) -> np.ndarray:
    """Probabilities for every row from a model trained without the row's group.

    Groups are dealt into at most ``n_folds`` folds of whole groups (sklearn ``GroupKFold``).

    Parameters
    ----------
    recipe : Recipe
        How each fold's model is trained (:func:`fit_estimator`).
    rows : pandas.DataFrame
        Rows with a hand (``label`` and landmark columns).
    groups : sequence of str of length len(rows)
        Group of each row (signer, session or source).
    classes : sequence of str
        Column order of the result.
    random_state, n_jobs
        As for :func:`fit_estimator`.
    n_folds : int

    Returns
    -------
    ndarray of shape (len(rows), len(classes))
        A class a fold's model never saw gets probability 0. Through each fold's pointing gate
        when the recipe has one (:func:`fit_pointing`), as the saved model answers.

    Raises
    ------
    DatasetError
        If there are fewer than two groups: nothing would be held out.
    """

    groups = np.asarray(groups, dtype=object)
    n_groups = len(set(groups))
    if n_groups < 2:
        raise DatasetError(
            f"calibration needs out-of-group predictions, but the training rows have {n_groups} group: "
            "train on at least two signers, sessions or sources, or leave calibration off"
        )
    index = {c: i for i, c in enumerate(classes)}
    out = np.zeros((len(rows), len(classes)))
    splitter = GroupKFold(n_splits=min(n_folds, n_groups))
    for train_idx, test_idx in splitter.split(np.zeros(len(rows)), groups=groups):
        estimator, _ = fit_estimator(recipe, rows.iloc[train_idx], random_state=random_state, n_jobs=n_jobs)
        gate = fit_pointing(recipe, rows.iloc[train_idx])
        proba = gated_proba(gate, estimator, model_inputs(recipe.model_name, estimator, rows.iloc[test_idx]))
        columns = [index[c] for c in estimator.classes_]
        out[np.ix_(test_idx, columns)] = proba
    return out


def fit_calibration(recipe: Recipe, fit_rows: pd.DataFrame, classes: Sequence[str], *, random_state: int = 0,
                    n_jobs: int = 1) -> dict[str, Any]:
    """The model card's ``calibration``: a temperature fitted on out-of-group predictions.

    Each ``group`` of ``fit_rows`` is predicted by a model trained without it (5 folds of whole
    groups, same recipe), and :class:`~landmark_asl.estimators.calibration.TemperatureScaling` is fitted on
    those predictions by maximum likelihood.

    Parameters
    ----------
    recipe : Recipe
        The recipe the model was fitted with (:func:`fit_estimator`).
    fit_rows : pandas.DataFrame
        The rows the model was fitted on (with a hand), with ``label`` and ``group``.
    classes : sequence of str
        The fitted model's classes (column order of its probabilities).
    random_state, n_jobs
        As the model was fitted with.

    Returns
    -------
    dict
        ``TemperatureScaling.to_dict()`` plus ``fitted_on`` (what it was fitted on, in words).

    Raises
    ------
    DatasetError
        If the rows hold fewer than two groups.
    """

    proba = out_of_fold_proba(recipe, fit_rows, groups=fit_rows["group"].to_numpy(dtype=object),
                              classes=classes, random_state=random_state, n_jobs=n_jobs)
    scaling = TemperatureScaling.fit(fit_rows["label"].to_numpy(dtype=object), proba, classes)
    return {**scaling.to_dict(), "fitted_on": (
        f"out-of-group predictions of the {len(fit_rows)} training rows with a hand: each of "
        f"{fit_rows['group'].nunique()} groups predicted by a model trained without it (5 folds of whole groups)")}


def train_model(
    sources: str | Path | Sequence[str | Path],
    *,
    output: str | Path,
    recipe: Recipe = DEFAULT_RECIPE,
    n_jobs: int = 1,
    random_state: int = 0,
    cache_dir: str | Path | None = None,
    settings: Any = None,
    metrics_from: str | Path | None = None,
    labels: Sequence[str] | None = None,
    metrics: dict[str, Any] | None = None,
    progress: bool = True,
    scheduler: Any = None,
) -> Path:
    """Fit one model on every sample of ``sources`` and save it with its metadata.

    No metric is computed on the training data (it would flatter the model): pass
    ``metrics_from``, the ``report.json`` of a comparison, to record measured metrics.

    Parameters
    ----------
    sources : str, Path or sequence of them
        Dataset names/paths or landmark tables.
    output : str or Path
        Model directory to write (replaced if it holds a model).
    recipe : Recipe
        Model, parameters, balance, augmentation and calibration (default: the shipped model's,
        :data:`~landmark_asl.training.recipe.DEFAULT_RECIPE`); stored in the model card. With
        ``recipe.calibrate`` a temperature
        (:class:`~landmark_asl.estimators.calibration.TemperatureScaling`) is fitted on
        out-of-group predictions (each ``group`` of the training rows predicted by a model
        trained without it, 5 folds of whole groups): it needs at least two groups and costs
        about five more fits; ``'auto'`` calibrates when the rows hold two or more groups (else
        the model keeps its own probabilities, and a progress message says so).
    n_jobs : int
        Worker processes/threads for extraction and fitting.
    random_state : int
        Seed of the model.
    cache_dir : str or Path, optional
        Landmark cache (default: the per-user cache, :func:`landmark_asl.paths.landmark_cache_dir`).
    settings : ExtractorSettings, optional
        Extractor settings.
    metrics_from : str or Path, optional
        A comparison ``report.json``; its metrics for ``recipe.model_name`` and its split
        description go into the model's metadata under ``metrics``.
    labels : sequence of str, optional
        Keep only samples with these canonical labels (e.g. leave out massey's digits).
    metrics : dict, optional
        Figures measured elsewhere on held-out data (e.g. a leave-one-group-out protocol run on
        the same recipe), recorded in the card's ``metrics`` next to those of ``metrics_from``.
    progress : bool
        Progress messages on stderr.
    scheduler : str or dask.distributed.Client, optional
        Extract on this Dask cluster, and train ``xgb`` there with ``xgboost.dask``.

    Returns
    -------
    Path
        The model directory.
    """

    source_list = as_list(sources)
    if not source_list:
        raise DatasetError("no training sources given: pass at least one dataset name, folder or landmark table")
    output = Path(output)
    check_destination(output)  # fail before the long part, and never over a folder that is not a model
    recipe.check()  # bad parameters fail here, before extraction
    model_name, calibrate = recipe.model_name, recipe.calibrate
    if metrics is not None and not isinstance(metrics, dict):
        raise LandmarkASLError(f"metrics must be a dict of measured figures; got {type(metrics).__name__}")
    metrics = {**(_metrics_from(metrics_from, model_name) if metrics_from else {}), **(metrics or {})} or None
    table, meta = load_landmarks(source_list, cache_dir=cache_dir, settings=settings, n_jobs=n_jobs, progress=progress,
                                 scheduler=scheduler)
    if labels is not None:
        table = _keep_labels(table, labels, where=", ".join(source_list))
    log(progress, f"{model_name}: fitting on {len(trainable_rows(table, model_name))} samples of {', '.join(source_list)}")
    calibrate = resolve_calibrate(calibrate, table, where=", ".join(source_list), name=model_name)
    estimator, training = fit_estimator(recipe, table, random_state=random_state, n_jobs=n_jobs, scheduler=scheduler)
    gate = fit_pointing(recipe, table)
    log_pointing(progress, model_name, recipe, gate)
    calibration = None
    if calibrate:
        fit_rows = trainable_rows(table, model_name)
        log(progress, f"{model_name}: calibrating on out-of-group predictions ({fit_rows['group'].nunique()} groups)")
        calibration = fit_calibration(recipe, fit_rows, [str(c) for c in estimator.classes_],
                                      random_state=random_state, n_jobs=n_jobs)
    training.update({
        "train_sources": [source_record(s) for s in source_list],
        "labels_kept": sorted(set(table["label"])) if labels is not None else None,
        "metrics_note": (
            "measured on held-out data by models trained without it (see where each entry comes from), "
            "never on these training rows" if metrics else "no metrics: pass metrics_from=<report.json>"
        ),
    })
    save_model(estimator, output, name=model_name, extractor_settings=meta["extractor_settings"],
               training=training, metrics=metrics, trained_labels=sorted(set(table["label"])),
               calibration=calibration, recipe=recipe.replace(calibrate=bool(calibrate), pointing=bool(gate)),
               pointing=gate)
    return output


def _keep_labels(table: pd.DataFrame, labels: Sequence[str], *, where: str) -> pd.DataFrame:
    """The rows of ``table`` with one of ``labels`` (canonical or not); none is an error."""
    wanted = {normalize_label(label) for label in labels}
    table = table[table["label"].isin(wanted)]
    if table.empty:
        raise DatasetError(f"none of the labels {sorted(wanted)} occurs in {where}: check labels")
    return table


def resolve_calibrate(calibrate: bool | str, rows: pd.DataFrame, *, where: str = "the training rows",
                      name: str = "") -> bool:
    """Whether a model trained on ``rows`` is calibrated (``train_model`` and ``compare`` alike).

    ``'auto'``: when the rows hold two or more groups (a progress message says when they do not).

    Raises
    ------
    DatasetError
        If ``calibrate`` is True and ``rows`` (named ``where`` in the message) hold one group:
        a temperature needs out-of-group predictions.
    """
    n_groups = rows["group"].nunique()
    if calibrate == "auto":
        if n_groups < 2:
            log(True, f"{name}: not calibrated: the training rows hold one group ({rows['group'].iloc[0]}); "
                      "a temperature needs out-of-group predictions")
        return n_groups >= 2
    if calibrate and n_groups < 2:
        raise DatasetError(
            f"calibration needs out-of-group predictions, but {where} hold one group "
            f"({rows['group'].iloc[0]}): train on at least two signers, sessions or sources"
        )
    return bool(calibrate)


def _metrics_from(path: str | Path, model_name: str) -> dict[str, Any]:
    """Metrics of ``model_name`` from a comparison ``report.json``, with its split description."""
    path = Path(path)
    try:
        report = load_json(path.read_text(encoding="utf-8"))
        result = report["models"][model_name]
        meta = report["metadata"]
        if not isinstance(result, dict) or not isinstance(meta, dict):
            raise ValueError("its models and metadata entries are not JSON objects")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LandmarkASLError(
            f"cannot take {model_name!r} metrics from {path}: expected a comparison report.json "
            f"with that model ({exc})"
        ) from exc
    keys = ("coverage", "accuracy_all", "accuracy_detected", "macro_f1", "n_test", "n_detected")
    return {
        **{k: result.get(k) for k in keys},
        "report": str(path),
        "train_sources": meta.get("train_sources"),
        "test_sources": meta.get("test_sources"),
        "split_mode": meta.get("split_mode"),
        "split_file_sha256": meta.get("split_file_sha256"),
    }
