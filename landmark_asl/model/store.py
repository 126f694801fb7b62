"""Model directories: the artefact files plus ``metadata.json``, a typed :class:`ModelCard`; loading runs no code.

Every artefact is data that is parsed, never executed: a random forest is its compiled
node arrays (``trees.npz``, read with ``allow_pickle=False``), XGBoost its own UBJ format,
the CNN a torch ``state_dict`` (``weights_only=True``), the normaliser plain JSON
parameters. ``load_model`` never calls pickle or joblib; the classifier class comes from a
fixed table of storage kinds, not from a name in the file; every file it reads must be
listed in the card with its SHA-256 and lie inside the model directory.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from landmark_asl._util import atomic_write_text, file_sha256, load_json, package_versions, public_mode
from landmark_asl.estimators.features import FEATURE_VERSION, LandmarkNormalizer
from landmark_asl.estimators.registry import get_spec
from landmark_asl.estimators.trees import CompiledForestClassifier, XGBLandmarkClassifier
from landmark_asl.exceptions import ModelLoadError
from landmark_asl.hands.extractor import ExtractorSettings
from landmark_asl.labels import NO_PREDICTION, NOTHING, no_hand_label
from landmark_asl.training.recipe import Recipe

#: Version of the model-directory layout written by :func:`save_model`.
FORMAT_VERSION = 2
SUPPORTED_FORMAT_VERSIONS = (2,)
METADATA_FILE = "metadata.json"
#: Written by landmark_asl 0.1 (format 1): a pickle, never loaded.
LEGACY_PICKLE = "classifier.joblib"
_PACKAGES = ("landmark_asl", "numpy", "scikit-learn", "xgboost", "torch", "mediapipe")
#: Packages whose version can change any loaded model's predictions (features, extraction) ...
_USED_PACKAGES = ("landmark_asl", "numpy", "mediapipe")
#: ... and those a storage kind adds: a compiled forest is NumPy arrays, so scikit-learn,
#: xgboost and torch (recorded when it was saved) do not matter to it; no warning for them.
_STORAGE_PACKAGES = {"xgboost-ubj": ("xgboost",), "torch-state-dict": ("torch",)}
_REBUILD_HELP = (
    "rebuild it with `landmark-asl train` (the shipped default: `python tools/train_default.py`), "
    "or convert a trusted one with `python tools/resave_legacy_model.py OLD NEW --trust-pickle`"
)


def default_model_dir() -> Path:
    """Folder of the shipped default model.

    The wheel carries ``models/default`` as the package data ``landmark_asl/models/default``;
    in a source checkout it is the top-level ``models/default``.
    """
    try:
        packaged = Path(str(resources.files("landmark_asl.models") / "default"))
        if (packaged / METADATA_FILE).is_file():
            return packaged
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parents[2] / "models" / "default"


def _storage_classes() -> dict[str, Any]:
    """Storage kind -> the class whose ``load_artifact`` reads it (the only classes a card can name)."""

    table: dict[str, Any] = {
        CompiledForestClassifier.STORAGE: CompiledForestClassifier,
        XGBLandmarkClassifier.STORAGE: XGBLandmarkClassifier,
    }
    try:
        from landmark_asl.cnn import PixelCNNClassifier
    except ImportError:  # torch not installed: a CNN card says so when loaded
        table["torch-state-dict"] = None
    else:
        table[PixelCNNClassifier.STORAGE] = PixelCNNClassifier
    return table


def _jsonable(value: Any) -> Any:
    """Parameters as JSON values (estimator objects become their repr)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)


