"""Tests of the HandLandmarks value type and HandLandmarkExtractor on real images."""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest

from landmark_asl.exceptions import ExtractionError
from landmark_asl.hands.extractor import (
    RECOVERY_STRATEGIES,
    Detection,
    ExtractorSettings,
    HandLandmarkExtractor,
    model_bundle_path,
)
from landmark_asl.hands.images import read_image
from landmark_asl.hands.landmarks import HandLandmarks, estimate_frame_aspect

from conftest import pick_images

# asl2text/test letters with an open, clearly visible hand (the plain pass finds them).
CLASSES = ("B", "L", "V", "Y")


@pytest.fixture(scope="module")
def extractor():
    with HandLandmarkExtractor() as extractor:
        yield extractor


@pytest.fixture(scope="module")
def hand_images(data_dir):
    picked = pick_images(data_dir / "asl2text" / "test", 1, step=7)
    return [read_image(p) for p in picked if p.parent.name in CLASSES]


def test_value_type_validates_shape_and_handedness():
    good = np.zeros((21, 3))
    hand = HandLandmarks(good, good, "Left", 0.9)
    assert hand.image.dtype == np.float32
    with pytest.raises(ValueError, match=r"shape \(21, 3\)"):
        HandLandmarks(np.zeros(63), good, "Left", 0.9)
    with pytest.raises(ValueError, match="handedness must be"):
        HandLandmarks(good, good, "left", 0.9)


def test_settings_validate_ranges():
    with pytest.raises(ValueError, match=r"min_detection_confidence must be a number in \[0, 1\]"):
        ExtractorSettings(min_detection_confidence=1.5)
    with pytest.raises(ValueError, match="num_hands must be"):
        ExtractorSettings(num_hands=0)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [  # what a crafted model card may hold: refused by type, not only by range
        ("pad_fraction", "1", "pad_fraction must be a number in [0, 2]; got '1'"),
        ("min_presence_confidence", float("nan"), "min_presence_confidence must be a number in [0, 1]"),
        ("min_tracking_confidence", True, "min_tracking_confidence must be a number"),
        ("num_hands", 2.7, "num_hands must be a whole number from 1 to 4; got 2.7"),
        ("num_hands", 1e9, "num_hands must be a whole number from 1 to 4"),
        ("recovery", "no", "recovery must be true or false; got 'no'"),
        ("model_asset", 5, "model_asset must be a path or null; got 5"),
        ("model_asset", " ", "model_asset must be a path or null; got ' '"),
    ],
)
def test_settings_refuse_values_of_the_wrong_type(field, value, message):
    with pytest.raises(ValueError) as caught:
        ExtractorSettings(**{field: value})
    assert str(caught.value).startswith(message) and len(str(caught.value)) < 120
    # Numbers of any numeric type are read, and a whole float count is MediaPipe's int.
    settings = ExtractorSettings(min_detection_confidence=np.float32(0.25), num_hands=2.0, pad_fraction=1)
    assert settings.num_hands == 2 and isinstance(settings.num_hands, int)


def test_detects_hands_on_real_images(extractor, hand_images):
    assert len(hand_images) == len(CLASSES)
    for rgb in hand_images:
        hand = extractor.detect(rgb)
        assert hand is not None
        assert hand.image.shape == (21, 3) and hand.world.shape == (21, 3)
        assert np.isfinite(hand.image).all() and np.isfinite(hand.world).all()
        assert hand.handedness in ("Left", "Right")
        assert 0.0 <= hand.handedness_score <= 1.0
        # The wrist-to-fingertip span covers a visible part of the 224x224 frame.
        assert np.ptp(hand.image[:, :2], axis=0).max() > 0.1


def test_detection_is_deterministic(extractor, hand_images):
    first = extractor.detect(hand_images[0])
    second = extractor.detect(hand_images[0])
    np.testing.assert_array_equal(first.image, second.image)
    np.testing.assert_array_equal(first.world, second.world)


def test_handedness_flips_with_a_mirrored_image(extractor, hand_images):
    for rgb in hand_images:
        hand = extractor.detect(rgb)
        mirrored = extractor.detect(np.ascontiguousarray(rgb[:, ::-1]))
        assert mirrored is not None
        assert {hand.handedness, mirrored.handedness} == {"Left", "Right"}
        # The same hand, mirrored: x -> 1 - x (up to the model's jitter).
        np.testing.assert_allclose(mirrored.image[:, 0], 1.0 - hand.image[:, 0], atol=0.05)


