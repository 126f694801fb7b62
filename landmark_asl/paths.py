"""Where landmark_asl keeps and finds files outside the working directory: the per-user cache and the data root."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir

#: Environment variable overriding the per-user cache folder (model bundle, landmark tables).
CACHE_ENV = "LANDMARK_ASL_CACHE"
#: Environment variable naming the folder that holds the datasets.
DATA_ENV = "LANDMARK_ASL_DATA"


def cache_dir() -> Path:
    """The per-user cache: ``$LANDMARK_ASL_CACHE``, else the platform's user cache folder.

    ``platformdirs.user_cache_dir('landmark_asl')``: ``~/.cache/landmark_asl`` on Linux
    (``$XDG_CACHE_HOME`` respected), ``~/Library/Caches/landmark_asl`` on macOS. Every command,
    the server and ``adapt`` use it, whatever the working directory, so landmarks extracted
    once are found again.
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()

    return Path(user_cache_dir("landmark_asl", appauthor=False))


def landmark_cache_dir() -> Path:
    """Folder of the cached landmark tables: ``cache_dir() / 'landmarks'``."""
    return cache_dir() / "landmarks"


def _checkout_data_root() -> Path | None:
    """``../shared/data`` beside a source checkout this package is imported from (None for an installed package)."""
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "setup.cfg").is_file() and (checkout / "landmark_asl").is_dir():
        return checkout.parent / "shared" / "data"
    return None


def data_root(*, required: bool = True) -> Path | None:
    """Folder holding the datasets: ``$LANDMARK_ASL_DATA``, else ``../shared/data`` beside a source checkout.

    An installed package has no default: outside a checkout the data root comes only from
    ``$LANDMARK_ASL_DATA`` (or pass dataset folders as paths).

    Parameters
    ----------
    required : bool
        Raise when there is none (else return None).

    Raises
    ------
    DatasetError
        ``required`` and neither the variable nor a checkout gives one.
    """
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    root = _checkout_data_root()
    if root is None and required:
        from landmark_asl.exceptions import DatasetError

        raise DatasetError(
            f"no data folder: set {DATA_ENV} to the folder holding the datasets (asl2text/, massey/ ...), "
            "or pass dataset folders and CSVs as paths"
        )
    return root
