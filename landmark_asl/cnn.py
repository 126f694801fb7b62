"""The pixel baseline: a small PyTorch CNN wrapped as a scikit-learn classifier.

This is the only module that imports torch (the optional extra ``cnn``).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pickle  # only for its exception type: weights load with weights_only=True
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

try:
    import torch
    from torch import nn
    from torch.nn import functional as F
except ImportError as exc:  # pragma: no cover - exercised only without torch
    from landmark_asl.exceptions import MissingExtraError

    raise MissingExtraError(
        "landmark_asl.cnn needs PyTorch, which is not installed: "
        'pip install "landmark_asl[cnn]" (CPU build; for a CUDA build see docs/guide/cnn.md, "Installing torch")'
    ) from exc

from sklearn.model_selection import train_test_split

from landmark_asl._util import load_json
from landmark_asl.data.datasets import read_sample
from landmark_asl.exceptions import DatasetError, ModelLoadError

#: File names written by :meth:`PixelCNNClassifier.save_artifact`.
STATE_FILE = "cnn_state.pt"
CONFIG_FILE = "cnn_config.json"
#: Version of the layout of :data:`CONFIG_FILE`; bump when the network changes.
ARTIFACT_VERSION = 1

_IMAGE_SHAPE_HELP = (
    "X must be a batch of images: ndarray of shape (n, H, W, 3) uint8 RGB or (n, H, W) uint8 gray"
)


# --- network ----------------------------------------------------------------


class _SmallCNN(nn.Module):
    """Three conv blocks (conv 3x3, batch norm, ReLU, max-pool), then a small dropout head.

    About 2 M multiply-adds per 28x28 image, so CPU training stays fast.
    """

    def __init__(self, in_channels: int, n_classes: int, width: int, dropout: float) -> None:
        super().__init__()
        channels = (width, 2 * width, 4 * width)
        layers: list[nn.Module] = []
        previous = in_channels
        for out in channels:
            layers += [
                nn.Conv2d(previous, out, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            previous = out
        # 28 -> 3x3 after three poolings; larger inputs are averaged down to the same grid.
        layers.append(nn.AdaptiveAvgPool2d(3))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(previous * 9, 128),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(128, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


# --- pixels -----------------------------------------------------------------


def _check_images(X: object, name: str = "X") -> np.ndarray:
    """Validate an image batch and return it as a uint8 array (n, H, W) or (n, H, W, 3)."""
    if not isinstance(X, np.ndarray):
        X = np.asarray(X)
    if X.ndim == 4 and X.shape[-1] == 1:
        X = X[..., 0]
    if X.ndim not in (3, 4) or (X.ndim == 4 and X.shape[-1] != 3):
        raise ValueError(
            f"{_IMAGE_SHAPE_HELP}; got {name} of shape {X.shape}: the CNN takes pixels, not "
            "landmark features (read images with landmark_asl.cnn.load_pixels)"
        )
    if X.shape[0] == 0 or X.shape[1] == 0 or X.shape[2] == 0:
        raise ValueError(f"{_IMAGE_SHAPE_HELP}; got an empty {name} of shape {X.shape}")
    if X.dtype != np.uint8:
        raise ValueError(
            f"{name} must have dtype uint8 (pixel values 0-255); got {X.dtype}: convert with "
            "np.clip(X, 0, 255).astype(np.uint8)"
        )
    return X


def _is_gray(images: np.ndarray) -> bool:
    """True when a batch is 2-D per image or all three channels are equal everywhere."""
    if images.ndim == 3:
        return True
    return bool(
        np.array_equal(images[..., 0], images[..., 1])
        and np.array_equal(images[..., 0], images[..., 2])
    )


def _convert_image(image: np.ndarray, image_size: int, grayscale: bool) -> np.ndarray:
    """One image (H, W) or (H, W, 3) -> (S, S) gray or (S, S, 3) RGB uint8 (INTER_AREA resize)."""
    import cv2

    if grayscale and image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    elif not grayscale and image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.shape[:2] != (image_size, image_size):
        # Non-square images are squashed, not cropped: every dataset here is square.
        image = cv2.resize(image, (image_size, image_size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image, dtype=np.uint8)


def _to_network_layout(images: np.ndarray, image_size: int, grayscale: bool) -> np.ndarray:
    """Batch (n, H, W[, 3]) uint8 -> (n, C, S, S) uint8, C = 1 (gray) or 3 (RGB)."""
    same_size = images.shape[1:3] == (image_size, image_size)
    same_colour = (images.ndim == 3) == grayscale
    if same_size and same_colour:
        out = images
    elif same_size and grayscale:
        out = (
            images[..., 0]
            if _is_gray(images)
            else np.stack([_convert_image(img, image_size, True) for img in images])
        )
    else:
        out = np.stack([_convert_image(img, image_size, grayscale) for img in images])
    if out.ndim == 3:
        out = out[:, None, :, :]
    else:
        out = out.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(out)


def load_pixels(
    manifest: Any,
    *,
    image_size: int = 28,
    grayscale: bool = False,
    return_failed: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Read and resize every image of a manifest, in manifest order.

    Parameters
    ----------
    manifest : pandas.DataFrame with a ``source`` column, or sequence of str
        Rows from :func:`landmark_asl.data.datasets.load_manifest`; each source is read with
        :func:`landmark_asl.data.datasets.read_sample` (files and Sign-MNIST ``<csv>#<row>`` rows).
    image_size : int, default=28
        Side of the square output images (``cv2.INTER_AREA`` resize).
    grayscale : bool, default=False
        Return gray images (luminance) instead of RGB.
    return_failed : bool, default=False
        Also return the mask of sources that could not be read.

    Returns
    -------
    pixels : ndarray of shape (n, image_size, image_size, 3) or (n, image_size, image_size), uint8
        One image per manifest row. A source that cannot be read (corrupt or missing file) does not
        stop the load: its row is all zeros and a ``UserWarning`` names it.
    failed : ndarray of shape (n,), bool
        Only with ``return_failed=True``: True where the source could not be read. Count those rows
        as wrong predictions (or drop them) rather than scoring the blank image.
    """

    if image_size < 1:
        raise ValueError(f"image_size must be a positive int; got {image_size!r}")
    sources = list(manifest["source"]) if hasattr(manifest, "columns") else list(manifest)
    shape = (image_size, image_size) if grayscale else (image_size, image_size, 3)
    pixels = np.zeros((len(sources), *shape), dtype=np.uint8)
    failed = np.zeros(len(sources), dtype=bool)
    reasons: list[str] = []
    for i, source in enumerate(sources):
        try:
            image = read_sample(str(source))
        except (DatasetError, OSError) as exc:
            failed[i] = True
            reasons.append(f"{source}: {exc}")
            continue
        pixels[i] = _convert_image(image, image_size, grayscale)
    if reasons:
        shown = "; ".join(reasons[:3]) + ("; ..." if len(reasons) > 3 else "")
        warnings.warn(
            f"{len(reasons)} of {len(sources)} images could not be read and were left blank: {shown}",
            UserWarning,
            stacklevel=2,
        )
    return (pixels, failed) if return_failed else pixels


