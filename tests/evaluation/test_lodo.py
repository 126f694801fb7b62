"""Tests for landmark_asl.evaluation.lodo: every group held out in turn, scored on what it never trained on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from landmark_asl.evaluation.lodo import (
    confusion_errors,
    format_confusions,
    format_folds,
    leave_one_group_out,
    score_predictions,
)
from landmark_asl.exceptions import DatasetError
from landmark_asl.training.recipe import Recipe

from conftest import make_synthetic_landmarks, synthetic_table


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
    result = leave_one_group_out(three_groups, Recipe.plain("rf", {"n_estimators": 20}), seeds=(0, 1))
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
    result = leave_one_group_out(three_groups, Recipe.plain("rf", {"n_estimators": 10}), apart={"g3": "known bad"})
    summary = result["summary"]
    assert summary["n_folds"] == 2 and summary["worst_fold"] != "g3"
    folds = {r["fold"]: r for r in summary["per_fold"]}
    assert folds["g3"]["apart"] == "known bad"
    assert summary["mean_accuracy"] == pytest.approx((folds["g1"]["accuracy_detected"] + folds["g2"]["accuracy_detected"]) / 2)
    assert "not in the mean" in format_folds(summary)


def test_refuses_one_group_and_the_pixel_model(three_groups):
    with pytest.raises(DatasetError, match="at least two groups"):
        leave_one_group_out(three_groups.assign(group="one"), Recipe.plain("rf"))
    with pytest.raises(DatasetError, match="for landmark models"):
        leave_one_group_out(three_groups, Recipe.plain("cnn"))


def test_confusion_errors_count_within_group_mistakes_pooled_per_fold_and_worst():
    runs = [
        # fold f1: 10 M (3 read as N, 1 as A), 10 N (1 read as M); fold f2: 5 M, all right, 5 X (2 read as Z).
        {"fold": "f1", "seed": 0, "letter_counts": {"M": 10, "N": 10}, "confusions": {"M>N": 3, "M>A": 1, "N>M": 1}},
        {"fold": "f2", "seed": 0, "letter_counts": {"M": 5, "X": 5}, "confusions": {"X>Z": 2}},
        {"fold": "f3", "seed": 0, "letter_counts": {"M": 50}, "confusions": {"M>N": 50}},
    ]
    errors = confusion_errors(runs, apart={"f3": "apart"}, groups={"M/N": ("M", "N"), "X/Z": ("X", "Z")})
    mn = errors["groups"]["M/N"]
    assert (mn["n"], mn["errors"]) == (25, 4)  # M>A is not within M/N; f3 is apart
    assert mn["rate"] == pytest.approx(4 / 25)
    assert mn["fold_mean"] == pytest.approx((4 / 20 + 0 / 5) / 2)
    assert (mn["worst_fold"], mn["worst_rate"]) == ("f1", pytest.approx(0.2))
    assert errors["groups"]["X/Z"]["rate"] == pytest.approx(2 / 5)
    assert errors["letters"]["M"]["rate"] == pytest.approx(4 / 15)  # M>N and M>A
    assert errors["letters"]["N"]["errors"] == 1
    table = format_confusions(errors)
    assert "| M/N | 25 | 4.0 | 16.0% (0.0%) | 10.0% | f1 20.0% |" in table


def test_views_average_a_held_out_photo_with_its_other_estimates(three_groups):
    table = three_groups.assign(sample_id=[f"s{i}" for i in range(len(three_groups))])
    base = leave_one_group_out(table, Recipe.plain("rf", {"n_estimators": 10}), seeds=(0,))
    # A "view" of each g1 photo that carries another letter's landmarks: averaging must move its probabilities.
    g1 = table[(table["group"] == "g1") & table["detected"]]
    other = table[(table["label"] == "B") & table["detected"]].iloc[0]
    views = g1.copy()
    coordinates = [c for c in table.columns if c[0] in "xyz" and c[1:].isdigit()]
    views[coordinates] = other[coordinates].to_numpy()
    views["handedness"] = other["handedness"]
    result = leave_one_group_out(table, Recipe.plain("rf", {"n_estimators": 10}), seeds=(0,), views=views)
    rows = (table["group"] == "g1").to_numpy() & table["detected"].to_numpy()
    b = result["classes"].index("B")
    not_b = rows & (table["label"] != "B").to_numpy()
    assert (result["oof"][0][not_b, b] > base["oof"][0][not_b, b]).all()
    # The mean of two estimates: what the view added is the same for every photo (all its views are alike).
    added = 2 * result["oof"][0][rows] - base["oof"][0][rows]
    np.testing.assert_allclose(added, np.broadcast_to(added[0], added.shape), atol=1e-9)
    # Rows of the other groups are untouched.
    others = (table["group"] != "g1").to_numpy()
    np.testing.assert_allclose(result["oof"][0][others], base["oof"][0][others])
    rescored = score_predictions(table, base["oof"], base["classes"])
    assert rescored["summary"]["mean_accuracy"] == pytest.approx(base["summary"]["mean_accuracy"])
