"""Metrics: accuracy on all images and on detected ones, per-class scores, the no-hand rule, timing."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix, roc_auc_score

from landmark_asl.exceptions import DatasetError
from landmark_asl.labels import NO_PREDICTION, no_hand_label


def apply_no_hand_rule(
    predicted: Sequence[str], detected: Sequence[bool], classes: Sequence[str]
) -> np.ndarray:
    """Fill in the prediction of every test image on which no hand was found.

    The NOTHING rule (:func:`landmark_asl.labels.no_hand_label`): where ``classes``
    contains ``'NOTHING'`` such an image is predicted ``'NOTHING'`` (an empty scene is a
    valid answer); otherwise it gets ``NO_PREDICTION``, which never equals a true label,
    so it counts as wrong.

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
    out[~detected] = no_hand_label(classes)
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
        landmark model); :data:`NO_PREDICTION` counts as wrong.
    detected : sequence of bool of length n_samples
        Whether MediaPipe found a hand in the image. ``accuracy_detected`` is
        computed on these rows, for every model alike, so landmark models and the
        CNN are compared on the same images.
    labels : sequence of str, optional
        Label order of the confusion matrix and per-class F1 (default: sorted true
        and predicted labels, :data:`NO_PREDICTION` last).
    coverage : float, optional
        Fraction of images the model could classify; default the fraction with a
        hand (a pixel model that needs no hand passes 1.0).

    Returns
    -------
    dict
        ``n_test``, ``n_detected``, ``coverage``, ``accuracy_all``,
        ``accuracy_detected`` (None when no hand was found at all), ``macro_f1``
        (over the true labels, on all images), ``per_class_f1`` {label: F1} (from ``classification_report``),
        ``labels`` (rows/columns of the confusion matrix) and ``confusion``
        (list of lists of int, rows true, columns predicted).
    """

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
        extra = sorted(set(y_pred.tolist()) - set(true_labels) - {NO_PREDICTION})
        labels = true_labels + extra + ([NO_PREDICTION] if NO_PREDICTION in set(y_pred.tolist()) else [])
    labels = list(labels)
    correct = y_true == y_pred
    n_detected = int(detected.sum())
    per_class = classification_report(
        y_true, y_pred, labels=true_labels, output_dict=True, zero_division=0
    )
    return {
        "n_test": int(y_true.size),
        "n_detected": n_detected,
        "coverage": float(detected.mean()) if coverage is None else float(coverage),
        "accuracy_all": float(correct.mean()),
        "accuracy_detected": float(correct[detected].mean()) if n_detected else None,
        "macro_f1": float(np.mean([per_class[label]["f1-score"] for label in true_labels])),
        "per_class_f1": {label: float(per_class[label]["f1-score"]) for label in true_labels},
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


def calibration_metrics(
    y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str], *, n_bins: int = 15
) -> dict[str, Any]:
    """How far a model's confidence can be trusted.

    Parameters
    ----------
    y_true : sequence of str of length n_samples
        True labels (a label outside ``classes`` counts as a wrong answer).
    proba : ndarray of shape (n_samples, n_classes)
        Predicted probabilities, columns in the order of ``classes``.
    classes : sequence of str
        The model's classes.
    n_bins : int, default=15
        Equal-width confidence bins of the expected calibration error.

    Returns
    -------
    dict
        ``ece``: expected calibration error of the top label (bin-weighted mean of
        |accuracy - mean confidence|); ``brier``: multi-class Brier score (mean over samples
        of the squared error summed over classes); ``auroc``: area under the ROC curve of the
        confidence as a score of right (positive) against wrong answers (None when all answers
        are right or all wrong); ``median_confidence_correct``; ``coverage_curve``: accuracy
        of the answers kept when only those with confidence >= t are kept, for t in 0, 0.05 .. 0.95
        (``[threshold, coverage, accuracy]`` rows).

    Examples
    --------
    >>> import numpy as np
    >>> m = calibration_metrics(["A", "B"], np.array([[0.9, 0.1], [0.2, 0.8]]), ["A", "B"])
    >>> round(m["ece"], 3), round(m["brier"], 3)
    (0.15, 0.05)
    """

    proba = np.asarray(proba, dtype=np.float64)
    y_true = np.asarray(y_true, dtype=object)
    classes = np.asarray(classes, dtype=object)
    if proba.ndim != 2 or proba.shape != (len(y_true), len(classes)):
        raise ValueError(
            f"proba must have shape (n_samples, n_classes) = ({len(y_true)}, {len(classes)}); got {proba.shape}"
        )
    if len(y_true) == 0:
        raise ValueError("calibration metrics need at least one sample")
    if not np.isfinite(proba).all():
        raise ValueError("proba must be finite; it holds NaN or inf")
    confidence = proba.max(axis=1)
    correct = classes[proba.argmax(axis=1)] == y_true
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in np.unique(bins):
        inside = bins == b
        ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    onehot = (y_true[:, None] == classes[None, :]).astype(np.float64)
    brier = float(((proba - onehot) ** 2).sum(axis=1).mean())
    auroc = float(roc_auc_score(correct, confidence)) if 0 < correct.sum() < len(correct) else None
    curve = []
    for t in np.round(np.arange(0.0, 1.0, 0.05), 2):
        kept = confidence >= t
        curve.append([float(t), float(kept.mean()), float(correct[kept].mean()) if kept.any() else None])
    return {
        "ece": float(ece),
        "brier": brier,
        "auroc": auroc,
        "median_confidence_correct": float(np.median(confidence[correct])) if correct.any() else None,
        "coverage_curve": curve,
    }
