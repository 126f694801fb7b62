"""Personal models: a base landmark model retrained with a user's own samples weighing more."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from landmark_asl.exceptions import DatasetError, LandmarkASLError

#: Default weight of one of the user's samples, relative to the mean weight of a base training
#: row (chosen on massey's signers, ``scripts/bench_adapt.py``; README "Teach it your own hands").
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
DEFAULT_SIGNER = "me"


def _training_sources(model) -> list[str]:
    """The training sources a model's card names (adapt retrains on them)."""
    sources = model.card.training.get("train_sources")
    if not sources:
        raise LandmarkASLError(
            f"{model.directory}: the model card names no training sources, so it cannot be adapted "
            "(adapt retrains on the base model's training landmarks); train the base with `landmark-asl train`"
        )
    return list(sources)


def base_training_rows(base, *, cache_dir: str | Path, settings: Any = None, n_jobs: int = 1,
                       progress: bool = False) -> pd.DataFrame:
    """The rows a saved landmark model was trained on, read back from the landmark cache.

    The card names its training sources (``training.train_sources``) and the labels it kept;
    their landmarks come from ``cache_dir`` (extracted there on first use, from the datasets in
    ``$LANDMARK_ASL_DATA``). No dataset row is shipped with a model.

    Raises
    ------
    LandmarkASLError
        The card names no training sources, or a source cannot be found.
    """
    from landmark_asl.landmark_cache import load_landmarks

    sources = _training_sources(base)
    try:
        table, _ = load_landmarks(list(sources), cache_dir=cache_dir, settings=settings or base.card.extractor_settings,
                                  n_jobs=n_jobs, progress=progress)
    except DatasetError as exc:
        raise LandmarkASLError(
            f"cannot read the base model's training data ({exc}): adapt retrains on it; point "
            "LANDMARK_ASL_DATA at the datasets it names or use a --cache-dir that holds them"
        ) from exc
    kept = base.card.training.get("labels_kept")
    if kept:
        table = table[table["label"].isin(kept)]
    return table[table["detected"].astype(bool)].reset_index(drop=True)


