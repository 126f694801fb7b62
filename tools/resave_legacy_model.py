"""Convert a model directory of landmark_asl 0.1 (format 1, a pickled forest) into the current pickle-free format.

``load_model`` never unpickles: a format-1 directory is refused. This script is the one
place that reads such a pickle, and only when told ``--trust-pickle`` (unpickling a file
runs whatever code its author put in it: convert only models you made yourself). The
forest comes out as the same trees (same probabilities), with the old metadata carried
into the new card.

Usage: ``python tools/resave_legacy_model.py OLD_DIR NEW_DIR --trust-pickle``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from landmark_asl.hands.extractor import ExtractorSettings
from landmark_asl.model.card import LEGACY_PICKLE
from landmark_asl.model.store import load_model, save_model

REPO = Path(__file__).resolve().parent.parent


def convert(old: Path, new: Path) -> Path:
    """Re-save the format-1 model ``old`` as ``new`` (may equal ``old``); returns ``new``."""
    import joblib
    from sklearn.pipeline import Pipeline

    from landmark_asl.estimators.features import N_RAW_FEATURES, LandmarkNormalizer
    from landmark_asl.estimators.trees import FastRandomForestClassifier

    meta = json.loads((old / "metadata.json").read_text())
    if meta.get("format_version") != 1 or meta["estimator"].get("storage") != "joblib":
        raise SystemExit(f"{old} is not a format-1 pickle model (format {meta.get('format_version')})")
    clf = joblib.load(old / LEGACY_PICKLE)  # the trusted, explicit unpickle
    if not isinstance(clf, FastRandomForestClassifier):
        raise SystemExit(f"{old}: expected a FastRandomForestClassifier, found {type(clf).__name__}")
    normalizer = LandmarkNormalizer(**meta["estimator"]["normalizer"]).fit(__import__("numpy").zeros((1, N_RAW_FEATURES)))
    estimator = Pipeline([("normalizer", normalizer), ("clf", clf)])
    kept = ("train_sources", "labels_kept", "label_counts", "fit_seconds", "random_state", "params", "metrics_note")
    training = {k: meta[k] for k in kept if k in meta}
    training["n_fit"] = meta.get("n_train")
    training["n_without_hand"] = meta.get("n_train_without_hand")
    training["resaved_from"] = {"format_version": 1, "created_at": meta.get("created_at"),
                                "package_versions": meta.get("package_versions")}
    save_model(estimator, new, name=meta["name"], extractor_settings=ExtractorSettings.from_dict(meta["extractor_settings"]),
               training=training, metrics=meta.get("metrics"), split_file_sha256=meta.get("split_file_sha256"),
               trained_labels=meta["classes"])
    load_model(new)  # verify
    return new


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--trust-pickle", action="store_true", required=True,
                        help="Required: you trust the author of OLD (unpickling runs code).")
    args = parser.parse_args(argv)
    path = convert(args.old, args.new)
    size = sum(p.stat().st_size for p in path.iterdir())
    print(f"{path}: {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
