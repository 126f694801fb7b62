"""Tests of the per-user cache and the data root (`landmark_asl.paths`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from landmark_asl import paths
from landmark_asl.data.datasets import resolve_source
from landmark_asl.exceptions import DatasetError


def test_the_cache_is_per_user_unless_overridden(monkeypatch, tmp_path):
    monkeypatch.delenv(paths.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert paths.cache_dir() == tmp_path / "xdg" / "landmark_asl"  # platformdirs on Linux
    assert paths.landmark_cache_dir() == tmp_path / "xdg" / "landmark_asl" / "landmarks"
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "mine"))
    assert paths.landmark_cache_dir() == tmp_path / "mine" / "landmarks"


def test_commands_default_to_the_per_user_cache_not_the_working_directory(monkeypatch, tmp_path, data_dir):
    from landmark_asl.data.landmark_cache import load_landmarks

    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    table, meta = load_landmarks([data_dir / "landmarks" / "nejohnson2_wrist_relative.csv"], progress=False)
    assert len(table) > 0
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "L").mkdir()
    (folder / "L" / "L0.jpg").write_bytes((data_dir / "asl2text" / "test" / "L" / "L0.jpg").read_bytes())
    _, meta = load_landmarks([folder], progress=False)
    assert Path(meta["tables"][str(folder)]).parent == tmp_path / "cache" / "landmarks"
    assert not (tmp_path / ".cache").exists()


def test_outside_a_checkout_the_data_root_comes_only_from_the_variable(monkeypatch, tmp_path):
    monkeypatch.setattr(paths, "_checkout_data_root", lambda: None)  # an installed package
    monkeypatch.delenv(paths.DATA_ENV, raising=False)
    with pytest.raises(DatasetError, match=r"no data folder: set LANDMARK_ASL_DATA to the folder holding the datasets"):
        paths.data_root()
    assert paths.data_root(required=False) is None
    with pytest.raises(DatasetError, match=r"'massey' not found at .*there is no data folder.*set LANDMARK_ASL_DATA"):
        resolve_source("massey")
    assert resolve_source(tmp_path) == tmp_path  # a path needs no data root
    monkeypatch.setenv(paths.DATA_ENV, str(tmp_path))
    assert paths.data_root() == tmp_path


def test_in_a_checkout_the_data_root_is_beside_it(monkeypatch):
    monkeypatch.delenv(paths.DATA_ENV, raising=False)
    checkout = Path(paths.__file__).resolve().parent.parent
    assert paths.data_root() == checkout.parent / "shared" / "data"


def _one_photo_folder(tmp_path: Path, data_dir: Path) -> Path:
    folder = tmp_path / "photos"
    (folder / "L").mkdir(parents=True)
    (folder / "L" / "L0.jpg").write_bytes((data_dir / "asl2text" / "test" / "L" / "L0.jpg").read_bytes())
    return folder


def test_a_cache_table_being_filled_by_another_process_is_waited_for(monkeypatch, tmp_path, data_dir):
    """Every command shares one cache: a second one waits for the table instead of failing."""
    import threading

    from landmark_asl._util import exclusive_lock
    from landmark_asl.data import landmark_cache
    from landmark_asl.exceptions import LockedError

    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "cache"))
    folder = _one_photo_folder(tmp_path, data_dir)
    from landmark_asl.hands.extractor import ExtractorSettings

    table_path = landmark_cache.landmark_cache_path(folder, paths.landmark_cache_dir(), ExtractorSettings())
    held = exclusive_lock(table_path, "another landmark-asl")
    held.__enter__()
    monkeypatch.setattr(landmark_cache, "CACHE_WAIT_S", 0.5)
    with pytest.raises(LockedError, match=r"being written by .*another landmark-asl.*waited 0 s for the landmark cache"):
        landmark_cache.load_landmarks([folder], progress=False)
    monkeypatch.setattr(landmark_cache, "CACHE_WAIT_S", 60.0)
    threading.Timer(1.5, held.__exit__, (None, None, None)).start()  # the other process finishes
    table, _ = landmark_cache.load_landmarks([folder], progress=False)
    assert len(table) == 1 and bool(table["detected"].iloc[0])


def test_a_cache_folder_that_cannot_be_made_is_one_line_naming_the_variable(monkeypatch, tmp_path, data_dir):
    from landmark_asl.data.landmark_cache import load_landmarks
    from landmark_asl.exceptions import LandmarkASLError

    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "landmarks").write_text("a file where the cache's folder should be")
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "cache"))
    with pytest.raises(LandmarkASLError, match=r"cannot use the landmark cache .*landmarks: .*set LANDMARK_ASL_CACHE"):
        load_landmarks([_one_photo_folder(tmp_path, data_dir)], progress=False)


def test_a_file_that_is_no_source_is_refused_before_any_cache_line_or_file(tmp_path, capsys):
    from landmark_asl.data.landmark_cache import load_landmarks

    note = tmp_path / "notes.txt"
    note.write_text("hello\n")
    cache = tmp_path / "cache"
    with pytest.raises(DatasetError, match=r"notes\.txt is a file: expected a folder of images"):
        load_landmarks([note], cache_dir=cache, progress=True)
    assert "landmarks of" not in capsys.readouterr().err
    assert not cache.exists()
