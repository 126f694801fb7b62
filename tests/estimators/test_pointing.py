"""G or Q by where the index points: the angle, the gate's fit, what it changes, its card form."""

from __future__ import annotations

import json

import numpy as np
import pytest

from landmark_asl.estimators.features import raw_features
from landmark_asl.estimators.pointing import PointingGate, index_pointing
from landmark_asl.estimators.registry import make_estimator
from landmark_asl.exceptions import LandmarkASLError, ModelLoadError
from landmark_asl.model.store import load_model, save_model
from landmark_asl.training.adapt import packaged_base_rows
from landmark_asl.training.recipe import Recipe


def _hand(degrees: float, *, left: bool = False) -> np.ndarray:
    """A raw row whose index (knuckle 5 -> tip 8) points ``degrees`` below level, towards the right."""
    row = np.zeros(127)
    points = np.zeros((21, 3))
    points[5] = (0.5, 0.5, 0.0)
    a = np.radians(degrees)
    points[8] = (0.5 + 0.1 * np.cos(a) * (-1 if left else 1), 0.5 + 0.1 * np.sin(a), 0.0)
    row[:63] = points.ravel()
    row[126] = float(left)
    return row


def test_index_pointing_reads_degrees_below_level_either_way_round():
    X = np.array([_hand(0), _hand(60), _hand(-80), _hand(30, left=True), _hand(90)])
    np.testing.assert_allclose(index_pointing(X), [0, 60, -80, 30, 90], atol=1e-9)


def _letters(n: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    g = [_hand(d) for d in rng.normal(0, 6, n)]
    q = [_hand(d) for d in rng.normal(60, 12, n)]
    return np.array(g + q), np.array(["G"] * n + ["Q"] * n)


def test_the_fitted_gate_puts_its_boundary_between_the_two_letters():
    X, y = _letters()
    gate = PointingGate.fit(X, y)
    assert gate.letters == ("G", "Q") and gate.slope > 0
    assert 5 < gate.boundary < 50
    share = gate.share_of_second(np.array([-10.0, 0.0, 60.0, 85.0]))
    assert share[0] < share[1] < 0.2 and share[2] > 0.9 and np.all(np.diff(share) > 0)
    # Rows of other letters are ignored; a table without one of the two letters gives no gate.
    assert PointingGate.fit(np.vstack([X, _hand(80)[None]]), np.append(y, "P")) == gate
    assert PointingGate.fit(X[y == "G"], y[y == "G"]) is None


def test_groups_weigh_alike():
    X, y = _letters()
    # One group's many Q rows point only 25 degrees down: weighed as one group, they move the boundary less.
    extra = np.array([_hand(25)] * 600)
    X2, y2 = np.vstack([X, extra]), np.append(y, ["Q"] * 600)
    groups = np.array(["a"] * len(X) + ["b"] * 600)
    by_row = PointingGate.fit(X2, y2)
    by_group = PointingGate.fit(X2, y2, groups)
    assert by_row.boundary < by_group.boundary


def test_apply_moves_only_the_pair_and_only_where_one_of_them_leads():
    classes = ["A", "G", "P", "Q"]
    gate = PointingGate(intercept=-3.0, slope=0.15)  # boundary 20 degrees
    proba = np.array([
        [0.1, 0.6, 0.1, 0.2],   # G leads, the index points 70 degrees down: Q
        [0.1, 0.2, 0.1, 0.6],   # Q leads, level: G
        [0.7, 0.1, 0.1, 0.1],   # A leads: unchanged
        [0.1, 0.7, 0.1, 0.1],   # G leads and points level: stays G
    ])
    X = np.array([_hand(70), _hand(0), _hand(70), _hand(-5)])
    out = gate.apply(proba, X, classes)
    assert out.argmax(axis=1).tolist() == [3, 1, 0, 1]
    np.testing.assert_allclose(out.sum(axis=1), proba.sum(axis=1))
    np.testing.assert_array_equal(out[2], proba[2])
    np.testing.assert_array_equal(out[:, [0, 2]], proba[:, [0, 2]])
    assert proba[0, 1] == 0.6  # the input is not changed
    # A model without both letters is left alone.
    assert gate.apply(proba[:, :3], X, classes[:3]) is not None
    np.testing.assert_array_equal(gate.apply(proba[:, :3], X, classes[:3]), proba[:, :3])


def test_on_real_rows_a_gate_fitted_on_one_source_reads_another_signers_down_pointing_q():
    """Fitted on asl2text's rows only, the gate tells borisgraudt's G (level) from its Q (straight down),
    which the forest confused 326 times a seed on the protocol."""
    rows = packaged_base_rows()
    X, labels = raw_features(rows), rows["label"].to_numpy(dtype=str)
    asl2text = rows["dataset"].to_numpy(dtype=str) == "asl2text"
    gate = PointingGate.fit(X[asl2text], labels[asl2text])
    other = rows["group"].to_numpy(dtype=str) == "borisgraudt"
    share = gate.share_of_second(index_pointing(X[other]))
    q, g = labels[other] == "Q", labels[other] == "G"
    assert q.sum() >= 50 and g.sum() >= 50
    assert np.mean(share[q] > 0.9) > 0.95
    assert np.mean(share[g] < 0.5) > 0.95


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "an object with letters"),
        ({"letters": ["G"], "intercept": 0, "slope": 0}, "two different labels"),
        ({"letters": ["G", "G"], "intercept": 0, "slope": 0}, "two different labels"),
        ({"letters": ["G", "Q"], "intercept": float("nan"), "slope": 0}, "intercept must be a number"),
        ({"letters": ["G", "Q"], "intercept": 0, "slope": 1e6}, "slope must be a number"),
        ({"letters": ["G", "Q"], "intercept": True, "slope": 0}, "intercept must be a number"),
        ({"letters": ["G", "Q"], "intercept": 0, "slope": "1"}, "slope must be a number"),
        ({"letters": ["G", "Q"], "intercept": 0, "slope": 0, "code": "x"}, "an object with letters"),
        ({"letters": ["G", "W"], "intercept": 0, "slope": 0}, "must be classes of the model"),
    ],
)
def test_a_bad_gate_is_refused(data, message):
    with pytest.raises(ValueError, match=message):
        PointingGate.from_dict(data, ["G", "Q"])


