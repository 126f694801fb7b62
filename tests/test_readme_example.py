"""Runs the README's Python API example (extract, fit, predict) exactly as written."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
MARKER = "<!-- readme-example: api -->"
RECOGNIZER_MARKER = "<!-- readme-example: recognizer -->"


def readme_example(text: str, marker: str = MARKER) -> str:
    """The ```python block that follows ``marker`` in the README text."""
    start = text.find(marker)
    if start < 0:
        raise AssertionError(f"{README} has no {marker!r} line before the API example")
    match = re.search(r"```python\n(.*?)```", text[start:], re.DOTALL)
    if match is None:
        raise AssertionError(f"no ```python block after {marker!r} in {README}")
    return match.group(1)


def test_readme_example_is_found():
    code = readme_example(README.read_text())
    for name in ("extract_table", "make_estimator", ".fit(", ".predict("):
        assert name in code


@pytest.mark.slow
def test_readme_api_example_runs_and_predicts_the_letter(tmp_path, monkeypatch, data_dir):
    code = readme_example(README.read_text())
    monkeypatch.chdir(tmp_path)  # the example writes landmarks.parquet in the working directory
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})
    assert (tmp_path / "landmarks.parquet").is_file()
    assert out.getvalue().strip().splitlines()[-1] == "['L']"


@pytest.mark.slow
def test_readme_recognizer_example_prints_what_the_readme_says():
    text = README.read_text()
    code = readme_example(text, RECOGNIZER_MARKER)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})
    assert out.getvalue().splitlines() == ["L True Right", "L", "unknown"]
    assert "It prints `L True Right`, `L`, `unknown`." in text
