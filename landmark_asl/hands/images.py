"""Image files: which suffixes are images, and the one function that reads any image file into RGB."""

from __future__ import annotations

import io
import os
import stat
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from landmark_asl.exceptions import DatasetError, ImageInputError

#: Suffixes (lower case) of the image files that every command reads.
IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp"})

#: Larger images are refused before decoding (a decompression bomb: a few hundred KB of
#: PNG can claim 10^10 pixels). At 10,000 x 10,000 (a 100 MP photo) the whole `predict`
#: process peaks at 840-900 MB (measured with /usr/bin/time and benchmarks/probe_hostile.py);
#: 12,000 x 12,000 took 1,060 MB.
MAX_IMAGE_PIXELS = 10_000 * 10_000

_MAX_FILE_BYTES = 4 * MAX_IMAGE_PIXELS  # an uncompressed 32-bit BMP at the pixel limit

#: Longest side an image is downscaled to right after decoding when ``max_side`` is not
#: given. Landmarks are normalised by the image size, so a hand keeps its coordinates;
#: MediaPipe itself looks at 192-224 pixel crops.
DEFAULT_MAX_SIDE = 1920


def is_image_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` has an image suffix (case-insensitive); the file is not opened."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def printable_path(path: str | os.PathLike) -> str:
    """``path`` as text that can always be printed or encoded (undecodable bytes escaped)."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    return os.fsencode(text).decode("utf-8", "backslashreplace") if has_surrogates(text) else text


def has_surrogates(text: str) -> bool:
    """Whether ``text`` holds undecodable bytes of a file name (it cannot be encoded as UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _header(data: bytes) -> tuple[tuple[int, int], bool] | None:
    """((width, height), grayscale) from the file's header without decoding; None if unknown."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow comes with matplotlib
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we apply our own limit
            with Image.open(io.BytesIO(data)) as image:
                return image.size, image.mode in _GRAY_MODES
    except Image.DecompressionBombError:  # PIL's own limit (twice ours): far over ours too
        return _BOMB, False
    except Exception:  # noqa: BLE001 - any header PIL cannot parse: let OpenCV decide
        return None


#: The size :func:`_header` gives for a header beyond even PIL's limit.
_BOMB = (-1, -1)
#: PIL modes of single-channel images: decoded as grayscale (a third of the memory), then RGB.
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "F"})


def _frame_count(data: bytes) -> int:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return int(getattr(image, "n_frames", 1))
    except Exception:  # noqa: BLE001 - not a format PIL knows: a still image for OpenCV
        return 1


def _decode_flag(size: tuple[int, int] | None, gray: bool, max_side: int | None) -> int:
    """The ``cv2.imdecode`` flag: reduced size (1/2, 1/4, 1/8) for images far larger than needed, grayscale for gray files.

    JPEG is scaled inside the decoder; other formats are decoded at their own channel
    count and reduced before the conversion to colour, so a grayscale 10,000 x 10,000 PNG
    costs about 100 MB instead of 300 MB.
    """
    import cv2

    if size is None:
        return cv2.IMREAD_COLOR
    flags = (
        ((8, cv2.IMREAD_REDUCED_GRAYSCALE_8), (4, cv2.IMREAD_REDUCED_GRAYSCALE_4), (2, cv2.IMREAD_REDUCED_GRAYSCALE_2))
        if gray
        else ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2))
    )
    if max_side is not None:
        for factor, flag in flags:
            if max(size) // factor >= max_side and min(size) // factor >= 8:  # never shrink a thin side away
                return flag
    return cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR


#: PIL modes of integer images wider than 8 bits (16-bit PNG and TIFF open as one of them).
_WIDE_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})


def pil_to_rgb(image) -> np.ndarray:
    """RGB uint8 of a PIL image of any mode but floating point.

    An integer image wider than 8 bits keeps the top 8 bits of the range its values use: a
    16-bit photo its high byte (as OpenCV reads a 16-bit file), values of 0-255 stay as they are.

    Raises
    ------
    ImageInputError
        A floating-point image (mode F): it has no fixed range to read as 0-255.
    """
    if image.mode in _WIDE_MODES:  # PIL's convert("RGB") clips them at 255 instead: nearly all white
        values = np.asarray(image)  # uint16 or int32: no wider copy
        if values.dtype.kind == "i":
            values = np.maximum(values, 0)
        shift = max(0, int(values.max(initial=0)).bit_length() - 8)
        gray = (values >> shift).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if image.mode == "F":
        raise ImageInputError(
            "a floating-point image (PIL mode F) has no fixed range: scale it to 0-255 and save or convert it "
            "as 8-bit grayscale or RGB first"
        )
    return np.asarray(image.convert("RGB"))


#: Formats PIL decodes where OpenCV cannot: only these, never PIL's others (its EPS reader runs
#: Ghostscript on the file).
_PIL_FALLBACK_FORMATS = ("GIF", "TIFF")


def _decode_with_pil(data: bytes, name: str, max_side: int | None) -> np.ndarray | None:
    """RGB of a GIF or TIFF OpenCV cannot decode (a GIF's one frame, a TIFF of 32-bit samples), reduced
    to ``max_side`` before its colours are converted; None if PIL cannot decode it either."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the caller applied our limit
            with Image.open(io.BytesIO(data), formats=_PIL_FALLBACK_FORMATS) as image:
                image.load()
                if max_side is not None and max(image.size) > max_side:
                    image.thumbnail((max_side, max_side))  # before the copies of the conversion
                try:
                    return pil_to_rgb(image)
                except ImageInputError as exc:
                    raise DatasetError(f"cannot read image {name}: {exc}") from None
    except DatasetError:
        raise
    except Exception:  # noqa: BLE001 - not an image PIL can read either
        return None


def decode_image(data: bytes, *, name: str = "image", max_side: int | None = DEFAULT_MAX_SIDE) -> np.ndarray:
    """Decode image bytes into an RGB array, refusing decompression bombs.

    Parameters
    ----------
    data : bytes
        The encoded file (JPEG, PNG, BMP ...).
    name : str
        Shown in error messages.
    max_side : int or None
        Downscale (keeping the aspect ratio) so the longer side is at most this; None keeps
        the decoded size.

    Returns
    -------
    ndarray of shape (H, W, 3), uint8
        RGB; grayscale files are replicated to 3 channels.

    Raises
    ------
    DatasetError
        Empty, undecodable, animated or absurdly large images.
    """
    import cv2

    if not data:
        raise DatasetError(f"cannot read image {name}: the file is empty (0 bytes)")
    size, gray = _header(data) or (None, False)
    if size is not None and (size == _BOMB or size[0] * size[1] > MAX_IMAGE_PIXELS):
        claims = "over 178,956,970 pixels" if size == _BOMB else f"{size[0]}x{size[1]} pixels"
        raise DatasetError(
            f"refusing image {name}: it claims {claims}, more than the limit of "
            f"{MAX_IMAGE_PIXELS:,} (a decompression bomb or a mistake); downscale it first"
        )

    if data[:6] in (b"GIF87a", b"GIF89a") and _frame_count(data) > 1:
        raise DatasetError(
            f"cannot read image {name}: an animated GIF ({_frame_count(data)} frames); "
            "play it as a video (`landmark-asl live --source`) or save one frame as PNG"
        )
    try:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), _decode_flag(size, gray, max_side))
    except cv2.error as exc:  # OpenCV's own limits (e.g. a header it reads but PIL does not)
        raise DatasetError(f"refusing image {name}: OpenCV cannot decode it ({str(exc).strip().splitlines()[-1][:120]})") from None
    rgb = False
    if image is None:
        image, rgb = _decode_with_pil(data, name, max_side), True
    if image is None:
        raise DatasetError(f"cannot decode image {name}: not an image or corrupt ({len(data)} bytes)")
    if max_side is not None and max(image.shape[:2]) > max_side:
        scale = max_side / max(image.shape[:2])
        height, width = (max(1, round(s * scale)) for s in image.shape[:2])
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    if rgb:
        return np.ascontiguousarray(image)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=image)


def read_image(path: str | os.PathLike, *, max_side: int | None = DEFAULT_MAX_SIDE) -> np.ndarray:
    """Read one image file into RGB, whatever its name (OpenCV's ``imread`` crashes on undecodable names).

    Parameters
    ----------
    path : str or path-like
        The image file.
    max_side : int or None
        See :func:`decode_image`.

    Returns
    -------
    ndarray of shape (H, W, 3), uint8

    Raises
    ------
    DatasetError
        Missing or unreadable file, or bytes that are not a decodable image.
    """
    name = printable_path(path)
    try:
        # O_NONBLOCK: opening a named pipe must not wait for a writer (regular files ignore the flag).
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise DatasetError(f"cannot read image {name}: not a regular file (a device, pipe or socket)")
            if info.st_size > _MAX_FILE_BYTES:
                raise DatasetError(
                    f"refusing image {name}: {info.st_size:,} bytes, more than any image of at most "
                    f"{MAX_IMAGE_PIXELS:,} pixels needs"
                )
            data = handle.read()
    except OSError as exc:
        raise DatasetError(f"cannot read image {name}: {exc.strerror or exc}") from exc
    return decode_image(data, name=name, max_side=max_side)


def image_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The image files named in ``paths``: files as given, folders searched recursively (sorted).

    Raises
    ------
    DatasetError
        A path that does not exist, or no image at all.
    """
    found: list[Path] = []
    paths = [Path(p) for p in paths]
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and is_image_file(p)))
        elif path.exists():  # a pipe or device too: read_image gives the reason for its row
            found.append(path)
        else:
            raise DatasetError(f"{printable_path(path)} does not exist: expected an image file or a folder of images")
    if not found:
        raise DatasetError(
            f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found in {[printable_path(p) for p in paths]}"
        )
    return found
