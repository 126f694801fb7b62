"""The recognizer: a loaded model plus one reused hand extractor, from any image to a typed prediction.

This is what a user types first::

    import landmark_asl as la

    with la.load_model() as recognizer:               # the shipped model; or load_model("my_model")
        result = recognizer.predict("photo.jpg")       # a path, bytes, an RGB ndarray or a PIL image
        print(result.label, result.confidence, result.top_k)
        recognizer.predict(cv2.imread("photo.jpg"), bgr=True)   # OpenCV's BGR arrays

``landmark-asl predict``, ``evaluate``, the server's ``/api/predict`` and ``live`` all go
through :class:`Recognizer`; the file-format module (``persistence``) only loads models.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np
from tqdm.auto import tqdm

from landmark_asl.data.datasets import load_manifest
from landmark_asl.estimators.features import raw_features_from_hands
from landmark_asl.evaluation.metrics import classification_metrics
from landmark_asl.exceptions import DatasetError, ImageInputError, LandmarkASLError, ParameterError
from landmark_asl.hands import images
from landmark_asl.hands.images import decode_image, read_image
from landmark_asl.hands.landmarks import HandLandmarks
from landmark_asl.hands.views import DEFAULT_VIEWS, check_views, photo_probabilities
from landmark_asl.labels import NO_PREDICTION, NOTHING, UNKNOWN, normalize_label
from landmark_asl.model.store import LoadedModel
from landmark_asl.model.store import load_model as _load_model_dir

#: What :meth:`Recognizer.predict` accepts: a file path, the encoded file's bytes, an RGB (or,
#: with ``bgr=True``, BGR) array of shape (H, W, 3) / (H, W, 4) / (H, W), or a PIL image.
ImageInput = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, np.ndarray, Any]

#: Alternatives listed in :attr:`Prediction.top_k` unless ``top_k=`` says otherwise.
DEFAULT_TOP_K = 3


@dataclass(frozen=True)
class Prediction:
    """What a recognizer says about one image (or one hand).

    Attributes
    ----------
    label : str
        The letter or class (``'A'`` ... ``'Z'``, ``'SPACE'``, ``'DEL'``, ``'NOTHING'``);
        ``'NOTHING'`` for an image without a hand when the model knows that class, else ``''``
        (no prediction); ``'unknown'`` when the best probability is below ``min_confidence``.
    confidence : float
        Probability of the best class (after a ``labels=`` restriction); 1.0 for NOTHING from
        no hand, 0.0 for no prediction.
    top_k : tuple of (str, float)
        The most probable classes, best first (empty without a hand).
    detected : bool or None
        Whether a hand was found; None for a pixel model (which needs no hand).
    handedness : str
        ``'Left'``/``'Right'``, or ``''`` without a hand.
    landmarks : HandLandmarks or None
        The hand the model saw (not shown in the repr).
    strategy : str
        The extractor pass that found the hand (``'plain'``, ``'pad'`` ...), ``''`` if none did.
    """

    label: str
    confidence: float
    top_k: tuple[tuple[str, float], ...] = ()
    detected: bool | None = False
    handedness: str = ""
    landmarks: Any = field(default=None, repr=False, compare=False)
    strategy: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON values: ``label``, ``confidence``, ``top_k`` (list of [label, p]), ``detected``, ``handedness``, ``strategy``."""
        return {"label": self.label, "confidence": self.confidence, "top_k": [list(t) for t in self.top_k],
                "detected": self.detected, "handedness": self.handedness, "strategy": self.strategy}


