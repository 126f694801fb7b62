"""Benchmark: a saved model's accuracy and time per photo through ``predict`` (``landmark_asl.load_model(views=...).predict``), per signer folder.

Runs the library's own photo path (extractor with the card's settings, the chosen extra views,
probabilities averaged) on folders of labelled photos (``<folder>/<LABEL>/*.jpg``) and prints,
per folder: photos, hand found, accuracy on all photos and on those with a hand, the most
frequent wrong answers, and the median time per photo (model and extractor loaded once,
not counted). Used for the shipped model on each ml_slr signer (issue 21: a report, never used
to choose) and for the time of one photo's ``predict`` with and without views.

Usage::

    python benchmarks/bench_photos.py [--model models/default] [--views mirror] [FOLDER ...]
        (default folders: ml_slr/user_3 .. user_10 under the data root)
    python benchmarks/bench_photos.py --timing 100 --views mirror [FOLDER ...]

``--timing N``: the time of one photo's answer (read, landmarks, views, probabilities) on N
photos, with no view and with ``--views``, alternating photo by photo so that both see the same
machine load; prints the medians and their ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from landmark_asl.data.datasets import data_root
from landmark_asl.labels import normalize_label
from landmark_asl.model.store import load_model

from _common import add_model

SIGNERS = [f"ml_slr/user_{i}" for i in (3, 4, 5, 6, 7, 9, 10)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", default=SIGNERS)
    add_model(parser)
    parser.add_argument("--views", default="none", help="Comma-separated views, or 'none'.")
    parser.add_argument("--timing", type=int, default=0, metavar="N")
    args = parser.parse_args(argv)
    from landmark_asl.hands.extractor import quiet_native_logs
    from landmark_asl.model.recognizer import Recognizer, prediction_row

    quiet_native_logs()
    views = () if args.views == "none" else tuple(args.views.split(","))
    model = load_model(args.model)
    if args.timing:
        return timing(model, args.folders, views, args.timing)
    print(f"model {args.model or 'models/default'}, views {list(views) or 'none'}")
    print("| folder | photos | hand found | accuracy, all | accuracy, with a hand | median ms per photo | most frequent errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    total = Counter()
    for folder in args.folders:
        root = Path(folder) if Path(folder).is_dir() else data_root() / folder
        photos = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        results, seconds = [], []
        recognizer = Recognizer(model, views=views)
        iterator = (prediction_row(str(p), recognizer.predict(p)) for p in photos)
        while True:
            start = time.perf_counter()
            result = next(iterator, None)
            if result is None:
                break
            seconds.append(time.perf_counter() - start)
            results.append(result)
        truth = [normalize_label(p.parent.name) for p in photos]
        right = np.array([r["label"] == t for r, t in zip(results, truth)])
        found = np.array([bool(r["detected"]) for r in results])
        errors = Counter(f"{t}->{r['label'] or '-'}" for r, t in zip(results, truth) if r["label"] != t)
        total.update({"n": len(photos), "right": int(right.sum()), "found": int(found.sum()),
                      "right_found": int(right[found].sum())})
        # The first photo pays for the extractor's warm-up: left out of the median.
        print(f"| {folder} | {len(photos)} | {found.mean():.1%} | {right.mean():.1%} | {right[found].mean():.1%} | "
              f"{1000 * np.median(seconds[1:]):.1f} | {', '.join(f'{k} {v}' for k, v in errors.most_common(5))} |")
    print(f"\nall: {total['right'] / total['n']:.1%} of {total['n']} photos, "
          f"{total['right_found'] / max(total['found'], 1):.1%} of those with a hand")
    return 0


def timing(model, folders: list[str], views: tuple[str, ...], n: int) -> int:
    """Median time of one photo's answer with no view and with ``views``, alternating photo by photo."""
    from landmark_asl.hands.extractor import HandLandmarkExtractor
    from landmark_asl.hands.images import read_image
    from landmark_asl.hands.views import photo_probabilities

    photos = sorted(p for f in folders for p in (Path(f) if Path(f).is_dir() else data_root() / f).rglob("*")
                    if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    photos = photos[:: max(1, len(photos) // n)][:n]
    seconds: dict[tuple[str, ...], list[float]] = {(): [], views: []}
    n_viewed = 0
    with HandLandmarkExtractor(model.card.extractor_settings) as extractor:
        photo_probabilities(model, extractor, read_image(photos[0]), views)  # warm-up
        for i, photo in enumerate(photos):
            for chosen in ((), views) if i % 2 else (views, ()):
                start = time.perf_counter()
                _, hands, _ = photo_probabilities(model, extractor, read_image(photo), chosen)
                seconds[chosen].append(time.perf_counter() - start)
                n_viewed += len(hands) > 1
    plain, viewed = (1000 * np.median(seconds[k]) for k in ((), views))
    mean_plain, mean_viewed = (1000 * np.mean(seconds[k]) for k in ((), views))
    print(f"{len(photos)} photos (views used on {n_viewed}): median {plain:.1f} ms with no view, {viewed:.1f} ms "
          f"with {list(views)} ({viewed / plain:.2f}x); mean {mean_plain:.1f} ms and {mean_viewed:.1f} ms "
          f"({mean_viewed / mean_plain:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
