"""Metrics and the model comparison: one split file, every model scored the same way, report as JSON, Markdown and PNG."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from landmark_asl.exceptions import DatasetError, LandmarkASLError

#: The label that the NOTHING rule predicts for an image without a hand.
NOTHING = "NOTHING"

#: Predicted label of a test image that got no prediction (no hand found and no
#: NOTHING class): it never equals a true label, so it always counts as wrong.
NO_HAND = "(no hand)"

#: Version of the ``report.json`` layout.
REPORT_FORMAT_VERSION = 1

_SUMMARY_COLUMNS = (
    ("model", "model"),
    ("coverage", "coverage"),
    ("accuracy_all", "acc. all"),
    ("accuracy_detected", "acc. detected"),
    ("macro_f1", "macro-F1"),
    ("fit_seconds", "fit s"),
    ("size_mb", "size MB"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"),
    ("throughput_per_s", "batch /s"),
)


# --------------------------------------------------------------------------- metrics


def apply_no_hand_rule(
    predicted: Sequence[str], detected: Sequence[bool], classes: Sequence[str]
) -> np.ndarray:
    """Fill in the prediction of every test image on which no hand was found.

    Where ``classes`` contains ``'NOTHING'`` such an image is predicted ``'NOTHING'``
    (an empty scene is a valid answer); otherwise it gets :data:`NO_HAND`, which
    never equals a true label, so it counts as wrong.

    Parameters
    ----------
    predicted : sequence of str of length n_samples
        Predictions; entries of rows without a hand are ignored (may be None).
    detected : sequence of bool of length n_samples
        Whether a hand was found in each image.
    classes : sequence of str
        The label set the model was trained on.

    Returns
    -------
    ndarray of shape (n_samples,), dtype object
        Predictions with the no-hand rows filled in.
    """
    detected = np.asarray(detected, dtype=bool)
    out = np.asarray(predicted, dtype=object).copy()
    if out.shape != detected.shape:
        raise ValueError(
            f"predicted and detected must have the same length; got {out.shape[0]} and {detected.shape[0]}"
        )
    out[~detected] = NOTHING if NOTHING in set(classes) else NO_HAND
    return out


def classification_metrics(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    detected: Sequence[bool],
    *,
    labels: Sequence[str] | None = None,
    coverage: float | None = None,
) -> dict[str, Any]:
    """Score predictions on ALL test images, and on the images where a hand was found.

    Parameters
    ----------
    y_true : sequence of str of length n_samples
        True labels.
    y_pred : sequence of str of length n_samples
        Final predictions on every image (after :func:`apply_no_hand_rule` for a
        landmark model); :data:`NO_HAND` counts as wrong.
    detected : sequence of bool of length n_samples
        Whether MediaPipe found a hand in the image. ``accuracy_detected`` is
        computed on these rows, for every model alike, so landmark models and the
        CNN are compared on the same images.
    labels : sequence of str, optional
        Label order of the confusion matrix and per-class F1 (default: sorted true
        and predicted labels, :data:`NO_HAND` last).
    coverage : float, optional
        Fraction of images the model could classify; default the fraction with a
        hand (a pixel model that needs no hand passes 1.0).

    Returns
    -------
    dict
        ``n_test``, ``n_detected``, ``coverage``, ``accuracy_all``,
        ``accuracy_detected`` (None when no hand was found at all), ``macro_f1``
        (over the true labels, on all images), ``per_class_f1`` {label: F1},
        ``labels`` (rows/columns of the confusion matrix) and ``confusion``
        (list of lists of int, rows true, columns predicted).
    """
    from sklearn.metrics import confusion_matrix, f1_score

    y_true = np.asarray(y_true, dtype=object)
    y_pred = np.asarray(y_pred, dtype=object)
    detected = np.asarray(detected, dtype=bool)
    if not (y_true.shape == y_pred.shape == detected.shape):
        raise ValueError(
            "y_true, y_pred and detected must have the same length; got "
            f"{y_true.shape[0]}, {y_pred.shape[0]} and {detected.shape[0]}"
        )
    if y_true.size == 0:
        raise DatasetError("cannot score an empty test set: expected at least one test image, found none")
    true_labels = sorted(set(y_true.tolist()))
    if labels is None:
        extra = sorted(set(y_pred.tolist()) - set(true_labels) - {NO_HAND})
        labels = true_labels + extra + ([NO_HAND] if NO_HAND in set(y_pred.tolist()) else [])
    labels = list(labels)
    correct = y_true == y_pred
    n_detected = int(detected.sum())
    per_class = f1_score(y_true, y_pred, labels=true_labels, average=None, zero_division=0)
    return {
        "n_test": int(y_true.size),
        "n_detected": n_detected,
        "coverage": float(detected.mean()) if coverage is None else float(coverage),
        "accuracy_all": float(correct.mean()),
        "accuracy_detected": float(correct[detected].mean()) if n_detected else None,
        "macro_f1": float(np.mean(per_class)),
        "per_class_f1": {label: float(f) for label, f in zip(true_labels, per_class)},
        "labels": labels,
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def measure_latency(
    predict_one: Callable[[Any], Any],
    predict_batch: Callable[[Any], Any],
    samples: Any,
    *,
    n_single: int = 200,
    batch_repeats: int = 3,
) -> dict[str, float]:
    """Time single-sample predictions (p50/p95) and batch throughput.

    Parameters
    ----------
    predict_one : callable
        Called with ``samples[i]`` (one sample, e.g. ndarray of shape (127,) or
        (H, W, 3)).
    predict_batch : callable
        Called with the whole ``samples`` array.
    samples : ndarray of shape (n_samples, ...)
        Prepared inputs (features or images); hand detection is not timed here.
    n_single : int
        Number of single-sample calls (cycling through ``samples``).
    batch_repeats : int
        The best of this many batch calls gives the throughput.

    Returns
    -------
    dict
        ``latency_p50_ms``, ``latency_p95_ms``, ``throughput_per_s``.
    """
    n = len(samples)
    if n == 0:
        raise ValueError("measure_latency needs at least one sample; got an empty array")
    predict_one(samples[0])  # warm-up: lazy imports, thread pools
    times = np.empty(n_single)
    for i in range(n_single):
        start = time.perf_counter()
        predict_one(samples[i % n])
        times[i] = time.perf_counter() - start
    best = np.inf
    for _ in range(max(1, batch_repeats)):
        start = time.perf_counter()
        predict_batch(samples)
        best = min(best, time.perf_counter() - start)
    return {
        "latency_p50_ms": float(np.percentile(times, 50) * 1e3),
        "latency_p95_ms": float(np.percentile(times, 95) * 1e3),
        "throughput_per_s": float(n / best) if best > 0 else float("inf"),
    }


def directory_size(path: str | Path) -> int:
    """Total size in bytes of the files under ``path``."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