@dataclass
class ModelCard:
    """What a saved model is: every consumer (compare, predict, live, a server) reads this, nothing guesses.

    Attributes
    ----------
    name : str
        Registry name ('rf', 'xgb', 'cnn').
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
    recipe: Recipe | None = None
    package_versions: dict[str, str] = field(default_factory=dict)
    created_at: str = ""
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to ``metadata.json``."""
        out = dataclasses.asdict(self)
        out["extractor_settings"] = dataclasses.asdict(self.extractor_settings)
        out["recipe"] = self.recipe.to_dict() if self.recipe is not None else None
        return _jsonable(out)

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
            hint = _REBUILD_HELP if found == 1 else "upgrade landmark_asl or retrain the model"
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
            if not (isinstance(digest, str) and len(digest) == 64):
                raise ModelLoadError(f"{where}: artefact {name!r} needs a SHA-256 hex digest; found {digest!r}")
        for key in ("metrics", "calibration"):
            if data.get(key) is not None and not isinstance(data[key], dict):
                raise ModelLoadError(f"{where}: {key!r} must be a JSON object or null")
        if data.get("calibration") is not None:
            from landmark_asl.estimators.calibration import TemperatureScaling

            try:
                TemperatureScaling.from_dict(data["calibration"])
            except ValueError as exc:
                raise ModelLoadError(f"{where}: bad calibration: {exc}") from exc
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


def _split_pipeline(estimator: Any) -> tuple[Any, Any]:
    """(normalizer or None, classifier) of a landmark pipeline or a bare estimator."""


    if isinstance(estimator, Pipeline):
        steps = estimator.steps
        if len(steps) != 2 or not isinstance(steps[0][1], LandmarkNormalizer):
            raise ValueError(
                "save_model supports Pipeline([('normalizer', LandmarkNormalizer), ('clf', ...)]) or a bare "
                f"estimator; got a pipeline with steps {[name for name, _ in steps]}"
            )
        return steps[0][1], steps[1][1]
    return None, estimator


