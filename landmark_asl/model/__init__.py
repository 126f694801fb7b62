"""Trained models: the model directory (card and artefacts) and the recognizer that predicts on images."""

from landmark_asl.model.card import ModelCard
from landmark_asl.model.recognizer import Prediction, Recognizer, evaluate_images, load_model
from landmark_asl.model.store import LoadedModel, save_model

__all__ = ["LoadedModel", "ModelCard", "Prediction", "Recognizer", "evaluate_images", "load_model", "save_model"]
