"""Tests of tools/install_test_deps.sh (what `make test` runs first): Chromium through apt-get when missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "install_test_deps.sh"


def _bin(tmp_path: Path, tools: dict[str, str]) -> Path:
    """A PATH folder holding the basic tools the script runs, plus stubs given as shell bodies."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in ("bash", "id", "chmod"):
        (folder / name).symlink_to(shutil.which(name))
    for name, body in tools.items():
        (folder / name).write_text(f"#!{shutil.which('bash')}\n{body}\n")
        (folder / name).chmod(0o755)
    return folder


def _run(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(folder / "bash"), str(SCRIPT)], env={"PATH": str(folder)}, capture_output=True,
                          text=True, timeout=60)


def test_nothing_to_do_when_chromium_is_there(tmp_path):
    folder = _bin(tmp_path, {"chromium": "exit 0", "chromedriver": "exit 0", "apt-get": "exit 3"})
    result = _run(folder)
    assert result.returncode == 0 and result.stderr == ""


def test_missing_chromium_is_installed_with_apt_get(tmp_path):
    log = tmp_path / "apt.log"
    # The stub "installs" by creating the two commands, as the Debian packages do.
    apt = (f'echo "$@" >> {log}; if [ "$1" = install ]; then for t in chromium chromedriver; do '
           f'printf "#!/bin/sh\\nexit 0\\n" > {tmp_path}/bin/$t; chmod +x {tmp_path}/bin/$t; done; fi')
    folder = _bin(tmp_path, {"apt-get": apt})
    result = _run(folder)
    if os.geteuid() == 0:
        assert result.returncode == 0, result.stderr
        assert log.read_text().splitlines() == ["update -q", "install -y -q chromium chromium-driver"]
        assert (folder / "chromium").is_file() and (folder / "chromedriver").is_file()
        assert "installing Chromium and chromedriver" in result.stderr
    else:  # no root and no sudo on this PATH: one clear line, nothing run
        assert result.returncode == 1 and "sudo apt-get install -y chromium chromium-driver" in result.stderr
        assert not log.exists()


def test_a_system_without_apt_get_is_told_what_to_install(tmp_path):
    folder = _bin(tmp_path, {})
    result = _run(folder)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "make test: the browser test needs Chromium and chromedriver, and this system has no apt-get: install them "
        "with your package manager (e.g. brew install --cask chromium chromedriver) and run make test again"]