def is_model_dir(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding a model's ``metadata.json`` (of any format version)."""
    path = Path(path)
    return path.is_dir() and (path / METADATA_FILE).is_file()


def save_model(
    estimator: Any,
    directory: str | Path,
    *,
    name: str,
    extractor_settings: Any = None,
    training: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    split_file_sha256: str | None = None,
    trained_labels: Sequence[str] | None = None,
    calibration: dict[str, Any] | None = None,
    recipe: Recipe | None = None,
) -> Path:
    """Save a fitted estimator as a model directory with its :class:`ModelCard`.

    The directory is written beside its destination and then moved into place, so an
    interrupted save never leaves a half-written model. An existing destination is replaced
    only if it is a model directory; anything else there is an error.

    Parameters
    ----------
    estimator : fitted estimator
        A landmark pipeline from ``make_estimator('rf'|'xgb')``, a ``PixelCNNClassifier``, or
        a model read back by :func:`load_model` (a re-save).
    directory : str or Path
        Destination folder.
    name : str
        Registry name ('rf', 'xgb', 'cnn').
    extractor_settings : ExtractorSettings, optional
        Settings the training landmarks were extracted with (default ``ExtractorSettings()``).
    training : dict, optional
        Sources, counts, parameters... (JSON-able).
    metrics : dict, optional
        Figures measured on held-out data.
    split_file_sha256 : str, optional
        SHA-256 of the split file the model was trained on.
    trained_labels : sequence of str, optional
        Every label of the training data, images without a hand included; decides the
        NOTHING rule. Default: the classifier's classes.
    calibration : dict, optional
        ``TemperatureScaling.to_dict()`` (optionally with ``fitted_on``, a description of the
        held-out predictions it was fitted on); a model read back keeps its own by default.
    recipe : Recipe, optional
        How the model was trained; stored in the card (:attr:`ModelCard.recipe`).

    Returns
    -------
    Path
        ``directory``.

    Raises
    ------
    ModelLoadError
        If ``directory`` exists and is not a model directory, or is not a folder.
    """


    if calibration is None and isinstance(estimator, LoadedModel):
        calibration = estimator.card.calibration
    if isinstance(estimator, LoadedModel):
        estimator = estimator.estimator
    if calibration is not None:
        from landmark_asl.estimators.calibration import TemperatureScaling

        TemperatureScaling.from_dict(calibration)  # refuse a bad one before writing anything
    check_is_fitted(estimator)
    spec = get_spec(name)
    normalizer, clf = _split_pipeline(estimator)
    storage = getattr(clf, "STORAGE", None)
    if storage is None or storage not in _storage_classes():
        raise TypeError(
            f"cannot save {type(clf).__name__}: only classifiers stored without pickle can be saved "
            f"({', '.join(sorted(_storage_classes()))})"
        )
    directory = Path(directory)
    check_destination(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    except OSError as exc:  # name the model asked for, not the temporary folder beside it
        raise OSError(exc.errno, exc.strerror or str(exc), str(directory)) from exc
    try:
        files = list(clf.save_artifact(tmp))
        classes = [str(c) for c in clf.classes_]
        card = ModelCard(
            name=name,
            input_kind=spec.input_kind,
            classes=classes,
            no_hand_label=no_hand_label(trained_labels if trained_labels is not None else classes),
            feature_version=FEATURE_VERSION if normalizer is not None else None,
            extractor_settings=extractor_settings or ExtractorSettings(),
            estimator={
                "storage": storage,
                "params": _jsonable(clf.get_params(deep=False)),
                "normalizer": None if normalizer is None else _jsonable(normalizer.get_params()),
            },
            artefacts={f: file_sha256(tmp / f) for f in files},
            split_file_sha256=split_file_sha256,
            training=_jsonable(dict(training or {})),
            metrics=_jsonable(metrics) if metrics is not None else None,
            calibration=_jsonable(dict(calibration)) if calibration is not None else None,
            recipe=recipe,
            package_versions={k: v for k, v in package_versions(_PACKAGES).items() if v != "not installed"},
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        atomic_write_text(tmp / METADATA_FILE, json.dumps(card.to_dict(), indent=2, sort_keys=True) + "\n")
        for path in tmp.iterdir():
            public_mode(path)
        public_mode(tmp, directory=True)
        old = None
        if directory.exists():
            old = directory.with_name(f".{directory.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            directory.rename(old)
        tmp.rename(directory)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.filename is None and exc.errno is not None:  # e.g. a full disk: name the model being written
            raise OSError(exc.errno, exc.strerror or str(exc), str(directory)) from exc
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def check_destination(directory: Path) -> None:
    """Refuse a save destination that exists and is not a model directory (or an empty folder).

    Called before a long training run too, so that it fails before the work, not after.

    Raises
    ------
    ModelLoadError
        If ``directory`` is a file, a link, or a non-empty folder without ``metadata.json``.
    """
    if not directory.exists() and not directory.is_symlink():
        return
    if directory.is_symlink() or not directory.is_dir():
        raise ModelLoadError(f"cannot save a model to {directory}: it exists and is not a folder; choose a new path")
    if not is_model_dir(directory) and any(directory.iterdir()):
        raise ModelLoadError(
            f"refusing to replace {directory}: it exists and is not a model directory (no {METADATA_FILE}); "
            "choose a new or empty path, or delete it yourself"
        )


@dataclass
class LoadedModel:
    """A model read back by :func:`load_model`.

    Attributes
    ----------
    estimator : estimator
        The rebuilt pipeline (rf/xgb) or CNN.
    card : ModelCard
    directory : Path
    """

    estimator: Any
    card: ModelCard
    directory: Path
    _fast: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        normalizer, clf = _split_pipeline(self.estimator)
        self._normalizer = normalizer
        self._clf = clf
        self._classes = np.asarray(self.card.classes, dtype=object)
        if hasattr(clf, "predict_proba_one"):
            self._fast = clf.predict_proba_one
        self._scaling = None
        if self.card.calibration is not None:
            from landmark_asl.estimators.calibration import TemperatureScaling

            self._scaling = TemperatureScaling.from_dict(self.card.calibration)

    @property
    def name(self) -> str:
        """Registry name of the model ('rf', 'xgb', 'cnn')."""
        return self.card.name

    @property
    def metadata(self) -> dict[str, Any]:
        """The card as JSON values (what ``metadata.json`` holds)."""
        return self.card.to_dict()

    @property
    def classes(self) -> np.ndarray:
        """Labels, ndarray of shape (n_classes,) of str, the column order of probabilities."""
        return self._classes

    def predict_proba_one(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for one sample, fast (no validation, no thread pool).

        Parameters
        ----------
        x : ndarray of shape (127,)
            One row of raw features (landmark models); for the CNN, one image (H, W, 3).

        Returns
        -------
        ndarray of shape (n_classes,)
            Calibrated when the card has a ``calibration``.
        """
        if self._normalizer is None or self._fast is None:
            return self.predict_proba(np.asarray(x)[None])[0]
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (127,):
            raise ValueError(f"x must have shape (127,) raw features; got {x.shape}: pass raw_features(...)[i]")
        z = self._normalizer.transform_array(x[None])[0]
        proba = self._fast(z)
        return self._finite(proba if self._scaling is None else self._scaling.apply(proba))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities, ndarray of shape (n_samples, n_classes); X as for the estimator.

        Calibrated when the card has a ``calibration`` (the predicted label never changes).
        """
        proba = self.estimator.predict_proba(X)
        return self._finite(proba if self._scaling is None else self._scaling.apply(proba))

    def _finite(self, proba: np.ndarray) -> np.ndarray:
        """``proba``, unless it holds NaN or inf: a model must never answer with those (loading checks the arrays)."""
        if not np.isfinite(proba).all():
            raise ModelLoadError(f"the model in {self.directory} gave probabilities that are not finite numbers: "
                                 "its files are corrupt; save it again")
        return proba

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Labels, ndarray of shape (n_samples,) of str."""
        return np.asarray(self.estimator.predict(X)).astype(str)


def _read_card(directory: Path) -> ModelCard:
    if not directory.is_dir():
        raise ModelLoadError(f"model directory {directory} does not exist: train one with `landmark-asl train`")
    path = directory / METADATA_FILE
    if not path.is_file():
        if (directory / LEGACY_PICKLE).is_file():
            raise ModelLoadError(f"{directory} holds no {METADATA_FILE} but a pickle, which is never loaded: {_REBUILD_HELP}")
        raise ModelLoadError(f"{directory} is not a model directory: {METADATA_FILE} is missing")
    try:
        data = load_json(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise ModelLoadError(f"{path} is not valid JSON ({exc}): the model directory is corrupt, save it again") from exc
    return ModelCard.from_dict(data, where=str(path))


def _artefact_path(directory: Path, name: str) -> Path:
    """``directory / name``, refusing any name that leaves the directory (absolute, ``..``, links)."""
    candidate = Path(name)
    if candidate.is_absolute() or len(candidate.parts) != 1 or name in (".", "..", METADATA_FILE):
        raise ModelLoadError(f"artefact name {name!r} in {directory / METADATA_FILE} is not a plain file name of the model directory")
    path = directory / candidate
    if path.is_symlink() or not path.resolve().is_relative_to(directory.resolve()):
        raise ModelLoadError(f"artefact {name!r} in {directory} is a link out of the model directory: refusing it")
    return path


def _check_artefacts(directory: Path, card: ModelCard, required: Sequence[str]) -> None:

    fv = card.feature_version
    if card.input_kind == "landmarks" and fv != FEATURE_VERSION:
        raise ModelLoadError(
            f"model in {directory} was trained on feature_version {fv!r} but this landmark_asl computes "
            f"feature_version {FEATURE_VERSION!r}: retrain the model (`landmark-asl train`) or install the "
            "landmark_asl version that saved it"
        )
    unlisted = [f for f in required if f not in card.artefacts]
    if unlisted:
        raise ModelLoadError(
            f"{directory / METADATA_FILE} lists no SHA-256 for {', '.join(unlisted)}, which the "
            f"{card.estimator.get('storage')!r} loader reads: the model directory is corrupt or tampered with"
        )
    for fname, expected in card.artefacts.items():
        path = _artefact_path(directory, fname)
        if not path.is_file():
            raise ModelLoadError(f"artefact {fname} listed in metadata is missing from {directory}")
        actual = file_sha256(path)
        if actual != expected:
            raise ModelLoadError(
                f"SHA-256 mismatch for {path}: expected {expected[:12]}..., found {actual[:12]}...: "
                "the file was modified or corrupted after saving; do not use it, save the model again"
            )
    used = _USED_PACKAGES + _STORAGE_PACKAGES.get(card.estimator.get("storage"), ())
    current = package_versions(used)
    diffs = [f"{k} {v} (now {current[k]})" for k, v in card.package_versions.items()
             if k in used and current[k] not in (v, "not installed")]
    if diffs:
        warnings.warn(
            f"model in {directory} was saved with different package versions: {', '.join(diffs)}; "
            "predictions may differ slightly",
            UserWarning,
            stacklevel=3,
        )


def load_model(directory: str | Path | None = None) -> LoadedModel:
    """Load and verify a model directory written by :func:`save_model`; no code from the files runs.

    Parameters
    ----------
    directory : str, Path or None
        Model folder; ``None`` loads the shipped default (:func:`default_model_dir`).

    Returns
    -------
    LoadedModel

    Raises
    ------
    ModelLoadError
        Missing directory or metadata, corrupt JSON, a field of the wrong type, unknown
        format version or storage kind, other feature version, an artefact that is missing,
        unlisted, outside the directory or whose SHA-256 differs, a legacy pickle.

    Warns
    -----
    UserWarning
        If package versions differ from those that saved the model.
    """
    if directory is None:
        directory = default_model_dir()
        if not (directory / METADATA_FILE).is_file():
            raise ModelLoadError(
                f"no default model at {directory}: rebuild it with "
                "`python tools/train_default.py` (see models/default/README.md), or pass a model directory"
            )
    directory = Path(directory)
    card = _read_card(directory)
    storage = card.estimator.get("storage")
    classes = _storage_classes()
    if storage not in classes:
        raise ModelLoadError(
            f"model in {directory} has storage {storage!r}; this landmark_asl loads only "
            f"{', '.join(sorted(classes))} (never pickle): {_REBUILD_HELP}"
        )
    cls = classes[storage]
    if cls is None:
        raise ModelLoadError(f"the model in {directory} is a CNN, which needs torch: pip install 'landmark_asl[cnn]'")
    _check_artefacts(directory, card, cls.ARTIFACT_FILES)
    params = card.estimator.get("params") or {}
    if not isinstance(params, dict):
        raise ModelLoadError(f"{directory / METADATA_FILE}: estimator.params must be a JSON object")
    try:
        clf = cls.load_artifact(directory, dict(params))
    except ModelLoadError:
        raise
    except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
        raise ModelLoadError(f"cannot load the classifier in {directory}: {exc}") from exc
    estimator = clf
    normalizer_params = card.estimator.get("normalizer")
    if card.input_kind == "landmarks":
        from sklearn.pipeline import Pipeline

        from landmark_asl.estimators.features import N_RAW_FEATURES, LandmarkNormalizer

        if not isinstance(normalizer_params, dict):
            raise ModelLoadError(f"{directory / METADATA_FILE}: a landmark model needs estimator.normalizer parameters")
        try:
            normalizer = LandmarkNormalizer(**normalizer_params).fit(np.zeros((1, N_RAW_FEATURES)))
        except (TypeError, ValueError) as exc:
            raise ModelLoadError(f"{directory / METADATA_FILE}: bad normalizer parameters: {exc}") from exc
        if getattr(clf, "n_features_in_", None) != normalizer.n_features_out_:
            raise ModelLoadError(
                f"the classifier in {directory} takes {getattr(clf, 'n_features_in_', None)} features but its "
                f"normalizer ({directory / METADATA_FILE}) makes {normalizer.n_features_out_}: the model directory "
                "is corrupt or tampered with; save it again"
            )
        estimator = Pipeline([("normalizer", normalizer), ("clf", clf)])
    if [str(c) for c in clf.classes_] != list(card.classes):
        raise ModelLoadError(f"classes in {directory / METADATA_FILE} do not match the artefact's classes")
    return LoadedModel(estimator=estimator, card=card, directory=directory)
