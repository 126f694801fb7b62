"""Several landmark estimates of one photo (the photo mirrored, the hand re-cropped, zoomed out) and the mean of their probabilities."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from landmark_asl.estimators.features import raw_features_from_hands
from landmark_asl.hands.extractor import limit_size, map_back
from landmark_asl.hands.landmarks import HandLandmarks

if TYPE_CHECKING:  # pragma: no cover
    from landmark_asl.hands.extractor import Detection, HandLandmarkExtractor

#: Views :func:`hand_views` knows, besides the extractor's own estimate (always first):
#: ``mirror``: the photo flipped left-right (landmarks flipped back, handedness swapped);
#: ``crop``: the hand's box (from the first estimate) with a margin of one box side, upscaled
#: to at least :data:`CROP_SIDE` pixels; ``zoom_out``: the photo inside a border of a quarter
#: of its longer side (the hand looks smaller to the palm detector).
VIEWS: tuple[str, ...] = ("mirror", "crop", "zoom_out")
#: The views used by ``predict`` and ``serve``'s ``/api/predict`` (chosen on the dev protocol,
#: docs/experiments.md, 2026-12-05).
DEFAULT_VIEWS: tuple[str, ...] = ("mirror", "crop", "zoom_out")
#: :func:`photo_probabilities` estimates the views only when the first estimate's (calibrated)
#: confidence is below this: on the dev protocol 0.2 points under always using them, for the
#: views' time on a sixth of the photos.
VIEWS_BELOW = 0.7
#: Shorter side, in pixels, of the ``crop`` view's image.
CROP_SIDE = 256
_ZOOM_BORDER = 0.25


def check_views(views: Sequence[str]) -> tuple[str, ...]:
    """The views as a tuple (a string is comma-separated names), refusing unknown names with the list of known ones."""
    views = tuple(v.strip() for v in views.split(",") if v.strip()) if isinstance(views, str) else tuple(views)
    unknown = [v for v in views if v not in VIEWS]
    if unknown:
        raise ValueError(f"unknown view(s) {unknown}; the views are {list(VIEWS)} (the plain estimate is always used)")
    return views


def _mirror(extractor: HandLandmarkExtractor, rgb: np.ndarray, hand: HandLandmarks) -> HandLandmarks | None:
    found = extractor.detect(np.ascontiguousarray(rgb[:, ::-1]))
    if found is None:
        return None
    height, width = rgb.shape[:2]
    return map_back(found, x0=0, y0=0, width=width, height=height, full_size=(width, height), mirrored=True)


def _crop(extractor: HandLandmarkExtractor, rgb: np.ndarray, hand: HandLandmarks) -> HandLandmarks | None:
    import cv2

    height, width = rgb.shape[:2]
    xs, ys = hand.image[:, 0] * width, hand.image[:, 1] * height
    side = max(xs.max() - xs.min(), ys.max() - ys.min(), 8.0) * 2.0
    cx, cy = (xs.max() + xs.min()) / 2, (ys.max() + ys.min()) / 2
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    n = int(round(side))
    # The window may leave the photo: the border repeats the edge pixels (as the extractor's pad pass).
    pad = max(0, -x0, -y0, x0 + n - width, y0 + n - height)
    source = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else rgb
    window = source[y0 + pad:y0 + pad + n, x0 + pad:x0 + pad + n]
    if n < CROP_SIDE:
        window = cv2.resize(window, (CROP_SIDE, CROP_SIDE), interpolation=cv2.INTER_CUBIC)
    found = extractor.detect(np.ascontiguousarray(window))
    if found is None:
        return None
    return map_back(found, x0=x0, y0=y0, width=n, height=n, full_size=(width, height))


def _zoom_out(extractor: HandLandmarkExtractor, rgb: np.ndarray, hand: HandLandmarks) -> HandLandmarks | None:
    import cv2

    height, width = rgb.shape[:2]
    border = int(round(_ZOOM_BORDER * max(height, width)))
    found = extractor.detect(cv2.copyMakeBorder(rgb, border, border, border, border, cv2.BORDER_REPLICATE))
    if found is None:
        return None
    return map_back(found, x0=-border, y0=-border, width=width + 2 * border, height=height + 2 * border,
                    full_size=(width, height))


_MAKERS = {"mirror": _mirror, "crop": _crop, "zoom_out": _zoom_out}


def hand_views(extractor: HandLandmarkExtractor, rgb: np.ndarray,
               views: Sequence[str] = DEFAULT_VIEWS) -> tuple[Detection, list[HandLandmarks]]:
    """Every landmark estimate of the hand in one photo: the extractor's own, then each view's.

    Parameters
    ----------
    extractor : HandLandmarkExtractor
        In image mode.
    rgb : ndarray of shape (H, W, 3), uint8
        The photo.
    views : sequence of str
        Names from :data:`VIEWS`, tried in order after the plain estimate.

    Returns
    -------
    detection : Detection
        The extractor's own result (:meth:`HandLandmarkExtractor.extract`, recovery passes
        included); when it has no hand, no view is tried.
    hands : list of HandLandmarks
        ``detection.landmarks`` first, then every view that found a hand, all in the
        coordinates of ``rgb``; empty when there is no hand.

    Examples
    --------
    >>> with HandLandmarkExtractor() as extractor:  # doctest: +SKIP
    ...     detection, hands = hand_views(extractor, rgb, ("mirror",))
    ...     proba = mean_probabilities(model, hands)
    """
    views = check_views(views)
    rgb = np.asarray(rgb)
    detection = extractor.extract(rgb)
    if detection.landmarks is None:
        return detection, []
    return detection, [detection.landmarks, *_view_estimates(extractor, rgb, detection.landmarks, views)]


def _view_estimates(extractor: HandLandmarkExtractor, rgb: np.ndarray, hand: HandLandmarks,
                    views: Sequence[str]) -> list[HandLandmarks]:
    """The estimates of ``views`` that found a hand, in order."""
    found = (estimate_view(extractor, rgb, hand, view) for view in views)
    return [estimate for estimate in found if estimate is not None]


def estimate_view(extractor: HandLandmarkExtractor, rgb: np.ndarray, hand: HandLandmarks,
                  view: str) -> HandLandmarks | None:
    """One view's estimate of the hand ``hand`` found in ``rgb`` (see :data:`VIEWS`), or None.

    Parameters
    ----------
    extractor : HandLandmarkExtractor
        In image mode.
    rgb : ndarray of shape (H, W, 3), uint8
        The photo.
    hand : HandLandmarks
        The extractor's own estimate in ``rgb`` (the ``crop`` view crops around it).
    view : str
        A name from :data:`VIEWS`.

    Returns
    -------
    HandLandmarks or None
        In the coordinates of ``rgb``; None when the view finds no hand.
    """

    (view,) = check_views([view])
    found = _MAKERS[view](extractor, limit_size(np.asarray(rgb)), hand)
    return None if found is None else dataclasses.replace(found, image_size=(rgb.shape[1], rgb.shape[0]))


def photo_probabilities(model: Any, extractor: HandLandmarkExtractor, rgb: np.ndarray,
                        views: Sequence[str] = DEFAULT_VIEWS,
                        below: float = VIEWS_BELOW) -> tuple[Detection, list[HandLandmarks], np.ndarray | None]:
    """A loaded model's probabilities for the hand in one photo: the path of ``predict``.

    The extractor's own estimate is classified first; when its top probability is below
    ``below``, the ``views`` are estimated too and the probabilities averaged over every
    estimate with a hand (:func:`mean_probabilities`).

    Parameters
    ----------
    model : LoadedModel
        A landmark model.
    extractor : HandLandmarkExtractor
        In image mode, with the model card's extractor settings.
    rgb : ndarray of shape (H, W, 3), uint8
        The photo.
    views : sequence of str
        Names from :data:`VIEWS`; ``()`` for the extractor's estimate alone.
    below : float
        Confidence under which the views are used (1.0 or more: always).

    Returns
    -------
    detection : Detection
        The extractor's own result.
    hands : list of HandLandmarks
        The estimates used (empty when no hand).
    proba : ndarray of shape (n_classes,) or None
        Columns ``model.classes``; None when no hand was found.
    """
    views = check_views(views)
    rgb = np.asarray(rgb)
    detection = extractor.extract(rgb)
    if detection.landmarks is None:
        return detection, [], None
    hands = [detection.landmarks]
    proba = mean_probabilities(model, hands)
    if views and proba.max() < below:
        hands += _view_estimates(extractor, rgb, detection.landmarks, views)
        proba = mean_probabilities(model, hands)
    return detection, hands, proba


def mean_probabilities(model: Any, hands: Sequence[HandLandmarks]) -> np.ndarray:
    """The mean over several estimates of one hand of a loaded model's probabilities.

    Parameters
    ----------
    model : LoadedModel
        A landmark model (:func:`landmark_asl.model.store.load_model`).
    hands : sequence of HandLandmarks
        At least one estimate (:func:`hand_views`).

    Returns
    -------
    ndarray of shape (n_classes,)
        Columns ``model.classes``; calibrated when the model is.
    """

    if not hands:
        raise ValueError("mean_probabilities needs at least one hand estimate; got none")
    return model.predict_proba(raw_features_from_hands(hands)).mean(axis=0)
