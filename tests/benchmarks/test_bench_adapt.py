"""benchmarks/bench_adapt.py: the users it knows, and the samples drawn from a user's rows."""

import subprocess
import sys
from pathlib import Path

import pandas as pd

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


def test_the_pool_leaves_rows_to_score_and_the_hard_users_are_not_in_the_default_run():
    bench = _module()
    rows = pd.DataFrame({"label": ["A"] * 10 + ["B"] * 10, "i": range(20)})
    pool, rest = bench._split_user(rows, seed=0, size=bench.POOLS["ml_slr/user_10"])
    assert pool["label"].value_counts().to_dict() == {"A": 5, "B": 5}
    assert len(rest) == 10 and set(pool["i"]).isdisjoint(rest["i"])
    assert set(bench.HARD_USERS).isdisjoint(bench.USERS)
    assert all(role == "report" for _, role in bench.HARD_USERS.values())  # never chosen on
