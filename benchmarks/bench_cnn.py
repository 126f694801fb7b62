"""Measure the pixel CNN baseline: same-set and cross-dataset accuracy, training and prediction time.

Experiments (``--experiments``, comma-separated):

- ``sms28``: ``sign_mnist_style_28``, stratified random 80/20 split (``make_split``, seed 0),
  28x28 gray; the same model is then tested on the real Sign MNIST rows (``sign_mnist_rows``).
- ``asl2text``: ``asl2text/train`` -> ``asl2text/test`` (another recording session), colour,
  ``--image-size`` (28, like the library default); the same model is then tested on the ``massey`` letters.

Run: ``python benchmarks/bench_cnn.py --output results/cnn_bench.json``. Reads the data from
``landmark_asl.data.datasets.data_root()``; downloads nothing.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from landmark_asl.cnn import AUGMENT_RANGES, PixelCNNClassifier, load_pixels
from landmark_asl.data.datasets import drop_duplicates, load_manifest
from landmark_asl.data.splits import apply_split, make_cross_dataset_split, make_split


def pixels_for(manifest: pd.DataFrame, image_size: int, grayscale: bool, cache: Path | None, key: str) -> np.ndarray:
    """Load (or reuse a cached copy of) the manifest's pixels; the cache is keyed by sample ids."""
    if cache is not None:
        path = cache / f"{key}_{image_size}_{'gray' if grayscale else 'rgb'}.npz"
        if path.is_file():
            stored = np.load(path)
            if list(stored["sample_id"]) == list(manifest["sample_id"]):
                return stored["pixels"]
    pixels, failed = load_pixels(manifest, image_size=image_size, grayscale=grayscale, return_failed=True)
    if failed.any():
        raise SystemExit(f"{failed.sum()} images of {key} could not be read")
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(path, pixels=pixels, sample_id=manifest["sample_id"].to_numpy().astype(str))
    return pixels


def score(clf: PixelCNNClassifier, pixels: np.ndarray, labels: np.ndarray, kept: list[str] | None = None) -> dict:
    """Accuracy over all classes the model knows, and (``kept``) restricted to the shared classes."""
    start = time.perf_counter()
    proba = clf.predict_proba(pixels)
    elapsed = time.perf_counter() - start
    result = {
        "n": int(len(labels)),
        "accuracy": float(np.mean(clf.classes_[proba.argmax(1)] == labels)),
        "predict_ms_per_image": 1000 * elapsed / len(labels),
    }
    if kept is not None:
        columns = np.isin(clf.classes_, kept)
        restricted = clf.classes_[columns][proba[:, columns].argmax(1)]
        result["accuracy_shared_classes_only"] = float(np.mean(restricted == labels))
    return result


def fit(params: dict, pixels: np.ndarray, labels: np.ndarray) -> tuple[PixelCNNClassifier, dict]:
    start = time.perf_counter()
    cpu = time.process_time()
    clf = PixelCNNClassifier(**params).fit(pixels, labels)
    info = {
        "n_train": int(len(labels)),
        "fit_seconds": time.perf_counter() - start,
        "fit_cpu_seconds": time.process_time() - cpu,
        "epochs_run": len(clf.history_),
        "best_epoch": clf.best_epoch_,
        "params": clf.get_params(),
    }
    return clf, info


def common_params(args: argparse.Namespace) -> dict:
    return {"epochs": args.epochs, "random_state": args.seed, "n_jobs": args.n_jobs, "verbose": args.verbose}


def run_sms28(args: argparse.Namespace) -> dict:
    manifest, _ = load_manifest("sign_mnist_style_28")
    split = apply_split(manifest, make_split(manifest, "random", test_size=0.2, random_state=0))
    pixels = pixels_for(split, 28, True, args.cache, "sms28")
    train = (split["split"] == "train").to_numpy()
    labels = split["label"].to_numpy()
    params = {"image_size": 28, **common_params(args)}
    clf, info = fit(params, pixels[train], labels[train])
    result = {"train": "sign_mnist_style_28 (80% stratified, seed 0)", **info}
    result["test_same_set"] = score(clf, pixels[~train], labels[~train])
    rows, _ = load_manifest("sign_mnist_rows")
    rows = drop_duplicates(rows)
    cross, kept, dropped = make_cross_dataset_split(split[train], rows)
    rows = apply_split(rows, cross)
    rows = rows[rows["split"] == "test"].reset_index(drop=True)
    row_pixels = pixels_for(rows, 28, True, args.cache, "sign_mnist_rows")
    result["test_sign_mnist_rows"] = score(clf, row_pixels, rows["label"].to_numpy(), kept)
    result["test_sign_mnist_rows"]["dropped_labels"] = dropped
    return result


def run_asl2text(args: argparse.Namespace) -> dict:
    train_m, _ = load_manifest("asl2text/train")
    test_m, _ = load_manifest("asl2text/test")
    size = args.image_size
    train_x = pixels_for(train_m, size, False, args.cache, "asl2text_train")
    params = {"image_size": size, "grayscale": False, **common_params(args)}
    clf, info = fit(params, train_x, train_m["label"].to_numpy())
    result = {"train": "asl2text/train (all of it)", **info}
    test_x = pixels_for(test_m, size, False, args.cache, "asl2text_test")
    result["test_asl2text_test"] = score(clf, test_x, test_m["label"].to_numpy())
    massey, _ = load_manifest("massey")
    cross, kept, dropped = make_cross_dataset_split(train_m, massey)
    massey = apply_split(massey, cross)
    massey = massey[massey["split"] == "test"].reset_index(drop=True)
    massey_x = pixels_for(massey, size, False, args.cache, "massey")
    result["test_massey_letters"] = score(clf, massey_x, massey["label"].to_numpy(), kept)
    result["test_massey_letters"]["dropped_labels"] = dropped
    return result


EXPERIMENTS = {"sms28": run_sms28, "asl2text": run_asl2text}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", default="sms28,asl2text")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--image-size", type=int, default=28, help="for the colour experiment")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--cache", type=Path, default=None, help="folder for cached pixel arrays (outside the repo)")
    parser.add_argument("--verbose", type=int, default=0, help="1: one line per training epoch on stderr")
    parser.add_argument("--output", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()
    import torch

    results = {
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "cuda": torch.cuda.is_available()},
        "augment_ranges": AUGMENT_RANGES,
        "experiments": {},
    }
    for name in args.experiments.split(","):
        results["experiments"][name] = EXPERIMENTS[name](args)
        print(json.dumps({name: results["experiments"][name]}, indent=2, default=str), flush=True)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
