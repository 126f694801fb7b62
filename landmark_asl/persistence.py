"""Saving and loading a model directory: the artefact files plus ``metadata.json``, verified on load.

Security: random-forest models are stored with joblib, i.e. pickle, and loading a pickle
runs code. Only load model directories you trust (SHA-256 checks catch corruption and
tampering after saving, not a malicious author). XGBoost models use xgboost's own UBJ
format, the CNN a torch ``state_dict`` and the normalizer plain JSON parameters.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from landmark_asl.exceptions import ModelLoadError

#: Version of the model-directory layout written by :func:`save_model`.
FORMAT_VERSION = 1
SUPPORTED_FORMAT_VERSIONS = (1,)
METADATA_FILE = "metadata.json"
_JOBLIB_FILE = "classifier.joblib"
_PACKAGES = ("landmark_asl", "numpy", "scikit-learn", "xgboost", "torch", "mediapipe")
NOTHING = "NOTHING"


def default_model_dir() -> Path:
    """Folder of the shipped default model: ``<repo>/models/default``."""
    return Path(__file__).resolve().parent.parent / "models" / "default"


def _package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _jsonable(value: Any) -> Any:
    """Parameters as JSON values (estimator objects become their class path)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)


def _class_path(obj: object) -> str:
    cls = type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def _import_class(path: str) -> type:
    module, _, qualname = path.partition(":")
    if not (module == "landmark_asl" or module.startswith(("landmark_asl.", "sklearn."))):
        raise ModelLoadError(f"refusing to import estimator class {path!r}: not a landmark_asl or sklearn class")
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ModelLoadError(f"cannot import estimator class {path!r} named in metadata: {exc}") from exc
    return obj


def _split_pipeline(estimator: Any) -> tuple[Any, Any]:
    """(normalizer or None, classifier) of a landmark pipeline or a bare estimator."""
    from sklearn.pipeline import Pipeline

    from landmark_asl.features import LandmarkNormalizer

    if isinstance(estimator, Pipeline):
        steps = estimator.steps
        if len(steps) != 2 or not isinstance(steps[0][1], LandmarkNormalizer):
            raise ValueError(
                "save_model supports Pipeline([('normalizer', LandmarkNormalizer), ('clf', ...)]) or a bare "
                f"estimator; got a pipeline with steps {[name for name, _ in steps]}"
            )
        return steps[0][1], steps[1][1]
    return None, estimator


