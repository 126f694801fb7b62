"""Model directories: the artefact files plus ``metadata.json``, a typed :class:`ModelCard`; loading runs no code.

Every artefact is data that is parsed, never executed: a random forest is its compiled
node arrays (``trees.npz``, read with ``allow_pickle=False``), XGBoost its own UBJ format,
the CNN a torch ``state_dict`` (``weights_only=True``), the normaliser plain JSON
parameters. ``load_model`` never calls pickle or joblib; the classifier class comes from a
fixed table of storage kinds, not from a name in the file; every file it reads must be
listed in the card with its SHA-256 and lie inside the model directory.
"""

from __future__ import annotations

import errno
import json
import os
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

from landmark_asl._util import atomic_write_text, file_sha256, package_versions, public_mode
from landmark_asl.estimators.calibration import TemperatureScaling
from landmark_asl.estimators.features import FEATURE_VERSION, LandmarkNormalizer
from landmark_asl.estimators.mlp import ForestMLPClassifier, MLPLandmarkClassifier
from landmark_asl.estimators.pointing import apply_gates, gates_from_list, gates_to_list
from landmark_asl.estimators.registry import get_spec
from landmark_asl.estimators.trees import CompiledForestClassifier, XGBLandmarkClassifier
from landmark_asl.exceptions import ModelLoadError
from landmark_asl.hands.settings import ExtractorSettings
from landmark_asl.labels import no_hand_label
from landmark_asl.model.card import (
    METADATA_FILE,
    REBUILD_HELP,
    ModelCard,
    jsonable,
    read_card,
)
from landmark_asl.training.recipe import Recipe

_PACKAGES = ("landmark_asl", "numpy", "scikit-learn", "xgboost", "torch", "mediapipe")
#: Packages whose version can change any loaded model's predictions (features, extraction) ...
_USED_PACKAGES = ("landmark_asl", "numpy", "mediapipe")
#: ... and those a storage kind adds: a compiled forest is NumPy arrays, so scikit-learn,
#: xgboost and torch (recorded when it was saved) do not matter to it; no warning for them.
_STORAGE_PACKAGES = {"xgboost-ubj": ("xgboost",), "torch-state-dict": ("torch",)}


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
        MLPLandmarkClassifier.STORAGE: MLPLandmarkClassifier,
        ForestMLPClassifier.STORAGE: ForestMLPClassifier,
    }
    try:
        from landmark_asl.cnn import PixelCNNClassifier
    except ImportError:  # torch not installed: a CNN card says so when loaded
        table["torch-state-dict"] = None
    else:
        table[PixelCNNClassifier.STORAGE] = PixelCNNClassifier
    return table


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
    pointing: Sequence[Any] | None = None,
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
        Registry name ('rf', 'xgb', 'mlp', 'rf_mlp', 'cnn').
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
    pointing : sequence of PointingGate or of their dicts, optional
        The gates (:attr:`ModelCard.pointing`, stored as a list of ``PointingGate.to_dict()``); a
        model read back keeps its own by default; an empty sequence: none.

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
    if pointing is None and isinstance(estimator, LoadedModel):
        pointing = estimator.card.pointing
    if isinstance(estimator, LoadedModel):
        estimator = estimator.estimator
    if calibration is not None:
        TemperatureScaling.from_dict(calibration)  # refuse a bad one before writing anything
    check_is_fitted(estimator)
    spec = get_spec(name)
    normalizer, clf = _split_pipeline(estimator)
    if isinstance(pointing, (list, tuple)) and not pointing:
        pointing = None
    if pointing is not None:  # refuse a bad one before writing anything
        if spec.input_kind != "landmarks":
            raise ValueError(f"a pointing gate applies to landmark models only, not {name!r}")
        pointing = gates_to_list(gates_from_list(pointing, [str(c) for c in clf.classes_]))
    storage = getattr(clf, "STORAGE", None)
    if storage is None or storage not in _storage_classes():
        raise TypeError(
            f"cannot save {type(clf).__name__}: only classifiers stored without pickle can be saved "
            f"({', '.join(sorted(_storage_classes()))})"
        )
    directory = Path(directory)
    check_destination(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    # Every rename below goes through the real parent folder: a path through the destination itself
    # (``model/../model``) would stop existing once the model there is moved aside.
    target = directory.parent.resolve() / directory.name
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
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
                "params": jsonable(clf.get_params(deep=False)),
                "normalizer": None if normalizer is None else jsonable(normalizer.get_params()),
            },
            artefacts={f: file_sha256(tmp / f) for f in files},
            split_file_sha256=split_file_sha256,
            training=jsonable(dict(training or {})),
            metrics=jsonable(metrics) if metrics is not None else None,
            calibration=jsonable(dict(calibration)) if calibration is not None else None,
            pointing=jsonable(pointing) if pointing is not None else None,
            recipe=recipe,
            package_versions={k: v for k, v in package_versions(_PACKAGES).items() if v != "not installed"},
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        atomic_write_text(tmp / METADATA_FILE, json.dumps(card.to_dict(), indent=2, sort_keys=True) + "\n")
        _move_into_place(tmp, target)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.filename is None and exc.errno is not None:  # e.g. a full disk: name the model being written
            raise OSError(exc.errno, exc.strerror or str(exc), str(directory)) from exc
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


