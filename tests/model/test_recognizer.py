"""Tests of the recognizer (`landmark_asl.load_model().predict(image)`) on real photos and synthetic hands."""

from __future__ import annotations

import json

import numpy as np
import pytest

import landmark_asl as la
from landmark_asl.estimators.registry import make_estimator
from landmark_asl.exceptions import DatasetError, LandmarkASLError
from landmark_asl.hands.landmarks import HandLandmarks
from landmark_asl.model.recognizer import ImageInputError, Prediction, Recognizer, prediction_row
from landmark_asl.model.store import load_model as load_bare_model
from landmark_asl.model.store import save_model

#: A photo of another recording session than most training rows; the shipped model says L.
PHOTO = "asl2text/test/L/L0.jpg"


@pytest.fixture(scope="module")
def recognizer():
    with la.load_model() as shipped:
        yield shipped


def _hands(X):
    return [HandLandmarks(row[:63].reshape(21, 3), row[63:126].reshape(21, 3), "Left" if row[126] else "Right", 0.9)
            for row in X]


@pytest.fixture(scope="module")
def synthetic_models(synthetic_landmarks, tmp_path_factory):
    X, y = synthetic_landmarks
    root = tmp_path_factory.mktemp("models")
    keep = y != "NOTHING"
    with_nothing = save_model(make_estimator("rf", n_estimators=5).fit(X, y), root / "with", name="rf")
    without = save_model(make_estimator("rf", n_estimators=5).fit(X[keep], y[keep]), root / "without", name="rf")
    return la.load_model(with_nothing), la.load_model(without)


def test_every_kind_of_image_gives_the_same_answer(recognizer, data_dir):
    import cv2
    from PIL import Image

    photo = data_dir / PHOTO
    bgr = cv2.imread(str(photo))
    answers = [
        recognizer.predict(photo),
        recognizer.predict(str(photo)),
        recognizer.predict(photo.read_bytes()),
        recognizer.predict(bgr, bgr=True),
        recognizer.predict(np.ascontiguousarray(bgr[:, :, ::-1])),
        recognizer.predict(Image.open(photo)),
    ]
    assert {a.label for a in answers} == {"L"}
    assert all(a.detected and a.handedness in ("Left", "Right") and a.landmarks is not None for a in answers)
    assert len({round(a.confidence, 9) for a in answers}) == 1
    first = answers[0]
    assert first.top_k[0] == (first.label, first.confidence) and len(first.top_k) == 3
    assert [p for _, p in first.top_k] == sorted((p for _, p in first.top_k), reverse=True)
    assert "landmarks" not in repr(first)  # the repr stays one short line


def test_one_extractor_is_reused_and_closed(data_dir, synthetic_models):
    with la.load_model() as fresh:
        assert fresh._extractor is None  # created on the first image, not on load
        fresh.predict(data_dir / PHOTO)
        extractor = fresh._extractor
        assert fresh.predict_many([data_dir / PHOTO, data_dir / PHOTO])[1].label == "L"
        assert fresh._extractor is extractor
    assert fresh._extractor is None and extractor._main is None  # released by the with block


def test_an_image_without_a_hand(recognizer, synthetic_models):
    empty = np.full((120, 160, 3), 200, dtype=np.uint8)
    result = recognizer.predict(empty)  # the shipped model knows NOTHING
    assert result == Prediction("NOTHING", 1.0, (), False, "", None, "")
    _, without = synthetic_models
    assert without.predict(empty) == Prediction("", 0.0, (), False, "", None, "")
    # labels= that leave NOTHING out: no hand is no answer, never a class outside labels.
    assert recognizer.predict(empty, labels="A,B") == Prediction("", 0.0, (), False, "", None, "")
    assert recognizer.predict(empty, labels="A,nothing").label == "NOTHING"


def test_what_cv2_imread_returns_for_a_missing_file_is_said_plainly(recognizer):
    with pytest.raises(ImageInputError, match=r"got None instead of an image: cv2.imread returns None"):
        recognizer.predict(None, bgr=True)


def test_views_as_a_string_and_numpy_numbers_are_read(recognizer, data_dir):
    assert la.load_model(views="crop, mirror").views == ("crop", "mirror")
    assert la.load_model(views="").views == ()
    with pytest.raises(ValueError, match="unknown view"):
        la.load_model(views="crops")
    assert recognizer.predict(data_dir / PHOTO, min_confidence=np.float32(0.5)).label == \
        recognizer.predict(data_dir / PHOTO, min_confidence=0.5).label
    assert recognizer.answerable("a,b") == ("A", "B") and len(recognizer.answerable()) == len(recognizer.classes)


def test_labels_restrict_the_answer_and_renormalise(recognizer, data_dir):
    photo = data_dir / PHOTO
    free = recognizer.predict(photo)
    restricted = recognizer.predict(photo, labels="a, b,del")  # any spelling normalize_label reads
    assert restricted.label in {"A", "B", "DEL"} and {k for k, _ in restricted.top_k} <= {"A", "B", "DEL"}
    assert sum(p for _, p in restricted.top_k) == pytest.approx(1.0)
    assert recognizer.predict(photo, labels=["L", "A"]).label == free.label
    with pytest.raises(LandmarkASLError, match=r"labels 7 are not classes of the 'rf' model; it knows A B C"):
        recognizer.predict(photo, labels="A,7")
    with pytest.raises(LandmarkASLError, match="labels is empty"):
        recognizer.predict(photo, labels=" , ")


