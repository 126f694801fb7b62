"""Shared, seeded fixtures: the real data root and small samples of real images."""

from __future__ import annotations

from pathlib import Path

import pytest

from landmark_asl.datasets import data_root


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
