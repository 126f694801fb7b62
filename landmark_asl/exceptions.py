"""Exception hierarchy: every error the library raises on purpose is a LandmarkASLError."""

from __future__ import annotations


class LandmarkASLError(Exception):
    """Base class of the errors landmark_asl raises on purpose.

    The CLI turns these into a one-line message and exit status 1.
    """


class DatasetError(LandmarkASLError, ValueError):
    """A dataset, CSV or landmark table is missing, empty or malformed."""


class ImageInputError(DatasetError):
    """An image given to ``Recognizer.predict`` is of a type, shape or dtype that is not an image."""


class ParameterError(LandmarkASLError, ValueError):
    """An argument of a library call is of the wrong type or out of range."""


class ExtractionError(LandmarkASLError):
    """The hand landmark model could not be built, loaded or run."""


class ModelLoadError(LandmarkASLError):
    """A saved model directory is missing, corrupt or incompatible."""


class SourceError(LandmarkASLError):
    """A live source (camera, video file, image folder) cannot be opened or read."""


class LockedError(LandmarkASLError):
    """Another process is writing the same output (its lock file names it)."""


class MissingExtraError(LandmarkASLError, ImportError):
    """An optional dependency is not installed; the message names the extra that installs it."""