def test_min_confidence_answers_unknown(synthetic_models, synthetic_landmarks):
    model, _ = synthetic_models
    X, _ = synthetic_landmarks
    hands = _hands(X[:6])
    plain = model.predict_hands(hands)
    strict = model.predict_hands(hands, min_confidence=1.0)
    for p, s in zip(plain, strict):
        assert s.label == (p.label if p.confidence >= 1.0 else "unknown")
        assert s.top_k == p.top_k and s.confidence == p.confidence
    assert any(s.label == "unknown" for s in strict) or all(p.confidence == 1.0 for p in plain)
    assert [p.label for p in model.predict_hands(hands, min_confidence=0.0)] == [p.label for p in plain]
    with pytest.raises(LandmarkASLError, match=r"min_confidence must be a number in \[0, 1\]; got 1.5"):
        model.predict_hands(hands, min_confidence=1.5)


def test_predict_hands_applies_the_nothing_rule(synthetic_models, synthetic_landmarks):
    with_nothing, without = synthetic_models
    X, _ = synthetic_landmarks
    hands = _hands(X[:3])
    expected = with_nothing.model.predict(X[:3])
    results = with_nothing.predict_hands([hands[0], None, hands[1], None, hands[2]])
    assert [r.label for r in results] == [expected[0], "NOTHING", expected[1], "NOTHING", expected[2]]
    assert results[1].confidence == results[3].confidence == 1.0 and 0 < results[0].confidence <= 1
    assert results[0].detected is True and results[0].strategy == "given" and results[1].detected is False
    with pytest.raises(LandmarkASLError, match=r"predict_hands takes HandLandmarks .*got ndarray: for images use predict"):
        with_nothing.predict_hands([np.zeros((8, 8, 3), np.uint8)])
    results = without.predict_hands([None, hands[0]])
    assert results[0].label == "" and results[0].confidence == 0.0 and results[1].label in {"A", "B", "C"}


@pytest.mark.parametrize("image, message", [
    (np.zeros((10, 10, 3), dtype=np.float32), "dtype uint8 .* got float32"),
    (np.zeros((2, 10, 10, 3), dtype=np.uint8), r"shape \(H, W, 3\).* got \(2, 10, 10, 3\): pass one image"),
    (np.zeros((0, 10, 3), dtype=np.uint8), "must not be empty"),
    (12, "cannot read an image from int: pass a file path"),
])
def test_what_is_not_an_image_is_one_clear_error(recognizer, image, message):
    with pytest.raises(ImageInputError, match=message):
        recognizer.predict(image)


def test_bytes_that_are_no_image_are_named_as_bytes(recognizer):
    with pytest.raises(DatasetError, match=r"^cannot decode image given as bytes: not an image or corrupt \(5 bytes\)$"):
        recognizer.predict(b"hello")


def test_bgr_applies_to_arrays_only(recognizer, data_dir):
    with pytest.raises(ImageInputError, match="bgr=True applies to arrays only; got PosixPath"):
        recognizer.predict(data_dir / PHOTO, bgr=True)


def test_gray_and_rgba_arrays_are_read(recognizer, data_dir):
    from PIL import Image

    rgb = np.asarray(Image.open(data_dir / PHOTO).convert("RGB"))
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    assert recognizer.predict(rgba) == recognizer.predict(rgb)
    gray = recognizer.predict(rgb.mean(axis=2).astype(np.uint8))
    assert gray.detected is not None  # read as a 3-channel image, whatever MediaPipe makes of it


def test_a_16_bit_pil_image_is_read_by_its_top_8_bits_as_a_16_bit_file_is(tmp_path, data_dir):
    from PIL import Image

    from landmark_asl.model.recognizer import to_rgb

    gray = np.asarray(Image.open(data_dir / PHOTO).convert("L"))
    wide = Image.fromarray(gray.astype(np.uint16) * 256 + 100)  # mode I;16: 0-65535, the low byte noise
    assert wide.mode.startswith("I")
    np.testing.assert_array_equal(to_rgb(wide), np.repeat(gray[:, :, None], 3, axis=2))
    wide.save(tmp_path / "wide.png")
    assert Image.open(tmp_path / "wide.png").mode.startswith("I")
    np.testing.assert_array_equal(to_rgb(Image.open(tmp_path / "wide.png")), to_rgb(tmp_path / "wide.png"))
    floating = Image.fromarray(gray.astype(np.float32) / 255)
    with pytest.raises(ImageInputError, match=r"floating-point image \(PIL mode F\) has no fixed range"):
        to_rgb(floating)
    floating.save(tmp_path / "floating.tiff")
    with pytest.raises(DatasetError, match=r"cannot read image .*floating\.tiff: a floating-point image"):
        to_rgb(tmp_path / "floating.tiff")
    # A GIF of one frame: OpenCV cannot decode it, PIL can.
    Image.fromarray(gray).save(tmp_path / "still.gif")
    np.testing.assert_array_equal(to_rgb(tmp_path / "still.gif"), np.repeat(gray[:, :, None], 3, axis=2))


