"""The model card: what a saved model is (``metadata.json``), typed, validated when read, and how it is read."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from landmark_asl._util import load_json
from landmark_asl.exceptions import ModelLoadError
from landmark_asl.hands.settings import ExtractorSettings
from landmark_asl.labels import NO_PREDICTION, NOTHING
from landmark_asl.training.recipe import Recipe

#: Version of the model-directory layout written by :func:`save_model`.
FORMAT_VERSION = 2
SUPPORTED_FORMAT_VERSIONS = (2,)
METADATA_FILE = "metadata.json"
#: Written by landmark_asl 0.1 (format 1): a pickle, never loaded.
LEGACY_PICKLE = "classifier.joblib"
#: How to replace a format-1 (pickled) model, for the messages that refuse one.
REBUILD_HELP = (
    "rebuild it with `landmark-asl train` (the shipped default: `python tools/train_default.py`), "
    "or convert a trusted one with `python tools/resave_legacy_model.py OLD NEW --trust-pickle`"
)


def jsonable(value: Any) -> Any:
    """``value`` as JSON values: NumPy scalars as numbers, tuples as lists, keys as strings, any other object as its repr."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return repr(value)


@dataclass
class ModelCard:
    """What a saved model is: every consumer (compare, predict, live, a server) reads this, nothing guesses.

    Attributes
    ----------
    name : str
        Registry name ('rf', 'xgb', 'mlp', 'rf_mlp', 'cnn').
    input_kind : {'landmarks', 'pixels'}
        What the model classifies (see ``estimators.EstimatorSpec``).
    classes : list of str
        Column order of the probabilities.
    no_hand_label : str
        What an image without a hand is predicted: ``'NOTHING'`` when the model was trained
        on NOTHING, else ``''`` (no prediction). Pixel models never need it.
    feature_version : str or None
        ``features.FEATURE_VERSION`` of a landmark model.
    extractor_settings : ExtractorSettings
        The hand-extractor settings the model was trained with; predict and live use them.
    estimator : dict
        ``storage`` (artefact kind), ``params``, ``normalizer`` (LandmarkNormalizer params or None).
    artefacts : dict of str to str
        File name -> SHA-256 of every file the loader reads.
    split_file_sha256 : str or None
        The split the model was trained on (None: trained on all of its sources).
    training : dict
        Sources, sample counts, parameters, seed, fit time.
    metrics : dict or None
        Measured on held-out data (never on training data), with where they come from.
    calibration : dict or None
        ``TemperatureScaling.to_dict()`` (plain numbers, plus ``fitted_on``), applied to every
        probability the loaded model returns; None: the classifier's own probabilities.
    pointing : list of dict or None
        Each ``PointingGate.to_dict()`` (:mod:`landmark_asl.estimators.pointing`): G from Q, K from P told apart by
        where the index points, applied before the calibration; None: no gate (a model trained
        without it, or before it existed).
    recipe : Recipe or None
        How the model was trained (:class:`~landmark_asl.training.recipe.Recipe`); None for a
        model saved without one (cards written before recipes were stored, or ``save_model``
        called without ``recipe``).
    package_versions : dict of str to str
    created_at : str
    format_version : int
    """

    name: str
    input_kind: str
    classes: list[str]
    no_hand_label: str
    feature_version: str | None
    extractor_settings: Any
    estimator: dict[str, Any]
    artefacts: dict[str, str] = field(default_factory=dict)
    split_file_sha256: str | None = None
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None
    pointing: list[dict[str, Any]] | None = None
    recipe: Recipe | None = None
    package_versions: dict[str, str] = field(default_factory=dict)
    created_at: str = ""
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to ``metadata.json``."""
        out = dataclasses.asdict(self)
        out["extractor_settings"] = dataclasses.asdict(self.extractor_settings)
        out["recipe"] = self.recipe.to_dict() if self.recipe is not None else None
        return jsonable(out)

    @classmethod
    def from_dict(cls, data: Any, *, where: str = METADATA_FILE) -> ModelCard:
        """Validate and build a card from ``metadata.json``'s contents.

        Raises
        ------
        ModelLoadError
            One line naming the first field that is missing or of the wrong type.
        """

        if not isinstance(data, dict):
            raise ModelLoadError(f"{where} must hold a JSON object; found {type(data).__name__}")
        found = data.get("format_version")
        if found not in SUPPORTED_FORMAT_VERSIONS:
            hint = REBUILD_HELP if found == 1 else "upgrade landmark_asl or retrain the model"
            raise ModelLoadError(
                f"unsupported model format_version in {where}: found {found!r}, supported "
                f"{', '.join(map(str, SUPPORTED_FORMAT_VERSIONS))}: {hint}"
            )
        expected = {
            "name": str, "input_kind": str, "classes": list, "no_hand_label": str, "extractor_settings": dict,
            "estimator": dict, "artefacts": dict, "training": dict, "package_versions": dict, "created_at": str,
        }
        for key, kind in expected.items():
            if key not in data:
                raise ModelLoadError(f"{where} lacks the key {key!r}: the model directory is corrupt, save it again")
            if not isinstance(data[key], kind):
                raise ModelLoadError(
                    f"{where}: {key!r} must be a JSON {kind.__name__.replace('dict', 'object').replace('str', 'string')}; "
                    f"found {type(data[key]).__name__}"
                )
        if data["input_kind"] not in ("landmarks", "pixels"):
            raise ModelLoadError(f"{where}: input_kind must be 'landmarks' or 'pixels'; found {data['input_kind']!r}")
        if not data["classes"] or not all(isinstance(c, str) for c in data["classes"]):
            raise ModelLoadError(f"{where}: classes must be a non-empty list of strings")
        if data["no_hand_label"] not in (NOTHING, NO_PREDICTION):
            raise ModelLoadError(f"{where}: no_hand_label must be 'NOTHING' or ''; found {data['no_hand_label']!r}")
        for name, digest in data["artefacts"].items():
            # Checked when the card is read, so that every reader (load, a save destination's check)
            # meets this one error, never the ValueError that a path with a NUL byte raises.
            if not name or "\x00" in name or Path(name).name != name or name in (".", "..", METADATA_FILE):
                raise ModelLoadError(f"artefact name {name!r} in {where} is not a plain file name of the model directory")
            if not (isinstance(digest, str) and len(digest) == 64):
                raise ModelLoadError(f"{where}: artefact {name!r} needs a SHA-256 hex digest; found {digest!r}")
        for key in ("metrics", "calibration"):
            if data.get(key) is not None and not isinstance(data[key], dict):
                raise ModelLoadError(f"{where}: {key!r} must be a JSON object or null")
        if data.get("pointing") is not None and not isinstance(data["pointing"], list):
            raise ModelLoadError(f"{where}: 'pointing' must be a JSON list or null")
        if data.get("calibration") is not None:
            from landmark_asl.estimators.calibration import TemperatureScaling

            try:
                TemperatureScaling.from_dict(data["calibration"])
            except ValueError as exc:
                raise ModelLoadError(f"{where}: bad calibration: {exc}") from exc
        if data.get("pointing") is not None:
            from landmark_asl.estimators.pointing import gates_from_list, gates_to_list

            if data["input_kind"] != "landmarks":
                raise ModelLoadError(f"{where}: a pointing gate applies to landmark models only")
            try:
                # Kept in its own form: boundary_degrees recomputed, whatever the file said.
                data = {**data, "pointing": gates_to_list(gates_from_list(data["pointing"], data["classes"]))}
            except ValueError as exc:
                raise ModelLoadError(f"{where}: bad pointing gate: {exc}") from exc
        fv = data.get("feature_version")
        if fv is not None and not isinstance(fv, str):
            raise ModelLoadError(f"{where}: feature_version must be a string or null; found {fv!r}")
        try:
            settings = ExtractorSettings.from_dict(data["extractor_settings"])
        except (TypeError, ValueError) as exc:
            raise ModelLoadError(f"{where}: bad extractor_settings: {exc}") from exc
        try:
            recipe = Recipe.from_dict(data["recipe"]) if data.get("recipe") is not None else None
        except ValueError as exc:
            raise ModelLoadError(f"{where}: bad recipe: {exc}") from exc
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        values["extractor_settings"] = settings
        values["recipe"] = recipe
        return cls(**values)


def read_card(directory: Path) -> ModelCard:
    """The validated card of model directory ``directory`` (a folder without one, or with a pickle, is refused)."""
    if not directory.is_dir():
        raise ModelLoadError(f"model directory {directory} does not exist: train one with `landmark-asl train`")
    path = directory / METADATA_FILE
    if not path.is_file():
        if (directory / LEGACY_PICKLE).is_file():
            raise ModelLoadError(f"{directory} holds no {METADATA_FILE} but a pickle, which is never loaded: {REBUILD_HELP}")
        raise ModelLoadError(f"{directory} is not a model directory: {METADATA_FILE} is missing")
    try:
        data = load_json(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise ModelLoadError(f"{path} is not valid JSON ({exc}): the model directory is corrupt, save it again") from exc
    return ModelCard.from_dict(data, where=str(path))
