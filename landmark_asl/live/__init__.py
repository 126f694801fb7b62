"""Live spelling: the frame loop, the speller, hand motion and word suggestions."""

from landmark_asl.live.speller import LiveRecognizer, LiveSettings, Speller

__all__ = ["LiveRecognizer", "LiveSettings", "Speller"]