def test_round_trip():
    gate = PointingGate(intercept=-2.5, slope=0.14)
    assert PointingGate.from_dict(json.loads(json.dumps(gate.to_dict()))) == gate


@pytest.fixture(scope="module")
def gq_model():
    X, y = _letters(40)
    rng = np.random.default_rng(1)
    other = np.array([_hand(d) for d in rng.normal(-85, 5, 40)])
    X = np.vstack([X, other]) + rng.normal(0, 0.002, (len(X) + 40, 127))
    X[:, 126] = 0
    y = np.append(y, ["L"] * 40)
    # A forest that never saw where the index points: it reads every pair row alike.
    return make_estimator("rf", n_estimators=5, finger_directions=False, orientation=False).fit(X, y), X, y


def test_a_saved_gate_is_what_the_loaded_model_answers_with(gq_model, tmp_path):
    estimator, X, y = gq_model
    gate = PointingGate.fit(X, y)
    directory = save_model(estimator, tmp_path / "m", name="rf", pointing=[gate.to_dict()],
                           recipe=Recipe.plain("rf").replace(pointing=True))
    model = load_model(directory)
    assert model.card.pointing == [gate.to_dict()]
    raw = estimator.predict_proba(X)
    gated = model.predict_proba(X)
    np.testing.assert_allclose(gated, gate.apply(raw, X, [str(c) for c in estimator.classes_]))
    np.testing.assert_allclose(model.predict_proba_one(X[3]), gated[3])
    np.testing.assert_array_equal(model.predict(X), model.classes[gated.argmax(axis=1)])
    # the gate follows the letter the index points to: better than the forest alone on these rows
    assert np.mean(model.predict(X) == y) >= np.mean(estimator.predict(X) == y)
    # a re-save of the loaded model keeps its gate
    again = load_model(save_model(model, tmp_path / "again", name="rf"))
    assert again.card.pointing == [gate.to_dict()]