def test_a_pil_image_keeps_the_top_8_bits_of_the_range_it_uses(data_dir):
    from PIL import Image

    from landmark_asl.model.recognizer import to_rgb

    gray = np.asarray(Image.open(data_dir / PHOTO).convert("L"))
    for values in (gray.astype(np.int32), gray.astype(np.uint16)):  # 8-bit values in a wide mode stay as they are
        np.testing.assert_array_equal(to_rgb(Image.fromarray(values))[:, :, 0], gray)
    np.testing.assert_array_equal(to_rgb(Image.fromarray(gray.astype(np.int32) * 4096))[:, :, 0], gray)  # 20 bits


def test_only_gif_and_tiff_fall_back_to_pil_and_are_reduced_before_conversion(tmp_path, monkeypatch):
    import PIL.EpsImagePlugin as eps
    from PIL import Image

    from landmark_asl.hands.images import decode_image

    ran = []
    monkeypatch.setattr(eps, "has_ghostscript", lambda: True)
    monkeypatch.setattr(eps, "Ghostscript", lambda *args, **kwargs: ran.append(args))
    postscript = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\nshowpage\n"
    with pytest.raises(DatasetError, match="not an image or corrupt"):
        decode_image(postscript, name="evil.jpg")
    assert ran == []  # PIL's EPS reader runs Ghostscript on the file: never reached
    Image.fromarray(np.full((3000, 4000), 90, np.uint8)).save(tmp_path / "big.gif")
    image = decode_image((tmp_path / "big.gif").read_bytes(), max_side=1000)
    assert image.shape == (750, 1000, 3) and image.dtype == np.uint8 and (image == 90).all()


def test_prediction_row_is_json(recognizer, data_dir):
    row = prediction_row("x.jpg", recognizer.predict(data_dir / PHOTO))
    assert json.loads(json.dumps(row))["label"] == "L" and row["path"] == "x.jpg" and row["error"] == ""
    failed = prediction_row("y.jpg", None, "cannot decode")
    assert failed["label"] == "" and failed["detected"] is False and failed["error"] == "cannot decode"


def test_a_recognizer_wraps_a_loaded_model(synthetic_models):
    model, _ = synthetic_models
    bare = load_bare_model(model.model.directory)
    assert Recognizer(bare).classes.tolist() == model.classes.tolist()
    assert la.load_model(bare, top_k=1).top_k == 1
    with pytest.raises(TypeError, match="model must be a LoadedModel"):
        Recognizer("models/default")
    with pytest.raises(ValueError, match="top_k must be an integer >= 1"):
        Recognizer(bare, top_k=0)


def test_public_names():
    assert {"load_model", "Recognizer", "Prediction", "evaluate_images"} <= set(la.__all__)
    assert all(getattr(la, name) is not None for name in la.__all__)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        la.nope  # noqa: B018


@pytest.mark.slow
def test_a_pixel_model_needs_no_hand(data_dir, tmp_path):
    from landmark_asl.cnn import PixelCNNClassifier, load_pixels

    photos = [p for letter in ("A", "L") for p in sorted((data_dir / "asl2text" / "train" / letter).glob("*.jpg"))[:8]]
    X = load_pixels([str(p) for p in photos], image_size=28)
    y = np.array([p.parent.name for p in photos])
    cnn = PixelCNNClassifier(epochs=1, patience=1, validation_fraction=0.0, augment=False, n_jobs=1).fit(X, y)
    recognizer = la.load_model(save_model(cnn, tmp_path / "cnn", name="cnn"))
    empty = np.full((64, 64, 3), 200, dtype=np.uint8)
    result = recognizer.predict(empty)  # no hand, yet an answer: the CNN looks at pixels
    assert result.detected is None and result.label in {"A", "L"} and result.landmarks is None
    assert result.confidence == pytest.approx(recognizer.model.predict_proba(empty[None])[0].max())
    with pytest.raises(LandmarkASLError, match="classifies pixels, not landmarks"):
        recognizer.predict_hands([None, _hands(np.zeros((1, 127), np.float32))[0]])


def test_bad_arguments_are_the_librarys_own_one_line_errors(recognizer, tmp_path):
    from landmark_asl.exceptions import ParameterError

    with pytest.raises(ParameterError, match="top_k must be an integer >= 1; got 0"):
        la.load_model(top_k=0)
    with pytest.raises(ParameterError, match="labels must be text like 'A,B' or a list of labels; got int"):
        recognizer.predict(np.zeros((64, 64, 3), np.uint8), labels=5)
    # A string is one image, not a list of them (it used to be read one character at a time).
    with pytest.raises(ParameterError, match="predict_many takes a list of images; got one str"):
        recognizer.predict_many(str(tmp_path / "x.jpg"))
    assert issubclass(ParameterError, LandmarkASLError) and issubclass(ParameterError, ValueError)
