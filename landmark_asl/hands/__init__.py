"""Hands: the landmark value type, the MediaPipe extractor, reading images, and several views of one photo."""

from landmark_asl.hands.extractor import ExtractorSettings, HandLandmarkExtractor
from landmark_asl.hands.images import image_files, read_image
from landmark_asl.hands.landmarks import HandLandmarks

__all__ = ["ExtractorSettings", "HandLandmarkExtractor", "HandLandmarks", "image_files", "read_image"]
