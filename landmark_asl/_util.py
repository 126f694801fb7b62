"""Small private helpers shared by every module: atomic writes, file locks, file hashes, package versions, GPU detection, optional imports."""

from __future__ import annotations

import contextlib
import fcntl  # POSIX: the only platforms this library is tested on
import hashlib
import importlib
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from landmark_asl.exceptions import LockedError, MissingExtraError

#: Deepest nesting of JSON objects and lists that :func:`load_json` accepts (our files nest 4 deep).
MAX_JSON_DEPTH = 64

#: Packages whose versions shape results; recorded in every artefact's metadata.
RESULT_PACKAGES: tuple[str, ...] = (
    "landmark_asl", "mediapipe", "numpy", "scikit-learn", "xgboost", "torch", "pandas", "opencv-contrib-python",
)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def public_mode(path: str | os.PathLike, *, directory: bool = False) -> None:
    """Give ``path`` the permissions a plain ``open()``/``mkdir()`` would (0666/0777 less the umask).

    ``tempfile`` creates files 0600 and folders 0700; an artefact moved into place from
    there would otherwise be unreadable to other users.
    """
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Write ``path`` atomically: ``write(tmp)`` fills a temporary file beside it, then it is moved into place.

    A reader sees the old file or the new one, never half of one; an interrupted write
    leaves no partial file. The result has the usual permissions (umask), not 0600.

    Parameters
    ----------
    path : str or path-like
        Destination file. Its folder must exist.
    write : callable
        Called with the temporary path; must create that file.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        public_mode(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.filename is None and exc.errno is not None:  # e.g. a full disk: say which file could not be written
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write text (UTF-8) to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def load_json(text: str | bytes) -> Any:
    """``json.loads`` that refuses JSON nested deeper than :data:`MAX_JSON_DEPTH` with a ValueError.

    Plain ``json.loads`` raises ``RecursionError`` (not a ValueError) on input nested some
    thousands deep, and values nested hundreds deep break later recursive code; callers that
    turn ``ValueError`` into a one-line message thus cover both.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"JSON nested too deep (more than {MAX_JSON_DEPTH} levels)") from None
    level = [value]
    for _ in range(MAX_JSON_DEPTH):
        level = [v for item in level if isinstance(item, (dict, list))
                 for v in (item.values() if isinstance(item, dict) else item)]
        if not level:
            return value
    raise ValueError(f"JSON nested too deep (more than {MAX_JSON_DEPTH} levels)")


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package_versions(names: Iterable[str] = RESULT_PACKAGES) -> dict[str, str]:
    """Python's version and each installed package's (``'not installed'`` where absent)."""

    out = {"python": platform.python_version()}
    for name in names:
        out[name] = "not installed"
        for dist in _DISTRIBUTIONS.get(name, (name,)):
            try:
                out[name] = version(dist)
                break
            except PackageNotFoundError:
                continue
    return out


#: Distributions that install the same module: the ``xgb`` extra installs ``xgboost-cpu``
#: (xgboost without CUDA), a GPU machine ``xgboost``; either is recorded as "xgboost".
_DISTRIBUTIONS = {"xgboost": ("xgboost", "xgboost-cpu")}


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform says, else all)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def gpu_available() -> bool:
    """Whether an NVIDIA GPU looks visible, checked cheaply (no CUDA initialisation).

    Returns
    -------
    bool
        True when ``/dev/nvidia0`` exists or ``nvidia-smi`` is on the PATH, and
        ``CUDA_VISIBLE_DEVICES`` does not hide every device.
    """
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return os.path.exists("/dev/nvidia0") or shutil.which("nvidia-smi") is not None


@contextlib.contextmanager
def exclusive_lock(target: str | os.PathLike, purpose: str) -> Iterator[Path]:
    """Hold an exclusive lock on ``target`` through the file ``<target>.lock`` beside it.

    A second holder fails at once (no waiting) with a message that names the first: its
    process id, what it does and when it started, read from the lock file. The lock is an
    ``fcntl.flock`` on that file, so it is released by the kernel when its process dies
    (kill -9 included); the file is removed on a clean exit.

    Parameters
    ----------
    target : str or path-like
        The file to be written under the lock.
    purpose : str
        Shown to a second process, e.g. ``'landmark-asl extract'``.

    Yields
    ------
    Path
        The lock file.

    Raises
    ------
    LockedError
        Another process holds the lock.
    """

    target = Path(target)
    lock = target.with_name(target.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise LockedError(
                f"{target} is being written by {holder}; wait for it to finish, or write to another file"
            ) from None
        # The previous holder may have removed the file between our open and our lock: retry
        # on the file that is there now, so that two processes never lock different files.
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"process {os.getpid()} ({purpose}, started {started})\n".encode(), 0)
        yield lock
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)


def import_extra(module: str, *, extra: str, purpose: str):
    """Import an optional dependency, or raise a one-line :class:`MissingExtraError` naming the extra.

    Parameters
    ----------
    module : str
        Module to import, e.g. ``'xgboost'``.
    extra : str
        The ``landmark_asl[...]`` extra that installs it.
    purpose : str
        What needs it, e.g. ``'xgb models'``.
    """

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{purpose} need{'s' if not purpose.endswith('s') else ''} {exc.name or module}, which is not installed: "
            f"pip install 'landmark_asl[{extra}]'"
        ) from exc


def lazy_attributes(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``names[name]`` (a module path) on first use of ``name``.

    Packages re-export their public names through it, so that importing the package stays as
    cheap as ``--help`` needs (PEP 562).
    """

    def __getattr__(name: str) -> Any:
        try:
            module = names[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        return getattr(importlib.import_module(module), name)

    return __getattr__