def test_no_hand_on_a_blank_image(extractor):
    blank = np.full((200, 200, 3), 127, dtype=np.uint8)
    assert extractor.detect(blank) is None
    detection = extractor.extract(blank)
    assert detection == Detection(None, "", "no hand found")
    assert not detection.detected


def test_recovery_passes_map_back_to_the_original_image(extractor, hand_images):
    rgb = hand_images[0]
    detection = extractor.extract(rgb)
    assert detection.strategy == "plain" and detection.reason == ""
    # Every recovery pass (padded, mirrored) maps the hand back into the original image.
    for strategy in RECOVERY_STRATEGIES:
        recovered = extractor._recover(strategy, rgb)
        error = np.abs(recovered.image[:, :2] - detection.landmarks.image[:, :2])
        assert np.median(error) < 0.02 and error.max() < 0.08, strategy
        assert recovered.handedness == detection.landmarks.handedness, strategy
        world_error = np.abs(recovered.world - detection.landmarks.world)
        assert np.median(world_error) < 0.01, strategy  # metres


def test_rejects_bad_images(extractor):
    with pytest.raises(ValueError, match=r"shape \(H, W, 3\) and dtype uint8"):
        extractor.detect(np.zeros((10, 10), dtype=np.uint8))


def test_mode_is_checked(extractor):
    with pytest.raises(ExtractionError, match="mode='video'"):
        extractor.detect_video(np.zeros((64, 64, 3), np.uint8), 0)


def test_video_mode_tracks_a_sequence(data_dir):
    frames = [read_image(p) for p in sorted((data_dir / "asl2text" / "test" / "B").glob("*.jpg"))[:6]]
    with HandLandmarkExtractor(mode="video") as video:
        hands = [video.detect_video(frame, 40 * i) for i, frame in enumerate(frames)]
        with pytest.raises(ExtractionError, match="timestamps must increase"):
            video.detect_video(frames[0], 40)
        with pytest.raises(ExtractionError, match="mode='image'"):
            video.detect(frames[0])
    found = [h for h in hands if h is not None]
    assert len(found) >= 5
    assert all(h.image.shape == (21, 3) for h in found)


def test_extractor_is_not_picklable(extractor):
    with pytest.raises(TypeError, match="create one per process"):
        pickle.dumps(extractor)


def test_bundle_is_stored_cached_and_atomic(tmp_path, monkeypatch):
    monkeypatch.setenv("LANDMARK_ASL_CACHE", str(tmp_path / "cache"))
    path = model_bundle_path()
    assert path.parent == tmp_path / "cache"
    with zipfile.ZipFile(path) as bundle:
        names = {info.filename: info.compress_type for info in bundle.infolist()}
    assert names == {"hand_detector.tflite": zipfile.ZIP_STORED, "hand_landmarks_detector.tflite": zipfile.ZIP_STORED}
    mtime = path.stat().st_mtime_ns
    assert model_bundle_path() == path and path.stat().st_mtime_ns == mtime  # not rebuilt
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left
    assert path.stat().st_mode & 0o777 == 0o644  # other users of a shared cache can read it

    # A failure while writing leaves neither a partial bundle nor a temporary file.
    monkeypatch.setenv("LANDMARK_ASL_CACHE", str(tmp_path / "other"))

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", fail)
    with pytest.raises(ExtractionError, match="cannot write the hand model bundle.*disk full"):
        model_bundle_path()
    assert list((tmp_path / "other").iterdir()) == []


