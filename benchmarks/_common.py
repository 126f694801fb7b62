"""What the benchmarks share: the landmark cache, model and worker options, and timing.

The benchmarks are run as scripts with the package installed (``python benchmarks/bench_x.py``,
from any folder); Python puts this folder first on ``sys.path``, so they import this module as
``_common``. They import the library, never each other.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from landmark_asl.model.store import default_model_dir
from landmark_asl.paths import landmark_cache_dir


def add_cache_dir(parser: argparse.ArgumentParser) -> None:
    """``--cache-dir``: the landmark cache, by default the package's per-user cache (``landmark_asl.paths``)."""
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help=f"Landmark cache folder (default: the per-user cache, now {landmark_cache_dir()}).")


def add_model(parser: argparse.ArgumentParser) -> None:
    """``--model``: a model directory, by default the shipped one."""
    parser.add_argument("--model", type=Path, default=None,
                        help=f"Model directory (default: the shipped model, {default_model_dir()}).")


def add_n_jobs(parser: argparse.ArgumentParser, default: int = 2) -> None:
    """``--n-jobs``: worker processes for extraction and training."""
    parser.add_argument("--n-jobs", type=int, default=default, help="Worker processes.")




@contextlib.contextmanager
def stopwatch() -> Iterator[dict[str, float]]:
    """Time a block: ``with stopwatch() as clock: ...`` then ``clock["seconds"]`` (wall clock)."""
    clock = {"seconds": 0.0}
    start = time.perf_counter()
    try:
        yield clock
    finally:
        clock["seconds"] = time.perf_counter() - start
