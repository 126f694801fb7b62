"""Training: the recipe, fitting a model on landmark tables, personal models, and recording samples."""

from landmark_asl.training.adapt import adapt_model
from landmark_asl.training.train import DEFAULT_RECIPE, TrainingRecipe, train_model

__all__ = ["DEFAULT_RECIPE", "TrainingRecipe", "adapt_model", "train_model"]
