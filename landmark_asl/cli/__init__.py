"""The ``landmark-asl`` command line (entry point ``landmark_asl.cli:main``)."""

from landmark_asl.cli.commands import main

__all__ = ["main"]
