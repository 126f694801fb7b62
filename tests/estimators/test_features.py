"""Tests for landmark_asl.estimators.features: raw inputs, normalisation invariances, the sklearn transformer contract."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from landmark_asl.estimators.features import (
    N_RAW_FEATURES,
    RAW_FEATURE_NAMES,
    LandmarkNormalizer,
    augment_landmarks,
    raw_features,
    raw_features_from_hands,
)
from landmark_asl.hands.landmarks import IMAGE_COLUMNS, WORLD_COLUMNS, HandLandmarks

# Every check below feeds the transformer random data of 1..10 columns. The normalizer's
# input is by definition 127 raw landmark columns (21 image points, 21 world points,
# is_left) and it must refuse other widths with a message saying what to pass, so these
# checks cannot apply; test_transformer_contract_on_raw_landmarks re-checks the same
# behaviours (fit returns self, idempotent, pickling, params untouched, sample-order and
# subset invariance, dtype, read-only and F-ordered input, 1-d input error) on 127-wide data.
_WIDTH_REASON = "feeds data with fewer than 127 columns; the input is 127 raw landmark features by contract"
_NORMALIZER_XFAIL = {
    name: _WIDTH_REASON
    for name in (
        "check_dict_unchanged",
        "check_dont_overwrite_parameters",
        "check_dtype_object",
        "check_estimators_dtypes",
        "check_estimators_fit_returns_self",
        "check_estimators_overwrite_params",
        "check_estimators_pickle",
        "check_f_contiguous_array_estimator",
        "check_fit2d_1feature",
        "check_fit2d_1sample",
        "check_fit2d_predict1d",
        "check_fit_check_is_fitted",
        "check_fit_idempotent",
        "check_fit_score_takes_y",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_n_features_in",
        "check_n_features_in_after_fitting",
        "check_pipeline_consistency",
        "check_positive_only_tag_during_fit",
        "check_readonly_memmap_input",
        "check_transformer_data_not_an_array",
        "check_transformer_general",
        "check_transformer_preserve_dtypes",
    )
}


@parametrize_with_checks([LandmarkNormalizer()], expected_failed_checks=lambda est: _NORMALIZER_XFAIL)
def test_sklearn_compatible_normalizer(estimator, check):
    check(estimator)


def _rotate(X: np.ndarray, angle: float) -> np.ndarray:
    """Rotate the image points of raw rows about (0.5, 0.5) in the image plane."""
    out = X.copy()
    c, s = np.cos(angle), np.sin(angle)
    x, y = X[:, 0:63:3] - 0.5, X[:, 1:63:3] - 0.5
    out[:, 0:63:3], out[:, 1:63:3] = 0.5 + c * x - s * y, 0.5 + s * x + c * y
    return out


def test_transformer_contract_on_raw_landmarks(synthetic_landmarks):
    X, y = synthetic_landmarks
    norm = LandmarkNormalizer()
    params = norm.get_params()
    assert norm.fit(X, y) is norm
    assert norm.get_params() == params
    assert norm.n_features_in_ == N_RAW_FEATURES
    Z = norm.transform(X)
    assert Z.shape == (len(X), norm.n_features_out_) == (len(X), len(norm.get_feature_names_out()))
    assert Z.dtype == np.float64 and np.isfinite(Z).all()
    np.testing.assert_array_equal(clone(norm).fit(X).transform(X), Z)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(norm)).transform(X), Z)
    order = np.random.default_rng(1).permutation(len(X))
    np.testing.assert_allclose(norm.transform(X[order]), Z[order])
    np.testing.assert_allclose(norm.transform(X[:7]), Z[:7])
    frozen = np.asfortranarray(X.astype(np.float64))
    frozen.setflags(write=False)
    np.testing.assert_allclose(norm.transform(frozen), Z, rtol=1e-6)
    np.testing.assert_allclose(norm.transform(pd.DataFrame(X)), Z)
    np.testing.assert_allclose(norm.transform_array(X.astype(np.float64)), Z)
    with pytest.raises(ValueError, match="Expected 2D array"):
        norm.transform(X[0])


def test_unfitted_normalizer_raises(synthetic_landmarks):
    with pytest.raises(NotFittedError):
        LandmarkNormalizer().transform(synthetic_landmarks[0])


def test_flattened_coordinates_are_refused_with_a_hint(synthetic_landmarks):
    X, _ = synthetic_landmarks
    norm = LandmarkNormalizer().fit(X)
    with pytest.raises(ValueError, match=r"got \(n, 63\): pass raw_features\(table\), not flattened coordinates"):
        norm.transform(X[:, :63])
    with pytest.raises(ValueError, match=r"shape \(n, 127\) raw features; got \(n, 10\)"):
        LandmarkNormalizer().fit(X[:, :10])


def test_bad_distances_parameter(synthetic_landmarks):
    with pytest.raises(ValueError, match="distances must be one of"):
        LandmarkNormalizer(distances="some").fit(synthetic_landmarks[0])


def test_undetected_rows_are_refused(synthetic_landmarks):
    X = synthetic_landmarks[0].copy()
    X[3, :63] = np.nan
    norm = LandmarkNormalizer().fit(X)
    with pytest.raises(ValueError, match=r"rows \[3\] .* drop rows without a detected hand"):
        norm.transform(X)


@pytest.mark.parametrize("angle", [0.3, -1.2, 2.5])
def test_translation_scale_rotation_invariance(synthetic_landmarks, angle):
    X = synthetic_landmarks[0][:20].astype(np.float64)
    norm = LandmarkNormalizer(orientation=False, finger_directions=False).fit(X)
    Z = norm.transform(X)
    moved = X.copy()
    moved[:, 0:63:3] = 0.8 * X[:, 0:63:3] + 0.1
    moved[:, 1:63:3] = 0.8 * X[:, 1:63:3] - 0.05
    moved[:, 2:63:3] *= 0.8
    moved = _rotate(moved, angle)
    np.testing.assert_allclose(norm.transform(moved), Z, atol=1e-9)
    # Orientation features record what the rotation removed: they must change.
    oriented = LandmarkNormalizer().fit(X)
    assert not np.allclose(oriented.transform(moved), oriented.transform(X))


def test_mirroring_invariance(synthetic_landmarks):
    X = synthetic_landmarks[0][:20].astype(np.float64)
    norm = LandmarkNormalizer().fit(X)
    mirrored = X.copy()
    mirrored[:, 0:63:3] = 1.0 - X[:, 0:63:3]
    mirrored[:, 63:126:3] = -X[:, 63:126:3]
    mirrored[:, 126] = 1.0 - X[:, 126]
    np.testing.assert_allclose(norm.transform(mirrored), norm.transform(X), atol=1e-9)
    # Without mirroring a mirrored hand is a different shape.
    plain = LandmarkNormalizer(mirror=False).fit(X)
    assert not np.allclose(plain.transform(mirrored), plain.transform(X))


def test_rotation_changes_coordinates_without_rotate(synthetic_landmarks):
    X = synthetic_landmarks[0][:5].astype(np.float64)
    norm = LandmarkNormalizer(
        rotate="none", distances="none", angles=False, orientation=False, finger_directions=False
    ).fit(X)
    assert norm.n_features_out_ == 60
    assert not np.allclose(norm.transform(_rotate(X, 0.5)), norm.transform(X))


def test_world_features_follow_world_presence(synthetic_landmarks):
    X = synthetic_landmarks[0][:10].astype(np.float64)
    with_world = LandmarkNormalizer(world=True).fit(X)
    names = with_world.get_feature_names_out()
    world_cols = np.array([n.startswith("w") for n in names])
    assert world_cols.sum() == 90 + 19
    assert np.isfinite(with_world.transform(X)).all()
    X[:, 63:126] = np.nan
    Z = with_world.transform(X)
    assert np.isnan(Z[:, world_cols]).all() and np.isfinite(Z[:, ~world_cols]).all()


def test_feature_groups_sizes():
    X = np.random.default_rng(0).random((3, 127))
    assert LandmarkNormalizer().fit(X).n_features_out_ == 60 + 90 + 19 + 5 + 10
    assert LandmarkNormalizer(distances="all").fit(X).n_features_out_ == 60 + 210 + 19 + 5 + 10
    assert LandmarkNormalizer(finger_directions=False).fit(X).n_features_out_ == 60 + 90 + 19 + 5


def test_raw_features_from_table():
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.random((3, 63)), columns=list(IMAGE_COLUMNS))
    table["handedness"] = ["Left", "Right", "Left"]
    X = raw_features(table)
    assert X.shape == (3, 127) and X.dtype == np.float32
    assert np.isnan(X[:, 63:126]).all()
    np.testing.assert_array_equal(X[:, 126], [1.0, 0.0, 1.0])
    np.testing.assert_allclose(X[:, :63], table[list(IMAGE_COLUMNS)].to_numpy(), rtol=1e-6)
    world = pd.DataFrame(rng.random((3, 63)), columns=list(WORLD_COLUMNS))
    X = raw_features(pd.concat([table, world], axis=1))
    np.testing.assert_allclose(X[:, 63:126], world.to_numpy(), rtol=1e-6)
    assert len(RAW_FEATURE_NAMES) == 127 and RAW_FEATURE_NAMES[-1] == "is_left"


def test_raw_features_missing_columns():
    with pytest.raises(ValueError, match=r"lacks image columns \['x0', 'y0', 'z0'\]"):
        raw_features(pd.DataFrame({"label": ["A"]}))


def test_raw_features_from_hands():
    rng = np.random.default_rng(0)
    hand = HandLandmarks(rng.random((21, 3)), rng.random((21, 3)), "Left", 0.9)
    X = raw_features_from_hands([hand, hand])
    assert X.shape == (2, 127)
    np.testing.assert_allclose(X[0, :63], hand.image.ravel())
    np.testing.assert_allclose(X[0, 63:126], hand.world.ravel())
    assert X[0, 126] == 1.0
    with pytest.raises(ValueError, match="must not contain None"):
        raw_features_from_hands([hand, None])


def test_augmentation_keeps_labels_and_handshapes(synthetic_landmarks):
    X, y = synthetic_landmarks
    X_aug, y_aug = augment_landmarks(X, y, n_copies=2, max_angle=10, random_state=0)
    assert X_aug.shape == (3 * len(X), 127)
    np.testing.assert_array_equal(y_aug, np.tile(y, 3))
    np.testing.assert_array_equal(X_aug[: len(X)], X)
    assert not np.allclose(X_aug[len(X) :], np.tile(X, (2, 1)))
    norm = LandmarkNormalizer().fit(X)
    Z, Z_aug = norm.transform(X), norm.transform(X_aug[len(X) : 2 * len(X)])
    # An augmented row stays nearer its own original than to rows of other classes.
    d = ((Z_aug[:, None, :] - Z[None, :, :]) ** 2).sum(axis=2)
    assert (y[d.argmin(axis=1)] == y).mean() > 0.95
    X_again, _ = augment_landmarks(X, y, n_copies=2, max_angle=10, random_state=0)
    np.testing.assert_array_equal(X_again, X_aug)


def test_yaw_turns_the_hand_about_the_vertical_axis(synthetic_landmarks):
    X, y = synthetic_landmarks
    plain = dict(n_copies=1, max_angle=0.0, scale=0.0, jitter=0.0, mirror=False, random_state=0)
    X_aug, _ = augment_landmarks(X, y, max_yaw=180.0, **plain)
    pts = X.astype(np.float64)[:, :63].reshape(-1, 21, 3)
    turned = X_aug[len(X):].astype(np.float64)[:, :63].reshape(-1, 21, 3)
    rel, rel_t = pts - pts[:, :1], turned - turned[:, :1]
    # Gravity kept: every point's height above the wrist; distances in the horizontal plane kept.
    np.testing.assert_allclose(rel_t[..., 1], rel[..., 1], atol=1e-5)
    np.testing.assert_allclose(np.hypot(rel_t[..., 0], rel_t[..., 2]), np.hypot(rel[..., 0], rel[..., 2]), atol=1e-5)
    # Seen from behind for about half the rows: the index tip's side of the wrist flips.
    flipped = np.sign(rel_t[:, 8, 0]) != np.sign(rel[:, 8, 0])
    assert 0.25 < flipped.mean() < 0.75
    # World landmarks turn with the image ones: heights kept, horizontal radii kept.
    world = X.astype(np.float64)[:, 63:126].reshape(-1, 21, 3)
    world_t = X_aug[len(X):].astype(np.float64)[:, 63:126].reshape(-1, 21, 3)
    w_rel, w_rel_t = world - world[:, :1], world_t - world_t[:, :1]
    np.testing.assert_allclose(w_rel_t[..., 1], w_rel[..., 1], atol=1e-5)
    np.testing.assert_allclose(np.hypot(w_rel_t[..., 0], w_rel_t[..., 2]), np.hypot(w_rel[..., 0], w_rel[..., 2]),
                               atol=1e-5)
    assert not np.allclose(w_rel_t[..., 0], w_rel[..., 0], atol=1e-3)
    # Without yaw, the copies are exactly those written before max_yaw existed (no extra random
    # draws): figures of augment_landmarks(X, y, n_copies=2, max_angle=30, stretch=0.3,
    # random_state=0) taken from the code before the change (commit d5ca346).
    copies = augment_landmarks(X, y, n_copies=2, max_angle=30.0, stretch=0.3, random_state=0)[0][len(X):]
    copies = copies.astype(np.float64)
    assert np.nansum(copies) == pytest.approx(5259.750036312549, rel=1e-7)
    assert np.nansum(np.abs(copies)) == pytest.approx(6052.144846580968, rel=1e-7)
    np.testing.assert_allclose(copies[0, :3], [0.4353908896446228, 0.3695415258407593, 0.002305922331288457],
                               rtol=1e-6)


def _assert_a_third_label_is_untouched(X, option: str, **extra) -> None:
    """Every perturbation on, two copies: the rows of a third label get the same copies whichever other
    label ``option`` names (its draw is made for every row), and labels of any dtype compare as text."""
    rows = np.arange(len(X))
    labels = np.where(rows < len(X) // 2, 0, 1 + rows % 2)  # unequal counts: a draw per chosen row would shift
    full = dict(n_copies=2, max_angle=30.0, stretch=0.3, random_state=4, **extra)
    turn_0, _ = augment_landmarks(X, labels, **{option: ["0"]}, **full)
    turn_1, _ = augment_landmarks(X, labels.astype(object), **{option: ["1"]}, **full)
    third = np.tile(labels == 2, 3)
    np.testing.assert_array_equal(turn_0[third], turn_1[third])
    assert not np.allclose(turn_0[np.tile(labels == 0, 3)], turn_1[np.tile(labels == 0, 3)])


def test_yaw_labels_turn_only_their_rows(synthetic_landmarks):
    X, y = synthetic_landmarks
    y = np.asarray(y).astype(str)
    chosen = y == y[0]
    plain = dict(n_copies=1, max_angle=0.0, scale=0.0, jitter=0.0, mirror=False, random_state=0)
    X_aug, _ = augment_landmarks(X, y, max_yaw=180.0, yaw_labels=[str(y[0])], **plain)
    copies = X_aug[len(X):].astype(np.float64)
    # The other rows' copies are the rows themselves (nothing else perturbs them here) ...
    np.testing.assert_allclose(copies[~chosen], X[~chosen], atol=1e-6)
    # ... and the chosen rows turn exactly as they do when every row turns (the same draws).
    every, _ = augment_landmarks(X, y, max_yaw=180.0, **plain)
    np.testing.assert_allclose(copies[chosen], every[len(X):][chosen], atol=1e-6)
    assert not np.allclose(copies[chosen], X[chosen], atol=1e-3)
    # Every perturbation on and two copies: the rows of a third label get the same copies whichever
    # other label is turned (the turn is drawn for every row), and labels of any dtype compare as text.
    _assert_a_third_label_is_untouched(X, "yaw_labels", max_yaw=180.0)
    for bad in ("G", [], [1], ["G", None], {"G": 1}):
        with pytest.raises(ValueError, match="yaw_labels must be"):
            augment_landmarks(X, y, max_yaw=180.0, yaw_labels=bad)
    with pytest.raises(ValueError, match="needs max_yaw"):
        augment_landmarks(X, y, yaw_labels=["G"])
    with pytest.raises(ValueError) as huge:  # a huge value from a card or the CLI: a short line
        augment_landmarks(X, y, max_yaw=180.0, yaw_labels=["G"] * 100_000 + [1])
    assert len(str(huge.value)) < 200


def test_max_roll_limits_only_the_turn_in_the_image_plane(synthetic_landmarks):
    X, y = synthetic_landmarks
    plain = dict(n_copies=1, scale=0.0, jitter=0.0, mirror=False, random_state=0)

    def index_angles(X_aug):  # the wrist -> index-tip direction in the image, degrees
        pts = X_aug.astype(np.float64)[:, :63].reshape(-1, 21, 3)
        d = pts[:, 8, :2] - pts[:, 0, :2]
        return np.degrees(np.arctan2(d[:, 1], d[:, 0]))

    def turned_by(X_aug):
        diff = index_angles(X_aug[len(X):]) - index_angles(X)
        return np.abs((diff + 180) % 360 - 180)

    # Roll alone (the other two axes at 0): the in-plane direction turns by the roll, up to
    # max_roll and no further.
    rolled, _ = augment_landmarks(X, y, max_angle=0.0, max_roll=40.0, **plain)
    turn = turned_by(rolled)
    assert turn.max() <= 40.0 + 1e-3 and turn.max() > 30.0
    # max_roll=0 keeps the in-plane direction of a flat hand nearer than the full rotation does.
    flat = X.copy()
    flat[:, 2:63:3] = 0.0  # depth 0: tilting about the other axes only foreshortens
    no_roll, _ = augment_landmarks(flat, y, max_angle=30.0, max_roll=0.0, **plain)
    full, _ = augment_landmarks(flat, y, max_angle=30.0, **plain)
    assert np.median(turned_by(no_roll)) < np.median(turned_by(full)) / 2
    # max_roll equal to max_angle: the copies written before max_roll existed (the figures pinned
    # in test_yaw_turns_the_hand_about_the_vertical_axis, from commit d5ca346).
    copies = augment_landmarks(X, y, n_copies=2, max_angle=30.0, stretch=0.3, max_roll=30.0, random_state=0)[0]
    copies = copies[len(X):].astype(np.float64)
    assert np.nansum(copies) == pytest.approx(5259.750036312549, rel=1e-7)
    assert np.nansum(np.abs(copies)) == pytest.approx(6052.144846580968, rel=1e-7)
    # Another roll changes the copies' points, and nothing else draws differently: the mirroring
    # (the is_left column) is the same.
    other = augment_landmarks(X, y, n_copies=2, max_angle=30.0, stretch=0.3, max_roll=5.0, random_state=0)[0]
    other = other[len(X):].astype(np.float64)
    assert not np.allclose(other[:, :63], copies[:, :63])
    np.testing.assert_array_equal(other[:, 126], copies[:, 126])
    for bad in (181.0, -1.0, float("nan"), "5", True):
        with pytest.raises(ValueError, match="max_roll must be a number from 0 to 180"):
            augment_landmarks(X, y, max_roll=bad)


def test_roll_labels_limit_the_roll_of_their_rows_only(synthetic_landmarks):
    X, y = synthetic_landmarks
    y = np.asarray(y).astype(str)
    chosen = np.tile(y == y[0], 3)
    full = dict(n_copies=2, max_angle=30.0, stretch=0.3, random_state=3)
    limited, y_aug = augment_landmarks(X, y, max_roll=5.0, roll_labels=[str(y[0])], **full)
    everyone, _ = augment_landmarks(X, y, max_roll=5.0, **full)
    nobody, _ = augment_landmarks(X, y, **full)
    # The listed rows get the copies of max_roll for every row, the others those of no max_roll:
    # the draws are the same whatever the list.
    np.testing.assert_array_equal(limited[chosen], everyone[chosen])
    np.testing.assert_array_equal(limited[~chosen], nobody[~chosen])
    copies = chosen & (np.arange(len(chosen)) >= len(X))
    assert copies.any() and not np.allclose(limited[copies, :63], nobody[copies, :63])
    np.testing.assert_array_equal(y_aug, np.tile(y, 3))
    _assert_a_third_label_is_untouched(X, "roll_labels", max_roll=5.0)
    # Labels of another dtype compare as text; a label not in y limits nothing.
    as_objects, _ = augment_landmarks(X, y.astype(object), max_roll=5.0, roll_labels=[str(y[0])], **full)
    np.testing.assert_array_equal(as_objects, limited)
    absent, _ = augment_landmarks(X, y, max_roll=5.0, roll_labels=["no such letter"], **full)
    np.testing.assert_array_equal(absent, nobody)
    for bad in ("G", [], [1], ["G", None], {"G": 1}):
        with pytest.raises(ValueError, match="roll_labels must be"):
            augment_landmarks(X, y, max_roll=5.0, roll_labels=bad)
    with pytest.raises(ValueError, match="roll_labels needs max_roll"):
        augment_landmarks(X, y, roll_labels=["G"])
    with pytest.raises(ValueError) as huge:
        augment_landmarks(X, y, max_roll=5.0, roll_labels=["G"] * 100_000 + [1])
    assert len(str(huge.value)) < 200


def test_down_labels_turn_their_copies_towards_pointing_down(synthetic_landmarks):
    X, y = synthetic_landmarks
    y = np.asarray(y).astype(str)
    chosen = y == y[0]

    def from_down(X_rows):  # how far the index (knuckle 5 -> tip 8) is from pointing down, degrees
        pts = np.asarray(X_rows, dtype=np.float64)[:, :63].reshape(-1, 21, 3)
        d = pts[:, 8, :2] - pts[:, 5, :2]
        return np.abs((np.degrees(np.arctan2(d[:, 1], d[:, 0])) - 90 + 180) % 360 - 180)

    plain = dict(n_copies=1, max_angle=0.0, scale=0.0, jitter=0.0, mirror=False, random_state=0)
    X_aug, _ = augment_landmarks(X, y, down_labels=[str(y[0])], **plain)
    copies = X_aug[len(X):]
    before, after = from_down(X[chosen]), from_down(copies[chosen])
    # Each chosen copy points nearer to straight down, by a random part of the way (not all, not none).
    assert (after <= before + 1e-3).all()
    part = 1 - after / np.maximum(before, 1e-9)
    assert part.min() < 0.3 and part.max() > 0.7
    # The turn is about the wrist and in the image plane: the wrist stays, depths and lengths too.
    np.testing.assert_allclose(copies[chosen, :3], X[chosen, :3], atol=1e-6)
    np.testing.assert_allclose(copies[chosen, 2:63:3], X[chosen, 2:63:3], atol=1e-6)
    # The other rows' copies are the rows themselves here ...
    np.testing.assert_allclose(copies[~chosen], X[~chosen], atol=1e-6)
    # ... and with every perturbation on, the rows of a third label get the same copies whichever
    # other label is turned (the turn is drawn for every row).
    _assert_a_third_label_is_untouched(X, "down_labels")
    # With the other rotations on, the down turn comes first: a copy is the recipe's random rotation
    # (the first draw of the copy) of the copy turned alone.
    from landmark_asl.estimators.features import _rotation_matrices

    alone, _ = augment_landmarks(X, y, down_labels=[str(y[0])], **plain)
    tilted, _ = augment_landmarks(X, y, down_labels=[str(y[0])], **{**plain, "max_angle": 30.0})
    limits = np.array([30.0, 30.0, 30.0])
    rot = _rotation_matrices(np.deg2rad(-limits + 2 * limits * np.random.RandomState(0).random_sample((len(X), 3))))
    pts = alone[len(X):, :63].astype(np.float64).reshape(-1, 21, 3)
    expected = np.einsum("nij,nkj->nki", rot, pts - pts[:, :1]) + pts[:, :1]
    np.testing.assert_allclose(tilted[len(X):, :63].reshape(-1, 21, 3), expected, atol=1e-5)
    # A row with NaN world columns (a landmark CSV) turns its image points and keeps NaN world; a row
    # without a direction (the index of zero length, or NaN image points) is not turned.
    odd = X[chosen][:3].copy()
    odd[0, 63:126] = np.nan
    odd[1, 8 * 3 : 8 * 3 + 3] = odd[1, 5 * 3 : 5 * 3 + 3]
    odd[2, :63] = np.nan
    odd_aug, _ = augment_landmarks(odd, np.array([str(y[0])] * 3), down_labels=[str(y[0])], **plain)
    assert np.isfinite(odd_aug[3, :63]).all() and np.isnan(odd_aug[3, 63:126]).all()
    assert from_down(odd_aug[3:4]) < from_down(odd[:1]) or from_down(odd[:1]) < 1e-6
    np.testing.assert_allclose(odd_aug[4], odd[1], atol=1e-6)
    assert np.isnan(odd_aug[5, :63]).all() and np.isfinite(odd_aug[5, 63:126]).all()
    for bad in ("P", [], [1], ["P", None], {"P": 1}, ["P" * 65], ["P"] * 1001):
        with pytest.raises(ValueError, match="down_labels must be"):
            augment_landmarks(X, y, down_labels=bad)
    with pytest.raises(ValueError, match="one label per row"):
        augment_landmarks(X, y[:-1], down_labels=["P"])
    with pytest.raises(ValueError) as huge:
        augment_landmarks(X, y, down_labels=["P"] * 100_000 + [1])
    assert len(str(huge.value)) < 200


def test_3d_frame_is_invariant_to_3d_rotation(synthetic_landmarks):
    from landmark_asl.estimators.features import _rotation_matrices

    X = synthetic_landmarks[0][:10].astype(np.float64)
    norm = LandmarkNormalizer(rotate="3d", orientation=False, finger_directions=False).fit(X)
    rot = _rotation_matrices(np.array([[0.4, -0.3, 1.0]]))[0]
    turned = X.copy()
    pts = X[:, :63].reshape(-1, 21, 3)
    turned[:, :63] = ((pts - pts[:, :1]) @ rot.T + pts[:, :1]).reshape(-1, 63)
    np.testing.assert_allclose(norm.transform(turned), norm.transform(X), atol=1e-9)
    plane = LandmarkNormalizer(orientation=False, finger_directions=False).fit(X)
    assert not np.allclose(plane.transform(turned), plane.transform(X))
    with pytest.raises(ValueError, match="rotate must be one of"):
        LandmarkNormalizer(rotate=True).fit(X)


def test_non_square_frames_give_the_features_of_the_undistorted_hand():
    from landmark_asl.estimators.features import raw_features, raw_features_from_hands
    from landmark_asl.hands.landmarks import IMAGE_COLUMNS

    rng = np.random.default_rng(3)
    square = rng.random((21, 3)).astype(np.float32)  # a hand in a 480x480 frame
    # The same hand seen in a 640x480 frame: 80 px of border each side, x divided by 640.
    wide = square.copy()
    wide[:, 0] = (square[:, 0] * 480 + 80) / 640
    wide[:, 2] = square[:, 2] * 480 / 640
    normalizer = LandmarkNormalizer().fit(np.zeros((1, 127), np.float32) + 0.5)
    reference = normalizer.transform(raw_features_from_hands([HandLandmarks(square, square, "Right", 0.9, (480, 480))]))
    from_hand = normalizer.transform(raw_features_from_hands([HandLandmarks(wide, wide, "Right", 0.9, (640, 480))]))
    table = pd.DataFrame([wide.reshape(-1)], columns=list(IMAGE_COLUMNS)).assign(image_width=640, image_height=480)
    from_table = normalizer.transform(raw_features(table))
    np.testing.assert_allclose(from_hand, reference, atol=1e-5)
    np.testing.assert_allclose(from_table, reference, atol=1e-5)
    unknown_size = normalizer.transform(raw_features_from_hands([HandLandmarks(wide, wide, "Right", 0.9)]))
    assert not np.allclose(unknown_size, reference, atol=1e-3)


def test_handshape_features_ignore_3d_rotation_scale_and_position(synthetic_landmarks):
    from landmark_asl.estimators.features import _HANDSHAPE_NAMES, _rotation_matrices

    X, _ = synthetic_landmarks
    X = X[X[:, 126] < 0.5][:20].astype(np.float64)  # right hands: mirroring is tested elsewhere
    rng = np.random.default_rng(1)
    moved = X.copy()
    rot = _rotation_matrices(np.deg2rad(rng.uniform(-60, 60, size=(len(X), 3))))
    pts = X[:, :63].reshape(-1, 21, 3)
    moved[:, :63] = (np.einsum("nij,nkj->nki", rot, pts - pts[:, :1]) * 1.7 + 0.2).reshape(-1, 63)
    normalizer = LandmarkNormalizer(handshape=True, coords=False, distances="none", angles=False,
                                    orientation=False, finger_directions=False).fit(X)
    assert list(normalizer.get_feature_names_out()) == _HANDSHAPE_NAMES
    np.testing.assert_allclose(normalizer.transform(moved), normalizer.transform(X), atol=1e-6)
    full = LandmarkNormalizer(handshape=True).fit(X)
    assert full.transform(X).shape[1] == len(full.get_feature_names_out()) == 184 + len(_HANDSHAPE_NAMES)