def to_rgb(image: ImageInput, *, bgr: bool = False) -> np.ndarray:
    """Any supported image as an RGB uint8 array of shape (H, W, 3).

    Parameters
    ----------
    image : str, path-like, bytes, ndarray or PIL.Image.Image
        A file (read with :func:`images.read_image`: decompression-bomb limit, large photos
        downscaled), the bytes of an encoded file, an array of shape (H, W, 3) (RGB), (H, W, 4)
        (RGBA, alpha dropped) or (H, W) (gray) of dtype uint8, or a PIL image (any mode).
    bgr : bool
        The array's channels are in OpenCV's order (``cv2.imread``, camera frames); only for arrays.

    Raises
    ------
    ImageInputError
        Another type, shape or dtype, or ``bgr=True`` with something that is not an array.
    DatasetError
        A file or bytes that cannot be read or decoded.
    """

    if isinstance(image, np.ndarray):
        return _array_to_rgb(image, bgr=bgr)
    if image is None and bgr:  # cv2.imread answers None for a file it cannot read
        raise ImageInputError("got None instead of an image: cv2.imread returns None when it cannot read the file "
                              "(check the path)")
    if bgr:
        raise ImageInputError(
            f"bgr=True applies to arrays only; got {type(image).__name__}, whose colours are read as RGB: drop bgr=True"
        )
    if isinstance(image, (str, os.PathLike)):
        return read_image(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode_image(bytes(image), name="given as bytes")
    if _is_pil_image(image):
        return images.pil_to_rgb(image)
    raise ImageInputError(
        f"cannot read an image from {type(image).__name__}: pass a file path, the file's bytes, an RGB uint8 "
        "ndarray of shape (H, W, 3) (bgr=True for OpenCV arrays) or a PIL image"
    )


def _is_pil_image(value: object) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        return False
    return isinstance(value, Image.Image)


def _array_to_rgb(array: np.ndarray, *, bgr: bool) -> np.ndarray:
    if array.dtype != np.uint8:
        raise ImageInputError(
            f"an image array must have dtype uint8 (0-255); got {array.dtype}: convert with "
            "np.clip(a * 255, 0, 255).astype(np.uint8) for floats in [0, 1]"
        )
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    elif not (array.ndim == 3 and array.shape[2] == 3):
        raise ImageInputError(
            f"an image array must have shape (H, W, 3), (H, W, 4) or (H, W); got {array.shape}"
            + (": pass one image, or use predict_many for a batch" if array.ndim == 4 else "")
        )
    if min(array.shape[:2]) < 1:
        raise ImageInputError(f"an image array must not be empty; got shape {array.shape}")
    if bgr:
        array = array[:, :, ::-1]
    return np.ascontiguousarray(array)


class Recognizer:
    """A loaded model and the one hand extractor it reuses: ``predict(image)`` -> :class:`Prediction`.

    Build it with :func:`load_model`. The extractor (MediaPipe's hand landmarker in image
    mode, with the settings on the model's card) is created on the first image and reused
    for every later one; :meth:`close` (or a ``with`` block) releases it. A recognizer is not
    thread-safe: use one per thread.

    Parameters
    ----------
    model : LoadedModel
        From :func:`landmark_asl.model.store.load_model`.
    top_k : int
        How many classes :attr:`Prediction.top_k` lists.
    """

    def __init__(self, model: LoadedModel, *, top_k: int = DEFAULT_TOP_K,
                 views: Sequence[str] = DEFAULT_VIEWS) -> None:
        if not isinstance(model, LoadedModel):
            raise TypeError(f"model must be a LoadedModel (persistence.load_model); got {type(model).__name__}")
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ParameterError(f"top_k must be an integer >= 1; got {top_k!r}")
        self.model = model
        self.top_k = top_k
        self.views = check_views(views)
        self._extractor = None
        self._masks: dict[tuple[str, ...], np.ndarray] = {}

    # -- what the model is --------------------------------------------------------------------

    @property
    def card(self):
        """The model's :class:`~landmark_asl.model.store.ModelCard`."""
        return self.model.card

    @property
    def name(self) -> str:
        """Registry name of the model ('rf', 'xgb', 'mlp', 'rf_mlp', 'cnn')."""
        return self.model.name

    @property
    def classes(self) -> np.ndarray:
        """Labels, ndarray of shape (n_classes,), the column order of the probabilities."""
        return self.model.classes

    def predict_proba_one(self, x: np.ndarray) -> np.ndarray:
        """Probabilities of one raw feature row, ndarray of shape (n_classes,) (what ``live`` calls per frame)."""
        return self.model.predict_proba_one(x)

    # -- life cycle ----------------------------------------------------------------------------

    def _hand_extractor(self):
        if self._extractor is None:
            from landmark_asl.hands.extractor import HandLandmarkExtractor

            self._extractor = HandLandmarkExtractor(self.card.extractor_settings)
        return self._extractor

    def close(self) -> None:
        """Release the hand extractor (a later predict creates a new one)."""
        if self._extractor is not None:
            self._extractor.close()
            self._extractor = None

    def __enter__(self) -> Recognizer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Recognizer(model={self.name!r}, directory={str(self.model.directory)!r}, classes={len(self.classes)})"

    # -- prediction ----------------------------------------------------------------------------

    def estimate(self, rgb: np.ndarray) -> tuple[np.ndarray | None, Any]:
        """The model's probabilities for one RGB image, and the hand they come from.

        This is the one place a photo becomes probabilities (``predict``, ``predict_many``, the
        CLI, the server): the extractor's estimate is classified, and when the model is unsure
        (top probability below :data:`landmark_asl.hands.views.VIEWS_BELOW`) the extra estimates
        ``self.views`` (mirrored, re-cropped, zoomed out) are made too and the probabilities
        averaged (:func:`landmark_asl.hands.views.photo_probabilities`).

        Parameters
        ----------
        rgb : ndarray of shape (H, W, 3), uint8

        Returns
        -------
        proba : ndarray of shape (n_classes,) or None
            None when a landmark model found no hand.
        detection : Detection or None
            The extractor's answer (None for a pixel model).
        """
        if self.card.input_kind == "pixels":
            return self.model.predict_proba(rgb[None])[0], None
        detection, _, proba = photo_probabilities(self.model, self._hand_extractor(), rgb, self.views)
        return proba, detection

    def _hand_proba(self, hands: Sequence[Any]) -> np.ndarray:

        if self.card.input_kind != "landmarks":
            raise LandmarkASLError(f"the {self.name!r} model classifies pixels, not landmarks: use predict(image)")
        return self.model.predict_proba(raw_features_from_hands(hands))

    def predict(self, image: ImageInput, *, bgr: bool = False, labels: str | Iterable[str] | None = None,
                min_confidence: float | None = None) -> Prediction:
        """The letter shown in one image.

        Parameters
        ----------
        image : str, path-like, bytes, ndarray or PIL.Image.Image
            See :func:`to_rgb`. Arrays are RGB unless ``bgr=True``.
        bgr : bool
            The array is BGR (``cv2.imread``, OpenCV camera frames).
        labels : str or iterable of str, optional
            Only these classes can be answered (``'A,B,C'`` or ``['A', 'B']``, any spelling
            :func:`~landmark_asl.labels.normalize_label` reads); their probabilities are renormalised.
        min_confidence : float, optional
            Below this probability the label is ``'unknown'`` (``top_k`` still lists the candidates).

        Returns
        -------
        Prediction

        Raises
        ------
        ImageInputError, DatasetError
            Not an image, or a file that cannot be read.
        LandmarkASLError
            A label the model does not know, or ``min_confidence`` outside [0, 1].
        """
        mask = self._label_mask(labels)
        _check_min_confidence(min_confidence)
        proba, detection = self.estimate(to_rgb(image, bgr=bgr))
        return self._decide(proba, detection, mask, min_confidence)

    def predict_many(self, images: Iterable[ImageInput], *, bgr: bool = False,
                     labels: str | Iterable[str] | None = None, min_confidence: float | None = None) -> list[Prediction]:
        """:meth:`predict` for each image, with the same extractor (list of :class:`Prediction`, in order)."""
        if isinstance(images, (str, bytes, bytearray, memoryview, os.PathLike)):
            raise ParameterError(f"predict_many takes a list of images; got one {type(images).__name__}: "
                                 "for one image use predict(image)")
        mask = self._label_mask(labels)
        _check_min_confidence(min_confidence)
        return [self._decide(*self.estimate(to_rgb(image, bgr=bgr)), mask, min_confidence) for image in images]

    def predict_hands(self, hands: Sequence[Any], *, labels: str | Iterable[str] | None = None,
                      min_confidence: float | None = None) -> list[Prediction]:
        """Predictions for hands already extracted (``None`` where no hand was found).

        Parameters
        ----------
        hands : sequence of HandLandmarks or None
            E.g. ``HandLandmarkExtractor(...).extract(rgb).landmarks`` per image.

        Returns
        -------
        list of Prediction
            ``None`` entries get the card's no-hand answer (``'NOTHING'`` with confidence 1.0,
            or ``''`` with 0.0; ``''`` too when ``labels`` leaves ``'NOTHING'`` out).
        """

        mask = self._label_mask(labels)
        _check_min_confidence(min_confidence)
        hands = list(hands)
        wrong = next((h for h in hands if h is not None and not isinstance(h, HandLandmarks)), None)
        if wrong is not None:
            raise LandmarkASLError(
                f"predict_hands takes HandLandmarks (or None for no hand); got {type(wrong).__name__}: "
                "for images use predict(image) or predict_many(images)"
            )
        present = [i for i, h in enumerate(hands) if h is not None]
        proba = self._hand_proba([hands[i] for i in present]) if present else None
        rows = dict(zip(present, proba if proba is not None else []))
        return [self._decide(rows.get(i), _Given(h) if h is not None else None, mask, min_confidence)
                for i, h in enumerate(hands)]

    def answerable(self, labels: str | Iterable[str] | None = None) -> tuple[str, ...]:
        """The classes a prediction can answer with ``labels=`` (all of them for None).

        Raises
        ------
        LandmarkASLError
            An empty ``labels``, or a label the model does not know.
        """
        mask = self._label_mask(labels)
        return tuple(str(c) for c in (self.classes if mask is None else self.classes[mask]))

    def _label_mask(self, labels: str | Iterable[str] | None) -> np.ndarray | None:
        if labels is None:
            return None
        if not isinstance(labels, str) and not isinstance(labels, Iterable):
            raise ParameterError(f"labels must be text like 'A,B' or a list of labels; got {type(labels).__name__}")
        items = labels.split(",") if isinstance(labels, str) else list(labels)
        wanted = tuple(sorted({normalize_label(item) for item in items if str(item).strip()}))
        if not wanted:
            raise LandmarkASLError("labels is empty: give some of the model's classes, e.g. 'A,B,C'")
        if wanted not in self._masks:
            unknown = [label for label in wanted if label not in set(self.classes)]
            if unknown:
                raise LandmarkASLError(
                    f"labels {', '.join(unknown)} are not classes of the {self.name!r} model; it knows "
                    f"{' '.join(self.classes)}"
                )
            self._masks[wanted] = np.isin(self.classes, wanted)
        return self._masks[wanted]

    def _decide(self, proba: np.ndarray | None, detection: Any, mask: np.ndarray | None,
                min_confidence: float | None) -> Prediction:
        hand = getattr(detection, "landmarks", None)
        strategy = getattr(detection, "strategy", "")
        if proba is None:
            no_hand = self.card.no_hand_label
            if mask is not None and no_hand not in set(self.classes[mask]):  # labels= leaves no-hand answers out
                no_hand = NO_PREDICTION
            return Prediction(no_hand, 1.0 if no_hand == NOTHING else 0.0, (), False, "", None, "")
        proba = np.asarray(proba, dtype=np.float64)
        if mask is not None:
            proba = np.where(mask, proba, 0.0)
            total = proba.sum()
            proba = proba / total if total > 0 else np.where(mask, 1.0 / mask.sum(), 0.0)
        order = np.argsort(-proba, kind="stable")[: self.top_k]
        if mask is not None:
            order = order[mask[order]]
        top = tuple((str(self.classes[i]), float(proba[i])) for i in order)
        label, confidence = top[0]
        if min_confidence is not None and confidence < min_confidence:
            label = UNKNOWN
        detected = None if self.card.input_kind == "pixels" else True
        return Prediction(label, confidence, top, detected, hand.handedness if hand is not None else "", hand, strategy)


class _Given:
    """A hand handed in by the caller (no extractor pass)."""

    strategy = "given"

    def __init__(self, hand: Any) -> None:
        self.landmarks = hand


def _check_min_confidence(value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0.0 <= float(value) <= 1.0:
        raise LandmarkASLError(f"min_confidence must be a number in [0, 1]; got {value!r}")


def load_model(path: str | Path | LoadedModel | None = None, *, top_k: int = DEFAULT_TOP_K,
               views: Sequence[str] = DEFAULT_VIEWS) -> Recognizer:
    """Load a model directory into a :class:`Recognizer` (no code from the files runs).

    Parameters
    ----------
    path : str, Path, LoadedModel or None
        A model directory (``landmark-asl train`` / ``adapt``), an already loaded model, or
        None for the shipped default model.
    top_k : int
        How many classes each prediction lists.
    views : sequence of str
        Extra landmark estimates of a photo averaged when the model is unsure
        (:data:`landmark_asl.hands.views.VIEWS`; ``()`` for the extractor's estimate alone).

    Returns
    -------
    Recognizer

    Raises
    ------
    ModelLoadError
        Missing, corrupt or incompatible model directory (see :func:`persistence.load_model`).
    """
    model = path if isinstance(path, LoadedModel) else _load_model_dir(path)
    return Recognizer(model, top_k=top_k, views=views)




def prediction_row(path: str, prediction: Prediction | None, error: str = "") -> dict[str, Any]:
    """One image's JSON answer (``predict --json``, ``POST /api/predict``): ``path``, the prediction's fields, ``error``.

    ``prediction=None`` (an image that could not be read) answers no prediction, no hand.
    """
    fields = (prediction or Prediction(NO_PREDICTION, 0.0)).to_dict()
    return {"path": path, **fields, "error": error}


def folder_label(path: str | Path) -> str | None:
    """The true label of an image in a labelled folder (``<label>/<image>``), or None.

    The folder's name read by :func:`~landmark_asl.labels.normalize_label` (``a``, ``Del``,
    ``nothing`` ...); None when the folder is not named like a label.
    """
    try:
        return normalize_label(Path(path).parent.name)
    except DatasetError:
        return None


#: The files ``evaluate_images(output=...)`` writes.
EVALUATION_FILES = ("confusion.png", "evaluation.json")


def evaluate_images(
    sources: str | Path | Sequence[str | Path],
    *,
    model: str | Path | LoadedModel | Recognizer | None = None,
    labels: str | Iterable[str] | None = None,
    min_confidence: float | None = None,
    output: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Score a model on labelled images: coverage, accuracy on all and on detected images, per class.

    Every image counts: one without a hand gets the model's no-hand answer (wrong unless it
    is a NOTHING image and the model knows NOTHING), one that cannot be read counts as
    wrong. Images of labels the model cannot answer (not among its classes or ``labels``) are
    left out and listed in ``dropped``.

    Parameters
    ----------
    sources : str, Path or sequence of them
        Labelled folders (``<label>/*.jpg``, any layout :func:`~landmark_asl.data.datasets.load_manifest`
        reads) or dataset names under the data root.
    model : str, Path, LoadedModel, Recognizer or None
        What to score (None: the shipped default model).
    labels, min_confidence
        As for :meth:`Recognizer.predict`.
    output : str or Path, optional
        Folder to write ``confusion.png`` and ``evaluation.json`` into (created).
    overwrite : bool
        Replace an earlier evaluation's files in ``output``; without it they are refused before
        any image is read.
    progress : bool
        A progress bar on stderr.

    Returns
    -------
    dict
        :func:`~landmark_asl.evaluation.metrics.classification_metrics` plus ``per_class``
        ({label: {n, accuracy, f1}}), ``dropped`` ({label: n images}), ``n_unreadable``,
        ``model`` and ``files`` (what was written).
    """
    if output is not None and not overwrite:
        earlier = [name for name in EVALUATION_FILES if (Path(output) / name).exists()]
        if earlier:
            raise LandmarkASLError(
                f"{output} already holds {' and '.join(earlier)} of an earlier evaluation: pass overwrite=True "
                "to replace them, or choose another folder"
            )
    recognizer = model if isinstance(model, Recognizer) else load_model(model)
    manifest, _ = load_manifest(sources)
    allowed = set(recognizer.classes)
    if labels is not None:
        allowed &= set(recognizer.classes[recognizer._label_mask(labels)])
    keep = manifest["label"].isin(allowed).to_numpy()
    dropped = {str(k): int(v) for k, v in manifest.loc[~keep, "label"].value_counts().sort_index().items()}
    manifest = manifest[keep].reset_index(drop=True)
    if manifest.empty:
        raise DatasetError(
            f"none of the images has a label the model can answer (found {', '.join(dropped) or 'none'}; "
            f"the model knows {' '.join(sorted(allowed))})"
        )
    predicted, detected, unreadable = [], [], 0
    for source in tqdm(manifest["source"], disable=not progress, desc="evaluate", unit="image"):
        try:
            result = recognizer.predict(source, labels=labels, min_confidence=min_confidence)
        except DatasetError:
            unreadable += 1
            predicted.append(NO_PREDICTION)
            detected.append(False)
            continue
        predicted.append(result.label)
        detected.append(bool(result.detected) if result.detected is not None else True)
    metrics = classification_metrics(manifest["label"].to_numpy(), predicted, detected)
    index = {label: i for i, label in enumerate(metrics["labels"])}
    confusion = np.asarray(metrics["confusion"])
    per_class = {}
    for label, f1 in metrics["per_class_f1"].items():
        row = confusion[index[label]]
        per_class[label] = {"n": int(row.sum()), "accuracy": float(row[index[label]] / max(row.sum(), 1)), "f1": f1}
    report = {**metrics, "per_class": per_class, "dropped": dropped, "n_unreadable": unreadable,
              "model": {"name": recognizer.name, "directory": str(recognizer.model.directory)},
              "sources": [str(s) for s in ([sources] if isinstance(sources, (str, Path)) else sources)],
              "labels": metrics["labels"], "files": {}}
    if output is not None:
        from landmark_asl._util import atomic_write_text
        from landmark_asl.evaluation.reporting import plot_confusion

        output = Path(output)
        output.mkdir(parents=True, exist_ok=True)
        title = f"{recognizer.name} on {', '.join(report['sources'])}: accuracy {100 * metrics['accuracy_all']:.1f}%"
        report["files"]["confusion"] = str(plot_confusion(metrics, output / "confusion.png", title=title))
        report["files"]["json"] = str(output / "evaluation.json")
        atomic_write_text(output / "evaluation.json", json.dumps(report, indent=2) + "\n")
    return report


__all__ = ["DEFAULT_TOP_K", "ImageInputError", "Prediction", "Recognizer", "evaluate_images", "folder_label", "load_model",
           "prediction_row",
           "to_rgb"]
