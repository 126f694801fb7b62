#!/usr/bin/env bash
# Build the wheel, install it into a fresh venv OUTSIDE the checkout (with the tested pins of
# constraints.txt) and run `landmark-asl predict` on a real photo and `landmark-asl live` on a
# folder of frames, with the default model that the wheel carries. Run by .ci/run; `bash scripts/check_wheel.sh` by hand.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
data="${LANDMARK_ASL_DATA:-$(cd "$repo/.." && pwd)/shared/data}"
python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$repo/.venv/bin/python" -m pip wheel -q --no-deps --no-build-isolation -w "$work/dist" "$repo"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q -c "$repo/constraints.txt" "$work"/dist/landmark_asl-*.whl
cd "$work"  # nothing of the checkout is importable from here
"$work/venv/bin/python" -c "import landmark_asl, sys; assert '$repo' not in landmark_asl.__file__, landmark_asl.__file__"
# The web page of `landmark-asl serve` travels in the wheel (package data, no build step).
"$work/venv/bin/python" -c "from importlib.resources import files; page = files('landmark_asl') / 'static'; assert all((page / f).is_file() for f in ('index.html', 'app.js', 'style.css')), list(page.iterdir())"
image="$data/asl2text/test/L/L0.jpg"
out="$("$work/venv/bin/landmark-asl" predict "$image" --json)"
echo "wheel check: landmark-asl predict $image -> $out"
"$work/venv/bin/python" -c "import json, sys; r = json.loads(sys.argv[1]); assert r['label'] == 'L' and r['detected'], r" "$out"
frames="$work/frames"
mkdir "$frames"
for i in $(seq -w 1 12); do cp "$image" "$frames/frame$i.jpg"; done
summary="$("$work/venv/bin/landmark-asl" live --source "$frames" --headless --json | tail -n 1)"
echo "wheel check: landmark-asl live --source <12 frames of L> -> $summary"
"$work/venv/bin/python" -c "import json, sys; r = json.loads(sys.argv[1]); assert r['text'] == 'L', r" "$summary"
echo "wheel check: passed (installed outside the checkout, default model from the wheel)"
