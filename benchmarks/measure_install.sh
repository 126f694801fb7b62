#!/usr/bin/env bash
# Measure what an install costs: the wheels pip downloads (total size, the pip cache aside) and
# the size of the resulting venv, in a fresh venv outside the checkout.
#
#   bash benchmarks/measure_install.sh PIP_ARGS...
#   bash benchmarks/measure_install.sh dist/landmark_asl-0.1.0-py3-none-any.whl     # the default install, no constraints
#   bash benchmarks/measure_install.sh -c constraints.txt "dist/landmark_asl-0.1.0-py3-none-any.whl[xgb]"
# (build the wheel first: pip wheel --no-deps -w dist .)
#
# Prints "download: N MB in K wheels; venv: M MB (an empty venv: E MB)" and the installed versions.
set -euo pipefail
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python="${PYTHON:-python3}"
"$python" -m venv "$work/venv"
empty=$(du -sb "$work/venv" | cut -f1)
"$work/venv/bin/python" -m pip download -q -d "$work/wheels" "$@" 2>&1 | grep -v "^WARNING: Location" || true
download=$(du -cb "$work"/wheels/*.whl | tail -n 1 | cut -f1)
n=$(ls "$work"/wheels/*.whl | wc -l)
"$work/venv/bin/python" -m pip install -q --no-index --find-links "$work/wheels" "$@" 2>&1 | grep -v "^WARNING: Location" || true
venv=$(du -sb "$work/venv" | cut -f1)
echo "download: $((download / 1000000)) MB in $n wheels; venv: $((venv / 1000000)) MB (an empty venv: $((empty / 1000000)) MB)"
echo "largest wheels: $(ls -S "$work"/wheels/*.whl | head -n 5 | xargs -n1 basename | tr '\n' ' ')"
"$work/venv/bin/python" -m pip list --format=freeze 2>/dev/null | tr '\n' ' '
echo
