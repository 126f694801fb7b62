"""Data: dataset manifests, split files, the landmark table (format and extraction pipeline) and its cache."""

from landmark_asl.data.datasets import load_manifest, read_sample
from landmark_asl.data.extraction import extract_table
from landmark_asl.data.landmark_cache import load_landmarks
from landmark_asl.data.splits import make_split, read_split, write_split
from landmark_asl.data.table import read_table, write_table

__all__ = [
    "extract_table",
    "load_landmarks",
    "load_manifest",
    "make_split",
    "read_sample",
    "read_split",
    "read_table",
    "write_split",
    "write_table",
]