# --------------------------------------------------------------------------- report


def _fmt(value: Any, key: str) -> str:
    if value is None:
        return "-"
    if key in ("coverage", "accuracy_all", "accuracy_detected"):
        return f"{100 * value:.1f}%"
    if key == "macro_f1":
        return f"{value:.3f}"
    if key in ("latency_p50_ms", "latency_p95_ms"):
        return f"{value:.3f}" if value < 1 else f"{value:.2f}"
    if key in ("fit_seconds", "size_mb"):
        return f"{value:.2f}" if value < 10 else f"{value:.1f}"
    if key == "throughput_per_s":
        return f"{value:,.0f}"
    return str(value)


def summary_rows(report: dict[str, Any]) -> list[list[str]]:
    """Rows of the summary table (header first), one per model, as strings."""
    rows = [[title for _, title in _SUMMARY_COLUMNS]]
    for name, result in report["models"].items():
        rows.append([name if key == "model" else _fmt(result.get(key), key) for key, _ in _SUMMARY_COLUMNS])
    return rows


def format_table(rows: list[list[str]], *, markdown: bool = True) -> str:
    """Render rows (header first) as a Markdown table or as aligned plain text."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(row: list[str]) -> str:
        cells = [cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        return ("| " + " | ".join(cells) + " |") if markdown else "  ".join(cells)

    out = [line(rows[0])]
    if markdown:
        out.append("| " + " | ".join(["-" * widths[0]] + ["-" * (w - 1) + ":" for w in widths[1:]]) + " |")
    else:
        out.append("  ".join("-" * w for w in widths))
    out.extend(line(row) for row in rows[1:])
    return "\n".join(out)


def plot_confusion(result: dict[str, Any], path: str | Path, *, title: str) -> Path:
    """Save the confusion matrix of one model as a PNG (rows normalised to 1).

    Parameters
    ----------
    result : dict
        A model's entry of the report (``labels`` and ``confusion``).
    path : str or Path
        Output PNG.
    title : str
        Figure title.

    Returns
    -------
    Path
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = result["labels"]
    counts = np.asarray(result["confusion"], dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    size = max(5.0, 0.32 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def markdown_report(report: dict[str, Any]) -> str:
    """Render a comparison report (the dict of ``report.json``) as Markdown."""
    meta = report["metadata"]
    lines = [
        f"# Comparison: {meta['title']}",
        "",
        f"- split: `{meta['split_mode']}` ({meta['n_train']} train / {meta['n_test']} test images), "
        f"file `{meta['split_file']}` sha256 `{meta['split_file_sha256'][:16]}...`",
        f"- classes ({len(meta['classes'])}): {' '.join(meta['classes'])}",
    ]
    if meta.get("dropped_labels"):
        lines.append(f"- labels dropped (not in both train and test): {' '.join(meta['dropped_labels'])}")
    for name, result in report["models"].items():
        if result.get("params"):
            shown = ", ".join(f"{k}={v}" for k, v in result["params"].items())
            lines.append(f"- {name} parameters (others: registry defaults): {shown}")
    lines += [
        f"- hand found in {100 * meta['test_hand_coverage']:.1f}% of test images, "
        f"{100 * meta['train_hand_coverage']:.1f}% of train images",
        f"- no-hand rule: {meta['no_hand_rule']}",
        "",
        format_table(summary_rows(report)),
        "",
        "coverage: share of test images the model could classify (a landmark model needs a hand; "
        "the CNN needs none). acc. all: accuracy on every test image, no hand = wrong. "
        "acc. detected: accuracy on the test images where MediaPipe found a hand (the same images "
        "for every model, CNN included). Latency: one prepared sample (landmark features or one "
        "image) through the classifier, hand detection not included.",
        "",
        "## Per-class F1 (all test images)",
        "",
    ]
    names = list(report["models"])
    labels = meta["classes"]
    rows = [["label", *names]]
    for label in labels:
        rows.append([label, *(f"{report['models'][n]['per_class_f1'].get(label, 0.0):.2f}" for n in names)])
    lines += [format_table(rows), "", "## Confusion matrices", ""]
    for name in names:
        lines.append(f"![{name}]({report['models'][name]['confusion_png']})")
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], output: str | Path) -> dict[str, Path]:
    """Write ``report.json``, ``report.md`` and one ``confusion_<model>.png`` per model.

    Parameters
    ----------
    report : dict
        ``{"metadata": {...}, "models": {name: metrics}}`` as built by :func:`compare`.
    output : str or Path
        Report folder (created if missing).

    Returns
    -------
    dict of str to Path
        ``json``, ``markdown`` and ``png_<model>`` paths.
    """
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, result in report["models"].items():
        png = plot_confusion(result, output / f"confusion_{name}.png", title=f"{name}: {report['metadata']['title']}")
        result["confusion_png"] = png.name
        paths[f"png_{name}"] = png
    paths["json"] = output / "report.json"
    paths["json"].write_text(json.dumps(report, indent=2, default=_json_default) + "\n")
    paths["markdown"] = output / "report.md"
    paths["markdown"].write_text(markdown_report(report))
    return paths


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the results."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("landmark_asl", "mediapipe", "numpy", "scikit-learn", "xgboost", "torch", "pandas"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