def test_the_bundle_has_the_same_bytes_in_every_install(tmp_path, monkeypatch):
    """Tables record the bundle's SHA-256: another install (other file dates) must build the same bytes."""
    import os
    import shutil

    from landmark_asl.hands import extractor as landmarks

    monkeypatch.setenv("LANDMARK_ASL_CACHE", str(tmp_path / "first"))
    first = model_bundle_path().read_bytes()
    copy = tmp_path / "mediapipe"  # the same model files, dated otherwise, as a reinstall leaves them
    for relative, _ in landmarks._BUNDLE_MEMBERS:
        (copy / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(landmarks._mediapipe_root() / relative, copy / relative)
        os.utime(copy / relative, (1_000_000_000, 1_000_000_000))
    monkeypatch.setattr(landmarks, "_mediapipe_root", lambda: copy)
    monkeypatch.setenv("LANDMARK_ASL_CACHE", str(tmp_path / "second"))
    second = model_bundle_path()
    assert second.parent == tmp_path / "second" and second.read_bytes() == first


def test_model_asset_errors(tmp_path):
    with pytest.raises(ExtractionError, match="model asset not found"):
        HandLandmarkExtractor(ExtractorSettings(model_asset=str(tmp_path / "missing.task")))
    bogus = tmp_path / "bogus.task"
    bogus.write_text("not a model")
    with pytest.raises(ExtractionError, match="cannot load the hand landmark model"):
        HandLandmarkExtractor(ExtractorSettings(model_asset=str(bogus)))


def test_model_asset_accepts_a_task_file(tmp_path, hand_images):
    # An official hand_landmarker.task has the same layout as the bundle built here.
    asset = tmp_path / "hand_landmarker.task"
    asset.write_bytes(model_bundle_path().read_bytes())
    with HandLandmarkExtractor(ExtractorSettings(model_asset=str(asset))) as custom:
        assert custom.detect(hand_images[0]) is not None


def test_recovery_finds_hands_the_plain_pass_misses(extractor, data_dir):
    # asl2text M and O frames: the hand fills the frame and the plain palm detector misses it.
    misses = [read_image(data_dir / "asl2text" / "test" / c / f"{c}{i}.jpg") for c, i in (("M", 0), ("M", 2), ("O", 0))]
    for rgb in misses:
        assert extractor.detect(rgb) is None
        detection = extractor.extract(rgb)
        assert detection.detected and detection.strategy == "pad" and detection.reason == ""
        # Mapped back into the original frame (a hand filling it may stick out a little).
        assert (detection.landmarks.image[:, :2] > -0.2).all() and (detection.landmarks.image[:, :2] < 1.2).all()
    without = HandLandmarkExtractor(ExtractorSettings(recovery=False))
    with without:
        assert without.extract(misses[0]) == Detection(None, "", "no hand found")


def _synthetic_hands(aspect: float, n: int = 600, seed: int = 0) -> np.ndarray:
    """A rigid palm with bending fingers, turned at random in 3D, as MediaPipe would normalise
    it in a frame of height / width = ``aspect`` (x and z in units of the width, y of the height)."""
    rng = np.random.default_rng(seed)
    knuckles = np.array([[-0.35, -1.0, 0.0], [-0.12, -1.05, 0.0], [0.1, -1.0, 0.0], [0.3, -0.9, 0.0]])
    template = np.zeros((21, 3))
    template[1:5] = [[-0.35, -0.2, 0.0], [-0.6, -0.45, 0.0], [-0.8, -0.65, 0.0], [-0.95, -0.8, 0.0]]
    hands = np.empty((n, 21, 3))
    for i in range(n):
        points = template.copy()
        for f, knuckle in enumerate(knuckles):
            bend = rng.uniform(0.0, 1.4)
            step = np.array([0.0, -np.cos(bend), -np.sin(bend)]) * 0.3
            points[5 + 4 * f] = knuckle
            for j in range(1, 4):
                points[5 + 4 * f + j] = knuckle + j * step
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        turned = points @ q.T * rng.uniform(0.1, 0.2) + [0.5, 0.5, 0.0]
        turned[:, :2] += rng.normal(0.0, 0.001, size=(21, 2))  # landmark noise
        turned[:, 1] /= aspect
        hands[i] = turned
    return hands


@pytest.mark.parametrize("aspect", [9 / 16, 3 / 4, 1.0, 4 / 3])
def test_estimate_frame_aspect_recovers_the_stretch(aspect: float) -> None:
    hands = _synthetic_hands(aspect)
    assert estimate_frame_aspect(hands, snap=False) == pytest.approx(aspect, rel=0.03)
    assert estimate_frame_aspect(hands) == pytest.approx(aspect)


def test_estimate_frame_aspect_refuses_what_it_cannot_use() -> None:
    with pytest.raises(ValueError, match=r"shape \(n, 21, 3\); got \(5, 21\)"):
        estimate_frame_aspect(np.zeros((5, 21)))
    assert estimate_frame_aspect(np.full((5, 21, 3), np.nan)) is None
    assert estimate_frame_aspect(np.zeros((50, 21, 3))) is None  # no palm at all
    same = np.repeat(_synthetic_hands(0.75, n=1), 50, axis=0)
    assert estimate_frame_aspect(same) is None  # one pose: every aspect fits as well


def test_estimate_frame_aspect_ignores_broken_rows() -> None:
    hands = _synthetic_hands(3 / 4)
    hands[:20] = 0.0  # empty rows
    hands[20:25, 5] = hands[20:25, 0]  # a knuckle on the wrist: a zero-length segment
    assert estimate_frame_aspect(hands) == pytest.approx(3 / 4)


def test_geometric_handedness_is_the_sign_of_the_palm_normal_against_the_bend() -> None:
    # The plain-arithmetic version gives the answers of the vector formula it replaced.
    from landmark_asl.hands.landmarks import _DIPS, _MCPS, geometric_handedness

    rng = np.random.default_rng(0)
    for image in rng.random((2000, 21, 3)).astype(np.float32):
        p = image.astype(np.float64) - image[0]
        triple = np.cross(p[5], p[17]) @ (p[list(_DIPS)].mean(axis=0) - p[list(_MCPS)].mean(axis=0))
        assert geometric_handedness(image) == ("Left" if triple <= 0.0 else "Right")


def _close_up(data_dir, name: str, size: int, frame_size=(640, 480), at=None) -> np.ndarray:
    """A photo of a fist filling most of a frame (as the live spelling benchmark renders it), centred or at ``at``."""
    import cv2

    photo = cv2.resize(read_image(data_dir / "asl2text" / "test" / name), (size, size), interpolation=cv2.INTER_AREA)
    width, height = frame_size
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = np.median(np.concatenate([photo[0], photo[-1]]), axis=0).astype(np.uint8)
    x0, y0 = at if at is not None else ((width - size) // 2, (height - size) // 2)
    frame[y0:y0 + size, x0:x0 + size] = photo
    return frame


@pytest.mark.parametrize(("frame_size", "size", "at"), [((640, 480), 343, None), ((1920, 1440), 1029, (700, 50))])
def test_a_video_frame_the_palm_detector_misses_is_recovered_with_a_border(data_dir, frame_size, size, at):
    # asl2text's O21 filling most of the frame (at 343 px: a frame of the live spelling benchmark's
    # JOKE), centred in 640x480, or off-centre in a frame the detector first shrinks to 1280 px.
    # The video pass finds no hand on any of five frames; the padded pass finds it, mapped back to
    # the frame: the same landmarks as extract()'s pad pass, inside the photo, and as wide as a hand
    # in it (a hand left in the padded image's coordinates would be half as wide).
    frame = _close_up(data_dir, "O/O21.jpg", size, frame_size, at)
    width, height = frame_size
    x0, y0 = at if at is not None else ((width - size) // 2, (height - size) // 2)
    with HandLandmarkExtractor(mode="video") as video:
        assert all(video.detect_video(frame, 33 * i) is None for i in range(5))
        hand = video.recover_frame(frame)
        assert video.detect_video(frame, 200) is None  # the tracker was not told
    with HandLandmarkExtractor() as still:
        detection = still.extract(frame)
    assert hand is not None and hand.image_size == frame_size
    assert detection.strategy == "pad"
    np.testing.assert_allclose(hand.image, detection.landmarks.image, atol=1e-6)
    np.testing.assert_allclose(hand.world, detection.landmarks.world, atol=1e-6)
    assert hand.handedness == detection.landmarks.handedness
    x, y = hand.image[:, 0] * width, hand.image[:, 1] * height
    assert x0 <= x.min() and x.max() <= x0 + size and y0 <= y.min() and y.max() <= y0 + size
    assert x.max() - x.min() > 0.4 * size


def test_recovery_refuses_bad_passes_and_a_closed_extractor():
    video = HandLandmarkExtractor(mode="video")
    with pytest.raises(ValueError, match="unknown recovery strategies"):
        video.recover_frame(np.zeros((480, 640, 3), np.uint8), ("zoom",))
    assert video.recover_frame(np.zeros((480, 640, 3), np.uint8), RECOVERY_STRATEGIES) is None
    video.close()
    for call in (lambda: video.recover_frame(np.zeros((48, 64, 3), np.uint8)), video.prepare_recovery):
        with pytest.raises(ExtractionError, match="the extractor is closed"):
            call()
    assert video._recovery == {}  # no graph built after close
