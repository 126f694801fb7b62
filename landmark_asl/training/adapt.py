"""Personal models: a base landmark model retrained with a user's own samples weighing more."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from landmark_asl._util import file_sha256
from landmark_asl.data.datasets import resolve_source
from landmark_asl.data.landmark_cache import load_landmarks, log
from landmark_asl.estimators.features import augment_landmarks, raw_features
from landmark_asl.exceptions import DatasetError, LandmarkASLError, ModelLoadError
from landmark_asl.hands.landmarks import IMAGE_COLUMNS, WORLD_COLUMNS
from landmark_asl.model.card import METADATA_FILE
from landmark_asl.model.store import check_destination, default_model_dir, load_model, save_model
from landmark_asl.training.recipe import Recipe
from landmark_asl.training.settings import CollectSettings
from landmark_asl.training.train import as_list, dataset_weights, fit_estimator

#: Default weight of one of the user's samples, relative to the mean weight of a base training
#: row (chosen on massey's signers, ``benchmarks/bench_adapt.py``; docs/guide/own-hands.md).
DEFAULT_WEIGHT = 10.0
#: Largest weight: one sample weighing a million base rows is far past any use, and far larger
#: weights overflow the fit (a forest of NaN leaves).
MAX_WEIGHT = 1e6
#: Perturbed copies of each of the user's samples (small rotations, scale, jitter): a forest
#: leaf needs ``min_samples_leaf`` rows, so three samples of a letter alone could never form
#: one; each copy carries ``1 / (copies + 1)`` of the sample's weight.
PERSONAL_COPIES = 9
PERSONAL_AUGMENT = {"max_angle": 10.0, "scale": 0.05, "jitter": 0.005, "mirror": False}
#: Group (and dataset) given to the user's samples when no signer is named.
DEFAULT_SIGNER = CollectSettings.signer
#: Sources of the landmark rows shipped with the package (``models/adapt_base/rows.npz``, built from
#: the datasets by ``tools/build_adapt_base.py``, committed with attribution): only
#: those whose licence allows it, asl2text (Apache-2.0) and the two landmark CSVs (MIT / CC0).
#: ``adapt`` retrains on them when the datasets are not there.
PACKAGED_SOURCES: tuple[str, ...] = (
    "asl2text/train",
    "asl2text/test",
    "landmarks/borisgraudt_raw_gestures.csv",
    "landmarks/nejohnson2_wrist_relative.csv",
)
#: Where ``adapt`` finds its base rows: ``'auto'`` (the base model's own training data when the
#: datasets are there, else the packaged rows), ``'datasets'`` or ``'packaged'``.
BASE_ROWS_CHOICES = ("auto", "datasets", "packaged")


def packaged_rows_path() -> Path:
    """``rows.npz`` of the packaged base rows (package data ``landmark_asl/models/adapt_base``)."""

    return default_model_dir().parent / "adapt_base" / "rows.npz"


def packaged_base_rows(*, exclude_groups: Sequence[str] = ()) -> pd.DataFrame:
    """The landmark rows shipped with the package, as a landmark table (rows with a hand).

    Parameters
    ----------
    exclude_groups : sequence of str
        Groups to leave out (a benchmark holds its user out).

    Raises
    ------
    LandmarkASLError
        The file is missing (a source checkout where it was not built yet) or unreadable.
    """
    path = packaged_rows_path()
    if not path.is_file():
        raise LandmarkASLError(
            f"this install carries no packaged base rows ({path} is missing; a checkout rebuilds it from the "
            "datasets: python tools/build_adapt_base.py): set LANDMARK_ASL_DATA to the base model's datasets"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            X = data["X"].astype(np.float64)
            label, dataset, group = data["label"], data["dataset"], data["group"]
    except (OSError, KeyError, ValueError) as exc:
        raise LandmarkASLError(f"cannot read the packaged base rows {path} ({exc}): reinstall landmark_asl") from exc
    keep = ~np.isin(group, list(exclude_groups))
    table = pd.DataFrame({"label": label[keep].astype(object), "dataset": dataset[keep].astype(object),
                          "group": group[keep].astype(object)})
    table["sample_id"] = [f"packaged:{i}" for i in np.flatnonzero(keep)]
    return rows_from_features(table, X[keep])


def rows_from_features(rows: pd.DataFrame, X: np.ndarray) -> pd.DataFrame:
    """Landmark-table rows (with a hand) from raw features (n, 127); ``rows`` gives every other column.

    The aspect ratio is already undone in raw features, so the image size is cleared.
    """

    out = rows.reset_index(drop=True).copy()
    coords = pd.DataFrame(X[:, :126], columns=list(IMAGE_COLUMNS) + list(WORLD_COLUMNS))
    out = pd.concat([out.drop(columns=[c for c in coords.columns if c in out.columns]), coords], axis=1)
    out["handedness"] = np.where(X[:, 126] > 0.5, "Left", "Right")
    out["image_width"] = 0
    out["image_height"] = 0
    out["detected"] = True
    return out


def _training_sources(model) -> list[str]:
    """The training sources a model's card names (adapt retrains on them)."""
    sources = _check_training(model)["train_sources"]
    if not sources:
        raise LandmarkASLError(
            f"{model.directory}: the model card names no training sources, so it cannot be adapted "
            "(adapt retrains on the base model's training landmarks); train the base with `landmark-asl train`"
        )
    return list(sources)


