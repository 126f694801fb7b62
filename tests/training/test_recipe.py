"""The training recipe: one typed value, checked, stored in the model card and read back."""

import json

import pytest

from landmark_asl.estimators.registry import make_estimator
from landmark_asl.exceptions import LandmarkASLError, ModelLoadError
from landmark_asl.model.store import load_model, save_model
from landmark_asl.training.adapt import base_recipe
from landmark_asl.training.recipe import DEFAULT_RECIPE, Recipe


def test_defaults_are_the_shipped_recipe_and_plain_has_none_of_it():
    assert Recipe() == DEFAULT_RECIPE
    assert DEFAULT_RECIPE.balance == "dataset" and DEFAULT_RECIPE.calibrate is True and DEFAULT_RECIPE.augment
    plain = Recipe.plain("xgb", {"n_estimators": 5})
    assert (plain.model_name, dict(plain.params), plain.balance, plain.augment, plain.calibrate) == (
        "xgb", {"n_estimators": 5}, None, None, False)


def test_round_trip_and_bad_forms():
    recipe = Recipe.plain("rf", {"n_estimators": 7}).replace(balance="dataset", augment={"n_copies": 1})
    assert Recipe.from_dict(json.loads(json.dumps(recipe.to_dict()))) == recipe
    assert Recipe.from_dict({"model_name": "rf"}) == Recipe.plain("rf")  # missing fields: plain
    with pytest.raises(ValueError, match="a recipe is an object with model_name"):
        Recipe.from_dict({"model_name": "rf", "seed": 3})
    with pytest.raises(ValueError, match="params an object"):
        Recipe.from_dict({"model_name": "rf", "params": [1]})


def test_check_names_the_parameter_not_a_flag():
    with pytest.raises(LandmarkASLError, match="calibrate must be True, False or 'auto'") as info:
        Recipe.plain("rf").replace(calibrate="yes").check()
    assert "--" not in str(info.value)
    with pytest.raises(LandmarkASLError, match="unknown model"):
        Recipe.plain("forest").check()


def _tiny_model(synthetic_landmarks):
    X, y = synthetic_landmarks
    return make_estimator("rf", n_estimators=3).fit(X, y)


def test_the_card_stores_the_recipe_and_old_cards_still_load(synthetic_landmarks, tmp_path):
    recipe = Recipe.plain("rf", {"n_estimators": 3}).replace(balance="dataset")
    directory = save_model(_tiny_model(synthetic_landmarks), tmp_path / "rf", name="rf", recipe=recipe,
                           training={"params": {"n_estimators": 3}, "balance": "dataset", "augment": None})
    card = load_model(directory).card
    assert card.recipe == recipe
    assert json.loads((directory / "metadata.json").read_text())["recipe"] == recipe.to_dict()
    # adapt retrains a personal model with the base model's recipe, calibration off
    assert base_recipe(card) == recipe.replace(calibrate=False)

    metadata = json.loads((directory / "metadata.json").read_text())
    del metadata["recipe"]  # a card written before recipes were stored
    (directory / "metadata.json").write_text(json.dumps(metadata))
    old = load_model(directory).card
    assert old.recipe is None
    assert base_recipe(old) == recipe.replace(calibrate=False)  # rebuilt from the card's training entry

    metadata["recipe"] = {"model_name": "rf", "colour": "red"}
    (directory / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelLoadError, match="bad recipe"):
        load_model(directory)