def adapt_model(
    samples: str | Path | Sequence[str | Path] | pd.DataFrame,
    *,
    output: str | Path,
    base: str | Path | None = None,
    signer: str | None = None,
    weight: float = DEFAULT_WEIGHT,
    cache_dir: str | Path | None = None,
    n_jobs: int = 1,
    base_rows: pd.DataFrame | None = None,
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
        Landmark cache (default ``.cache/landmarks``).
    n_jobs : int
        Threads of the fit.
    base_rows : DataFrame, optional
        The base model's training rows, when already in memory (benchmarks); default: read
        with :func:`base_training_rows`.
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
        A base that is not a landmark model, samples without a hand, labels the base does not
        know, a bad weight.
    """
    from landmark_asl._util import file_sha256
    from landmark_asl.landmark_cache import load_landmarks, log
    from landmark_asl.persistence import METADATA_FILE, _check_destination, load_model, save_model
    from landmark_asl.training import as_list, fit_estimator

    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight <= MAX_WEIGHT:
        raise LandmarkASLError(f"weight must be a number > 0 and at most {MAX_WEIGHT:g}; got {weight!r}")
    if isinstance(copies, bool) or not isinstance(copies, int) or not 0 <= copies <= 50:
        raise LandmarkASLError(f"copies must be an integer from 0 to 50; got {copies!r}")
    output = Path(output)
    _check_destination(output)
    model = load_model(base)
    if output.resolve() == model.directory.resolve():
        raise LandmarkASLError(f"the output {output} is the base model itself: a personal model never replaces "
                               "its base; choose another output folder")
    card = model.card
    if card.name not in ("rf", "xgb"):
        raise LandmarkASLError(f"{model.directory} is a {card.name!r} model: adapt takes a landmark model (rf or xgb)")
    if base_rows is None:
        _training_sources(model)
    cache_dir = Path(cache_dir) if cache_dir is not None else Path(".cache") / "landmarks"
    if isinstance(samples, pd.DataFrame):
        own = samples.copy()
    else:
        if not as_list(samples):
            raise DatasetError("no samples given: pass image folders, landmark tables or landmark CSVs")
        own, _ = load_landmarks(as_list(samples), cache_dir=cache_dir, settings=card.extractor_settings,
                                n_jobs=n_jobs, progress=progress)
    own = own[own["detected"].astype(bool)].reset_index(drop=True)
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
    if base_rows is None:
        log(progress, f"reading the base model's training landmarks ({', '.join(card.training['train_sources'])})")
        base_rows = base_training_rows(model, cache_dir=cache_dir, n_jobs=n_jobs, progress=progress)
    n_samples = len(own)
    counts = {k: int(v) for k, v in own["label"].value_counts().sort_index().items()}
    own = _with_copies(own, copies=copies)
    rows = pd.concat([base_rows, own], ignore_index=True)
    is_own = np.arange(len(rows)) >= len(base_rows)
    recipe = {"balance": card.training.get("balance"), "augment": card.training.get("augment")}
    params = dict(card.training.get("params") or {})
    row_weight = np.where(is_own, float(weight) / (copies + 1), 1.0)
    if recipe["balance"] == "dataset":
        # fit_estimator weighs every dataset the same; the samples are not one more dataset
        # weighing as much as a whole one: each gets ``weight`` times a mean base row's weight.
        from landmark_asl.training import dataset_weights

        balanced = dataset_weights(rows)
        row_weight[is_own] = weight / (copies + 1) * balanced[~is_own].mean() / balanced[is_own]
    log(progress, f"{card.name}: fitting on {len(base_rows)} base rows + {len(own)} samples of {name} (weight {weight:g})")
    start = time.perf_counter()
    estimator, training = fit_estimator(card.name, rows, random_state=int(card.training.get("random_state", 0)),
                                        n_jobs=n_jobs, params=params, row_weight=row_weight, **recipe)
    training.update({
        "train_sources": list(card.training.get("train_sources") or []),
        "labels_kept": card.training.get("labels_kept"),
        "adapted": {
            "base_model": str(model.directory),
            "base_metadata_sha256": file_sha256(model.directory / METADATA_FILE),
            "signer": name,
            "sample_counts": counts,
            "n_samples": int(n_samples),
            "weight": float(weight),
            "copies": {"n_copies": copies, **PERSONAL_AUGMENT},
            "seconds": time.perf_counter() - start,
        },
        "metrics_note": "personal model: the base model's metrics do not apply to it; see scripts/bench_adapt.py",
    })
    if stop is not None and stop.is_set():
        raise LandmarkASLError(f"stopped before saving the personal model to {output}: nothing was written")
    save_model(estimator, output, name=card.name, extractor_settings=card.extractor_settings, training=training,
               metrics=None, trained_labels=list(card.classes), calibration=card.calibration)
    return output


def _with_copies(own: pd.DataFrame, *, copies: int) -> pd.DataFrame:
    """The samples plus ``copies`` perturbed copies of each, as landmark-table rows.

    Rows are rebuilt from the raw features (aspect already undone, so the image size is
    cleared) and keep every other column of their sample.
    """
    from landmark_asl.features import augment_landmarks, raw_features
    from landmark_asl.landmarks import IMAGE_COLUMNS, WORLD_COLUMNS

    X = raw_features(own)
    X_aug, _ = augment_landmarks(X, own["label"].to_numpy(dtype=object), n_copies=copies, random_state=0,
                                 **PERSONAL_AUGMENT)
    out = pd.concat([own] * (copies + 1), ignore_index=True)
    out[list(IMAGE_COLUMNS) + list(WORLD_COLUMNS)] = X_aug[:, :126]
    out["handedness"] = np.where(X_aug[:, 126] > 0.5, "Left", "Right")
    out["image_width"] = 0
    out["image_height"] = 0
    out["sample_id"] = [f"{sid}~{i // len(own)}" for i, sid in enumerate(out["sample_id"].astype(str))]
    return out
