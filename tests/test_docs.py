"""The README and the docs say what the code does: their Python blocks run, their CLI lines parse."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import re
import shlex
from pathlib import Path

import click
import pytest

from landmark_asl.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.rglob("*.md"))]
RECOGNIZER_MARKER = "<!-- readme-example: recognizer -->"
README_MAX_LINES = 250


def code_blocks(text: str, languages: tuple[str, ...]) -> list[str]:
    """The fenced blocks of ``text`` whose info string is one of ``languages``."""
    pattern = r"^```([\w-]*)[^\n]*\n(.*?)^```"
    return [m.group(2) for m in re.finditer(pattern, text, re.DOTALL | re.MULTILINE) if m.group(1) in languages]


def run_page(page: Path) -> str:
    """Run the page's Python blocks in order in one namespace (a later block may use an earlier
    block's names, as a reader would); returns what they printed."""
    namespace = {"__name__": "docs_example"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for i, block in enumerate(code_blocks(page.read_text(), ("python",))):
            exec(compile(block, f"{page.relative_to(ROOT)} (python block {i + 1})", "exec"), namespace)
    return out.getvalue()


PYTHON_PAGES = [p for p in PAGES if code_blocks(p.read_text(), ("python",))]


def test_readme_is_short():
    n_lines = len(README.read_text().splitlines())
    assert n_lines <= README_MAX_LINES, f"README.md has {n_lines} lines; the user guide belongs in docs/"


def test_pages_with_python_are_found():
    names = {p.name for p in PYTHON_PAGES}
    assert {"README.md", "python-api.md", "live.md", "extraction.md", "data.md", "cnn.md"} <= names


@pytest.mark.slow
@pytest.mark.parametrize("page", PYTHON_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run(page, tmp_path, monkeypatch, data_dir):
    monkeypatch.chdir(tmp_path)  # examples write tables, splits and models in the working directory
    run_page(page)


@pytest.mark.slow
def test_readme_recognizer_example_prints_what_the_readme_says(tmp_path, monkeypatch, data_dir):
    monkeypatch.chdir(tmp_path)
    text = README.read_text()
    assert RECOGNIZER_MARKER in text
    assert run_page(README).splitlines() == ["L True Right", "L", "unknown"]
    assert "It prints `L True Right`, `L`, `unknown`." in text


@pytest.mark.slow
def test_api_example_extracts_fits_and_predicts_the_letter(tmp_path, monkeypatch, data_dir):
    monkeypatch.chdir(tmp_path)
    page = DOCS / "guide" / "python-api.md"
    printed = run_page(page).splitlines()
    assert (tmp_path / "landmarks.parquet").is_file()
    assert "['L']" in printed
    assert "It prints `['L']`." in page.read_text()


def cli_lines(text: str) -> list[str]:
    """Every ``landmark-asl ...`` command in the text's shell blocks, comments and continuations
    folded."""
    lines = []
    for block in code_blocks(text, ("bash", "sh", "")):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line.startswith("landmark-asl "):
                lines.append(line)
    return lines


CLI_LINES = [(page, line) for page in PAGES for line in cli_lines(page.read_text())]


def test_cli_lines_are_found():
    assert len(CLI_LINES) >= 30
    assert any(line.startswith("landmark-asl serve") for _, line in CLI_LINES)


@pytest.mark.parametrize(
    "page,line", CLI_LINES, ids=[f"{p.relative_to(ROOT)}:{i}" for i, (p, _) in enumerate(CLI_LINES)]
)
def test_cli_lines_use_commands_and_options_that_exist(page, line):
    args = shlex.split(line, comments=True)[1:]
    group_ctx = click.Context(main, info_name="landmark-asl")
    # Options of the group itself (-v, --debug) come before the command name.
    while args and args[0].startswith("-"):
        main.make_parser(group_ctx).parse_args([args[0]])
        args = args[1:]
    assert args, f"{page.name}: {line!r} names no command"
    name, *rest = args
    command = main.get_command(group_ctx, name)
    assert command is not None, f"{page.name}: {line!r}: no command {name!r}"
    try:
        command.make_parser(click.Context(command, info_name=name, parent=group_ctx)).parse_args(rest)
    except click.UsageError as exc:
        pytest.fail(f"{page.name}: {line!r}: {exc.format_message()}")


def dotted_names(text: str) -> set[str]:
    """Every ``landmark_asl.a.b`` the text names in code spans or blocks."""
    return set(re.findall(r"\blandmark_asl(?:\.[A-Za-z_]\w*)+", text))


def resolves(name: str) -> bool:
    """Whether ``name`` is a module of the package or an attribute of one."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


DOTTED = sorted({(page, name) for page in PAGES for name in dotted_names(page.read_text())})


def test_dotted_names_are_found():
    assert any(name == "landmark_asl.cli" for _, name in DOTTED)


@pytest.mark.parametrize("page,name", DOTTED, ids=[f"{p.name}:{n}" for p, n in DOTTED])
def test_named_modules_and_objects_exist(page, name):
    assert resolves(name), f"{page.relative_to(ROOT)} names {name}, which the package does not have"


def test_docs_home_page_is_the_readme():
    """docs/index.md is generated from the README (``python tools/make_docs_index.py``)."""
    spec = importlib.util.spec_from_file_location("make_docs_index", ROOT / "tools" / "make_docs_index.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    expected = tool.index_from_readme(README.read_text())
    assert (DOCS / "index.md").read_text() == expected, "run python tools/make_docs_index.py after editing README.md"


#: Repository paths the docs name: tests, scripts, tools and the shipped models (not a user's own
#: ``models/me`` or a cache path such as ``~/.cache/landmark_asl/landmarks``).
REPO_PATH = re.compile(r"(?<![\w./~-])((?:tests|benchmarks|experiments|tools|models/default|models/adapt_base)/[\w./*<>-]*[\w*>])")


def repo_paths(text: str) -> set[str]:
    """The repository paths a text names (``tests/x/test_y.py::test_z`` gives the file)."""
    return {m.group(1).split("::")[0] for m in REPO_PATH.finditer(text)}


PATHS = sorted({(page, path) for page in PAGES for path in repo_paths(page.read_text())})


def test_repo_paths_are_found():
    assert any(path.startswith("benchmarks/bench_") for _, path in PATHS)
    assert any(path.startswith("tests/") for _, path in PATHS)


@pytest.mark.parametrize("page,path", PATHS, ids=[f"{p.name}:{q}" for p, q in PATHS])
def test_named_repository_paths_exist(page, path):
    # A name with a placeholder or a glob (bench_*.py, <name>) stands for several files: its folder must exist.
    target = ROOT / path
    if any(c in path for c in "*<>"):
        target = target.parent
        while any(c in target.name for c in "*<>"):
            target = target.parent
    assert target.exists(), f"{page.relative_to(ROOT)} names {path}, which the repository does not have"
