"""Tests of landmark_asl.evaluation.metrics: the no-hand rule, metrics on hand-made predictions, report files, splits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from landmark_asl.estimators.registry import parse_params
from landmark_asl.evaluation.metrics import apply_no_hand_rule, classification_metrics, measure_latency
from landmark_asl.evaluation.reporting import format_table, summary_rows, write_report
from landmark_asl.exceptions import LandmarkASLError
from landmark_asl.labels import NO_PREDICTION as NO_HAND


def test_no_hand_rows_are_wrong_without_nothing_class():
    out = apply_no_hand_rule(["A", None, "B"], [True, False, True], classes=["A", "B"])
    assert out.tolist() == ["A", NO_HAND, "B"]


def test_no_hand_rows_predict_nothing_when_nothing_is_a_class():
    out = apply_no_hand_rule(["A", "B", "B"], [True, False, True], classes=["A", "B", "NOTHING"])
    assert out.tolist() == ["A", "NOTHING", "B"]


def test_no_hand_rule_checks_lengths():
    with pytest.raises(ValueError, match="same length"):
        apply_no_hand_rule(["A"], [True, False], classes=["A"])


def test_metrics_on_hand_made_predictions():
    # 10 images, 8 with a hand; 6 of the 8 right; the 2 without a hand count as wrong.
    y_true = ["A", "A", "A", "B", "B", "B", "C", "C", "C", "C"]
    detected = [True, True, False, True, True, True, True, True, False, True]
    raw = ["A", "B", None, "B", "B", "A", "C", "C", None, "A"]
    y_pred = apply_no_hand_rule(raw, detected, classes=["A", "B", "C"])
    m = classification_metrics(y_true, y_pred, detected)
    assert m["n_test"] == 10 and m["n_detected"] == 8
    assert m["coverage"] == pytest.approx(0.8)
    assert m["accuracy_all"] == pytest.approx(5 / 10)
    assert m["accuracy_detected"] == pytest.approx(5 / 8)
    # F1 of A: tp=1, fp=2 (B->A, C->A), fn=2 -> 2/(2+2+2)=1/3
    assert m["per_class_f1"]["A"] == pytest.approx(1 / 3)
    # B: tp=2, fp=1, fn=1 -> 4/6 ; C: tp=2, fp=0, fn=2 -> 4/6
    assert m["per_class_f1"]["B"] == pytest.approx(2 / 3)
    assert m["per_class_f1"]["C"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((1 / 3 + 2 / 3 + 2 / 3) / 3)
    assert m["labels"] == ["A", "B", "C", NO_HAND]
    confusion = np.array(m["confusion"])
    assert confusion.sum() == 10
    assert confusion[:, -1].tolist() == [1, 0, 1, 0]  # the no-hand column
    assert confusion[2].tolist() == [1, 0, 2, 1]


def test_nothing_rule_makes_empty_scenes_right():
    y_true = ["NOTHING", "NOTHING", "A", "A"]
    detected = [False, True, True, False]
    y_pred = apply_no_hand_rule([None, "A", "A", None], detected, classes=["A", "NOTHING"])
    m = classification_metrics(y_true, y_pred, detected)
    assert m["accuracy_all"] == pytest.approx(2 / 4)  # NOTHING row without hand right, A row without hand wrong
    assert m["accuracy_detected"] == pytest.approx(1 / 2)
    assert NO_HAND not in m["labels"]


def test_pixel_model_coverage_is_passed_through():
    m = classification_metrics(["A", "B"], ["A", "A"], [False, True], coverage=1.0)
    assert m["coverage"] == 1.0
    assert m["accuracy_all"] == pytest.approx(0.5)
    assert m["accuracy_detected"] == pytest.approx(0.0)  # the detected row (B) was wrong


def test_accuracy_detected_is_none_when_no_hand_at_all():
    m = classification_metrics(["A"], [NO_HAND], [False])
    assert m["accuracy_detected"] is None and m["accuracy_all"] == 0.0


def test_metrics_refuse_empty_test_set():
    with pytest.raises(ValueError, match="empty test set"):
        classification_metrics([], [], [])


def test_measure_latency_counts_samples():
    calls = {"one": 0, "batch": 0}

    def one(x):
        calls["one"] += 1

    def batch(X):
        calls["batch"] += 1

    timing = measure_latency(one, batch, np.zeros((7, 3)), n_single=20, batch_repeats=2)
    assert calls == {"one": 21, "batch": 2}
    assert 0 <= timing["latency_p50_ms"] <= timing["latency_p95_ms"]
    assert timing["throughput_per_s"] > 0


def _fake_report() -> dict:
    y_true = ["A", "B", "B", "NOTHING"]
    detected = [True, True, False, False]
    models = {}
    for name, raw, cov in (("rf", ["A", "A", None, None], None), ("cnn", ["A", "B", "B", "A"], 1.0)):
        pred = apply_no_hand_rule(raw, detected, ["A", "B", "NOTHING"]) if cov is None else np.array(raw, dtype=object)
        m = classification_metrics(y_true, pred, detected, coverage=cov)
        m.update(fit_seconds=0.5, size_mb=1.25, latency_p50_ms=0.1, latency_p95_ms=0.2, throughput_per_s=1000.0)
        models[name] = m
    metadata = {
        "title": "x -> y", "train_sources": ["x"], "test_sources": ["y"], "split_mode": "cross-dataset",
        "n_train": 10, "n_test": 4, "split_file": "split.csv", "split_file_sha256": "ab" * 32,
        "classes": ["A", "B", "NOTHING"], "dropped_labels": ["DEL"], "test_hand_coverage": 0.5,
        "train_hand_coverage": 0.9, "no_hand_rule": "NOTHING",
    }
    return {"metadata": metadata, "models": models}


def test_write_report_files(tmp_path):
    paths = write_report(_fake_report(), tmp_path / "rep")
    for key in ("json", "markdown", "png_rf", "png_cnn"):
        assert paths[key].is_file() and paths[key].stat().st_size > 0
    assert paths["png_rf"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(paths["json"].read_text())
    assert data["models"]["rf"]["accuracy_all"] == pytest.approx(0.5)  # A right, B wrong, B no hand, NOTHING right
    assert data["models"]["cnn"]["coverage"] == 1.0
    md = paths["markdown"].read_text()
    assert "| rf " in md and "50.0%" in md and "DEL" in md and "confusion_cnn.png" in md


def test_summary_table_formats_percentages():
    rows = summary_rows(_fake_report())
    assert rows[0][:4] == ["model", "coverage", "acc. all", "acc. detected"]
    assert rows[1][:4] == ["rf", "50.0%", "50.0%", "50.0%"]
    text = format_table(rows, markdown=False)
    assert text.splitlines()[0].startswith("model")
    assert len(text.splitlines()) == 4


def test_parse_params_reads_json_values_per_model():
    got = parse_params(["rf.n_estimators=50", "rf.max_features=sqrt", "xgb.learning_rate=0.2"], per_model=True)
    assert got == {"rf": {"n_estimators": 50, "max_features": "sqrt"}, "xgb": {"learning_rate": 0.2}}
    assert parse_params(["max_depth=null"], per_model=False) == {"max_depth": None}


@pytest.mark.parametrize("item, per_model", [("n_estimators", False), ("n_estimators=5", True), ("=5", False)])
def test_parse_params_rejects_malformed(item, per_model):
    with pytest.raises(LandmarkASLError, match="bad parameter"):
        parse_params([item], per_model=per_model)


def test_calibration_metrics_measure_over_confidence_and_ranking():
    from landmark_asl.evaluation.metrics import calibration_metrics

    rng = np.random.default_rng(0)
    classes = ["A", "B", "C"]
    n = 4000
    confidence = rng.uniform(0.4, 1.0, n)
    right = rng.random(n) < confidence  # calibrated: right with probability = confidence
    y = np.where(right, "A", "B")
    proba = np.column_stack([confidence, (1 - confidence) / 2, (1 - confidence) / 2])
    calibrated = calibration_metrics(y, proba, classes)
    assert calibrated["ece"] < 0.03
    assert 0.6 < calibrated["auroc"] < 0.8  # confidence ranks right above wrong, imperfectly
    # The same answers claimed at full confidence: ECE is the error rate.
    sure = np.column_stack([np.ones(n), np.zeros(n), np.zeros(n)])
    over = calibration_metrics(y, sure, classes)
    assert over["ece"] == pytest.approx(1 - right.mean())
    assert over["brier"] == pytest.approx(2 * (1 - right.mean()))
    curve = np.array([row[:2] for row in calibrated["coverage_curve"]])
    assert curve[0].tolist() == [0.0, 1.0] and np.all(np.diff(curve[:, 1]) <= 0)
    accuracies = [row[2] for row in calibrated["coverage_curve"] if row[2] is not None]
    assert accuracies[-1] > accuracies[0]  # rejecting unsure answers raises accuracy
    assert calibrated["median_confidence_correct"] > np.median(confidence)


def test_calibration_metrics_reject_mismatched_shapes():
    from landmark_asl.evaluation.metrics import calibration_metrics

    with pytest.raises(ValueError, match="shape"):
        calibration_metrics(["A"], np.array([[0.5, 0.5]]), ["A", "B", "C"])
    with pytest.raises(ValueError, match="finite"):
        calibration_metrics(["A"], np.array([[np.nan, 0.5]]), ["A", "B"])
    assert calibration_metrics(["A", "A"], np.array([[1.0, 0.0], [0.9, 0.1]]), ["A", "B"])["auroc"] is None
