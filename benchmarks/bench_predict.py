"""Benchmark: single-sample prediction latency of saved rf/xgb models and XGBoost fit time.

Trains each landmark model on a landmark table (default: the plain-detector asl2text/train table of tools/extract_plain.py,
else synthetic landmarks), saves and reloads it, then times ``LoadedModel.predict_proba_one``
(features + classifier, one raw row of 127 values) against the plain scikit-learn /
xgboost one-row calls. With ``--fit-samples`` it also times one XGBoost fit on that many
(augmented) rows with ``--fit-jobs`` threads. Prints a Markdown table.

Usage::

    python benchmarks/bench_predict.py [--table PATH] [--repeats 2000] [--fit-samples 20000 --fit-jobs 2]
    python benchmarks/bench_predict.py --model models/default --table .cache/landmarks/<asl2text_test>.parquet

``--model DIR`` times that saved model (e.g. the shipped one) instead of training new ones.

``--images N`` times photo -> letter with the shipped model on N real photos (asl2text/test,
``$LANDMARK_ASL_DATA``): the recognizer (``landmark_asl.load_model().predict``, one extractor
reused) against the path before it (what ``predict_images`` did for one image and
``/api/predict`` for every upload: a new MediaPipe extractor per call), one image from a cold
start each and an N-image loop::

    python benchmarks/bench_predict.py --images 100
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from landmark_asl.estimators.features import augment_landmarks, raw_features
from landmark_asl.estimators.registry import make_estimator
from landmark_asl.model.store import load_model, save_model

DEFAULT_TABLE = Path(".cache/plain/asl2text_train.parquet")  # written by tools/extract_plain.py


def _data(table: Path | None) -> tuple[np.ndarray, np.ndarray, str]:
    if table is not None and table.is_file():
        frame = pd.read_parquet(table) if table.suffix == ".parquet" else pd.read_csv(table)
        frame = frame[frame["detected"].astype(bool)]
        return raw_features(frame), frame["label"].to_numpy(), str(table)
    # The test suite's seeded synthetic landmarks (tests/conftest.py), loaded by path: tests/ is no package.
    import importlib.util

    spec = importlib.util.spec_from_file_location("conftest", Path(__file__).resolve().parent.parent / "tests" / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    make_synthetic_landmarks = conftest.make_synthetic_landmarks

    X, y = make_synthetic_landmarks(n_per_class=150, labels=tuple("ABCDEFGHIKLMNOPQRSTUVWXY"))
    return X, y, "synthetic"


def _percentiles(func, rows: np.ndarray, repeats: int, qs: tuple[float, ...] = (50, 90, 99)) -> tuple[float, ...]:
    for row in rows[:50]:
        func(row)
    times = np.empty(repeats)
    for i in range(repeats):
        row = rows[i % len(rows)]
        start = time.perf_counter()
        func(row)
        times[i] = time.perf_counter() - start
    return tuple(float(v) for v in np.percentile(times, qs) * 1e3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--table", type=Path, default=DEFAULT_TABLE)
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--models", default="rf,xgb")
    parser.add_argument("--fit-samples", type=int, default=0, help="time an XGBoost fit on this many rows")
    parser.add_argument("--fit-jobs", type=int, default=2)
    parser.add_argument("--model", type=Path, default=None, help="time this saved model instead (e.g. models/default)")
    parser.add_argument("--images", type=int, default=0, help="time photo -> letter on this many real photos")
    args = parser.parse_args(argv)
    if args.images:
        return bench_images(args.images)

    X, y, source = _data(args.table)
    rng = np.random.default_rng(0)
    rows = X[rng.permutation(len(X))[:500]].astype(np.float64)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"data: {source} ({len(X)} rows, {len(np.unique(y))} classes); load average {load:.1f}; "
          f"{os.cpu_count()} CPUs\n")
    print("| model | path | p50 ms | p90 ms | p99 ms |")
    print("| --- | --- | --- | --- | --- |")
    if args.model is not None:
        loaded = load_model(args.model)
        p50, p90, p95, p99 = _percentiles(loaded.predict_proba_one, rows, args.repeats, qs=(50, 90, 95, 99))
        print(f"| {args.model} ({loaded.card.name}) | LoadedModel.predict_proba_one (features + classifier"
              f"{' + temperature' if loaded.card.calibration else ''}) | {p50:.3f} | {p90:.3f} | {p99:.3f} |")
        print(f"\np95 {p95:.3f} ms")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            start = time.perf_counter()
            estimator = make_estimator(name).fit(X, y)
            fit_s = time.perf_counter() - start
            loaded = load_model(save_model(estimator, Path(tmp) / name, name=name))
            clf = estimator.named_steps["clf"]
            norm = estimator.named_steps["normalizer"]
            paths = {
                "LoadedModel.predict_proba_one (features + classifier)": loaded.predict_proba_one,
                "normalizer only (transform_array, 1 row)": lambda r, norm=norm: norm.transform_array(r[None]),
                "Pipeline.predict_proba (1 row, sklearn path)": (
                    lambda r, estimator=estimator: estimator.predict_proba(r[None])),
            }
            if name == "xgb":
                z32 = norm.transform_array(rows).astype(np.float32)
                rotation = iter(range(10**9))  # a new row each call, as a live loop sees
                paths["xgboost inplace_predict (classifier only)"] = (
                    lambda r, clf=clf, z32=z32, it=rotation: clf.booster_.inplace_predict(z32[next(it) % len(z32)][None])
                )
            for label, func in paths.items():
                p50, p90, p99 = _percentiles(func, rows, args.repeats)
                print(f"| {name} | {label} | {p50:.3f} | {p90:.3f} | {p99:.3f} |", flush=True)
            print(f"| {name} | fit on {len(X)} rows (1 thread), s | {fit_s:.1f} | | |", flush=True)
    if args.fit_samples:
        copies = max(0, int(np.ceil(args.fit_samples / len(X))) - 1)
        X_big, y_big = augment_landmarks(X, y, n_copies=copies, random_state=0)
        X_big, y_big = X_big[: args.fit_samples], y_big[: args.fit_samples]
        estimator = make_estimator("xgb", n_jobs=args.fit_jobs)
        start = time.perf_counter()
        estimator.fit(X_big, y_big)
        print(f"\nxgb fit on {len(X_big)} rows, {len(np.unique(y_big))} classes, n_jobs={args.fit_jobs}, "
              f"device={estimator.named_steps['clf'].device_}: {time.perf_counter() - start:.1f} s")
    return 0


def old_predict(model, path: Path) -> str:
    """Photo -> letter as before the recognizer: a new extractor for the call (predict_images, /api/predict)."""
    from landmark_asl.estimators.features import raw_features_from_hands
    from landmark_asl.hands.extractor import HandLandmarkExtractor
    from landmark_asl.hands.images import read_image

    with HandLandmarkExtractor(model.card.extractor_settings) as extractor:
        hand = extractor.extract(read_image(path)).landmarks
    if hand is None:
        return model.card.no_hand_label
    return str(model.classes[model.predict_proba(raw_features_from_hands([hand]))[0].argmax()])


_COLD = """
import sys, time
start, cpu = time.perf_counter(), time.process_time()
from landmark_asl.hands.extractor import quiet_native_logs
quiet_native_logs()
if sys.argv[1] == "before":
    from bench_predict import old_predict  # run from this folder (cwd)
    from landmark_asl.model.store import load_model
    label = old_predict(load_model(None), sys.argv[2])