# --- helpers ----------------------------------------------------------------


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available else CPU; ``"cuda"`` without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device='cuda' but torch sees no CUDA GPU (torch "
            f"{torch.__version__}): use device='auto' or 'cpu', or install a CUDA build of torch"
        )
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda'; got {device!r}")
    return torch.device(device)


@contextlib.contextmanager
def _torch_threads(n_jobs: int | None) -> Iterator[None]:
    """Use ``n_jobs`` intra-op threads inside the block, then restore the previous setting."""
    previous = torch.get_num_threads()
    if n_jobs is not None:
        # joblib's convention: -1 = all cores, -2 = all but one ...
        threads = int(n_jobs) if n_jobs > 0 else (os.cpu_count() or 1) + 1 + int(n_jobs)
        torch.set_num_threads(max(1, threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


#: Ranges of the random training transforms: rotation in degrees, zoom factor (> 1 zooms in),
#: shift as a fraction of the half-width, contrast factor, brightness offset (0-1 pixel scale).
#: Chosen for transfer to other cameras and crops: trained on sign_mnist_style_28, these ranges
#: doubled accuracy on a dev half of the real Sign MNIST rows (15% -> 33%) against milder ones
#: (+-10 deg, zoom 0.92-1.08, shift 0.12, contrast 0.8-1.2, brightness 0.1), with the same
#: 100% on the held-out same-set split (see docs/benchmarks.md, "The pixel CNN").
AUGMENT_RANGES: dict[str, tuple[float, float]] = {
    "rotation": (-15.0, 15.0),
    "zoom": (0.9, 1.4),
    "shift": (-0.2, 0.2),
    "contrast": (0.6, 1.5),
    "brightness": (-0.25, 0.25),
}


def _augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random small rotation, zoom, shift, contrast and brightness (:data:`AUGMENT_RANGES`).

    ``batch`` is float in [0, 1], shape (n, C, S, S); no flips (handedness is part of a sign).
    """
    n = batch.shape[0]

    def uniform(name: str) -> torch.Tensor:
        low, high = AUGMENT_RANGES[name]
        return torch.rand(n, generator=generator) * (high - low) + low

    angle = uniform("rotation") * math.pi / 180.0
    zoom = uniform("zoom")
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [
            torch.stack([cos, -sin, uniform("shift")], dim=1),
            torch.stack([sin, cos, uniform("shift")], dim=1),
        ],
        dim=1,
    ).to(batch.device)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    out = F.grid_sample(batch, grid, mode="bilinear", padding_mode="border", align_corners=False)
    contrast = uniform("contrast").view(n, 1, 1, 1).to(batch.device)
    brightness = uniform("brightness").view(n, 1, 1, 1).to(batch.device)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    return ((out - mean) * contrast + mean + brightness).clamp(0.0, 1.0)


# --- estimator --------------------------------------------------------------


class PixelCNNClassifier(ClassifierMixin, BaseEstimator):
    """Small convolutional network on raw pixels: the baseline for the landmark models.

    Follows scikit-learn conventions (``fit`` / ``predict`` / ``predict_proba``, learned
    state ends in ``_``), so the comparison code treats it like any other classifier; only
    its input differs: images, not landmark features.

    Parameters
    ----------
    image_size : int or None, default=28
        Side of the square network input; images are resized with ``cv2.INTER_AREA``.
        None picks 28 for gray input and 64 for colour input.
    grayscale : {"auto", True, False}, default="auto"
        "auto" trains on gray images when ``X`` is (n, H, W) or all three channels are equal
        (Sign-MNIST-style data) and on RGB otherwise. Colour input to a gray model is converted
        (luminance); gray input to a colour model is replicated to three channels.
    width : int, default=16
        Channels of the first conv block (then 2x and 4x).
    dropout : float, default=0.3
        Dropout rate in the head.
    epochs : int, default=30
        Maximum training epochs.
    batch_size : int, default=64
    learning_rate : float, default=2e-3
        Peak AdamW learning rate (one-cycle schedule over ``epochs``).
    weight_decay : float, default=1e-4
    patience : int, default=5
        Stop when the validation loss has not improved for this many epochs; the best epoch's
        weights are kept. Ignored without a validation split.
    validation_fraction : float, default=0.1
        Stratified share of the training data held out for early stopping; 0 trains on all of it
        for ``epochs`` epochs.
    augment : bool, default=True
        Random rotations, zooms, shifts, contrast and brightness changes during training
        (ranges in :data:`AUGMENT_RANGES`; no flips).
    standardize : {"dataset", "image"}, default="dataset"
        "dataset" subtracts the training set's per-channel mean and divides by its std;
        "image" standardises every image by its own mean and std (robust to exposure and
        contrast differences between datasets).
    device : {"auto", "cpu", "cuda"}, default="auto"
        "auto" uses CUDA when ``torch.cuda.is_available()``.
    n_jobs : int or None, default=1
        Torch CPU threads during ``fit`` / ``predict`` (restored afterwards); -1 uses all cores
        (joblib's convention), None keeps torch's current setting. One thread is the default because the network is small: extra threads
        gain little on 28x28 input and slow everything down badly when the cores are shared
        (measured 10x slower per batch with 2 threads on a loaded 2-core machine). Raise it for
        large colour images on an idle machine.
    random_state : int, RandomState or None, default=0
        Seeds the validation split, weight initialisation, shuffling, augmentation and dropout.
        With an int, CPU training is repeatable bit for bit.
    verbose : int, default=0
        1 prints one line per epoch to stderr.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted label strings; columns of ``predict_proba`` follow them.
    image_size_ : int
    grayscale_ : bool
    input_shape_ : tuple of int
        Shape of one training image as given, e.g. (28, 28) or (224, 224, 3).
    model_ : torch.nn.Module
        The trained network (kept on ``device_``).
    device_ : str
    mean_, std_ : ndarray of shape (n_channels,)
        Per-channel pixel statistics (0-1 scale) of the training images.
    history_ : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``val_loss``, ``val_accuracy`` (NaN without validation).
    best_epoch_ : int
        Epoch (1-based) whose weights were kept.
    """

    #: Storage kind written into a model card, and the files :meth:`load_artifact` reads.
    STORAGE = "torch-state-dict"
    ARTIFACT_FILES = (STATE_FILE, CONFIG_FILE)

    def __init__(
        self,
        image_size: int | None = 28,
        grayscale: str | bool = "auto",
        width: int = 16,
        dropout: float = 0.3,
        epochs: int = 30,
        batch_size: int = 64,
        learning_rate: float = 2e-3,
        weight_decay: float = 1e-4,
        patience: int = 5,
        validation_fraction: float = 0.1,
        augment: bool = True,
        standardize: str = "dataset",
        device: str = "auto",
        n_jobs: int | None = 1,
        random_state: int | np.random.RandomState | None = 0,
        verbose: int = 0,
    ) -> None:
        self.image_size = image_size
        self.grayscale = grayscale
        self.width = width
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.augment = augment
        self.standardize = standardize
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.non_deterministic = self.device == "cuda"
        return tags

    # -- fit -----------------------------------------------------------------

    def _check_params(self) -> None:
        if self.grayscale not in ("auto", True, False):
            raise ValueError(f"grayscale must be 'auto', True or False; got {self.grayscale!r}")
        if self.image_size is not None and (not isinstance(self.image_size, int | np.integer) or self.image_size < 8):
            raise ValueError(f"image_size must be an int >= 8 or None; got {self.image_size!r}")
        for name in ("epochs", "batch_size", "width"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        if self.standardize not in ("dataset", "image"):
            raise ValueError(f"standardize must be 'dataset' or 'image'; got {self.standardize!r}")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError(
                f"validation_fraction must be in [0, 1); got {self.validation_fraction!r}"
            )

    def fit(self, X: np.ndarray, y: Sequence[str] | np.ndarray) -> PixelCNNClassifier:
        """Train the network.

        Parameters
        ----------
        X : ndarray of shape (n_samples, H, W, 3) or (n_samples, H, W), uint8
            RGB or gray images of any size (resized to ``image_size``).
        y : array-like of shape (n_samples,)
            Canonical label strings.

        Returns
        -------
        self : PixelCNNClassifier
        """
        self._check_params()
        images = _check_images(X)
        labels = np.asarray(y)
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise ValueError(
                f"y must be a 1-D array with one label per image; got y of shape {labels.shape} "
                f"for {images.shape[0]} images"
            )
        classes, targets = np.unique(labels.astype(str), return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"y must hold at least 2 classes; got {list(classes)}")
        grayscale = _is_gray(images) if self.grayscale == "auto" else bool(self.grayscale)
        image_size = int(self.image_size) if self.image_size is not None else (28 if grayscale else 64)
        pixels = _to_network_layout(images, image_size, grayscale)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        device = resolve_device(self.device)

        self.classes_ = classes
        self.grayscale_ = grayscale
        self.image_size_ = image_size
        self.input_shape_ = tuple(int(s) for s in images.shape[1:])
        self.device_ = str(device)
        with _torch_threads(self.n_jobs):
            self._train(pixels, targets.astype(np.int64), seed, device)
        return self

    def _validation_split(self, targets: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:

        indices = np.arange(len(targets))
        if self.validation_fraction == 0:
            return indices, indices[:0]
        counts = np.bincount(targets)
        # At least one validation image per class, so that stratification is possible.
        n_val = max(math.ceil(self.validation_fraction * len(targets)), len(counts))
        if counts.min() < 2 or len(targets) - n_val < len(counts):
            warnings.warn(
                f"too few images for a stratified validation split ({len(targets)} images, "
                f"{len(counts)} classes, smallest class {counts.min()}): training "
                f"{self.epochs} epochs without early stopping",
                UserWarning,
                stacklevel=4,  # the caller of fit
            )
            return indices, indices[:0]
        train_idx, val_idx = train_test_split(
            indices, test_size=n_val, stratify=targets, random_state=seed % (2**32)
        )
        return np.sort(train_idx), np.sort(val_idx)

    def _train(self, pixels: np.ndarray, targets: np.ndarray, seed: int, device: torch.device) -> None:
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        train_idx, val_idx = self._validation_split(targets, seed)
        train_x = torch.from_numpy(pixels[train_idx])
        train_y = torch.from_numpy(targets[train_idx])
        scaled = train_x.float().div_(255.0)
        self.mean_ = scaled.mean(dim=(0, 2, 3)).numpy().astype(np.float64)
        self.std_ = np.maximum(scaled.std(dim=(0, 2, 3)).numpy().astype(np.float64), 1e-3)
        del scaled

        net = _SmallCNN(pixels.shape[1], len(self.classes_), int(self.width), float(self.dropout))
        net = net.to(device)
        optimizer = torch.optim.AdamW(
            net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        steps_per_epoch = math.ceil(len(train_idx) / self.batch_size)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=self.learning_rate,
            total_steps=max(1, steps_per_epoch * self.epochs),
            pct_start=0.15,
        )
        mean = torch.tensor(self.mean_, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        std = torch.tensor(self.std_, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self.model_ = net
        self.history_ = []
        best_loss, best_state, best_epoch, waited = math.inf, None, self.epochs, 0

        for epoch in range(1, self.epochs + 1):
            net.train()
            order = torch.randperm(len(train_idx), generator=generator)
            total, seen = 0.0, 0
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                if len(batch) < 2:  # batch norm needs two samples
                    continue
                xb = train_x[batch].float().div_(255.0)
                if self.augment:
                    xb = _augment(xb, generator)
                xb = self._standardize(xb.to(device), mean, std)
                yb = train_y[batch].to(device)
                optimizer.zero_grad(set_to_none=True)
                loss = F.cross_entropy(net(xb), yb)
                loss.backward()
                optimizer.step()
                scheduler.step()
                total += loss.detach().item() * len(batch)
                seen += len(batch)
            record = {"epoch": epoch, "train_loss": total / max(seen, 1)}
            if len(val_idx):
                logits = self._logits(pixels[val_idx])
                val_y = torch.from_numpy(targets[val_idx])
                record["val_loss"] = float(F.cross_entropy(logits, val_y))
                record["val_accuracy"] = float((logits.argmax(1) == val_y).float().mean())
            else:
                record["val_loss"] = record["val_accuracy"] = float("nan")
            self.history_.append(record)
            if self.verbose:
                print(
                    f"epoch {epoch:3d}  train_loss {record['train_loss']:.4f}  "
                    f"val_loss {record['val_loss']:.4f}  val_acc {record['val_accuracy']:.4f}",
                    file=sys.stderr,
                )
            if len(val_idx):
                if record["val_loss"] < best_loss - 1e-4:
                    best_loss, best_epoch, waited = record["val_loss"], epoch, 0
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                else:
                    waited += 1
                    if waited >= self.patience:
                        break
        if best_state is not None:
            net.load_state_dict(best_state)
        self.best_epoch_ = best_epoch if best_state is not None else len(self.history_)
        net.eval()

    # -- predict -------------------------------------------------------------

    def _standardize(self, batch: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """Float pixels in [0, 1] (n, C, S, S) -> network input (see ``standardize``)."""
        if self.standardize == "image":
            own_mean = batch.mean(dim=(1, 2, 3), keepdim=True)
            own_std = batch.std(dim=(1, 2, 3), keepdim=True).clamp_min(1e-3)
            return (batch - own_mean) / own_std
        return (batch - mean) / std

    def _logits(self, pixels: np.ndarray) -> torch.Tensor:
        """Network-layout uint8 pixels (n, C, S, S) -> CPU float logits (n, n_classes)."""
        net = self.model_
        device = next(net.parameters()).device
        mean = torch.tensor(self.mean_, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        std = torch.tensor(self.std_, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        was_training = net.training
        net.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(pixels), 512):
                xb = torch.from_numpy(pixels[start : start + 512]).to(device).float().div_(255.0)
                out.append(net(self._standardize(xb, mean, std)).float().cpu())
        net.train(was_training)
        return torch.cat(out)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : ndarray of shape (n_samples, H, W, 3) or (n_samples, H, W), uint8

        Returns
        -------
        ndarray of shape (n_samples, n_classes), float64
            Rows sum to 1; columns follow ``classes_``.
        """
        check_is_fitted(self, "model_")
        images = _check_images(X)
        pixels = _to_network_layout(images, self.image_size_, self.grayscale_)
        with _torch_threads(self.n_jobs):
            logits = self._logits(pixels)
        proba = torch.softmax(logits.double(), dim=1).numpy()
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted labels.

        Parameters
        ----------
        X : ndarray of shape (n_samples, H, W, 3) or (n_samples, H, W), uint8

        Returns
        -------
        ndarray of shape (n_samples,)
            Label strings from ``classes_``.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    # -- persistence hooks ----------------------------------------------------

    def save_artifact(self, directory: str | Path) -> list[str]:
        """Write the weights (``cnn_state.pt``, a state_dict) and ``cnn_config.json``.

        Called by :func:`landmark_asl.model.store.save_model`; no pickle is written, so loading
        runs no code from the file.

        Parameters
        ----------
        directory : str or Path
            Existing model directory.

        Returns
        -------
        list of str
            Names of the files written, relative to ``directory``.
        """
        check_is_fitted(self, "model_")
        directory = Path(directory)
        state = {k: v.detach().cpu() for k, v in self.model_.state_dict().items()}
        torch.save(state, directory / STATE_FILE)
        config = {
            "artifact_version": ARTIFACT_VERSION,
            "classes": [str(c) for c in self.classes_],
            "in_channels": 1 if self.grayscale_ else 3,
            "width": int(self.width),
            "dropout": float(self.dropout),
            "image_size": int(self.image_size_),
            "grayscale": bool(self.grayscale_),
            "input_shape": list(self.input_shape_),
            "mean": [float(v) for v in self.mean_],
            "std": [float(v) for v in self.std_],
            "best_epoch": int(self.best_epoch_),
            "history": self.history_,
            "torch_version": torch.__version__,
        }
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        return [STATE_FILE, CONFIG_FILE]

    @classmethod
    def load_artifact(cls, directory: str | Path, params: dict[str, Any] | None = None) -> PixelCNNClassifier:
        """Rebuild a fitted classifier from :meth:`save_artifact`'s files.

        Parameters
        ----------
        directory : str or Path
            Model directory holding ``cnn_state.pt`` and ``cnn_config.json``.
        params : dict or None
            Constructor parameters (``get_params()`` at save time); None uses the defaults.

        Returns
        -------
        PixelCNNClassifier
            Fitted, weights on CPU unless ``params["device"]`` asks for (or "auto" finds) CUDA.

        Raises
        ------
        ModelLoadError
            If a file is missing, unreadable or does not match the network.
        """
        directory = Path(directory)
        estimator = cls(**(params or {}))
        try:
            config = load_json((directory / CONFIG_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelLoadError(
                f"cannot read the CNN config {directory / CONFIG_FILE}: {exc}; re-save the model"
            ) from exc
        version = config.get("artifact_version")
        if version != ARTIFACT_VERSION:
            raise ModelLoadError(
                f"CNN artefact version {version!r} in {directory / CONFIG_FILE} is not supported "
                f"(this landmark_asl reads version {ARTIFACT_VERSION}): retrain or upgrade"
            )
        try:
            state = torch.load(directory / STATE_FILE, map_location="cpu", weights_only=True)
            net = _SmallCNN(
                int(config["in_channels"]), len(config["classes"]), int(config["width"]), float(config["dropout"])
            )
            net.load_state_dict(state)
        except (OSError, RuntimeError, KeyError, ValueError, EOFError, pickle.UnpicklingError) as exc:
            raise ModelLoadError(
                f"cannot load the CNN weights {directory / STATE_FILE}: {exc}; the file is missing, "
                "corrupt or from another network layout"
            ) from exc
        net.eval()
        device = resolve_device(estimator.device)
        estimator.model_ = net.to(device)
        estimator.device_ = str(device)
        estimator.classes_ = np.asarray(config["classes"], dtype=str)
        estimator.grayscale_ = bool(config["grayscale"])
        estimator.image_size_ = int(config["image_size"])
        estimator.input_shape_ = tuple(config.get("input_shape", ()))
        estimator.mean_ = np.asarray(config["mean"], dtype=np.float64)
        estimator.std_ = np.asarray(config["std"], dtype=np.float64)
        estimator.best_epoch_ = int(config.get("best_epoch", 0))
        estimator.history_ = list(config.get("history", []))
        return estimator