# --------------------------------------------------------------------------- landmark tables


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[-60:] or "source"


def _is_table_file(path: Path) -> bool:
    """Whether ``path`` is a landmark table written by extraction (not a dataset)."""
    if path.suffix.lower() == ".parquet":
        return True
    if path.suffix.lower() == ".csv":
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.startswith("#"):
                    header = {c.strip() for c in line.split(",")}
                    return {"sample_id", "detected"} <= header
    return False


def landmark_cache_path(source: str | Path, cache_dir: str | Path, settings: Any = None) -> Path:
    """Where the landmark table of one source is cached.

    The file name holds the source's path and a hash of the resolved path and of the
    extractor settings, so that changed settings never reuse stale landmarks.
    """
    from landmark_asl.datasets import data_root, resolve_source

    resolved = resolve_source(source).resolve()
    try:
        name = str(resolved.relative_to(data_root().resolve()))
    except ValueError:
        name = str(resolved)
    settings_dict = dataclasses.asdict(settings) if dataclasses.is_dataclass(settings) else {}
    digest = hashlib.sha1(json.dumps([str(resolved), settings_dict], sort_keys=True).encode()).hexdigest()[:10]
    return Path(cache_dir) / f"{_slug(name)}-{digest}.parquet"


def load_landmarks(
    sources: Sequence[str | Path],
    *,
    cache_dir: str | Path,
    settings: Any = None,
    n_jobs: int = 1,
    progress: bool = True,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Landmark table of some sources, extracted once into ``cache_dir`` and reused.

    Parameters
    ----------
    sources : sequence of str or Path
        Dataset names or paths (extracted, resuming a partial cache file), or landmark
        tables written by ``landmark-asl extract`` (``.parquet``, or CSV with sidecar),
        read as they are.
    cache_dir : str or Path
        Folder of the cached tables (one Parquet file per source and settings).
    settings : ExtractorSettings, optional
        Extractor settings (default ``ExtractorSettings()``).
    n_jobs : int
        Extraction worker processes.
    progress : bool
        Show extraction progress on stderr.

    Returns
    -------
    table : DataFrame of shape (n_samples, len(TABLE_COLUMNS))
        One row per sample id (duplicates across sources keep the first).
    metadata : dict
        ``tables`` (source -> cache path) and ``extractor_settings``.
    """
    from landmark_asl.datasets import resolve_source
    from landmark_asl.extraction import extract_table, read_table
    from landmark_asl.landmarks import ExtractorSettings

    settings = settings or ExtractorSettings()
    tables, paths, extractor_settings = [], {}, dataclasses.asdict(settings)
    for source in sources:
        resolved = resolve_source(source)
        if resolved.is_file() and _is_table_file(resolved):
            path = resolved
        else:
            path = landmark_cache_path(source, cache_dir, settings)
            path.parent.mkdir(parents=True, exist_ok=True)
            _log(progress, f"landmarks of {source} -> {path}")
            extract_table([resolved], path, settings=settings, n_jobs=n_jobs, progress=progress)
        table, meta = read_table(path)
        extractor_settings = meta.get("settings", extractor_settings)
        tables.append(table)
        paths[str(source)] = str(path)
    table = pd.concat(tables, ignore_index=True).drop_duplicates("sample_id", keep="first")
    return table.reset_index(drop=True), {"tables": paths, "extractor_settings": extractor_settings}


def _log(enabled: bool, message: str) -> None:
    if enabled:
        print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- fitting helpers


def trainable_rows(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """The rows model ``name`` can learn from.

    A landmark model learns from the samples with a hand; the pixel model from every sample
    that has pixels (landmark CSV rows have none).

    Raises
    ------
    DatasetError
        If no row qualifies.
    """
    landmark = is_landmark_model(name)
    rows = table[table["detected"].astype(bool) if landmark else table["strategy"] != "csv"]
    if rows.empty:
        raise DatasetError(
            f"{name}: no training sample has {'a hand' if landmark else 'pixels'}, so it cannot be trained"
        )
    return rows


def build_estimator(name: str, *, random_state: int = 0, n_jobs: int = 1, params: dict[str, Any] | None = None):
    """Unfitted estimator ``name`` from the registry with ``random_state`` and ``n_jobs`` set wherever it has them.

    ``params`` go to the registry factory (e.g. ``{"n_estimators": 50}`` for ``rf``).
    """
    from landmark_asl.estimators import make_estimator

    try:
        estimator = make_estimator(name, **(params or {}))
    except TypeError as exc:
        raise LandmarkASLError(f"bad parameters {params} for model {name!r}: {exc}") from exc
    params = estimator.get_params()
    updates = {
        key: (random_state if key.endswith("random_state") else n_jobs)
        for key in params
        if key.endswith(("random_state", "n_jobs")) and key.split("__")[-1] in ("random_state", "n_jobs")
    }
    estimator.set_params(**updates)
    return estimator


def is_landmark_model(name: str) -> bool:
    """Whether registry entry ``name`` takes landmark features (else it takes pixels)."""
    from landmark_asl.estimators import LANDMARK_MODELS

    return name in LANDMARK_MODELS


def _pixels(estimator, rows: pd.DataFrame) -> np.ndarray:
    from landmark_asl.cnn import load_pixels

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
    if is_landmark_model(name):
        from landmark_asl.features import raw_features

        return raw_features(rows)
    return _pixels(estimator, rows)


def parse_params(items: Sequence[str], *, per_model: bool) -> dict[str, Any]:
    """Parse ``NAME=VALUE`` (or ``MODEL.NAME=VALUE`` with ``per_model``) strings.

    Values are read as JSON where they parse (``50``, ``0.5``, ``null``, ``true``), else kept as text.

    Returns
    -------
    dict
        ``{name: value}``, or ``{model: {name: value}}`` with ``per_model``.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        model, dot, name = key.partition(".") if per_model else ("", ".", key)
        if not sep or not dot or not name.strip() or (per_model and not model.strip()):
            expected = "MODEL.NAME=VALUE, e.g. rf.n_estimators=50" if per_model else "NAME=VALUE, e.g. n_estimators=50"
            raise LandmarkASLError(f"bad parameter {item!r}: expected {expected}")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        target = out.setdefault(model.strip(), {}) if per_model else out
        target[name.strip()] = value
    return out


# --------------------------------------------------------------------------- comparison


def _as_list(sources: str | Path | Sequence[str | Path] | None) -> list[str]:
    if sources is None:
        return []
    if isinstance(sources, (str, Path)):
        return [str(sources)]
    return [str(s) for s in sources]


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
    from landmark_asl.datasets import MANIFEST_COLUMNS, make_cross_dataset_split, make_split, write_split

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
    split : {'random', 'group'}
        Split mode when ``test`` is None.
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

    Returns
    -------
    dict
        The report: ``{"metadata": {...}, "models": {name: metrics}}``, also written
        to ``<output>/report.json``.
    """
    from landmark_asl.datasets import file_sha256, read_split
    from landmark_asl.estimators import REGISTRY

    train_sources, test_sources = _as_list(train), _as_list(test)
    if not train_sources:
        raise DatasetError("no training sources given: pass at least one dataset name, folder or landmark table")
    unknown = [m for m in models if m not in REGISTRY]
    if unknown or not models:
        raise LandmarkASLError(
            f"unknown model name(s) {unknown or list(models)}: expected some of {sorted(REGISTRY)}"
        )
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    cache_dir = Path(cache_dir) if cache_dir is not None else output / "landmarks"
    train_table, train_meta = load_landmarks(train_sources, cache_dir=cache_dir, settings=settings, n_jobs=n_jobs, progress=progress)
    test_table, test_meta = (None, {"tables": {}})
    if test_sources:
        test_table, test_meta = load_landmarks(test_sources, cache_dir=cache_dir, settings=settings, n_jobs=n_jobs, progress=progress)

    if split_file is not None:
        split_path = Path(split_file)
        info = {"mode": "file", "classes_kept": None, "dropped_labels": []}
    else:
        split_path = output / "split.csv"
        info = prepare_split(
            train_table, test_table, split_path, split=split, test_size=test_size,
            test_groups=test_groups, random_state=random_state,
        )
    split_df = read_split(split_path)
    table = pd.concat([train_table] + ([test_table] if test_table is not None else []), ignore_index=True)
    table = table.drop(columns=["split"]).drop_duplicates("sample_id", keep="first")
    data = table.merge(split_df[["sample_id", "split"]], on="sample_id", how="inner")
    train_rows = data[data["split"] == "train"].reset_index(drop=True)
    test_rows = data[data["split"] == "test"].reset_index(drop=True)
    if train_rows.empty or test_rows.empty:
        raise DatasetError(
            f"split {split_path} leaves {len(train_rows)} training and {len(test_rows)} test samples: "
            "expected both to be non-empty; check the sources, --test-size or --test-groups"
        )
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
            if NOTHING in classes else "a test image without a hand counts as wrong"
        ),
        "landmark_tables": {**train_meta["tables"], **test_meta["tables"]},
        "extractor_settings": train_meta["extractor_settings"],
        "versions": package_versions(),
    }
    try:
        from landmark_asl.features import FEATURE_VERSION

        metadata["feature_version"] = FEATURE_VERSION
    except ImportError:  # pragma: no cover - features is part of the package
        metadata["feature_version"] = None

    results: dict[str, Any] = {}
    for name in models:
        _log(progress, f"{name}: fitting on {metadata['title']}")
        results[name] = _fit_and_score(
            name, train_rows, test_rows, classes, metadata,
            output=output, random_state=random_state, n_jobs=n_jobs, save=save_models,
            params=(params or {}).get(name),
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
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit one model on the training rows, score it on every test row, time and size it."""
    from landmark_asl.persistence import load_model, save_model

    estimator = build_estimator(name, random_state=random_state, n_jobs=n_jobs, params=params)
    landmark = is_landmark_model(name)
    fit_rows = trainable_rows(train_rows, name)
    X_fit = model_inputs(name, estimator, fit_rows)
    start = time.perf_counter()
    estimator.fit(X_fit, fit_rows["label"].to_numpy(dtype=object))
    fit_seconds = time.perf_counter() - start
    del X_fit

    detected = test_rows["detected"].to_numpy(dtype=bool)
    predicted = np.full(len(test_rows), NO_HAND, dtype=object)
    if landmark:
        X_test = model_inputs(name, estimator, test_rows[detected]) if detected.any() else np.empty((0, 127))
        if detected.any():
            predicted[detected] = estimator.predict(X_test)
        predicted = apply_no_hand_rule(predicted, detected, classes)
        coverage = float(detected.mean())
    else:
        X_test = model_inputs(name, estimator, test_rows)
        predicted[:] = estimator.predict(X_test)
        coverage = 1.0
    result = classification_metrics(test_rows["label"].to_numpy(dtype=object), predicted, detected, coverage=coverage)
    result.update({"kind": "landmarks" if landmark else "pixels", "params": dict(params or {}),
                   "n_fit": int(len(fit_rows)), "fit_seconds": fit_seconds})

    model_dir = output / "models" / name if save else Path(tempfile.mkdtemp(prefix=f"landmark_asl_{name}_"))
    try:
        model_meta = {
            "classes": classes,
            "feature_version": metadata.get("feature_version"),
            "extractor_settings": metadata["extractor_settings"],
            "split_file": metadata["split_file"],
            "split_file_sha256": metadata["split_file_sha256"],
            "train_sources": metadata["train_sources"],
            "test_sources": metadata["test_sources"],
            "metrics": {k: result[k] for k in ("coverage", "accuracy_all", "accuracy_detected", "macro_f1")},
        }
        save_model(estimator, model_dir, name=name, metadata=model_meta)
        result["size_mb"] = directory_size(model_dir) / 1e6
        loaded = load_model(model_dir)
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


# --------------------------------------------------------------------------- training a model to ship


def train_model(
    sources: str | Path | Sequence[str | Path],
    *,
    model_name: str,
    output: str | Path,
    n_jobs: int = 1,
    random_state: int = 0,
    cache_dir: str | Path | None = None,
    settings: Any = None,
    metrics_from: str | Path | None = None,
    labels: Sequence[str] | None = None,
    params: dict[str, Any] | None = None,
    progress: bool = True,
) -> Path:
    """Fit one model on every sample of ``sources`` and save it with its metadata.

    No metric is computed on the training data (it would flatter the model): pass
    ``metrics_from``, the ``report.json`` of a comparison, to record measured metrics.

    Parameters
    ----------
    sources : str, Path or sequence of them
        Dataset names/paths or landmark tables.
    model_name : str
        Registry name (``'rf'``, ``'xgb'``, ``'cnn'``).
    output : str or Path
        Model directory to write (replaced if it holds a model).
    n_jobs : int
        Worker processes/threads for extraction and fitting.
    random_state : int
        Seed of the model.
    cache_dir : str or Path, optional
        Landmark cache (default ``.cache/landmarks`` in the working directory).
    settings : ExtractorSettings, optional
        Extractor settings.
    metrics_from : str or Path, optional
        A comparison ``report.json``; its metrics for ``model_name`` and its split
        description go into the model's metadata under ``metrics``.
    labels : sequence of str, optional
        Keep only samples with these canonical labels (e.g. leave out massey's digits).
    params : dict, optional
        Registry factory parameters, e.g. ``{"n_estimators": 50, "min_samples_leaf": 5}``.
    progress : bool
        Progress messages on stderr.

    Returns
    -------
    Path
        The model directory.
    """
    from landmark_asl.persistence import save_model

    source_list = _as_list(sources)
    if not source_list:
        raise DatasetError("no training sources given: pass at least one dataset name, folder or landmark table")
    output = Path(output)
    cache_dir = Path(cache_dir) if cache_dir is not None else Path(".cache") / "landmarks"
    metrics = _metrics_from(metrics_from, model_name) if metrics_from else None  # fail before the long part
    table, meta = load_landmarks(source_list, cache_dir=cache_dir, settings=settings, n_jobs=n_jobs, progress=progress)
    if labels is not None:
        from landmark_asl.datasets import normalize_label

        wanted = {normalize_label(label) for label in labels}
        table = table[table["label"].isin(wanted)]
    estimator = build_estimator(model_name, random_state=random_state, n_jobs=n_jobs, params=params)
    rows = trainable_rows(table, model_name)
    _log(progress, f"{model_name}: fitting on {len(rows)} samples of {', '.join(source_list)}")
    X = model_inputs(model_name, estimator, rows)
    start = time.perf_counter()
    estimator.fit(X, rows["label"].to_numpy(dtype=object))
    fit_seconds = time.perf_counter() - start
    from landmark_asl.features import FEATURE_VERSION

    metadata = {
        "classes": sorted(set(table["label"])),
        "feature_version": FEATURE_VERSION,
        "extractor_settings": meta["extractor_settings"],
        "train_sources": source_list,
        "labels_kept": sorted(set(table["label"])) if labels is not None else None,
        "n_train": int(len(rows)),
        "n_train_without_hand": int((~table["detected"].astype(bool)).sum()),
        "label_counts": {k: int(v) for k, v in rows["label"].value_counts().sort_index().items()},
        "fit_seconds": fit_seconds,
        "random_state": random_state,
        "params": dict(params or {}),
        "split_file_sha256": None,
        "metrics": metrics,
        "metrics_note": (
            "measured in the comparison named in metrics.report (a model trained on a split, not on "
            "all of these sources)" if metrics else "no metrics: pass metrics_from=<report.json>"
        ),
    }
    save_model(estimator, output, name=model_name, metadata=metadata)  # replaces an old model atomically
    return output


def _metrics_from(path: str | Path, model_name: str) -> dict[str, Any]:
    """Metrics of ``model_name`` from a comparison ``report.json``, with its split description."""
    path = Path(path)
    try:
        report = json.loads(path.read_text())
        result = report["models"][model_name]
        meta = report["metadata"]
    except (OSError, ValueError, KeyError) as exc:
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


# --------------------------------------------------------------------------- prediction on image files


def image_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Image files named in ``paths``; folders are searched recursively (sorted)."""
    from landmark_asl.datasets import IMAGE_SUFFIXES

    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        elif path.is_file():
            found.append(path)
        else:
            raise DatasetError(f"{path} does not exist: expected an image file or a folder of images")
    if not found:
        raise DatasetError(f"no images (.jpg, .jpeg, .png) found in {[str(p) for p in paths]}")
    return found


def _settings_from(metadata: dict[str, Any]):
    """Extractor settings recorded in a model's metadata (defaults where absent)."""
    from landmark_asl.landmarks import ExtractorSettings

    recorded = metadata.get("extractor_settings") or {}
    fields = {f.name for f in dataclasses.fields(ExtractorSettings)}
    return ExtractorSettings(**{k: v for k, v in recorded.items() if k in fields})


def predict_images(paths: Sequence[str | Path], *, model: str | Path | None = None):
    """Predict the letter of each image with a saved model.

    A landmark model sees the hand that the extractor finds (with the extractor settings
    the model was trained with); an image without a hand gets ``'NOTHING'`` when the model
    knows that class, else the empty label ``''`` (no prediction). The pixel CNN needs no hand.

    Parameters
    ----------
    paths : sequence of str or Path
        Image files and folders of images.
    model : str or Path, optional
        Model directory; None uses the shipped ``models/default``.

    Yields
    ------
    dict
        ``path``, ``label``, ``confidence`` (probability of ``label``), ``detected``
        (a hand was found; None for the pixel model), ``handedness``, ``strategy``
        (extractor pass that found the hand) and ``error`` (why the image could not be read, or '').
    """
    from landmark_asl.images import read_image
    from landmark_asl.persistence import load_model

    loaded = load_model(model)
    files = image_paths(paths)
    if not is_landmark_model(loaded.name):
        yield from _predict_pixels(loaded, files)
        return
    from landmark_asl.landmarks import HandLandmarkExtractor

    with HandLandmarkExtractor(_settings_from(loaded.metadata)) as extractor:
        for path in files:
            try:
                rgb = read_image(path)
            except DatasetError as exc:
                yield {"path": str(path), "label": "", "confidence": 0.0, "detected": False,
                       "handedness": "", "strategy": "", "error": str(exc)}
                continue
            detection = extractor.extract(rgb)
            labels, confidences = loaded.predict_hands([detection.landmarks])
            hand = detection.landmarks
            yield {"path": str(path), "label": str(labels[0]), "confidence": float(confidences[0]),
                   "detected": detection.detected, "handedness": hand.handedness if hand else "",
                   "strategy": detection.strategy, "error": ""}


def _predict_pixels(loaded, files: list[Path]):
    from landmark_asl.cnn import load_pixels

    estimator = loaded.estimator
    pixels, failed = load_pixels([str(f) for f in files], image_size=estimator.image_size_,
                                 grayscale=bool(estimator.grayscale_), return_failed=True)
    proba = loaded.predict_proba(pixels)
    best = np.argmax(proba, axis=1)
    for i, path in enumerate(files):
        ok = not failed[i]
        yield {"path": str(path), "label": str(loaded.classes[best[i]]) if ok else "",
               "confidence": float(proba[i, best[i]]) if ok else 0.0, "detected": None,
               "handedness": "", "strategy": "", "error": "" if ok else "cannot read image"}
