"""experiments/exp_newsigner.py compose: stored single-forest runs pooled, and its one-line refusals."""

import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "exp_newsigner.py"
VIEWS = ("mirror", "crop", "zoom_out")


def _experiment(name: str):
    """Import experiments/<name>.py."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(SCRIPT.parent))


def _run(folder: Path, name: str, seeds: dict[int, np.ndarray], folds: list[str]) -> None:
    out = folder / "out" / "newsigner"
    out.mkdir(parents=True, exist_ok=True)
    arrays = {f"rf|{kind}|{s}": p for s, p in seeds.items() for kind in ("plain", *VIEWS)}
    np.savez_compressed(out / f"{name}_s{''.join(map(str, seeds))}.npz", classes=np.array(["A", "B", "Z"]),
                        sample_id=np.array(["a", "b", "c"]), folds_done=np.array(folds), **arrays)


def _compose(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "compose", *args], cwd=folder, capture_output=True,
                          text=True, timeout=120)


def test_compose_averages_the_members_and_refuses_bad_input_in_one_line(tmp_path):
    nan = np.nan
    first = np.array([[0.6, 0.4, 0.0], [0.2, 0.8, 0.0], [nan, nan, nan]])
    second = np.array([[0.2, 0.8, nan], [0.6, 0.4, nan], [nan, nan, nan]])  # never saw Z: counted as 0
    _run(tmp_path, "base", {0: first}, ["f1", "f2"])
    _run(tmp_path, "yaw180", {3: second}, ["f1"])
    done = _compose(tmp_path, "pool", "--members", "base@0,yaw180@3")
    assert done.returncode == 0, done.stderr
    pool = np.load(tmp_path / "out" / "newsigner" / "pool_s0.npz")
    np.testing.assert_allclose(pool["rf|plain|0"][:2], [[0.4, 0.6, 0.0], [0.4, 0.6, 0.0]])
    assert np.isnan(pool["rf|crop|0"][2]).all()  # a row no member scored stays unscored
    assert list(pool["folds_done"]) == ["f1"]  # the folds every member finished
    assert not list((tmp_path / "out" / "newsigner").glob("*.part.npz"))

    for args, message in (
        (["base", "--members", "base@0"], "is a training candidate's name"),
        (["pool", "--members", "base0"], "is not CANDIDATE@SEED"),
        (["pool", "--members", "base@0,base@0"], "names a forest twice"),
        (["pool", "--members", "base@7"], "no stored run of base with seed 7"),
    ):
        failed = _compose(tmp_path, *args)
        assert failed.returncode != 0 and "Traceback" not in failed.stderr
        assert message in failed.stderr.strip().splitlines()[-1], failed.stderr
    (tmp_path / "out" / "newsigner" / "base_s0.npz").write_bytes(b"PK\x03\x04 not a zip")
    broken = _compose(tmp_path, "pool", "--members", "base@0")
    assert broken.returncode != 0 and "Traceback" not in broken.stderr
    assert "not a stored run" in broken.stderr.strip().splitlines()[-1], broken.stderr


def test_only_runs_that_recorded_the_shipped_recipe_go_on_the_card(tmp_path, monkeypatch):
    import json

    exp = _experiment("exp_newsigner")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out" / "newsigner"
    out.mkdir(parents=True)

    def stored(name: str, training: dict | None) -> Path:
        path = out / f"{name}_s0.npz"
        extra = {} if training is None else {"training": np.array(json.dumps(training))}
        np.savez_compressed(path, classes=np.array(["A"]), sample_id=np.array(["a"]), **extra)
        return path

    shipped = {"candidate": "yaw180_gh", "models": ["rf"], **exp.RECIPE, "quick": False}
    assert exp.trained_as_shipped("yaw180_gh", [stored("yaw180_gh", shipped)])
    # A run made before the recipe was recorded, another augmentation, a quick screen, another table.
    assert not exp.trained_as_shipped("aspect_common", [stored("aspect_common", shipped)])
    assert not exp.trained_as_shipped("yaw180", [stored("yaw180", None)])
    other = {**shipped, "augment": {**exp.RECIPE["augment"], "yaw_labels": None}}
    assert not exp.trained_as_shipped("yaw180", [stored("yaw180", other)])
    assert not exp.trained_as_shipped("base", [stored("base", {**shipped, "quick": True})])
    assert not exp.trained_as_shipped("base", [])
    damaged = out / "base_s1.npz"  # a record that is not JSON, or not an object: refused, no traceback
    for text in ("{not json", "[1, 2]"):
        np.savez_compressed(damaged, classes=np.array(["A"]), sample_id=np.array(["a"]), training=np.array(text))
        assert not exp.trained_as_shipped("base", [damaged])


def test_a_forest_parameter_candidate_records_its_parameters_and_never_goes_on_the_card(tmp_path, monkeypatch):
    import argparse
    import json

    from landmark_asl.estimators.registry import build_estimator

    exp = _experiment("exp_newsigner")
    args = argparse.Namespace(candidate="leaf3", quick=False, xgb=False, xgb_only=False, mlp_only=False, mlp_params={})
    training = exp._training(args)
    assert training["params"] == {**exp.RECIPE["params"], "min_samples_leaf": 3}
    assert training["augment"] == exp.RECIPE["augment"] and training["balance"] == exp.RECIPE["balance"]
    for name, params in exp.PARAMS.items():  # every candidate builds a forest
        assert name in exp.CANDIDATES
        forest = build_estimator("rf", params={**exp.RECIPE["params"], **params})
        assert all(forest.named_steps["clf"].get_params()[k] == v for k, v in params.items())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out" / "newsigner").mkdir(parents=True)
    path = tmp_path / "out" / "newsigner" / "leaf3_s0.npz"
    np.savez_compressed(path, classes=np.array(["A"]), sample_id=np.array(["a"]),
                        training=np.array(json.dumps({**training, "candidate": "leaf3"})))
    assert not exp.trained_as_shipped("leaf3", [path])


def test_errors_line_gives_each_groups_errors_with_their_seed_sd():
    exp = _experiment("exp_newsigner")
    from landmark_asl.evaluation.lodo import confusion_errors

    counts = {"M": 10, "N": 10, "X": 5, "Z": 5}
    runs = [{"fold": "f", "seed": 0, "letter_counts": counts, "confusions": {"M>N": 2, "X>Z": 1}},
            {"fold": "f", "seed": 1, "letter_counts": counts, "confusions": {"M>N": 4, "N>M": 2, "X>Z": 1}}]
    groups = confusion_errors(runs, groups={"M/N": ["M", "N"], "X/Z": ["X", "Z"]})["groups"]
    # M/N: 2 and 6 errors of 20 rows, so 4.0 a seed with an sd of 2.8 (of the rates 0.1 and 0.3,
    # times 20); X/Z the same each seed; a name without rows is left out.
    assert exp.errors_line(groups, ["M/N", "X/Z", "U/R"]) == "M/N 4.0 +- 2.8, X/Z 1.0 +- 0.0"
    assert exp.group_letters(["M/N", "T/L/G/Y", "G/Z"]) == ["G", "L", "M", "N", "T", "Y", "Z"]


def test_a_report_counts_only_the_runs_of_the_seeds_asked_for():
    exp = _experiment("exp_newsigner")
    # Another seed's run, still going (three folds done), must not narrow a report of seed 0.
    # Nor must an XGBoost run still going narrow a report of the forest alone.
    seed_0 = ["classes", "sample_id", "folds_done", "rf|plain|0", "rf|crop|0"]
    seed_1 = ["classes", "sample_id", "folds_done", "rf|plain|1", "rf|crop|1"]
    xgb_0 = ["classes", "sample_id", "folds_done", "xgb|plain|0", "xgb|crop|0"]
    rf = exp.recipe_models("rf+mirror+crop+zoom_out+below0.7")
    both = exp.recipe_models("rf+xgb+wdev+mirror")
    assert rf == ["rf"] and both == ["rf", "xgb"] and exp.recipe_models("") == ["rf"]
    assert exp.holds_seed(seed_0, [0], rf) and exp.holds_seed(seed_0, None, rf) and exp.holds_seed(seed_1, [0, 1], rf)
    assert not exp.holds_seed(seed_1, [0], rf)
    assert not exp.holds_seed(xgb_0, [0], rf) and exp.holds_seed(xgb_0, [0], both)
    assert not exp.holds_seed(["classes", "sample_id"], None, both)  # no run arrays at all


def test_an_apart_folds_line_gives_its_group_errors_and_most_frequent_confusions_a_seed():
    exp = _experiment("exp_newsigner")
    counts = {"X": 10, "Z": 10, "D": 10}
    runs = [{"fold": "apart", "seed": 0, "letter_counts": counts, "confusions": {"X>Z": 4, "D>X": 1}},
            {"fold": "apart", "seed": 1, "letter_counts": counts, "confusions": {"X>Z": 2, "Z>X": 2, "D>Z": 3}}]
    # X/Z: 4 and 4 errors a seed; D's errors are not within X/Z. Pairs a seed: X->Z (4 + 2) / 2 = 3.0,
    # D->Z 1.5, Z->X 1.0, D->X 0.5 (left out by top=3).
    line = exp.fold_errors_line(runs, ["X/Z"], top=3)
    assert line == "X/Z 4.0 +- 0.0; most often: X->Z 3.0, D->Z 1.5, Z->X 1.0", line


def test_a_left_out_candidate_trains_without_that_sources_rows_of_that_letter_only():
    import pandas as pd

    exp = _experiment("exp_newsigner")
    table = pd.DataFrame({"dataset": ["borisgraudt", "borisgraudt", "asl2text", "nejohnson2"],
                          "label": ["Z", "X", "Z", "Z"]})
    same, trainable = exp.candidate_table("no_bg_z", table, None)
    assert list(trainable) == [False, True, True, True]
    assert same is table  # the rows are still there, to be scored when their fold is held out
    assert exp.AUGMENTS["no_bg_z"] == exp.AUGMENTS["yaw180_gh"]  # otherwise the shipped recipe
    assert list(exp.candidate_table("yaw180_gh", table, None)[1]) == [True] * 4


def test_a_depth_candidate_scales_z_only_and_never_goes_on_the_card(tmp_path):
    import pandas as pd

    exp = _experiment("exp_newsigner")
    points = np.arange(2 * 63, dtype=np.float64).reshape(2, 63)
    columns = [f"{a}{i}" for i in range(21) for a in "xyz"]
    table = pd.DataFrame(points, columns=columns).assign(label=["A", "B"])
    for name, factor in exp.ZSCALES.items():
        scaled, trainable = exp.candidate_table(name, table, None)
        assert trainable.all() and name in exp.CANDIDATES
        z = [f"z{i}" for i in range(21)]
        np.testing.assert_allclose(scaled[z].to_numpy(), factor * table[z].to_numpy())
        others = [c for c in columns if c not in z]
        np.testing.assert_array_equal(scaled[others].to_numpy(), table[others].to_numpy())
        assert not exp.trained_as_shipped(name, [tmp_path / f"{name}_s0.npz"])  # a table change, not the recipe
    assert table["z0"].iloc[1] == 65.0  # the table given is left as it was


def test_balance_weights_give_every_group_or_the_square_root_of_a_datasets_groups_their_share():
    import pandas as pd

    exp = _experiment("exp_newsigner")
    # Dataset "a": one group of 6 rows; dataset "b": four groups of 1, 1, 2 and 2 rows.
    table = pd.DataFrame({"dataset": ["a"] * 6 + ["b"] * 6,
                          "group": ["a"] * 6 + ["b/1", "b/2", "b/3", "b/3", "b/4", "b/4"]})
    for how, share in (("group", {"a": 1 / 5, "b/1": 1 / 5, "b/3": 1 / 5}),
                       ("sqrt", {"a": 1 / 3, "b/1": 1 / 6, "b/3": 1 / 6})):  # sqrt(1) : sqrt(4) = 1 : 2
        weight = exp.balance_weights(table, how)
        assert np.isclose(weight.mean(), 1.0)
        total = pd.Series(weight).groupby(table["group"]).sum() / weight.sum()
        for group, expected in share.items():
            assert np.isclose(total[group], expected), (how, group)
    try:
        exp.balance_weights(table, "dataset")
    except ValueError as exc:
        assert "unknown balance" in str(exc)
    else:
        raise AssertionError("an unknown balance was accepted")


def test_bad_network_parameters_are_one_usage_line_before_any_data_is_read(tmp_path):
    for text, message in (("{bad", "Expecting property name"), ("[1]", "not a JSON object"),
                          ('{"epochs": 0}', "'epochs' parameter must be an int"),
                          ('{"nope": 1}', "unexpected keyword argument 'nope'")):
        done = subprocess.run([sys.executable, str(SCRIPT), "run", "--mlp-only", "--mlp-params", text,
                               "--cache-dir", str(tmp_path / "none")], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert f"error: argument --mlp-params: {text!r}: " in done.stderr and message in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


def test_an_extra_source_candidate_adds_that_sources_rows_with_a_hand_and_a_protocol_label(monkeypatch):
    import pandas as pd

    exp = _experiment("exp_newsigner")
    import landmark_asl.data.landmark_cache as cache

    asked = []

    def fake_load(sources, **kwargs):
        asked.extend(sources)
        return pd.DataFrame({"detected": [True, False, True, True], "label": ["A", "B", "DIGIT_3", "SPACE"],
                             "dataset": ["asl_alphabet_64"] * 4}), {}

    monkeypatch.setattr(cache, "load_landmarks", fake_load)
    rows = exp.extra_rows("a64train", None)
    assert asked == ["asl_alphabet_64/train"]
    assert list(rows["label"]) == ["A", "SPACE"]  # no hand, or not a protocol label: left out
    assert exp.extra_rows("base", None).empty and asked == ["asl_alphabet_64/train"]
    assert "a64train" in exp.CANDIDATES and "a64train" not in exp.AUGMENTS  # not the shipped table: off the card


def test_letter_conflicts_name_letters_read_as_one_other_letter_and_score_the_rest():
    exp = _experiment("exp_newsigner")
    # Two seeds of one fold: C is read as SPACE 9 times of 10 a seed; M's errors are split (no
    # single other letter reaches 70%); A has one error a seed. Another fold has no such letter.
    seed = {"fold": "f", "letter_counts": {"A": 10, "C": 10, "M": 10},
            "confusions": {"A>S": 1, "C>SPACE": 9, "M>E": 4, "M>S": 4}}
    other = {"fold": "g", "letter_counts": {"A": 5}, "confusions": {"A>S": 1}}
    found = exp.letter_conflicts([seed, dict(seed), other])
    assert list(found) == ["f"]
    assert found["f"]["letters"] == [("C", "SPACE", 0.9)]
    assert found["f"]["rest_rows"] == 20  # A and M, a seed
    assert abs(found["f"]["rest_accuracy"] - (9 + 2) / 20) < 1e-12
    assert abs(found["f"]["accuracy"] - (9 + 1 + 2) / 30) < 1e-12
    assert exp.letter_conflicts([seed], share=0.95) == {}


def test_a_report_name_may_take_the_network_of_another_candidate(tmp_path, monkeypatch):
    exp = _experiment("exp_newsigner")
    out = tmp_path / "out" / "newsigner"
    out.mkdir(parents=True)
    for name in ("base_s0.npz", "base_s0_mlp.npz", "no_apart_s0.npz", "no_apart_s0_mlp.npz"):
        (out / name).write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    paths, recipe = exp.name_files("base:rf+mlp@no_apart+w0.3+mirror")
    assert [p.name for p in paths] == ["base_s0.npz", "no_apart_s0_mlp.npz"]
    assert recipe == "rf+mlp+w0.3+mirror"
    paths, recipe = exp.name_files("base:rf+mlp+w0.3")
    assert [p.name for p in paths] == ["base_s0.npz", "base_s0_mlp.npz"] and recipe == "rf+mlp+w0.3"
    assert exp.name_files("base")[1] == ""
    for bad in ("base:rf@no_apart+mlp", "base:rf+mlp@", "base:rf+mlp@no_apart+mlp@base"):
        with pytest.raises(SystemExit, match="mlp@CANDIDATE"):
            exp.name_files(bad)
    with pytest.raises(SystemExit, match="no stored network run"):
        exp.name_files("base:rf+mlp@no_aprt")  # a typo: one line, not the forest alone


def test_the_extra_rows_train_every_fold_but_the_apart_one_of_their_signer():
    import pandas as pd

    exp = _experiment("exp_newsigner")
    rows = pd.DataFrame({"label": ["A", "B"], "dataset": ["massey", "ml_slr"]})
    extra = pd.DataFrame({"label": ["A"], "dataset": ["asl_alphabet_64"]})
    assert list(exp.training_rows(rows, extra, "massey/hand1")["dataset"]) == ["massey", "ml_slr", "asl_alphabet_64"]
    for apart in exp.APART:
        assert exp.training_rows(rows, extra, apart) is rows
    assert exp.training_rows(rows, pd.DataFrame(), "massey/hand1") is rows


def test_gq_gates_every_stored_array_with_a_gate_fitted_without_the_held_out_fold():
    import pandas as pd

    from landmark_asl.estimators.features import RAW_FEATURE_NAMES

    exp_newsigner = _experiment("exp_newsigner")

    def hand(degrees: float) -> np.ndarray:
        points = np.zeros((21, 3))
        points[5] = (0.5, 0.5, 0.0)
        points[8] = (0.5 + 0.1 * np.cos(np.radians(degrees)), 0.5 + 0.1 * np.sin(np.radians(degrees)), 0.0)
        return points.ravel()

    # Two folds of G (level) and Q (down) rows; fold "b" holds one Q read as G and a row with no hand.
    angles = [0, 5, 60, 70, 2, 65, 80, 0]
    labels = ["G", "G", "Q", "Q", "G", "Q", "Q", "G"]
    groups = ["a"] * 4 + ["b"] * 4
    table = pd.DataFrame([hand(d) for d in angles], columns=list(RAW_FEATURE_NAMES[:63]))
    table = table.assign(label=labels, group=groups, dataset=groups, detected=[True] * 7 + [False],
                         handedness="Right")
    classes = ["A", "G", "Q"]
    proba = np.tile([0.1, 0.6, 0.3], (8, 1))
    proba[7] = np.nan
    proba[0] = [0.8, 0.1, 0.1]  # A leads: left alone
    data = {"rf|plain|0": proba, "rf|mirror|0": proba.copy(), "classes": np.array(classes)}
    gated = exp_newsigner.pointing_gated(data, table, classes)
    for key in ("rf|plain|0", "rf|mirror|0"):
        top = np.array(classes)[np.nan_to_num(gated[key], nan=-1).argmax(axis=1)]
        assert top[:7].tolist() == ["A", "G", "Q", "Q", "G", "Q", "Q"]
        assert np.isnan(gated[key][7]).all()
        np.testing.assert_allclose(gated[key][:7].sum(axis=1), 1.0)
    assert gated["classes"] is data["classes"] and data["rf|plain|0"][2, 1] == 0.6  # the input is not changed


def test_the_pointing_gates_experiment_reads_pairs_and_tabulates_angles():
    import pandas as pd

    from landmark_asl.estimators.features import RAW_FEATURE_NAMES

    exp = _experiment("exp_pointing_gates")
    assert exp.parse_pairs("D/Z, G/Z") == [("D", "Z"), ("G", "Z")]
    for bad in ("D", "D/D", "D/Z/X", "/Z"):
        with pytest.raises(SystemExit, match="expected comma-separated pairs"):
            exp.parse_pairs(bad)
    with pytest.raises(SystemExit, match="--seeds: expected comma-separated whole numbers"):
        exp.main(["search", "--pairs", "D/Z", "--seeds", "0,x"])  # before any data is read
    with pytest.raises(SystemExit, match="--pairs: expected"):
        exp.main(["search", "--pairs", "D"])

    def hand(degrees: float) -> np.ndarray:
        points = np.zeros((21, 3))
        points[8] = (0.1 * np.cos(np.radians(degrees)), 0.1 * np.sin(np.radians(degrees)), 0.0)
        return points.ravel()

    rows = [("G", "a", 0), ("G", "a", 10), ("Q", "a", 60), ("Q", "b", 80), ("A", "a", 30)]
    table = pd.DataFrame([hand(d) for _, _, d in rows], columns=list(RAW_FEATURE_NAMES[:63]))
    table = table.assign(label=[r[0] for r in rows], dataset=[r[1] for r in rows], detected=True)
    out = exp.angle_table(table, ["G", "Q"])
    assert out.loc["G", "a"].startswith("5 (") and out.loc["Q", "b"] == "80 (80 to 80)" and out.loc["G", "b"] == "-"




def _hand(**points) -> np.ndarray:
    """One raw row (127 numbers) with the given landmarks (name -> (x, y, z)); every other one at 0."""
    row = np.zeros(127)
    for name, xyz in points.items():
        i = int(name[1:])
        row[3 * i:3 * i + 3] = xyz
    return row


def test_the_other_cues_read_a_bent_index_crossed_fingers_and_the_thumb_gap():
    exp = _experiment("exp_pointing_gates")
    straight = _hand(p5=(0, 0, 0), p6=(0, -1, 0), p7=(0, -2, 0), p8=(0, -3, 0))
    hooked = _hand(p5=(0, 0, 0), p6=(0, -1, 0), p7=(1, -1, 0), p8=(1, 0, 0))  # two right angles
    np.testing.assert_allclose(exp.index_curl(np.stack([straight, hooked])), [0, 180], atol=1e-6)
    side_by_side = _hand(p5=(1, 0, 0), p9=(0, 0, 0), p8=(1, -3, 0), p12=(0, -3, 0))
    crossed = _hand(p5=(1, 0, 0), p9=(0, 0, 0), p8=(-0.5, -3, 0), p12=(0.5, -3, 0))
    mirrored = _hand(p5=(-1, 0, 0), p9=(0, 0, 0), p8=(-1, -3, 0), p12=(0, -3, 0))  # the other hand
    np.testing.assert_allclose(exp.finger_crossing(np.stack([side_by_side, crossed, mirrored])), [1, -1, 1])
    touching = _hand(p0=(0, 0, 0), p9=(0, -2, 0), p4=(1, -2, 0), p8=(1, -2, 0))
    open_c = _hand(p0=(0, 0, 0), p9=(0, -2, 0), p4=(1, -1, 0), p8=(1, -3, 0))
    np.testing.assert_allclose(exp.thumb_gap(np.stack([touching, open_c])), [0, 1])


def test_a_cue_gate_fits_and_shares_by_its_own_cue():
    from landmark_asl.estimators.pointing import PointingGate, apply_gates, fit_gates

    exp = _experiment("exp_pointing_gates")
    assert exp.gate_class("pointing") is PointingGate
    with pytest.raises(SystemExit, match="--cue: expected one of pointing, curl, cross, pinch"):
        exp.gate_class("tilt")
    curl = exp.gate_class("curl")

    def row(bend: float) -> np.ndarray:  # the index bent ``bend`` degrees at the PIP, pointing level
        b = np.radians(bend)
        return _hand(p5=(0, 0, 0), p6=(1, 0, 0), p7=(1 + np.cos(b), -np.sin(b), 0), p8=(1 + 2 * np.cos(b), -2 * np.sin(b), 0))

    X = np.stack([row(b) for b in (0, 5, 10, 80, 90, 100)])
    labels = ["Z", "Z", "Z", "X", "X", "X"]
    gates = fit_gates(X, labels, None, [(("Z", "X"), "share", curl)])
    assert len(gates) == 1 and type(gates[0]) is curl and 10 < gates[0].boundary < 80
    # Every row read as Z by the model: the gate gives the bent ones to X, the straight ones to Z.
    proba = np.tile([0.1, 0.9], (6, 1))  # columns X, Z
    out = apply_gates(gates, proba, X, ["X", "Z"])
    assert list(out.argmax(axis=1)) == [1, 1, 1, 0, 0, 0]
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    one = gates[0].apply_one(proba[4], X[4], 1, 0)  # the live loop's path reads the same cue
    np.testing.assert_allclose(one, out[4])


def test_a_letters_probability_scaled_is_renormalised():
    exp = _experiment("exp_pointing_gates")
    data = {"rf|plain|0": np.array([[0.5, 0.5], [np.nan, np.nan]]), "classes": np.array(["A", "Z"])}
    out = exp.scaled(data, ["A", "Z"], "Z", 0.5)
    np.testing.assert_allclose(out["rf|plain|0"][0], [2 / 3, 1 / 3])
    assert np.isnan(out["rf|plain|0"][1]).all() and out["classes"] is data["classes"]
    np.testing.assert_allclose(data["rf|plain|0"][0], [0.5, 0.5])  # the input is not changed
    with pytest.raises(SystemExit, match="--weights: each must be above 0"):
        exp.main(["prior", "--weights", "1,0"])  # before any data is read
    with pytest.raises(SystemExit, match="--weights: expected comma-separated numbers"):
        exp.main(["prior", "--weights", "1,half"])


def test_group_folds_name_the_folds_carrying_each_groups_errors():
    exp = _experiment("exp_newsigner")
    groups = {"M/N": ["M", "N"], "X/Z": ["X", "Z"]}
    runs = [{"fold": "a", "seed": 0, "confusions": {"M>N": 3, "N>M": 1, "M>S": 5, "X>Z": 2}},
            {"fold": "a", "seed": 1, "confusions": {"M>N": 1}},
            {"fold": "b", "seed": 0, "confusions": {"N>M": 2}},
            {"fold": "b", "seed": 1, "confusions": {"N>M": 2}}]
    out = exp.group_folds(runs, groups)
    # M/N a seed: fold a (3 + 1 + 1) / 2 = 2.5, fold b 2.0; M -> S is outside the group.
    assert [(f, round(n, 3), round(s, 3)) for f, n, s in out["M/N"]] == [("a", 2.5, 0.556), ("b", 2.0, 0.444)]
    assert out["X/Z"] == [("a", 1.0, 1.0)]
    assert exp.group_folds(runs, {"U/R": ["U", "R"]}) == {"U/R": []}
    assert len(exp.group_folds(runs, groups, top=1)["M/N"]) == 1


def test_within_needs_two_letters_and_search_a_known_cue_before_any_data_is_read(capsys):
    exp = _experiment("exp_pointing_gates")
    with pytest.raises(SystemExit, match="--letters: expected two or more"):
        exp.main(["within", "--letters", "X"])
    with pytest.raises(SystemExit) as refused:
        exp.main(["search", "--pairs", "X/Z", "--cue", "tilt"])
    assert refused.value.code == 2 and "argument --cue: invalid choice: 'tilt'" in capsys.readouterr().err


@pytest.mark.parametrize(("aspect", "flat"), [(0.75, 1.0), (1.0, 1.5), (0.5625, 1.8)])
def test_depth_scale_recovers_a_known_aspect_and_flattened_depth(aspect, flat):
    exp = _experiment("exp_depth_scale")
    rng = np.random.default_rng(0)
    palm = np.zeros((21, 3))
    palm[[1, 5, 9, 13, 17]] = [[-0.35, -0.2, 0.0], [-0.35, -1.0, 0.05], [-0.12, -1.05, 0.0], [0.1, -1.0, -0.04],
                               [0.3, -0.9, 0.0]]
    palm[[2, 3, 4, 6, 7, 8]] = rng.normal(size=(6, 3))  # not rigid: left out of the segments
    hands = []
    for _ in range(400):
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        turned = palm @ q.T * rng.uniform(0.1, 0.2)
        turned[:, 1] /= aspect
        turned[:, 2] /= flat
        hands.append(turned)
    found_aspect, found_depth, spread = exp.depth_scale(np.array(hands))
    assert found_aspect == pytest.approx(aspect, rel=0.05)
    assert found_depth == pytest.approx(flat, rel=0.08)
    assert spread < 0.01
    with pytest.raises(ValueError, match="shape"):
        exp.depth_scale(np.zeros((3, 21, 2)))


def test_the_depth_script_refuses_a_missing_source_in_one_line(tmp_path):
    script = SCRIPT.parent / "exp_depth_scale.py"
    done = subprocess.run([sys.executable, str(script), "--sources", str(tmp_path / "nosuch")], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"exp_depth_scale.py: {tmp_path / 'nosuch'}: dataset ")
    assert "not found" in lines[0]