#: Files a model directory may hold besides its card and the artefacts the card lists: the model's
#: README (``tools/train_default.py`` writes one), carried over when the model is replaced.
KEPT_FILES = ("README.md",)


def _move_into_place(tmp: Path, directory: Path) -> None:
    """Make the finished folder ``tmp`` readable by all and put it at ``directory``, replacing a model there.

    The model replaced is first renamed to a name made for this save (never one that may exist),
    and put back if the new folder cannot take its place, whatever stopped it; its README is
    carried over. ``tmp`` and ``directory`` are paths through the real parent folder (no
    ``model/..``), so they stay valid while the model is moved aside.
    """
    old = None
    if directory.exists():
        check_destination(directory)  # again: the folder may have changed during a long fit
        for kept in KEPT_FILES:
            if (directory / kept).is_file() and not (tmp / kept).exists():
                shutil.copy2(directory / kept, tmp / kept)
    for path in tmp.iterdir():
        public_mode(path)
    public_mode(tmp, directory=True)
    if directory.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=directory.parent))
        old.rmdir()  # the name is this save's own; the folder replaced goes there
        directory.rename(old)
    try:
        tmp.rename(directory)
    except BaseException as exc:
        if old is not None:
            try:
                if directory.exists() or directory.is_symlink():  # made by another program meanwhile
                    raise FileExistsError(errno.EEXIST, "something else is there now")
                old.rename(directory)
            except OSError as undo:
                raise ModelLoadError(
                    f"cannot save the model to {directory} ({exc}), nor put the model it replaces back "
                    f"({undo.strerror or undo}): that model is in {old}; move it back yourself"
                ) from exc
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _model_files(directory: Path) -> set[str] | None:
    """The entries of a model directory that are the model's own: its card, the artefacts the card
    lists (regular files whose SHA-256 matches the card) and ``KEPT_FILES`` (regular files). None
    when ``metadata.json`` is not a card :func:`read_card` accepts.

    A folder, a link, or a file a crafted card names but did not write (its digest differs) is not
    the model's, so a save never replaces a folder holding one.
    """
    import stat

    try:
        card = read_card(directory)
    except ModelLoadError:
        return None

    def regular(name: str) -> bool:
        try:
            return stat.S_ISREG((directory / name).lstat().st_mode)
        except OSError:
            return False

    own = {name for name in (METADATA_FILE, *KEPT_FILES) if regular(name)}
    for name, digest in card.artefacts.items():
        if name and Path(name).name == name and name not in (".", "..") and regular(name):
            try:
                if file_sha256(directory / name) == digest:
                    own.add(name)
            except OSError:
                pass
    return own if METADATA_FILE in own else None


