"""Training: the recipe, fitting a model on landmark tables, personal models, and recording samples.

The recipe is imported eagerly (the CLI reads its defaults from it at import time); the rest
lazily, so that ``landmark_asl.training.recipe`` stays as light as ``--help`` needs.
"""

from __future__ import annotations

from landmark_asl._util import lazy_attributes
from landmark_asl.training.recipe import DEFAULT_RECIPE, Recipe

_LAZY = {"adapt_model": "landmark_asl.training.adapt", "train_model": "landmark_asl.training.train"}

__all__ = ["DEFAULT_RECIPE", "Recipe", "adapt_model", "train_model"]

__getattr__ = lazy_attributes(__name__, _LAZY)
