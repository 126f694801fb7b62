"""Evaluation: metrics, the leave-one-group-out protocol, the model comparison and its reports."""

from landmark_asl.evaluation.comparison import compare, compare_lodo
from landmark_asl.evaluation.lodo import leave_one_group_out
from landmark_asl.evaluation.metrics import classification_metrics

__all__ = ["classification_metrics", "compare", "compare_lodo", "leave_one_group_out"]