def check_destination(directory: Path) -> None:
    """Refuse a save destination that exists and is not an empty folder or a model directory holding
    nothing but the model.

    Called before a long training run too, so that it fails before the work, not after. A model
    directory is replaced whole, so it may hold only its card, the artefacts the card lists and
    its README (which is kept): any other file or folder in it would be deleted, and is refused.

    Raises
    ------
    ModelLoadError
        If ``directory`` is a file, a link, a non-empty folder without a model card, or a model
        directory that also holds other things.
    """
    if directory.name in ("", ".", ".."):  # the folder the save would be written beside is itself
        raise ModelLoadError(f"cannot save a model to {str(directory)!r}: name a folder for it, e.g. my_model")
    if not directory.exists() and not directory.is_symlink():
        return
    if directory.is_symlink() or not directory.is_dir():
        raise ModelLoadError(f"cannot save a model to {directory}: it exists and is not a folder; choose a new path")
    entries = {path.name for path in directory.iterdir()}
    if not entries:
        return
    known = _model_files(directory) if METADATA_FILE in entries else None
    if known is None:
        raise ModelLoadError(
            f"refusing to replace {directory}: it exists and is not a model directory (no model card in "
            f"{METADATA_FILE}); choose a new or empty path, or delete it yourself"
        )
    others = sorted(entries - known)
    if others:
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        raise ModelLoadError(
            f"refusing to replace the model in {directory}: it also holds {shown}, which replacing the model "
            "would delete (only its card, its artefacts as saved and a README.md file are replaced); move them "
            "out or choose another path"
        )


@dataclass
class LoadedModel:
    """A model read back by :func:`load_model`.

    Attributes
    ----------
    estimator : estimator
        The rebuilt pipeline (a landmark model) or CNN.
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
            self._scaling = TemperatureScaling.from_dict(self.card.calibration)
        self._gates = gates_from_list(self.card.pointing, self.card.classes) if self.card.pointing else ()
        self._gate_columns = [tuple(list(self.card.classes).index(c) for c in gate.letters) for gate in self._gates]

    @property
    def name(self) -> str:
        """Registry name of the model ('rf', 'xgb', 'mlp', 'rf_mlp', 'cnn')."""
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
            Through the card's ``pointing`` gates and ``calibration`` where it has them.
        """
        if self._normalizer is None or self._fast is None:
            return self.predict_proba(np.asarray(x)[None])[0]
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (127,):
            raise ValueError(f"x must have shape (127,) raw features; got {x.shape}: pass raw_features(...)[i]")
        z = self._normalizer.transform_array(x[None])[0]
        proba = self._fast(z)
        for gate, (first, second) in zip(self._gates, self._gate_columns):
            proba = gate.apply_one(proba, x, first, second)
        return self._finite(proba if self._scaling is None else self._scaling.apply(proba))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities, ndarray of shape (n_samples, n_classes); X as for the estimator.

        Through the card's ``pointing`` gates (they may turn a G into a Q, a K into a P, or back) and then its
        ``calibration`` (which never changes the predicted label) where it has them.
        """
        proba = self.estimator.predict_proba(X)
        if self._gates:
            proba = apply_gates(self._gates, proba, X, self._classes)
        return self._finite(proba if self._scaling is None else self._scaling.apply(proba))

    def _finite(self, proba: np.ndarray) -> np.ndarray:
        """``proba``, unless it holds NaN or inf: a model must never answer with those (loading checks the arrays)."""
        if not np.isfinite(proba).all():
            raise ModelLoadError(f"the model in {self.directory} gave probabilities that are not finite numbers: "
                                 "its files are corrupt; save it again")
        return proba

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Labels, ndarray of shape (n_samples,) of str (the most likely of :meth:`predict_proba`'s)."""
        if self._gates:
            return self._classes[self.predict_proba(X).argmax(axis=1)].astype(str)
        return np.asarray(self.estimator.predict(X)).astype(str)


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
    if not isinstance(directory, (str, os.PathLike)):
        raise ModelLoadError(f"a model directory is a path (str or Path); got {type(directory).__name__}")
    directory = Path(directory)
    card = read_card(directory)
    storage = card.estimator.get("storage")
    classes = _storage_classes()
    if storage not in classes:
        raise ModelLoadError(
            f"model in {directory} has storage {storage!r}; this landmark_asl loads only "
            f"{', '.join(sorted(classes))} (never pickle): {REBUILD_HELP}"
        )
    kind = "pixels" if storage == "torch-state-dict" else "landmarks"
    if card.input_kind != kind:
        raise ModelLoadError(
            f"{directory / METADATA_FILE}: input_kind {card.input_kind!r} does not fit storage {storage!r}, which "
            f"holds a {kind} model: the card is corrupt; save the model again"
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