def save_model(estimator: Any, directory: str | Path, *, name: str, metadata: dict[str, Any] | None = None) -> Path:
    """Save a fitted estimator as a model directory.

    The directory is written beside its destination and then moved into place, so an
    interrupted save never leaves a half-written model (an existing model at
    ``directory`` is replaced only once the new one is complete).

    Parameters
    ----------
    estimator : fitted estimator
        A landmark pipeline from ``make_estimator('rf'|'xgb')`` or a ``PixelCNNClassifier``.
        Classifiers with ``save_artifact``/``load_artifact`` hooks are saved through them;
        others with joblib (pickle).
    directory : str or Path
        Destination folder.
    name : str
        Registry name ('rf', 'xgb', 'cnn').
    metadata : dict, optional
        Extra JSON-able entries, e.g. ``extractor_settings``, ``split_file_sha256``,
        ``metrics``. Keys written by this function (format_version, name, estimator,
        classes, feature_version, artefacts, package_versions, created_at) win.

    Returns
    -------
    Path
        ``directory``.
    """
    from sklearn.utils.validation import check_is_fitted

    from landmark_asl.features import FEATURE_VERSION

    check_is_fitted(estimator)
    normalizer, clf = _split_pipeline(estimator)
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        if hasattr(clf, "save_artifact"):
            files = list(clf.save_artifact(tmp))
            storage = "hooks"
        else:
            import joblib

            joblib.dump(clf, tmp / _JOBLIB_FILE)
            files = [_JOBLIB_FILE]
            storage = "joblib"
        record = {
            **(metadata or {}),
            "format_version": FORMAT_VERSION,
            "name": name,
            "estimator": {
                "class": _class_path(clf),
                "params": _jsonable(clf.get_params(deep=False)),
                "storage": storage,
                "normalizer": None if normalizer is None else _jsonable(normalizer.get_params()),
            },
            "classes": [str(c) for c in clf.classes_],
            "feature_version": FEATURE_VERSION if normalizer is not None else None,
            "artefacts": {f: _sha256(tmp / f) for f in files},
            "package_versions": _package_versions(),
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        (tmp / METADATA_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        old = None
        if directory.exists():
            old = directory.with_name(f".{directory.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            directory.rename(old)
        tmp.rename(directory)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


@dataclass
class LoadedModel:
    """A model read back by :func:`load_model`.

    Attributes
    ----------
    estimator : estimator
        The rebuilt pipeline (rf/xgb) or CNN.
    metadata : dict
        Contents of ``metadata.json``.
    directory : Path
    """

    estimator: Any
    metadata: dict[str, Any]
    directory: Path
    _fast: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        normalizer, clf = _split_pipeline(self.estimator)
        self._normalizer = normalizer
        self._clf = clf
        self._classes = np.asarray(self.metadata["classes"], dtype=object)
        if hasattr(clf, "predict_proba_one"):
            self._fast = clf.predict_proba_one
        elif hasattr(clf, "predict_proba_array"):
            self._fast = lambda z: clf.predict_proba_array(z.astype(np.float32)[None])[0]

    @property
    def name(self) -> str:
        """Registry name of the model ('rf', 'xgb', 'cnn')."""
        return str(self.metadata["name"])

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
        """
        if self._normalizer is None or self._fast is None:
            return self.estimator.predict_proba(np.asarray(x)[None])[0]
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (127,):
            raise ValueError(f"x must have shape (127,) raw features; got {x.shape}: pass raw_features(...)[i]")
        z = self._normalizer.transform_array(x[None])[0]
        return self._fast(z)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities, ndarray of shape (n_samples, n_classes); X as for the estimator."""
        return self.estimator.predict_proba(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Labels, ndarray of shape (n_samples,) of str."""
        return np.asarray(self.estimator.predict(X)).astype(str)

    def predict_hands(self, hands: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Predict per frame/image, applying the NOTHING rule to frames without a hand.

        Parameters
        ----------
        hands : sequence of HandLandmarks or None
            ``None`` where no hand was detected.

        Returns
        -------
        labels : ndarray of shape (n,), object
            Predicted label per entry. For ``None``: ``'NOTHING'`` when the model knows a
            NOTHING class (confidence 1.0), otherwise ``''`` (confidence 0.0), meaning
            "no prediction".
        confidences : ndarray of shape (n,), float
            Probability of the predicted label.
        """
        from landmark_asl.features import raw_features_from_hands

        n = len(hands)
        labels = np.empty(n, dtype=object)
        conf = np.zeros(n, dtype=np.float64)
        present = [i for i, h in enumerate(hands) if h is not None]
        knows_nothing = NOTHING in set(self._classes)
        labels[:] = NOTHING if knows_nothing else ""
        if knows_nothing:
            conf[:] = 1.0
        if present:
            proba = self.predict_proba(raw_features_from_hands([hands[i] for i in present]))
            best = np.argmax(proba, axis=1)
            labels[present] = self._classes[best]
            conf[present] = proba[np.arange(len(present)), best]
        return labels, conf


def _read_metadata(directory: Path) -> dict[str, Any]:
    if not directory.is_dir():
        raise ModelLoadError(f"model directory {directory} does not exist: train one with `landmark-asl train`")
    path = directory / METADATA_FILE
    if not path.is_file():
        raise ModelLoadError(f"{directory} is not a model directory: {METADATA_FILE} is missing")
    try:
        metadata = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path} is not valid JSON ({exc}): the model directory is corrupt, save it again") from exc
    if not isinstance(metadata, dict):
        raise ModelLoadError(f"{path} must hold a JSON object; found {type(metadata).__name__}")
    return metadata


def _check_metadata(directory: Path, metadata: dict[str, Any]) -> None:
    from landmark_asl.features import FEATURE_VERSION

    found = metadata.get("format_version")
    if found not in SUPPORTED_FORMAT_VERSIONS:
        raise ModelLoadError(
            f"unsupported model format_version in {directory}: found {found!r}, supported "
            f"{', '.join(map(str, SUPPORTED_FORMAT_VERSIONS))}: upgrade landmark_asl or retrain the model"
        )
    missing = [k for k in ("name", "estimator", "classes", "feature_version", "artefacts") if k not in metadata]
    if missing:
        raise ModelLoadError(f"{directory / METADATA_FILE} lacks keys {missing}: the model directory is corrupt")
    fv = metadata["feature_version"]
    if fv is not None and str(fv) != FEATURE_VERSION:
        raise ModelLoadError(
            f"model in {directory} was trained on feature_version {fv!r} but this landmark_asl computes "
            f"feature_version {FEATURE_VERSION!r}: retrain the model (`landmark-asl train`) or install the "
            "landmark_asl version that saved it"
        )
    for fname, expected in metadata["artefacts"].items():
        path = directory / fname
        if not path.is_file():
            raise ModelLoadError(f"artefact {fname} listed in metadata is missing from {directory}")
        actual = _sha256(path)
        if actual != expected:
            raise ModelLoadError(
                f"SHA-256 mismatch for {path}: expected {expected[:12]}..., found {actual[:12]}...: "
                "the file was modified or corrupted after saving; do not use it, save the model again"
            )
    saved = metadata.get("package_versions", {})
    current = _package_versions()
    diffs = [f"{k} {v} (now {current[k]})" for k, v in saved.items() if k in current and current[k] != v]
    if diffs:
        warnings.warn(
            f"model in {directory} was saved with different package versions: {', '.join(diffs)}; "
            "predictions may differ slightly",
            UserWarning,
            stacklevel=3,
        )


def load_model(directory: str | Path | None = None) -> LoadedModel:
    """Load and verify a model directory written by :func:`save_model`.

    Parameters
    ----------
    directory : str, Path or None
        Model folder; ``None`` loads the shipped default, ``<repo>/models/default``.

    Returns
    -------
    LoadedModel

    Raises
    ------
    ModelLoadError
        Missing directory or metadata, corrupt JSON, unknown format version, other
        feature version, missing artefact or SHA-256 mismatch.

    Warns
    -----
    UserWarning
        If package versions differ from those that saved the model.

    Notes
    -----
    Random-forest artefacts are pickles: loading runs code. Load only trusted models.
    """
    if directory is None:
        directory = default_model_dir()
        if not (directory / METADATA_FILE).is_file():
            raise ModelLoadError(
                f"no default model at {directory}: rebuild it with "
                "`python scripts/train_default.py` (see models/default/README.md), or pass a model directory"
            )
    directory = Path(directory)
    metadata = _read_metadata(directory)
    _check_metadata(directory, metadata)
    info = metadata["estimator"]
    try:
        cls = _import_class(info["class"])
        if info.get("storage") == "hooks":
            clf = cls.load_artifact(directory, dict(info.get("params") or {}))
        else:
            import joblib

            clf = joblib.load(directory / _JOBLIB_FILE)
    except ModelLoadError:
        raise
    except (OSError, ValueError, KeyError, TypeError, EOFError, ImportError) as exc:
        raise ModelLoadError(f"cannot load the classifier in {directory}: {exc}") from exc
    estimator = clf
    if info.get("normalizer") is not None:
        from sklearn.pipeline import Pipeline

        from landmark_asl.features import N_RAW_FEATURES, LandmarkNormalizer

        normalizer = LandmarkNormalizer(**info["normalizer"]).fit(np.zeros((1, N_RAW_FEATURES)))
        estimator = Pipeline([("normalizer", normalizer), ("clf", clf)])
    if [str(c) for c in clf.classes_] != [str(c) for c in metadata["classes"]]:
        raise ModelLoadError(f"classes in {directory / METADATA_FILE} do not match the artefact's classes")
    return LoadedModel(estimator=estimator, metadata=metadata, directory=directory)
