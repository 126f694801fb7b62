"""Compare CNN augmentation / standardisation settings for transfer to the real Sign MNIST rows.

Each setting trains on the same 80% of ``sign_mnist_style_28`` (``make_split`` random, seed 0)
and is scored on the other 20%, on a fixed random half of the unique Sign MNIST rows ("dev",
seed 0, used to choose the default) and on the other half (looked at only afterwards).

Run: ``python experiments/exp_cnn_augment.py --settings mild+dataset,strong+dataset``.
Downloads nothing; docs/benchmarks.md ("The pixel CNN") holds the measured table.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from landmark_asl import cnn
from landmark_asl.data.datasets import drop_duplicates, load_manifest
from landmark_asl.data.splits import apply_split, make_split

AUGMENTATIONS: dict[str, dict[str, tuple[float, float]]] = {
    "mild": {
        "rotation": (-10.0, 10.0),
        "zoom": (0.92, 1.08),
        "shift": (-0.12, 0.12),
        "contrast": (0.8, 1.2),
        "brightness": (-0.1, 0.1),
    },
    "strong": dict(cnn.AUGMENT_RANGES),  # the shipped default
    "stronger": {
        "rotation": (-20.0, 20.0),
        "zoom": (0.9, 1.6),
        "shift": (-0.25, 0.25),
        "contrast": (0.5, 1.7),
        "brightness": (-0.3, 0.3),
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--settings",
        default="mild+dataset,mild+image,strong+dataset,strong+image,stronger+dataset",
        help="comma-separated <augmentation>+<standardize>",
    )
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()

    manifest, _ = load_manifest("sign_mnist_style_28")
    split = apply_split(manifest, make_split(manifest, "random", test_size=0.2, random_state=0))
    X = cnn.load_pixels(split, image_size=28, grayscale=True)
    y = split["label"].to_numpy()
    train = (split["split"] == "train").to_numpy()
    rows, _ = load_manifest("sign_mnist_rows")
    rows = drop_duplicates(rows)
    R = cnn.load_pixels(rows, image_size=28, grayscale=True)
    ry = rows["label"].to_numpy()
    dev = np.random.default_rng(0).permutation(len(ry)) < len(ry) // 2

    default = dict(cnn.AUGMENT_RANGES)
    try:
        for setting in args.settings.split(","):
            augmentation, standardize = setting.split("+")
            cnn.AUGMENT_RANGES.clear()
            cnn.AUGMENT_RANGES.update(AUGMENTATIONS[augmentation])
            cpu = time.process_time()
            clf = cnn.PixelCNNClassifier(standardize=standardize, epochs=args.epochs, random_state=0)
            clf.fit(X[train], y[train])
            predicted = clf.predict(R)
            result = {
                "setting": setting,
                "fit_cpu_seconds": round(time.process_time() - cpu, 1),
                "epochs_run": len(clf.history_),
                "same_set_accuracy": float(np.mean(clf.predict(X[~train]) == y[~train])),
                "rows_dev_accuracy": float(np.mean(predicted[dev] == ry[dev])),
                "rows_other_half_accuracy": float(np.mean(predicted[~dev] == ry[~dev])),
                "rows_all_accuracy": float(np.mean(predicted == ry)),
                "n_rows_dev": int(dev.sum()),
                "n_rows_other_half": int((~dev).sum()),
            }
            print(json.dumps(result), flush=True)
    finally:
        cnn.AUGMENT_RANGES.clear()
        cnn.AUGMENT_RANGES.update(default)


if __name__ == "__main__":
    main()
