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
