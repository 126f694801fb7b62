"""Tests for landmark_asl.model.card: a crafted card is refused in one line by every reader."""

from __future__ import annotations

import json
import shutil

import pytest

from landmark_asl.exceptions import ModelLoadError
from landmark_asl.model.card import METADATA_FILE, ModelCard
from landmark_asl.model.store import check_destination, default_model_dir, load_model


@pytest.mark.parametrize("name", ["a\x00b", "", "trees.npz/", "."])
def test_an_artefact_name_that_is_no_plain_file_name_is_refused_when_the_card_is_read(name):
    data = json.loads((default_model_dir() / METADATA_FILE).read_text())
    data["artefacts"][name] = "a" * 64
    with pytest.raises(ModelLoadError, match=r"artefact name .* in metadata.json is not a plain file name"):
        ModelCard.from_dict(data)


def test_a_card_naming_an_artefact_with_a_nul_byte_is_refused_by_load_and_by_save(tmp_path):
    # The NUL byte once escaped as "ValueError: embedded null byte" from every path built of the name.
    model = tmp_path / "model"
    shutil.copytree(default_model_dir(), model)
    meta = json.loads((model / METADATA_FILE).read_text())
    meta["artefacts"]["a\x00b"] = "a" * 64
    (model / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match=r"artefact name 'a\\x00b' in .*metadata.json is not a plain file name"):
        load_model(model)
    with pytest.raises(ModelLoadError, match="refusing to replace"):  # as a save's destination
        check_destination(model)
