"""Tests for landmark_asl.lodo: every group held out in turn, scored on what it never trained on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import make_synthetic_landmarks, synthetic_table
from landmark_asl.exceptions import DatasetError
from landmark_asl.lodo import format_folds, leave_one_group_out


@pytest.fixture(scope="module")
def three_groups() -> pd.DataFrame:
    """A, B, C in groups g1 and g2; group g3 holds A, B and every D (a letter no other group has)."""
    X, y = make_synthetic_landmarks(n_per_class=30, labels=("A", "B", "C", "D"), seed=3)
    groups = np.array(["g1", "g2", "g3"] * (len(y) // 3), dtype=object)
    groups[y == "D"] = "g3"
    groups[(y == "C") & (groups == "g3")] = "g1"
    table = synthetic_table(X, y, groups)
    table.loc[table.index[:6], "detected"] = False  # a few rows without a hand, in g1 and g2
    return table


def test_each_group_is_scored_by_a_model_that_never_saw_it(three_groups):
    result = leave_one_group_out(three_groups, "rf", params={"n_estimators": 20}, seeds=(0, 1))
    runs = pd.DataFrame(result["runs"])
    assert sorted(set(runs["fold"])) == ["g1", "g2", "g3"] and len(runs) == 6
    held = three_groups["group"] == "g3"
    assert set(runs.loc[runs["fold"] == "g3", "n_test"]) == {int(held.sum())}
    # Every D is in g3: the model trained without g3 cannot know D, so g3 loses exactly its D rows.
    n_d = int((three_groups.loc[held, "label"] == "D").sum())
    g3 = runs[runs["fold"] == "g3"]
    assert (g3["accuracy_all"] <= 1 - n_d / held.sum() + 1e-9).all()
    assert (runs.loc[runs["fold"] != "g3", "accuracy_detected"] > 0.9).all()
    summary = result["summary"]
    assert summary["worst_fold"] == "g3"
    per_fold = {r["fold"]: r for r in summary["per_fold"]}
    assert summary["mean_accuracy"] == pytest.approx(np.mean([r["accuracy_detected"] for r in per_fold.values()]))
    # No hand = wrong (no NOTHING class): accuracy on all rows is below accuracy on rows with a hand.
    g1 = per_fold["g1"]
    assert g1["coverage"] < 1.0 and g1["accuracy_all"] < g1["accuracy_detected"]
    assert all(0.0 <= r["ece"] <= 1.0 and r["temperature"] > 0 for r in result["runs"])
    assert "| g3 |" in format_folds(summary) and "worst fold g3" in format_folds(summary)


def test_a_group_apart_is_scored_but_left_out_of_the_mean(three_groups):
    result = leave_one_group_out(three_groups, "rf", params={"n_estimators": 10}, apart={"g3": "known bad"})
    summary = result["summary"]
    assert summary["n_folds"] == 2 and summary["worst_fold"] != "g3"
    folds = {r["fold"]: r for r in summary["per_fold"]}
    assert folds["g3"]["apart"] == "known bad"
    assert summary["mean_accuracy"] == pytest.approx((folds["g1"]["accuracy_detected"] + folds["g2"]["accuracy_detected"]) / 2)
    assert "not in the mean" in format_folds(summary)


def test_refuses_one_group_and_the_pixel_model(three_groups):
    with pytest.raises(DatasetError, match="at least two groups"):
        leave_one_group_out(three_groups.assign(group="one"), "rf")
    with pytest.raises(DatasetError, match="for landmark models"):
        leave_one_group_out(three_groups, "cnn")
