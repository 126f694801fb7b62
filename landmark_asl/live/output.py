"""What the live loop reports: the results of a run, one event per committed letter, the session summary."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path

from landmark_asl.hands.images import printable_path
from landmark_asl.live.display import show_window
from landmark_asl.live.loop import FrameResult, LiveRecognizer
from landmark_asl.live.sources import FrameSource

# --- output ---------------------------------------------------------------------------------------


def live_results(
    recognizer: LiveRecognizer,
    source: str | int | Path | FrameSource,
    *,
    headless: bool,
    max_frames: int | None = None,
) -> Iterator[FrameResult]:
    """``recognizer.run(source)``, shown in a window unless ``headless``.

    Parameters
    ----------
    recognizer : LiveRecognizer
    source : str, int, Path or FrameSource
        See :func:`open_source`.
    headless : bool
        No window call at all (decide with :func:`display_available` first).
    max_frames : int, optional
        Stop after this many frames.

    Returns
    -------
    iterator of FrameResult
    """
    results = recognizer.run(source, max_frames=max_frames)
    return results if headless else show_window(results, recognizer)


def letter_event(result: FrameResult, suggestions: Sequence[str] = ()) -> dict:
    """JSON-ready event of a committed label: event, letter, text, frame, time_s, confidence, suggestions.

    ``suggestions``: words offered for the word being spelled (:meth:`LiveRecognizer.suggestions`).
    """
    return {
        "event": "letter",
        "letter": result.committed,
        "text": result.text,
        "frame": result.index,
        "time_s": round(result.timestamp_ms / 1000.0, 3),
        "confidence": round(result.confidence, 4),
        "suggestions": list(suggestions),
    }


def format_letter(result: FrameResult) -> str:
    """One readable line for a committed label."""
    return (
        f"{result.committed:<7} frame {result.index:>5}  {result.timestamp_ms / 1000.0:7.2f} s  "
        f"confidence {result.confidence:.2f}  text {result.text!r}"
    )


def session_summary(recognizer: LiveRecognizer, *, source: object, model_name: str = "") -> dict:
    """JSON-ready final object: event 'end', the text, suggestions for its last word, :meth:`LiveStats.as_dict`, source, model, settings."""
    return {
        "event": "end",
        "text": recognizer.text,
        "suggestions": recognizer.suggestions(),
        **recognizer.stats.as_dict(),
        "source": printable_path(str(source)),  # a name that is not valid UTF-8: escaped, never a lone surrogate
        "model": model_name,
        "settings": dataclasses.asdict(recognizer.settings),
    }


def format_summary(summary: dict) -> str:
    """One readable line for :func:`session_summary`."""
    return (
        f"text {summary['text']!r}: {summary['committed']} committed; {summary['frames']} frames, "
        f"{summary['frames_with_hand']} with a hand ({100 * summary['detection_rate']:.1f}%); "
        f"{summary['fps']:.1f} fps; {summary['stop_reason'] or 'stopped'}"
    )
