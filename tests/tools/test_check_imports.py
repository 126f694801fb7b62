"""tools/check_imports.py: the package has no import cycle and uses no private name across modules."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "tools" / "check_imports.py"


def run(*roots, cwd=REPO):
    return subprocess.run([sys.executable, str(TOOL), *map(str, roots)], cwd=cwd, capture_output=True, text=True)


def test_the_package_and_the_scripts_pass():
    result = run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK: "), result.stdout


def test_a_cycle_and_private_names_are_reported(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "_hidden.py").write_text("VALUE = 1\n")
    (package / "a.py").write_text("from pkg.b import thing\n\n_secret = 1\n")
    # A function-local import still closes the cycle a -> b -> a.
    (package / "b.py").write_text("def thing():\n    from pkg import a\n    return a._secret\n")
    (package / "c.py").write_text("from pkg.a import _secret\nfrom pkg.sub._hidden import VALUE\n"
                                  "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import d\n")
    (package / "d.py").write_text("from pkg import c\n")  # c -> d only under TYPE_CHECKING: no cycle
    result = run(package, cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "import cycle: pkg.a <-> pkg.b"
    assert any(line.endswith("b.py:3: uses private name pkg.a._secret") for line in lines), lines
    assert any(line.endswith("c.py:1: imports private name _secret from pkg.a") for line in lines), lines
    assert any(line.endswith("c.py:2: imports private module pkg.sub._hidden from outside pkg.sub") for line in lines), lines
    assert not any("pkg.c <-> pkg.d" in line for line in lines), lines
    assert lines[-1] == "4 problem(s) in 7 modules"


def test_every_module_of_the_package_imports_first_in_a_fresh_interpreter():
    # The static check leaves out the implicit imports of package __init__ files, which can close
    # a cycle too (training.train -> model -> model.recognizer -> evaluation -> evaluation.lodo ->
    # training.train, half-initialised): so import each module first, in its own interpreter.
    from concurrent.futures import ThreadPoolExecutor

    names = sorted(
        ".".join(path.relative_to(REPO).with_suffix("").parts[:-1] if path.name == "__init__.py"
                 else path.relative_to(REPO).with_suffix("").parts)
        for path in (REPO / "landmark_asl").rglob("*.py") if path.name != "__main__.py"
    )
    assert "landmark_asl.training.train" in names and len(names) > 50

    def first_import(name):
        result = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=REPO, capture_output=True, text=True)
        return name, result.returncode, result.stderr.strip().splitlines()[-1:]

    with ThreadPoolExecutor(2) as pool:
        failed = [(name, err) for name, code, err in pool.map(first_import, names) if code != 0]
    assert not failed, failed
