"""Every module imports without the optional extras (torch, the web server, xgboost, dask), as from a plain wheel."""

import subprocess
import sys

CODE = """
import importlib, pkgutil, sys
for name in ("torch", "starlette", "uvicorn", "xgboost", "dask", "distributed"):
    sys.modules[name] = None  # as if not installed
import landmark_asl
# The two modules that are the extras' own: the pixel CNN (torch) and the web app (starlette).
needs_extra = {"landmark_asl.cnn", "landmark_asl.serve.app", "landmark_asl.cli.__main__"}
for module in pkgutil.walk_packages(landmark_asl.__path__, "landmark_asl."):
    if module.name not in needs_extra:
        importlib.import_module(module.name)
print("ok")
"""


def test_every_module_but_the_extras_own_imports_without_them():
    result = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
