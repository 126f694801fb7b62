"""Shared, seeded fixtures: the real data root and small samples of real images."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from landmark_asl.data.datasets import data_root, load_manifest


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Root of the real datasets (``$LANDMARK_ASL_DATA`` or ``../shared/data``)."""
    root = data_root()
    if not (root / "README.md").is_file():
        pytest.fail(f"real data not found at {root}: set LANDMARK_ASL_DATA to the shared data folder")
    return root


def pick_images(folder: Path, per_class: int, *, step: int = 1) -> list[Path]:
    """Return ``per_class`` images from each class folder of ``folder``, deterministically."""
    picked: list[Path] = []
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = sorted(f for f in class_dir.iterdir() if f.suffix.lower() in {".jpg", ".jpeg", ".png"})
        picked.extend(files[::step][:per_class])
    return picked


# --- synthetic landmarks -----------------------------------------------------


def make_synthetic_landmarks(n_per_class: int = 30, labels: tuple[str, ...] = ("A", "B", "C", "NOTHING"), seed: int = 0):
    """Raw (n, 127) landmark rows: per-class hand templates plus noise, seen by random cameras.

    Each row is its class template jittered, then rotated in the image plane, scaled,
    translated and, for about half the rows, mirrored with ``is_left = 1``, so the
    normalised features of one class stay close. World columns hold the unrotated jittered
    template (metres), as MediaPipe's world landmarks would.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    templates = rng.normal(0.0, 0.05, size=(len(labels), 21, 3))
    templates[:, 0] = 0.0
    templates[:, 9, :2] = (0.0, -0.1)  # middle knuckle above the wrist
    rows, y = [], []
    for k, label in enumerate(labels):
        for _ in range(n_per_class):
            hand = templates[k] + rng.normal(0.0, 0.004, size=(21, 3))
            world = hand.copy()
            angle = rng.uniform(-np.pi / 4, np.pi / 4)
            c, s = np.cos(angle), np.sin(angle)
            image = hand.copy()
            image[:, 0], image[:, 1] = c * hand[:, 0] - s * hand[:, 1], s * hand[:, 0] + c * hand[:, 1]
            image *= rng.uniform(0.7, 1.5)
            left = rng.random() < 0.5
            if left:
                image[:, 0] *= -1
                world[:, 0] *= -1
            image[:, :2] += rng.uniform(0.3, 0.7, size=2)
            rows.append(np.concatenate([image.ravel(), world.ravel(), [float(left)]]))
            y.append(label)
    return np.asarray(rows, dtype=np.float32), np.asarray(y)


def synthetic_table(X, y, groups) -> pd.DataFrame:
    """A landmark table (as a landmark CSV gives it: every row with a hand) from raw rows ``X`` (n, 127).

    ``groups`` names each row's group and dataset.
    """
    import numpy as np

    from landmark_asl.estimators.features import RAW_FEATURE_NAMES

    table = pd.DataFrame(X[:, :126], columns=list(RAW_FEATURE_NAMES[:126]))
    table["handedness"] = np.where(X[:, 126] > 0.5, "Left", "Right")
    table["label"] = y
    table["detected"] = True
    table["strategy"] = "csv"
    table["dataset"] = groups
    table["group"] = groups
    return table


@pytest.fixture(scope="session")
def synthetic_landmarks():
    """``(X, y)``: 120 raw landmark rows (n, 127) of 4 classes (A, B, C, NOTHING), seeded."""
    return make_synthetic_landmarks()


@pytest.fixture(scope="session")
def manifests(data_dir: Path):
    """Each real dataset's manifest, loaded at most once per test session."""
    cache: dict[str, pd.DataFrame] = {}

    def get(source: str) -> pd.DataFrame:
        if source not in cache:
            manifest, rejected = load_manifest(source)
            assert rejected.empty, rejected.head().to_string()
            cache[source] = manifest
        return cache[source]

    return get


#: Letters of the small base model of :func:`small_base`.
SMALL_BASE_LETTERS = ("A", "B", "L", "V")


@pytest.fixture(scope="session")
def small_base(tmp_path_factory, data_dir) -> dict[str, Path]:
    """A small calibrated rf base model a personal model can be built from in seconds.

    Trained on asl2text photos (train and test sessions, 6 per letter each) of A, B, L, V; its
    card names those two folders as its training sources, whose landmarks are in ``cache``.
    """
    import shutil

    from landmark_asl.training.recipe import Recipe
    from landmark_asl.training.train import train_model

    root = tmp_path_factory.mktemp("small_base")
    sources = []
    for session, step in (("train", 10), ("test", 3)):
        folder = root / session
        for letter in SMALL_BASE_LETTERS:
            (folder / letter).mkdir(parents=True)
            for f in sorted((data_dir / "asl2text" / session / letter).glob("*.jpg"))[::step][:6]:
                shutil.copy(f, folder / letter / f.name)
        sources.append(folder)
    cache = root / "cache"
    base = train_model(sources, output=root / "base", recipe=Recipe.plain("rf", {"n_estimators": 10}).replace(calibrate=True),
                       cache_dir=cache, progress=False)
    return {"base": base, "cache": cache, "root": root}


# Real asl2text/test frames the shipped model reads reliably (smoothed confidence 0.85-0.97), for the
# live and web page tests (tests/live/test_loop.py, tests/serve/test_serve_browser.py).
#: (label folder, frame stems): two frames of each stem; None = grey hand-free frames.
HELLO = (
    (None, 5),
    ("H", [f"H{i}" for i in range(10)]),
    ("E", ["E4", "E5", "E6", "E10", "E13", "E14", "E15", "E16", "E21", "E23"]),
    ("L", [f"L{i}" for i in range(10)]),
    (None, 8),
    ("L", [f"L{i}" for i in range(10, 20)]),
    ("O", ["O5", "O6", "O8", "O19", "O5", "O6", "O8", "O19", "O5", "O6"]),
    (None, 5),
)
