"""Evaluation: metrics, the leave-one-group-out protocol, the model comparison and its reports.

Loaded lazily: ``model.recognizer`` needs ``evaluation.metrics``, while the protocol and the
comparison train models (``training.train``, which saves through ``model.store``), so an eager
import here would close a cycle whichever of the two is imported first.
"""

from __future__ import annotations

from landmark_asl._util import lazy_attributes

_LAZY = {
    "classification_metrics": "landmark_asl.evaluation.metrics",
    "compare": "landmark_asl.evaluation.comparison",
    "compare_lodo": "landmark_asl.evaluation.comparison",
    "leave_one_group_out": "landmark_asl.evaluation.lodo",
}

__all__ = ["classification_metrics", "compare", "compare_lodo", "leave_one_group_out"]

__getattr__ = lazy_attributes(__name__, _LAZY)