@pytest.mark.parametrize(
    ("pointing", "message"),
    [
        ([{"letters": ["G", "Q"], "intercept": 0, "slope": "steep"}], "bad pointing gate: a pointing gate's slope"),
        ([{"letters": ["G", "Q"], "intercept": 0, "slope": 0.1, "mode": "vote"}], "mode is one of"),
        ([{"letters": ["G", "Q"], "intercept": 0, "slope": 0.1}] * 9, "a list of 1 to 8 gates"),
        ([], "a list of 1 to 8 gates"),
        ({"letters": ["G", "Q"], "intercept": 0, "slope": 0.1}, "'pointing' must be a JSON list or null"),
        ([{"letters": ["G", "Z"], "intercept": 0, "slope": 0.1}], "must be classes of the model"),
        (["G", "Q"], "a pointing gate is an object"),
    ],
)
def test_a_crafted_card_gate_is_a_one_line_error(gq_model, tmp_path, pointing, message):
    estimator, X, y = gq_model
    directory = save_model(estimator, tmp_path / "m", name="rf", pointing=[PointingGate.fit(X, y)])
    meta = json.loads((directory / "metadata.json").read_text())
    meta["pointing"] = pointing
    (directory / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match=message) as info:
        load_model(directory)
    assert "\n" not in str(info.value)


def test_save_refuses_a_bad_gate_before_writing(gq_model, tmp_path):
    estimator, _, _ = gq_model
    with pytest.raises(ValueError, match="must be classes of the model"):
        save_model(estimator, tmp_path / "m", name="rf", pointing=[{"letters": ["G", "Z"], "intercept": 0, "slope": 0}])
    assert not (tmp_path / "m").exists()

    class SpreadGate(PointingGate):  # reads another cue, which a card cannot say: refused, not saved as pointing
        @staticmethod
        def cue(X):
            return np.asarray(X, dtype=np.float64)[:, 3 * 8]

    with pytest.raises(ValueError, match="only gates that read where the index points go on a card; SpreadGate"):
        save_model(estimator, tmp_path / "m", name="rf", pointing=[SpreadGate(letters=("G", "Q"), slope=0.1)])
    assert not (tmp_path / "m").exists()


def test_the_recipe_field():
    assert Recipe().pointing is True and Recipe.plain("rf").pointing is False
    assert Recipe.from_dict({"model_name": "rf"}).pointing is False  # a card written before the gate
    assert Recipe.from_dict(Recipe().to_dict()) == Recipe()
    with pytest.raises(LandmarkASLError, match="pointing must be True or False"):
        Recipe().replace(pointing=1).check()
    with pytest.raises(LandmarkASLError, match="apply to landmark models only"):
        Recipe.plain("cnn").replace(pointing=True).check()


def test_rows_without_finite_landmarks_are_left_out_of_the_fit():
    X, y = _letters(20)
    X[y == "Q", 24] = np.nan  # every Q's index tip unknown: nothing to learn Q from
    assert PointingGate.fit(X, y) is None
    X[y == "Q", 24] = 0.6
    X[0, 24] = np.nan  # one G row unknown: left out, the rest fitted
    assert PointingGate.fit(X, y) is not None


def test_the_one_row_path_answers_as_the_batch_even_on_degenerate_landmarks(gq_model, tmp_path):
    estimator, X, y = gq_model
    model = load_model(save_model(estimator, tmp_path / "m", name="rf", pointing=[PointingGate.fit(X, y)]))
    rows = X[y != "L"][:6].astype(np.float64)
    rows[1, 24:26] = rows[1, 15:17]  # index tip on its knuckle
    rows[2, 24:26] = rows[2, 15:17] + (1e-300, 0.0)
    batch = model.predict_proba(rows)
    one = np.array([model.predict_proba_one(r) for r in rows])
    np.testing.assert_allclose(one, batch, atol=1e-12)
    assert np.isfinite(one).all()


def test_hostile_numbers_and_long_values_are_short_one_line_errors():
    for data in ({"letters": ["G", "Q"], "intercept": 10**400, "slope": 0.1},
                 {"letters": ["X" * 200_000, "Q"], "intercept": 0, "slope": 0},
                 {"letters": ["A"] * 100_000, "intercept": 0, "slope": 0}):
        with pytest.raises(ValueError) as info:
            PointingGate.from_dict(data)
        assert len(str(info.value)) < 300
    # NumPy numbers and a tuple of letters are what a caller may pass; a gate object too.
    gate = PointingGate.from_dict({"letters": ("G", "Q"), "intercept": np.float32(-2.0), "slope": np.int64(0)})
    assert gate == PointingGate(intercept=-2.0, slope=0.0) and PointingGate.from_dict(gate) == gate


