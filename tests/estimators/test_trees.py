"""Tests of the tree classifiers: XGBoost wrapper (devices, labels), the fast forest and the compiled trees."""

from __future__ import annotations

import warnings
from unittest import SkipTest

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from landmark_asl._util import gpu_available
from landmark_asl.estimators import trees
from landmark_asl.estimators.registry import make_estimator
from landmark_asl.estimators.trees import CompiledTrees, FastRandomForestClassifier, XGBLandmarkClassifier


def _expected_failures(estimator) -> dict[str, str]:
    if isinstance(estimator, FastRandomForestClassifier):
        # Inherited: scikit-learn marks this check xfail for RandomForestClassifier itself
        # (bootstrap resampling makes weights differ from repeated rows).
        reason = "bootstrap; xfail for RandomForestClassifier too"
        return {f"check_sample_weight_equivalence_on_{kind}_data": reason for kind in ("dense", "sparse")}
    if isinstance(estimator, XGBLandmarkClassifier):
        # XGBoost's hist method builds its quantile bins from the weighted rows, so weights are
        # not the same as repeated rows (scikit-learn's HistGradientBoosting has the same mark).
        return {"check_sample_weight_equivalence_on_dense_data": "hist binning; weights != repeated rows"}
    return {}


@parametrize_with_checks(
    [XGBLandmarkClassifier(n_estimators=5, device="cpu"), FastRandomForestClassifier(n_estimators=5)],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible_classifiers(estimator, check):
    try:
        check(estimator)
    except SkipTest as exc:
        # scikit-learn skips checks of methods an estimator lacks (the forest has no
        # decision_function); assert that is the reason rather than skipping in CI.
        assert "decision_function" in str(exc) and not hasattr(estimator, "decision_function"), exc


def test_xgb_labels_are_strings_and_encoded_from_sorted_set(synthetic_landmarks):
    X, y = synthetic_landmarks
    clf = XGBLandmarkClassifier(n_estimators=5, device="cpu").fit(X, y)
    assert list(clf.classes_) == ["A", "B", "C", "NOTHING"]
    assert clf.predict(X[:3]).dtype.kind == "U"
    with pytest.raises(ValueError, match="at least 2 classes"):
        XGBLandmarkClassifier(n_estimators=2, device="cpu").fit(X[:5], np.array(["A"] * 5))


def test_gpu_hist_is_mapped_to_hist_on_cuda():
    with pytest.warns(FutureWarning, match="gpu_hist.*tree_method='hist', device='cuda'"):
        assert trees._resolve_device("auto", "gpu_hist") == ("cuda", "hist")
    with pytest.raises(ValueError, match="device must be one of"):
        trees._resolve_device("tpu", "hist")
    with pytest.raises(ValueError, match="tree_method must be"):
        trees._resolve_device("cpu", "gpu_exact")


def test_auto_device_follows_gpu_visibility(monkeypatch):
    monkeypatch.setattr(trees, "_xgboost_has_cuda", lambda: True)
    monkeypatch.setattr(trees, "gpu_available", lambda: False)
    assert trees._resolve_device("auto", "hist") == ("cpu", "hist")
    monkeypatch.setattr(trees, "gpu_available", lambda: True)
    assert trees._resolve_device("auto", "hist") == ("cuda", "hist")
    assert trees._resolve_device("cpu", "hist") == ("cpu", "hist")
    # xgboost-cpu (the xgb extra) has no CUDA: 'auto' stays on the CPU even with a GPU visible.
    monkeypatch.setattr(trees, "_xgboost_has_cuda", lambda: False)
    assert trees._resolve_device("auto", "hist") == ("cpu", "hist")


def test_the_installed_xgboost_reports_its_cuda_build():
    import xgboost

    assert trees._xgboost_has_cuda() is bool(xgboost.build_info()["USE_CUDA"])


def test_a_missing_extra_is_one_line_in_the_cli(monkeypatch, tmp_path):
    import sys

    from click.testing import CliRunner

    from landmark_asl.cli import main

    monkeypatch.setitem(sys.modules, "xgboost", None)  # as if the xgb extra were not installed
    with pytest.raises(ImportError, match=r"xgb models need xgboost, which is not installed: "
                                          r"pip install 'landmark_asl\[xgb\]'"):
        trees._xgboost_has_cuda()
    monkeypatch.delitem(sys.modules, "landmark_asl.serve.app", raising=False)
    # Every starlette module, also those other tests imported already (a cached submodule would load),
    # and uvicorn, so that the server could never start and block the suite.
    for name in [m for m in sys.modules if m.split(".")[0] in ("starlette", "uvicorn")] + ["starlette", "uvicorn"]:
        monkeypatch.setitem(sys.modules, name, None)
    result = CliRunner(mix_stderr=False).invoke(main, ["serve", "--port", "0"])
    assert result.exit_code == 1, result.output
    assert result.stderr == ("Error: landmark-asl serve needs the 'serve' extra (starlette.applications is missing): "
                             "pip install 'landmark_asl[serve]'\n")


def test_gpu_hidden_by_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert gpu_available() is False


def test_auto_device_fits_without_warnings_on_this_machine(synthetic_landmarks):
    X, y = synthetic_landmarks
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = XGBLandmarkClassifier(n_estimators=3).fit(X, y)
        clf.predict_proba(X[:2])
    assert clf.device_ == ("cuda" if gpu_available() else "cpu")


@pytest.mark.gpu
def test_xgb_trains_on_cuda(synthetic_landmarks):
    if not gpu_available():
        pytest.fail("`pytest -m gpu` needs an NVIDIA GPU; none is visible")
    X, y = synthetic_landmarks
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gpu = XGBLandmarkClassifier(n_estimators=20, device="cuda").fit(X, y)
        proba = gpu.predict_proba(X)
    assert gpu.device_ == "cuda"
    cpu = XGBLandmarkClassifier(n_estimators=20, device="cpu").fit(X, y)
    assert (gpu.predict(X) == cpu.predict(X)).mean() > 0.95
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


def _rows_with_nan(Z: np.ndarray) -> np.ndarray:
    Z = Z.copy()
    Z[::3, ::5] = np.nan
    return Z


def test_compiled_forest_equals_sklearn(synthetic_landmarks):
    X, y = synthetic_landmarks
    pipe = make_estimator("rf", n_estimators=25, random_state=1).fit(X, y)
    Z = pipe.named_steps["normalizer"].transform(X)
    forest = pipe.named_steps["clf"]
    for data in (Z, _rows_with_nan(Z)):
        expected = RandomForestClassifier.predict_proba(forest, data)
        got = np.array([forest.predict_proba_one(z) for z in data])
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_compiled_forest_on_noisy_data_with_deep_trees():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6))
    y = rng.integers(0, 5, size=400).astype(str)
    forest = RandomForestClassifier(n_estimators=15, random_state=0).fit(X, y)
    compiled = CompiledTrees.from_sklearn(forest)
    assert compiled.depth > 8
    test = rng.normal(size=(200, 6))
    got = np.array([compiled.predict_proba_one(x) for x in test])
    np.testing.assert_allclose(got, forest.predict_proba(test), atol=1e-12)


def test_compiled_xgboost_equals_booster(synthetic_landmarks):
    X, y = synthetic_landmarks
    pipe = make_estimator("xgb", n_estimators=15, device="cpu").fit(X, y)
    Z = pipe.named_steps["normalizer"].transform(X)
    clf = pipe.named_steps["clf"]
    for data in (Z, _rows_with_nan(Z)):
        expected = clf.predict_proba(data)
        got = np.array([clf.predict_proba_one(z) for z in data])
        np.testing.assert_allclose(got, expected, atol=1e-6)
