"""The web server's settings: ``ServeSettings`` (limits, live settings, personal folders, allowed hosts) and its default address.

Apart from the app so that the command line reads these defaults without the ``serve`` extra.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from landmark_asl.live.settings import LiveSettings

#: Interface and TCP port :func:`landmark_asl.serve.app.run_app` binds by default: this machine only.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

#: Host names every server answers to (this machine); others only through ``allowed_hosts``.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


@dataclass(frozen=True)
class ServeSettings:
    """Limits of the server and the live settings of every connection.

    Attributes
    ----------
    max_upload_bytes : int
        Largest request body of ``POST /api/predict`` (413 above).
    max_frame_bytes : int
        Largest WebSocket frame; a 640x480 JPEG at quality 0.8 is 30-80 KB.
    max_frame_side : int
        Frames are downscaled so their longer side is at most this before detection.
    max_connections : int
        WebSocket connections served at once; one more is told so and closed (code 1013).
    max_uploads : int
        ``POST /api/predict`` requests held at once (read, waiting or predicted: each may buffer
        up to ``max_upload_bytes``); one more is answered 503 with ``Retry-After``.
    live : LiveSettings
        Smoothing, threshold and spelling of every connection (the page mirrors frames itself).
    personal_dir : Path or None
        Where collect mode keeps each signer's ``samples.parquet`` and personal ``model/``
        (``<personal_dir>/<signer>/``); None turns collect mode and personal models off.
    cache_dir : Path or None
        Landmark cache holding the base model's training landmarks (``adapt`` retrains on them);
        None: the per-user cache (:func:`landmark_asl.paths.landmark_cache_dir`), whatever folder
        the server was started in.
    max_per_letter : int
        Most samples per letter a page may ask to record.
    adapt_jobs : int
        Threads of a personal model's fit (-1: every core); one is built at a time per server.
    allowed_hosts : tuple of str
        Host names (or IP addresses) the server answers to besides 127.0.0.1, localhost and
        [::1], e.g. ``('192.168.1.20', 'laptop.local')`` to open it to a LAN on purpose. A
        request whose ``Host`` header names another host is refused (DNS rebinding).
    """

    max_upload_bytes: int = 10 * 1024 * 1024
    max_frame_bytes: int = 1024 * 1024
    max_frame_side: int = 1280
    max_connections: int = 4
    max_uploads: int = 8
    live: LiveSettings = field(default_factory=LiveSettings)
    personal_dir: Path | None = Path("personal")
    cache_dir: Path | None = None
    max_per_letter: int = 50
    adapt_jobs: int = -1
    allowed_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.allowed_hosts, str):
            raise ValueError(f"allowed_hosts must be a tuple of host names; got the string {self.allowed_hosts!r}")
        names = []
        for value in self.allowed_hosts:
            name = host_name(value) if isinstance(value, str) and "/" not in value else None
            if not name or name in ("0.0.0.0", "[::]"):
                raise ValueError(f"allowed_hosts: {str(value)[:80]!r} is not a host name or IP address such as "
                                 "192.168.1.20 or laptop.local (no scheme, no path, no wildcard)")
            names.append(name)
        object.__setattr__(self, "allowed_hosts", tuple(names))
        for name in ("max_upload_bytes", "max_frame_bytes", "max_frame_side", "max_connections", "max_uploads",
                     "max_per_letter"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
        if int(self.adapt_jobs) != self.adapt_jobs or self.adapt_jobs == 0 or self.adapt_jobs < -1:
            raise ValueError(f"adapt_jobs must be -1 or an integer >= 1; got {self.adapt_jobs!r}")


def host_name(value: str) -> str | None:
    """The host of a ``Host`` header or a host name, lower case, without its port; None if malformed.

    ``'LocalHost:8000'`` -> ``'localhost'``, ``'[::1]:8000'`` -> ``'[::1]'``, ``'::1'`` -> ``'[::1]'``.
    """
    value = value.strip().lower()
    if value.count(":") > 1 and not value.startswith("["):  # a bare IPv6 address (a --host or --allow-host value)
        value = f"[{value}]"
    if value.startswith("["):
        end = value.find("]")
        name, rest = (value[:end + 1], value[end + 1:]) if end > 0 else ("", "")
    else:
        name, colon, port = value.partition(":")
        rest = colon + port
    if rest and not (rest[0] == ":" and rest[1:].isdigit()):
        return None
    name = name.rstrip(".")
    if not name or not re.fullmatch(r"\[[0-9a-f:.]+\]|[a-z0-9_.-]+", name):
        return None
    return name
