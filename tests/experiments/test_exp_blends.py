"""experiments/exp_blend_gates.py and exp_cross_blend.py: the share per letter, and one-line refusals."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

FOLDER = Path(__file__).resolve().parents[2] / "experiments"


def _gates():
    sys.path.insert(0, str(FOLDER))
    try:
        import exp_blend_gates
    finally:
        sys.path.remove(str(FOLDER))
    return exp_blend_gates


def test_a_share_per_letter_gives_the_network_the_columns_where_it_is_right():
    gates = _gates()
    # Three classes; truth 0, 1, 2 in turn on two folds. The network is right on 0 and 1 and reads
    # 2 as 0; the forest is unsure on 1 (its top class is 0) and right on 2.
    truth = np.array([0, 1, 2] * 4)
    forest = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.3, 0.05, 0.65]] * 4)
    network = np.eye(3)[[0, 1, 0] * 4]
    rows = {"f": np.arange(6), "g": np.arange(6, 12)}
    share = gates.per_letter_shares(forest, network, truth, rows, ["f", "g"])
    right = ((1 - share) * forest + share * network).argmax(axis=1) == truth
    assert right.all()
    uniform = (0.7 * forest + 0.3 * network).argmax(axis=1) == truth
    assert not uniform.all()  # one share for every column (0.3) reads the 2s as 0
    assert share[2] == 0.0  # the network gets no say on column 2
    assert set(share) <= set(gates.PER_LETTER_SHARES)


def test_a_missing_stored_run_is_one_line(tmp_path, monkeypatch):
    gates = _gates()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match="run exp_newsigner.py run --candidate nothing_here --mlp-only"):
        gates._stored("nothing_here", 0, True)


@pytest.mark.parametrize("script, args, message", [
    ("exp_cross_blend.py", ["--weights", "0,x"], "comma-separated numbers"),
    ("exp_cross_blend.py", ["--weights", "0,2"], "must lie in [0, 1]"),
    ("exp_blend_gates.py", ["--shares", "a"], "comma-separated numbers"),
])
def test_bad_numbers_are_one_usage_line_before_any_data_is_read(tmp_path, script, args, message):
    done = subprocess.run([sys.executable, str(FOLDER / script), *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
