"""Inference on image files with a saved model: the one path from an image to a letter, shared by predict, live and a server."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from landmark_asl.exceptions import DatasetError
from landmark_asl.images import image_files, printable_path, read_image
from landmark_asl.labels import NO_PREDICTION
from landmark_asl.persistence import LoadedModel, load_model
from landmark_asl.views import DEFAULT_VIEWS, check_views, photo_probabilities


def _result(path: Path, *, label: str = NO_PREDICTION, confidence: float = 0.0, detected: bool | None = False,
            handedness: str = "", strategy: str = "", error: str = "") -> dict[str, Any]:
    return {"path": printable_path(path), "label": label, "confidence": confidence, "detected": detected,
            "handedness": handedness, "strategy": strategy, "error": error}


def predict_images(paths: Sequence[str | Path], *, model: str | Path | LoadedModel | None = None,
                   views: Sequence[str] = DEFAULT_VIEWS) -> Iterator[dict[str, Any]]:
    """Predict the letter of each image with a saved model.

    A landmark model sees the hand that the extractor finds, with the extractor settings on
    the model's card; when the model is not sure of it (confidence below
    :data:`landmark_asl.views.VIEWS_BELOW`), also the extra estimates ``views``, and the
    probabilities are averaged over them (:func:`landmark_asl.views.photo_probabilities`;
    README, "A new signer"). An
    image without a hand gets the card's ``no_hand_label`` (``'NOTHING'`` when the model knows
    that class, else ``''``, no prediction). A pixel model needs no hand.

    Parameters
    ----------
    paths : sequence of str or Path
        Image files and folders of images (searched recursively, :func:`images.image_files`).
    model : str, Path, LoadedModel or None
        Model directory or a loaded model; None uses the shipped default.
    views : sequence of str, default=DEFAULT_VIEWS
        Extra landmark estimates of each photo (:data:`landmark_asl.views.VIEWS`); ``()`` for
        the extractor's own estimate only (faster).

    Yields
    ------
    dict
        ``path``, ``label``, ``confidence`` (probability of ``label``), ``detected``
        (a hand was found; None for a pixel model), ``handedness``, ``strategy``
        (extractor pass that found the hand) and ``error`` (why the image could not be read, or '').
    """
    views = check_views(views)
    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    files = image_files(paths)
    if loaded.card.input_kind == "pixels":
        yield from _predict_pixels(loaded, files)
        return
    from landmark_asl.landmarks import HandLandmarkExtractor

    with HandLandmarkExtractor(loaded.card.extractor_settings) as extractor:
        for path in files:
            try:
                rgb = read_image(path)
            except DatasetError as exc:
                yield _result(path, error=str(exc))
                continue
            detection, hands, proba = photo_probabilities(loaded, extractor, rgb, views)
            if proba is None:
                labels, confidences = loaded.predict_hands([None])
                yield _result(path, label=str(labels[0]), confidence=float(confidences[0]), detected=False)
                continue
            best = int(np.argmax(proba))
            yield _result(path, label=str(loaded.classes[best]), confidence=float(proba[best]), detected=True,
                          handedness=hands[0].handedness, strategy=detection.strategy)


def _predict_pixels(loaded: LoadedModel, files: list[Path]) -> Iterator[dict[str, Any]]:
    from landmark_asl.cnn import load_pixels

    estimator = loaded.estimator
    pixels, failed = load_pixels([str(f) for f in files], image_size=estimator.image_size_,
                                 grayscale=bool(estimator.grayscale_), return_failed=True)
    proba = loaded.predict_proba(pixels)
    best = np.argmax(proba, axis=1)
    for i, path in enumerate(files):
        if failed[i]:
            yield _result(path, detected=None, error="cannot read image")
        else:
            yield _result(path, label=str(loaded.classes[best[i]]), confidence=float(proba[i, best[i]]), detected=None)
