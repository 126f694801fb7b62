"""Report rendering: the summary table, Markdown and JSON reports, confusion-matrix PNGs."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay

from landmark_asl._util import atomic_write_text
from landmark_asl.labels import display_label

#: Version of the ``report.json`` layout.
REPORT_FORMAT_VERSION = 1

_SUMMARY_COLUMNS = (
    ("model", "model"),
    ("coverage", "coverage"),
    ("accuracy_all", "acc. all"),
    ("accuracy_detected", "acc. detected"),
    ("macro_f1", "macro-F1"),
    ("ece", "ECE"),
    ("fit_seconds", "fit s"),
    ("size_mb", "size MB"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"),
    ("throughput_per_s", "batch /s"),
)


def _fmt(value: Any, key: str) -> str:
    if value is None:
        return "-"
    if key in ("coverage", "accuracy_all", "accuracy_detected"):
        return f"{100 * value:.1f}%"
    if key in ("macro_f1", "ece", "brier", "auroc"):
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
        values = {**(result.get("calibration") or {}), **result}
        rows.append([name if key == "model" else _fmt(values.get(key), key) for key, _ in _SUMMARY_COLUMNS])
    return rows


def calibration_rows(report: dict[str, Any]) -> list[list[str]]:
    """Rows of the calibration table (header first): how far each model's confidence can be trusted."""
    rows = [["model", "temperature", "ECE", "Brier", "AUROC of confidence", "median conf. of right",
             "kept at conf. >= 0.5", "accuracy of those"]]
    for name, result in report["models"].items():
        cal = result.get("calibration")
        if not cal:
            continue
        half = next((row for row in cal["coverage_curve"] if abs(row[0] - 0.5) < 1e-9), [0.5, None, None])
        temperature = cal.get("temperature")
        rows.append([name, "-" if temperature is None else f"{temperature:.2f}", _fmt(cal["ece"], "ece"),
                     _fmt(cal["brier"], "brier"), _fmt(cal["auroc"], "auroc"),
                     "-" if cal["median_confidence_correct"] is None else f"{cal['median_confidence_correct']:.2f}",
                     _fmt(half[1], "coverage"), _fmt(half[2], "coverage")])
    return rows


def plot_rejection(report: dict[str, Any], path: str | Path, *, title: str) -> Path:
    """Save the accuracy-vs-coverage (rejection) curve of every model as one PNG.

    Each point keeps only the answers whose confidence is at least a threshold (0, 0.05 ..
    0.95): x is the share of test images with a hand still answered, y the accuracy of those.
    A model whose confidence ranks its answers well rises to the left.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for name, result in report["models"].items():
        cal = result.get("calibration")
        if not cal:
            continue
        points = [(c, a) for _, c, a in cal["coverage_curve"] if a is not None]
        ax.plot([c for c, _ in points], [a for _, a in points], marker=".", label=f"{name} (ECE {cal['ece']:.3f})")
    ax.set_xlim(0, 1.02)
    ax.set_xlabel("share of test images with a hand answered (confidence >= threshold)")
    ax.set_ylabel("accuracy of the answered images")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(textwrap.fill(title, 70), fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


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

    labels = [display_label(label) for label in result["labels"]]
    counts = np.asarray(result["confusion"], dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    size = max(5.0, 0.32 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    display = ConfusionMatrixDisplay(share, display_labels=labels)
    display.plot(ax=ax, cmap="Blues", include_values=False, xticks_rotation="vertical", colorbar=False)
    display.im_.set_clim(0, 1)
    ax.tick_params(labelsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.colorbar(display.im_, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
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
    lines += [format_table(rows), ""]
    calibration = calibration_rows(report)
    if len(calibration) > 1:
        lines += [
            "## Calibration (test images with a hand)",
            "",
            format_table(calibration),
            "",
            "ECE: expected calibration error of the top label (15 bins); Brier: multi-class Brier score; "
            "AUROC: how well the confidence separates right from wrong answers; temperature: the model's "
            "stored temperature scaling (`-`: raw probabilities). The rejection curve plots the accuracy "
            "of the answers kept against their share as the confidence threshold rises.",
            "",
            f"![rejection curves]({report.get('rejection_png', 'rejection.png')})",
            "",
        ]
    lines += ["## Confusion matrices", ""]
    for name in names:
        lines.append(f"![{name}]({report['models'][name]['confusion_png']})")
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], output: str | Path) -> dict[str, Path]:
    """Write ``report.json``, ``report.md``, one ``confusion_<model>.png`` per model and ``rejection.png``.

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
    if any(result.get("calibration") for result in report["models"].values()):
        paths["png_rejection"] = plot_rejection(report, output / "rejection.png", title=report["metadata"]["title"])
        report["rejection_png"] = paths["png_rejection"].name
    paths["json"] = output / "report.json"
    atomic_write_text(paths["json"], json.dumps(report, indent=2, default=json_default) + "\n")
    paths["markdown"] = output / "report.md"
    atomic_write_text(paths["markdown"], markdown_report(report))
    return paths


def json_default(value: Any) -> Any:
    """``json.dumps`` fallback for NumPy scalars and paths."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
