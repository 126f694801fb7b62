"""Property-based tests (hypothesis): whatever bytes, sizes or CSV cells the loaders get, the
outcome is a result, or a LandmarkASLError with a reason, never anything else."""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from landmark_asl.data.datasets import load_landmark_csv, load_manifest, load_sign_mnist_csv
from landmark_asl.data.table import extract_batch
from landmark_asl.exceptions import LandmarkASLError
from landmark_asl.hands.images import decode_image, read_image

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _png(width: int, height: int, body: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(body)) + chunk(b"IEND", b"")


image_bytes = st.one_of(
    st.binary(max_size=2048),
    st.builds(lambda tail: b"\xff\xd8\xff\xe0" + tail, st.binary(max_size=512)),  # JPEG magic, garbage after
    st.builds(_png, st.integers(1, 2**31 - 1), st.integers(1, 2**31 - 1), st.binary(max_size=256)),
)


@SETTINGS
@given(data=image_bytes)
def test_decoding_random_bytes_gives_an_image_or_a_reason(data):
    try:
        image = decode_image(data, name="probe")
    except LandmarkASLError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
    assert max(image.shape[:2]) <= 1920


@SETTINGS
@given(width=st.integers(1, 3000), height=st.integers(1, 3000), gray=st.booleans())
def test_any_image_size_reads_back_downscaled(tmp_path, width, height, gray):
    import cv2

    rng = np.random.default_rng(width * 7 + height)
    pixels = rng.integers(0, 255, size=(height, width) if gray else (height, width, 3), dtype=np.uint8)
    ok, encoded = cv2.imencode(".png", pixels)
    path = tmp_path / "size.png"
    path.write_bytes(encoded.tobytes())
    image = read_image(path, max_side=640)
    assert image.shape[2] == 3 and max(image.shape[:2]) == min(640, max(width, height))


class _NoHand:
    def extract(self, rgb):
        from landmark_asl.hands.extractor import Detection

        return Detection(None, "", "no hand found")


@SETTINGS
@given(files=st.lists(image_bytes, min_size=1, max_size=4))
def test_a_batch_of_random_files_gives_one_row_each_with_a_reason(tmp_path, files):
    """The extraction batch: one row per file, an undecodable one with its reason; nothing raised."""
    import pandas as pd

    from landmark_asl.data.datasets import read_sample

    paths = []
    for i, data in enumerate(files):
        path = tmp_path / f"f{i}.png"
        path.write_bytes(data)
        paths.append(str(path))
    batch = pd.DataFrame({"sample_id": [f"{i:016x}" for i in range(len(paths))], "source": paths, "dataset": "d",
                          "label": "A", "group": "d", "split": ""})
    table = extract_batch(_NoHand(), read_sample, batch).to_pandas()
    assert len(table) == len(files)
    assert all(reason.startswith("cannot decode image:") or reason == "no hand found" for reason in table["reason"])


cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-300, 300).map(str),
    st.sampled_from(["", "abc", "1e39", "-1e39", "nan", "inf", "0x10", '"', "1,2", " "]),
)


@SETTINGS
@given(row=st.lists(cells, min_size=1, max_size=70), label=st.sampled_from(["A", "b", "zz", "", "nothing", "7"]))
def test_landmark_csv_with_random_cells_loads_or_says_why(tmp_path, row, label):
    header = "label,source_file," + ",".join(f"{a}{i}" for i in range(21) for a in "xyz")
    good = ",".join(["0.5"] * 63)
    path = tmp_path / "borisgraudt_random.csv"
    path.write_text(f"{header}\nA,a.jpg,{good}\n{label},b.jpg,{','.join(row)}\n")
    try:
        table = load_landmark_csv(path)
    except LandmarkASLError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    values = table[[f"x{i}" for i in range(21)]].to_numpy()
    assert np.isfinite(values).all() and len(table) == 2


@SETTINGS
@given(row=st.lists(cells, min_size=0, max_size=800), header_ok=st.booleans())
def test_sign_mnist_csv_with_random_cells_loads_or_says_why(tmp_path, row, header_ok):
    header = "label," + ",".join(f"pixel{i}" for i in range(1, 785 if header_ok else 700))
    path = tmp_path / f"sign_mnist_random_{len(row)}_{header_ok}.csv"
    path.write_text(f"{header}\n{','.join(row)}\n")
    try:
        manifest, images = load_sign_mnist_csv(path)
    except LandmarkASLError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert len(manifest) == len(images) == 1 and images.dtype == np.uint8


@pytest.mark.parametrize("name", [b"\xff.jpg", b"ok.jpg", b"\xc3(.png"])
def test_manifest_of_odd_names_gives_rows_or_reasons(tmp_path, name):
    import os

    folder = tmp_path / "data" / "A"
    folder.mkdir(parents=True)
    with open(os.fsencode(folder) + b"/" + name, "wb") as handle:
        handle.write(io.BytesIO(b"\xff\xd8 not really").getvalue())
    try:
        manifest, rejected = load_manifest(tmp_path / "data")
    except LandmarkASLError as exc:
        assert "no usable samples" in str(exc) and "not valid UTF-8" in str(exc)
        return
    assert len(manifest) + len(rejected) == 1