else:
    import landmark_asl as la
    label = la.load_model().predict(sys.argv[2]).label
print(time.perf_counter() - start, time.process_time() - cpu)
"""


def _cold_seconds(photo: Path, repeats: int = 5) -> dict[str, tuple[float, float]]:
    """Median seconds from the first import to the first letter, each in a fresh interpreter, the two paths interleaved."""
    import subprocess

    times: dict[str, list[tuple[float, float]]] = {"before": [], "recognizer": []}
    for i in range(repeats):
        for path in (("before", "recognizer") if i % 2 == 0 else ("recognizer", "before")):
            out = subprocess.run([sys.executable, "-c", _COLD, path, str(Path(photo).resolve())],
                                 check=True, capture_output=True, text=True, cwd=Path(__file__).parent).stdout
            wall, cpu = out.split()[-2:]
            times[path].append((float(wall), float(cpu)))
    return {path: tuple(np.median(np.array(t), axis=0)) for path, t in times.items()}


def bench_images(n: int) -> int:
    """One photo from a cold start and an ``n``-photo loop: the recognizer against a new extractor per call."""
    import landmark_asl as la
    from landmark_asl.data.datasets import data_root
    from landmark_asl.hands.extractor import quiet_native_logs

    quiet_native_logs()
    photos = sorted((data_root() / "asl2text" / "test").rglob("*.jpg"))
    photos = [photos[i] for i in np.linspace(0, len(photos) - 1, n).astype(int)]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{n} photos of asl2text/test, shipped model; load average {load:.1f}; {os.cpu_count()} CPUs\n")
    print("| path | one photo from a fresh process (imports + load + extractor + predict; median of 5, order "
          "alternated): wall / CPU s | loop of N photos, s | per photo, ms |")
    print("| --- | ---: | ---: | ---: |")
    rows = {}
    colds = _cold_seconds(photos[0])
    for name in ("before: new extractor per call", "recognizer: load_model().predict, extractor reused"):
        cold_wall, cold_cpu = colds["before" if name.startswith("before") else "recognizer"]
        if name.startswith("before"):
            model = load_model(None)
            first = old_predict(model, photos[0])
        else:
            recognizer = la.load_model()
            first = recognizer.predict(photos[0]).label
        start = time.perf_counter()
        if name.startswith("before"):
            labels = [old_predict(model, p) for p in photos]
        else:
            labels = [recognizer.predict(p).label for p in photos]
        loop = time.perf_counter() - start
        rows[name] = labels
        print(f"| {name} | {cold_wall:.2f} / {cold_cpu:.2f} | {loop:.1f} | {1000 * loop / n:.0f} |", flush=True)
        assert first == labels[0]
    same = np.mean([a == b for a, b in zip(*rows.values())])
    print(f"\nsame letter from both paths on {100 * same:.0f}% of the photos")
    return 0


if __name__ == "__main__":
    sys.exit(main())
