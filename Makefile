# `make demo` runs the main job, `make test` the test suite. Each creates .venv
# and installs what it needs on first use (make test also Chromium for the browser
# test, through apt-get), so on a fresh machine each is the only command you need.
# The pinned mediapipe wheel is for Python 3.10-3.11: python3.11 where it exists, else python3.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# adapt's packaged base rows (committed: derived features of Apache-2.0/MIT/CC0 sources, see
# models/adapt_base/README.md); rebuilt from the datasets only when missing.
ADAPT_ROWS := models/adapt_base/rows.npz

.PHONY: demo test venv clean bench docs

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[xgb,cnn,dask,serve,dev,docs]"
	touch $(STAMP)

venv: $(STAMP)

$(ADAPT_ROWS): | $(STAMP)
	$(PY) tools/build_adapt_base.py

demo: $(STAMP) $(ADAPT_ROWS)
	$(PY) tools/demo.py

test: $(STAMP) $(ADAPT_ROWS)
	bash tools/install_test_deps.sh
	$(PY) -m ruff check .
	$(PY) -m pytest -q

# The documentation site into site/ (strict: a broken link or a warning fails the build).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

bench: $(STAMP)
	$(PY) benchmarks/bench_extract.py
	$(PY) benchmarks/bench_predict.py
	$(PY) benchmarks/bench_live.py
	$(PY) benchmarks/bench_serve.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache site