def test_a_fit_on_letters_that_never_overlap_stays_within_what_a_card_may_hold():
    rng = np.random.default_rng(0)
    X = np.array([_hand(d) for d in rng.normal(85, 0.3, 2000)] + [_hand(d) for d in rng.normal(89, 0.3, 2000)])
    y = np.array(["G"] * 2000 + ["Q"] * 2000)
    gate = PointingGate.fit(X, y)
    assert PointingGate.from_dict(gate.to_dict()) == gate
    assert 86 < gate.boundary < 88


def test_a_card_keeps_the_gate_in_its_own_form(gq_model, tmp_path):
    estimator, X, y = gq_model
    gate = PointingGate.fit(X, y)
    assert load_model(save_model(estimator, tmp_path / "one", name="rf", pointing=gate)).card.pointing == [gate.to_dict()]
    assert load_model(save_model(estimator, tmp_path / "none", name="rf", pointing=[])).card.pointing is None
    directory = save_model(estimator, tmp_path / "m", name="rf", pointing=[gate])  # gate objects are taken too
    meta = json.loads((directory / "metadata.json").read_text())
    meta["pointing"][0]["boundary_degrees"] = "a lie"
    (directory / "metadata.json").write_text(json.dumps(meta))
    model = load_model(directory)
    assert model.card.pointing == [gate.to_dict()]  # recomputed, not the file's
    again = json.loads((save_model(model, tmp_path / "again", name="rf") / "metadata.json").read_text())
    assert again["pointing"][0]["boundary_degrees"] == pytest.approx(gate.boundary)


def test_odds_mode_weighs_the_models_odds_by_the_gates():
    classes = ["K", "P", "Z"]
    gate = PointingGate(letters=("K", "P"), intercept=0.0, slope=0.1, mode="odds")  # P above 0 degrees
    proba = np.array([[0.5, 0.1, 0.4],    # K leads; the index points 60 degrees down: P
                      [0.5, 0.4, 0.1],    # K leads, pointing straight up: K stays
                      [0.2, 0.0, 0.8]])   # Z leads: unchanged
    X = np.array([_hand(60), _hand(-80), _hand(60)])
    out = gate.apply(proba, X, classes)
    assert out.argmax(axis=1).tolist() == [1, 0, 2]
    share = gate.share_of_second(np.array([60.0]))[0]
    np.testing.assert_allclose(out[0, 1], 0.6 * 0.1 * share / (0.1 * share + 0.5 * (1 - share)))
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    np.testing.assert_array_equal(out[2], proba[2])
    # a letter the model gives nothing keeps nothing (in 'share' mode the gate alone decides)
    zero = np.array([[0.6, 0.0, 0.4]])
    np.testing.assert_allclose(gate.apply(zero, X[:1], classes), zero)
    shared = PointingGate(letters=("K", "P"), intercept=0.0, slope=0.1).apply(zero, X[:1], classes)
    assert shared[0, 1] > 0.5
    # the one-row path agrees
    for row, x in zip(proba, X):
        np.testing.assert_allclose(gate.apply_one(row, x, 0, 1), gate.apply(row[None], x[None], classes)[0])


def test_the_default_gates_fitted_on_real_rows_read_p_pointing_down_and_k_up():
    from landmark_asl.estimators.pointing import DEFAULT_GATES, apply_gates, fit_gates

    rows = packaged_base_rows()
    X, labels = raw_features(rows), rows["label"].to_numpy(dtype=str)
    gates = fit_gates(X, labels, rows["dataset"].to_numpy(dtype=str))
    assert [(g.letters, g.mode) for g in gates] == list(DEFAULT_GATES)
    kp = gates[1]
    assert kp.boundary < -40  # K points straight up; P anywhere from forward to down
    # A P pointing straight down that the model calls K is read as P; a K pointing up stays K.
    proba = np.array([[0.6, 0.3, 0.1], [0.6, 0.3, 0.1]])
    out = apply_gates(gates, proba, np.array([_hand(85), _hand(-85)]), ["K", "P", "A"])
    assert out.argmax(axis=1).tolist() == [1, 0]


def test_a_gate_in_words():
    assert PointingGate(intercept=-2.5, slope=0.15).describe() == (
        "Q rather than G where the index points lower than 17 degrees below level")
    assert PointingGate(letters=("K", "P"), intercept=10.0, slope=0.15).describe().endswith("67 degrees above level")
    assert "slope" in PointingGate(slope=-0.1).describe()