def _check_training(model) -> dict[str, Any]:
    """The ``training`` fields of a base model's card that adapt reads, checked: ``train_sources``
    and ``labels_kept`` (None or lists of non-empty strings) and ``random_state`` (an integer seed).

    Raises
    ------
    ModelLoadError
        One line naming ``metadata.json`` and the first malformed field (a crafted or corrupt card).
    """
    training = model.card.training
    checked = {}
    for key in ("train_sources", "labels_kept"):
        value = training.get(key)
        if value is not None and not (isinstance(value, list) and all(
                isinstance(v, str) and v and "\x00" not in v for v in value)):
            raise ModelLoadError(f"{model.directory / METADATA_FILE}: training.{key} must be a list of non-empty "
                                 f"strings or null; found {_short(value)}: the card is corrupt, train the base again")
        checked[key] = value
    seed = training.get("random_state", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ModelLoadError(f"{model.directory / METADATA_FILE}: training.random_state must be an integer from 0 "
                             f"to 2**32 - 1; found {_short(seed)}: the card is corrupt, train the base again")
    checked["random_state"] = seed
    return checked


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters (a crafted card's field may be megabytes)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def base_training_rows(base, *, cache_dir: str | Path | None = None, settings: Any = None, n_jobs: int = 1,
                       progress: bool = False) -> pd.DataFrame:
    """The rows a saved landmark model was trained on, read back from the landmark cache.

    The card names its training sources (``training.train_sources``) and the labels it kept;
    their landmarks come from ``cache_dir`` (extracted there on first use, from the datasets in
    ``$LANDMARK_ASL_DATA``). No dataset row is shipped with a model.

    Raises
    ------
    LandmarkASLError
        The card names no training sources, or its sources now lack classes of the model (the
        data changed since, or a relative path names another file in the current folder).
    ModelLoadError
        The card's ``train_sources`` or ``labels_kept`` is malformed.
    DatasetError
        A source cannot be found or read (the datasets are not on this machine).
    """

    sources = _training_sources(base)
    try:
        table, _ = load_landmarks(list(sources), cache_dir=cache_dir, settings=settings or base.card.extractor_settings,
                                  n_jobs=n_jobs, progress=progress)
    except DatasetError as exc:
        raise DatasetError(
            f"cannot read the base model's training data ({exc}): adapt retrains on it; point "
            "LANDMARK_ASL_DATA at the datasets it names, or pass a cache_dir= that holds them"
        ) from exc
    kept = _check_training(base)["labels_kept"]
    if kept:
        table = table[table["label"].isin(kept)]
    table = table[table["detected"].astype(bool)].reset_index(drop=True)
    missing = sorted(set(base.card.classes) - set(table["label"]))
    if missing:  # the sources changed since the base was trained (or a relative path names another file here)
        raise LandmarkASLError(
            f"the base model's training sources ({', '.join(sources)}) now hold no {', '.join(missing)}, which the "
            f"base model {base.directory} knows: they are not the data it was trained on (a relative path is read "
            "from the current folder); restore that data, or adapt with base_rows='packaged'"
        )
    return table


def adapt_model(
    samples: str | Path | Sequence[str | Path] | pd.DataFrame,
    *,
    output: str | Path,
    base: str | Path | None = None,
    signer: str | None = None,
    weight: float = DEFAULT_WEIGHT,
    cache_dir: str | Path | None = None,
    n_jobs: int = 1,
    base_rows: pd.DataFrame | str = "auto",
    copies: int = PERSONAL_COPIES,
    progress: bool = True,
    stop: Any = None,
) -> Path:
    """Build a personal model: the base model's recipe retrained on its own data plus ``samples``.

    Every sample of the user weighs ``weight`` times a mean base training row, so a few
    samples per letter move that letter's decision towards the user's way of forming it while
    the thousands of base rows keep every other letter as it was. The result is an ordinary
    model directory (``predict``, ``live``, ``compare`` use it) whose card names the base model
    (the SHA-256 of its ``metadata.json``), the signer and the per-letter sample counts. The
    base model's temperature scaling is kept (refitting it would cost five more fits).

    Parameters
    ----------
    samples : str, Path, sequence of them, or DataFrame
        The user's samples: image folders whose sub-folders are labels, landmark tables (from
        ``landmark-asl collect`` or ``extract``) or landmark CSVs, as ``train`` takes them; or a
        landmark table.
    output : str or Path
        Model directory to write.
    base : str or Path, optional
        Base model directory (default: the shipped ``models/default``); an rf or xgb model
        trained by ``landmark-asl train`` (its card names its training sources).
    signer : str, optional
        Name recorded as the samples' group (default: the samples' own groups, or ``'me'``).
    weight : float
        Weight of one sample relative to a mean base training row (> 0).
    cache_dir : str or Path, optional
        Landmark cache (default: the per-user cache, :func:`landmark_asl.paths.landmark_cache_dir`).
    n_jobs : int
        Threads of the fit.
    base_rows : {'auto', 'datasets', 'packaged'} or DataFrame
        What the personal model is retrained on besides the samples. ``'datasets'``: the base
        model's own training rows (:func:`base_training_rows`: the datasets its card names,
        from the landmark cache or ``$LANDMARK_ASL_DATA``). ``'packaged'``: the rows shipped with
        the package (:func:`packaged_base_rows`; no dataset needed). ``'auto'``: the datasets
        when they can be read, else the packaged rows. A DataFrame: those rows (benchmarks).
    copies : int
        Perturbed copies of each sample (:data:`PERSONAL_COPIES`, :data:`PERSONAL_AUGMENT`).
    progress : bool
        Progress messages on stderr.
    stop : threading.Event, optional
        Set by another thread (a server shutting down) to have nothing saved once the fit ends.

    Returns
    -------
    Path
        The model directory.

    Raises
    ------
    LandmarkASLError
        A base that is not a landmark model or is itself a personal model, samples without a
        hand, labels the base does not know, a bad weight, base rows that lack some of the base
        model's classes.
    ModelLoadError
        A base whose card's ``training`` fields are malformed.

    Notes
    -----
    A personal model is refused as a base: its card records how many samples it learnt, not
    the samples, so adapting it again would retrain on the base rows and the new samples only
    and silently forget the earlier ones. Adapt the original base with every sample together
    (several sample files may be given; repeated sample ids across them are made unique, so
    every row is kept).
    """
    _check_options(weight, copies, base_rows)
    output = Path(output)
    check_destination(output)
    model = load_model(base)
    if output.resolve() == model.directory.resolve():
        raise LandmarkASLError(f"the output {output} is the base model itself: a personal model never replaces "
                               "its base; choose another output folder")
    card = model.card
    if card.name not in ("rf", "xgb", "rf_mlp"):
        raise LandmarkASLError(f"{model.directory} is a {card.name!r} model: adapt takes a landmark model "
                               "(rf, rf_mlp or xgb)")
    _refuse_personal_base(model)
    seed = _check_training(model)["random_state"]  # a corrupt card is refused before any row is read
    recipe = base_recipe(card)
    recipe.check()  # a crafted card's recipe is refused before any row is read, not at the fit
    fit_recipe, network = _forest_of(recipe, model)
    if isinstance(base_rows, str) and base_rows != "packaged":
        _training_sources(model)
    own, name = _own_rows(samples, card, signer=signer, cache_dir=cache_dir, n_jobs=n_jobs, progress=progress)
    if isinstance(base_rows, str):
        base_rows = resolve_base_rows(model, base_rows, cache_dir=cache_dir, n_jobs=n_jobs, progress=progress)
    rows_from = base_rows.attrs.get("base_rows", "given rows")
    n_samples = len(own)
    counts = {k: int(v) for k, v in own["label"].value_counts().sort_index().items()}
    own = _with_copies(own, copies=copies)
    rows = pd.concat([base_rows, own], ignore_index=True)
    is_own = np.arange(len(rows)) >= len(base_rows)
    row_weight = _row_weights(rows, is_own, weight=weight, copies=copies, balance=recipe.balance)
    log(progress, f"{card.name}: fitting on {len(base_rows)} base rows + {n_samples} samples of {name} "
                  f"({len(own)} rows with their copies; weight {weight:g})")
    start = time.perf_counter()
    estimator, training = fit_estimator(fit_recipe, rows, random_state=seed,
                                        n_jobs=n_jobs, row_weight=row_weight)
    if network is not None:  # the personal forest beside the base model's network, blended as the base is
        from landmark_asl.estimators.mlp import ForestMLPClassifier

        blend_params = model.estimator.steps[1][1].get_params()
        estimator.steps[1] = ("clf", ForestMLPClassifier.from_parts(estimator.steps[1][1], network, **blend_params))
        training["network"] = "the base model's, unchanged (only the forest learns the samples)"
    training.update({
        "train_sources": (list(card.training.get("train_sources") or []) if rows_from == "datasets"
                          else [f"packaged base rows ({', '.join(PACKAGED_SOURCES)})"] if rows_from == "packaged"
                          else list(card.training.get("train_sources") or [])),
        "labels_kept": card.training.get("labels_kept"),
        "adapted": {
            "base_model": str(model.directory),
            "base_metadata_sha256": file_sha256(model.directory / METADATA_FILE),
            "signer": name,
            "base_rows": rows_from,
            "n_base_rows": int(len(base_rows)),
            "sample_counts": counts,
            "n_samples": int(n_samples),
            "weight": float(weight),
            "copies": {"n_copies": copies, **PERSONAL_AUGMENT},
            "seconds": time.perf_counter() - start,
        },
        "metrics_note": "personal model: the base model's metrics do not apply to it; see benchmarks/bench_adapt.py",
    })
    if stop is not None and stop.is_set():
        raise LandmarkASLError(f"stopped before saving the personal model to {output}: nothing was written")
    save_model(estimator, output, name=card.name, extractor_settings=card.extractor_settings, training=training,
               metrics=None, trained_labels=list(card.classes), calibration=card.calibration,
               recipe=recipe.replace(calibrate=card.calibration is not None, pointing=card.pointing is not None),
               pointing=card.pointing)
    return output


def _refuse_personal_base(model: Any) -> None:
    """Refuse a personal model as a base: its card does not hold the user's samples, so adapting it
    would retrain on the base rows plus the new samples only and forget the earlier ones."""
    adapted = model.card.training.get("adapted")
    if adapted is None:
        return
    first = adapted.get("base_model") if isinstance(adapted, dict) else None
    where = f" ({_short(first)})" if isinstance(first, str) else ""
    raise LandmarkASLError(
        f"{model.directory} is a personal model, which cannot be a base: adapting it would forget the samples "
        f"it was built from; adapt its own base{where} with all the samples together, the earlier ones and the new"
    )


def _check_options(weight: float, copies: int, base_rows: str | pd.DataFrame) -> None:
    """Refuse a bad ``weight``, ``copies`` or ``base_rows`` of :func:`adapt_model` before any work."""
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight <= MAX_WEIGHT:
        raise LandmarkASLError(f"weight must be a number > 0 and at most {MAX_WEIGHT:g}; got {weight!r}")
    if isinstance(copies, bool) or not isinstance(copies, int) or not 0 <= copies <= 50:
        raise LandmarkASLError(f"copies must be an integer from 0 to 50; got {copies!r}")
    if isinstance(base_rows, str) and base_rows not in BASE_ROWS_CHOICES:
        raise LandmarkASLError(f"base_rows must be one of {', '.join(BASE_ROWS_CHOICES)} or a DataFrame; got {base_rows!r}")


def _own_rows(samples: Any, card: Any, *, signer: str | None, cache_dir: str | Path | None, n_jobs: int,
              progress: bool) -> tuple[pd.DataFrame, str]:
    """The user's samples with a hand, as one group named after the signer; and that name.

    Every row is kept: ``collect`` numbers each file's sample ids from 0 and a hand-made table may
    have none, so ids repeated (or empty) are made unique, never taken for one sample. A source
    given twice (the same path) is read once.
    """
    if isinstance(samples, pd.DataFrame):
        own = samples.copy()
    else:
        named: dict[str, Any] = {}
        for source in as_list(samples):  # a file named twice, in any way, is read once
            named.setdefault(_same_file_key(source), source)
        sources = list(named.values())
        if not sources:
            raise DatasetError("no samples given: pass image folders, landmark tables or landmark CSVs")
        own, _ = load_landmarks(sources, cache_dir=cache_dir, settings=card.extractor_settings, n_jobs=n_jobs,
                                progress=progress, keep_duplicates=True)
    own = own[own["detected"].astype(bool)].reset_index(drop=True)
    own["sample_id"] = _unique_ids(own["sample_id"])
    if own.empty:
        raise DatasetError("no sample has a hand: record samples where the whole hand is in view")
    unknown = sorted(set(own["label"]) - set(card.classes))
    if unknown:
        raise LandmarkASLError(
            f"the samples hold labels the base model does not know: {', '.join(unknown)}; expected some of "
            f"{' '.join(card.classes)} (a personal model changes how letters look, not which letters exist)"
        )
    name = signer or (str(own["group"].iloc[0]) if own["group"].nunique() == 1 and own["group"].iloc[0] else DEFAULT_SIGNER)
    own["group"] = name
    own["dataset"] = f"personal:{name}"
    return own, name


def _same_file_key(source: Any) -> str:
    """One key for every name of one file or folder (``a.parquet``, ``./a.parquet``, its absolute path, a
    link to it), so that a sample source named twice is read once; a source not found, as given."""
    try:
        return str(resolve_source(source).resolve())
    except (DatasetError, OSError):
        return str(source)


def _unique_ids(ids: pd.Series) -> list[str]:
    """``ids`` as strings, each repeat (and each empty id) given the next free ``#<n>`` suffix."""
    seen: set[str] = set()
    out = []
    for sid in ids.fillna("").astype(str):
        base = sid or "sample"
        new, n = base, 1
        while new in seen:
            new, n = f"{base}#{n}", n + 1
        seen.add(new)
        out.append(new)
    return out


def _row_weights(rows: pd.DataFrame, is_own: np.ndarray, *, weight: float, copies: int,
                 balance: str | None) -> np.ndarray:
    """Each row's weight: 1 for a base row, ``weight`` shared by a sample and its ``copies``."""
    row_weight = np.where(is_own, float(weight) / (copies + 1), 1.0)
    if balance == "dataset":
        # fit_estimator weighs every dataset the same; the samples are not one more dataset
        # weighing as much as a whole one: each gets ``weight`` times a mean base row's weight.
        balanced = dataset_weights(rows)
        row_weight[is_own] = weight / (copies + 1) * balanced[~is_own].mean() / balanced[is_own]
    return row_weight


def _forest_of(recipe: Recipe, model: Any) -> tuple[Recipe, Any]:
    """What adapt fits: for a forest-and-network base (``rf_mlp``), its forest alone, and the base's
    network to keep; otherwise ``recipe`` itself and no network.

    The forest is refitted with the base's own forest parameters and feature settings (read from
    the loaded model, not the recipe, so that the kept network gets the features it was trained
    on). Refitting the network would double a personal model's build (about 30 s more on 2 cores);
    the forest carries ``1 - mlp_weight`` of the blend (0.7 by default) and learns the user's samples.
    """
    if recipe.model_name != "rf_mlp":
        return recipe, None
    normalizer, blend = model.estimator.steps[0][1], model.estimator.steps[1][1]
    forest = blend.part_params()[0]
    params = {**normalizer.get_params(), **{k: v for k, v in forest.items() if k not in ("n_jobs", "random_state")}}
    return recipe.replace(model_name="rf", params=params), blend.mlp_


def base_recipe(card: Any) -> Recipe:
    """The recipe a personal model of a base model is retrained with: the base model's own.

    Read from the card's ``recipe``; a card written before recipes were stored gives its
    ``training`` parameters, balance and augmentation. Calibration is off: the personal model
    keeps the base model's temperature (fitting one needs several signers) and pointing gate.
    """
    if card.recipe is not None:
        return card.recipe.replace(calibrate=False)
    return Recipe(model_name=card.name, params=dict(card.training.get("params") or {}),
                  balance=card.training.get("balance"), augment=card.training.get("augment"), calibrate=False,
                  pointing=card.pointing is not None)


def resolve_base_rows(model, choice: str = "auto", *, cache_dir: str | Path | None = None, n_jobs: int = 1,
                      progress: bool = False) -> pd.DataFrame:
    """The rows a personal model of ``model`` is retrained on (see ``base_rows`` of :func:`adapt_model`).

    Returns
    -------
    DataFrame
        A landmark table; ``.attrs['base_rows']`` says which rows they are ('datasets' or 'packaged').
    """

    card = model.card
    kept = _check_training(model)["labels_kept"]
    if choice in ("auto", "datasets"):
        sources = _training_sources(model)  # a card naming none is an error, not a reason to use other rows
        log(progress, f"reading the base model's training landmarks ({', '.join(sources)}; the first time, they are "
                      "extracted from the datasets, which takes minutes; base_rows='packaged' skips this)")
        try:
            rows = base_training_rows(model, cache_dir=cache_dir, n_jobs=n_jobs, progress=progress)
            rows.attrs["base_rows"] = "datasets"
            return rows
        except DatasetError as exc:  # the data is not here (a card naming no sources is an error: raised)
            if choice == "datasets":
                raise
            log(progress, f"the base model's training data is not on this machine ({exc.__cause__ or exc}): "
                          f"retraining on the rows shipped with landmark_asl ({', '.join(PACKAGED_SOURCES)})")
    rows = packaged_base_rows()
    rows = rows[rows["label"].isin(kept if kept else card.classes)].reset_index(drop=True)
    missing = sorted(set(card.classes) - set(rows["label"]))
    if missing:
        raise LandmarkASLError(
            f"the packaged base rows hold no {', '.join(missing)}, which the base model {model.directory} knows: "
            "adapt it with its own training data (set LANDMARK_ASL_DATA, base_rows='datasets')"
        )
    rows.attrs["base_rows"] = "packaged"
    return rows


def _with_copies(own: pd.DataFrame, *, copies: int) -> pd.DataFrame:
    """The samples plus ``copies`` perturbed copies of each, as landmark-table rows.

    Rows are rebuilt from the raw features (aspect already undone, so the image size is
    cleared) and keep every other column of their sample.
    """

    X = raw_features(own)
    X_aug, _ = augment_landmarks(X, own["label"].to_numpy(dtype=object), n_copies=copies, random_state=0,
                                 **PERSONAL_AUGMENT)
    out = rows_from_features(pd.concat([own] * (copies + 1), ignore_index=True), X_aug)
    out["sample_id"] = [f"{sid}~{i // len(own)}" for i, sid in enumerate(out["sample_id"].astype(str))]
    return out
