"""benchmarks/bench_adapt.py: the users it knows, and the samples drawn from a user's rows."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_adapt.py"


def _module():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import bench_adapt
    finally:
        sys.path.remove(str(SCRIPT.parent))
    return bench_adapt


def test_an_unknown_user_is_one_usage_line_before_any_data_is_read(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--users", "nejohnson2,nobody"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "unknown user 'nobody'" in done.stderr and "nejohnson2" in done.stderr
    assert "Traceback" not in done.stderr


def test_first_frames_with_several_draws_is_one_usage_line(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--users", "nejohnson2", "--pool-order", "first",
                           "--draws", "3"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--draws 1" in done.stderr and "Traceback" not in done.stderr


def test_a_user_whose_pool_is_under_every_k_is_skipped_before_any_fit(tmp_path, monkeypatch):
    bench = _module()

    def no_fit(*args, **kwargs):
        raise AssertionError("a base model was fitted for a user with no k to score")

    monkeypatch.setattr(bench, "fit_estimator", no_fit)
    table = pd.DataFrame({"group": ["small"] * 4 + ["other"] * 2, "label": ["A", "A", "B", "B", "A", "B"]})
    assert bench.run_user(table, "small", "other", weights=[10.0], ks=[3, 5], draws=1, tmp=tmp_path) == []
    assert bench.run_user(table, "nobody", "other", weights=[10.0], ks=[3], draws=1, tmp=tmp_path) == []


def test_the_pool_leaves_rows_to_score_and_the_hard_users_are_not_in_the_default_run():
    bench = _module()
    rows = pd.DataFrame({"label": ["A"] * 10 + ["B"] * 12, "i": range(22)})
    size = bench.pool_size(rows)
    assert size == 5  # half of the fewest rows of a letter (A: 10)
    assert bench.pool_size(pd.DataFrame({"label": ["A"] * 40})) == bench.POOL
    assert bench.pool_size(pd.DataFrame({"label": ["A", "A", "B"]})) == 0  # B's one row: nothing left to score
    assert bench.pool_size(pd.DataFrame({"label": []})) == 0
    pool, rest = bench._split_user(rows, seed=0, size=size)
    assert pool["label"].value_counts().to_dict() == {"A": 5, "B": 5}
    assert len(rest) == 12 and set(pool["i"]).isdisjoint(rest["i"])
    first, later = bench._split_user(rows, seed=0, size=3, order="first")
    assert list(first["i"]) == [0, 1, 2, 10, 11, 12]  # each letter's first rows, in the source's order
    assert set(bench.HARD_USERS).isdisjoint(bench.USERS)
    assert all(role == "report" for _, role in bench.HARD_USERS.values())  # never chosen on


def test_protocol_users_are_every_fold_but_the_apart_one_with_a_forget_set_of_another_source():
    bench = _module()
    table = pd.DataFrame({"group": ["massey/hand1", "asl2text/train", "ml_slr/user_3", "asl_alphabet_64/test",
                                    "nejohnson2"]})
    users = bench.protocol_users(table)
    assert sorted(users) == ["asl2text/train", "massey/hand1", "ml_slr/user_3", "nejohnson2"]
    assert users["asl2text/train"] == ("massey/hand1", "report")  # not its own signer's other session
    assert users["ml_slr/user_3"] == ("asl2text/test", "report")
    assert users["massey/hand1"] == bench.USERS["massey/hand1"]  # a dev user keeps its role


def test_the_summary_compares_each_k_on_the_users_scored_with_it():
    bench = _module()
    w = bench.DEFAULT_WEIGHT
    frame = pd.DataFrame([
        {"user": "a", "k": 0, "weight": None, "base_rows": None, "accuracy_user": 0.8},
        {"user": "a", "k": 3, "weight": w, "base_rows": "datasets", "accuracy_user": 0.95},
        {"user": "b", "k": 0, "weight": None, "base_rows": None, "accuracy_user": 0.7},
        {"user": "b", "k": 3, "weight": w, "base_rows": "datasets", "accuracy_user": 0.9},
        {"user": "b", "k": 3, "weight": w * 3, "base_rows": "datasets", "accuracy_user": 0.2},  # not the default
        {"user": "c", "k": 0, "weight": None, "base_rows": None, "accuracy_user": 0.6},  # pool under 3
    ])
    line = bench.summary_line(frame)
    assert "k=3, 2 users: mean 75.0% -> 92.5%" in line
    assert "worst 70.0% (b) -> 90.0% (b)" in line and "not scored with this k at this weight: c" in line


def test_a_run_whose_every_user_is_skipped_says_so_and_fails(monkeypatch, capsys):
    bench = _module()
    table = pd.DataFrame({"group": ["massey/hand3"] * 4 + ["asl2text/test"] * 2, "label": ["A", "A", "B", "B", "A", "B"],
                          "detected": True})
    monkeypatch.setattr(bench, "load_table", lambda *args, **kwargs: table)
    monkeypatch.setattr(bench, "fit_estimator", lambda *a, **k: (_ for _ in ()).throw(AssertionError("fitted")))
    assert bench.main(["--users", "massey/hand3", "--ks", "3"]) == 1
    assert "no user scored" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a fold the table does not hold: one usage line
        bench.main(["--users", "massey/hand9", "--ks", "3"])
    assert "no rows with a hand of user 'massey/hand9'" in capsys.readouterr().err
