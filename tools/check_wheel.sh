#!/usr/bin/env bash
# Build the wheel, install it into a fresh venv OUTSIDE the checkout WITHOUT constraints.txt (the
# ranges of setup.cfg alone must resolve to a working set) and run what a new user runs first,
# with the default model and the packaged adapt rows that the wheel carries and no data root:
# the API example, `predict` on a real photo, `live` on a folder of frames, `adapt` on 5 samples
# per letter of a new signer, and `evaluate` of the base and the personal model on that signer's
# other photos. Run by .ci/run; `bash tools/check_wheel.sh` by hand.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
data="${LANDMARK_ASL_DATA:-$(cd "$repo/.." && pwd)/shared/data}"
python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# adapt's packaged rows (committed; rebuilt from the datasets if missing) travel in the wheel.
test -f "$repo/models/adapt_base/rows.npz" || "$repo/.venv/bin/python" "$repo/tools/build_adapt_base.py"
"$repo/.venv/bin/python" -m pip wheel -q --no-deps --no-build-isolation -w "$work/dist" "$repo"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q "$work"/dist/landmark_asl-*.whl
cd "$work"  # nothing of the checkout is importable from here
# A user's machine: no data root, a cache of its own.
unset LANDMARK_ASL_DATA
export LANDMARK_ASL_CACHE="$work/cache"
bin="$work/venv/bin"
"$bin/python" -c "import landmark_asl, sys; assert '$repo' not in landmark_asl.__file__, landmark_asl.__file__"
# The web page of `landmark-asl serve` travels in the wheel (package data, no build step).
"$bin/python" -c "from importlib.resources import files; page = files('landmark_asl.serve') / 'static'; assert all((page / f).is_file() for f in ('index.html', 'app.js', 'style.css')), list(page.iterdir())"
image="$data/asl2text/test/L/L0.jpg"
# The README's API example, its output checked.
api="$("$bin/python" -c "import cv2, landmark_asl as la; r = la.load_model(); print(r.predict(cv2.imread('$image'), bgr=True))" 2>&1)"
echo "wheel check: load_model().predict(cv2.imread(L0.jpg), bgr=True) -> $api"
case "$api" in "Prediction(label='L', "*) ;; *) echo "wheel check: the API example did not print one line starting with Prediction(label='L'" >&2; exit 1;; esac
out="$("$bin/landmark-asl" predict "$image" --json)"
echo "wheel check: landmark-asl predict $image -> $out"
"$bin/python" -c "import json, sys; r = json.loads(sys.argv[1]); assert r['label'] == 'L' and r['detected'], r" "$out"
frames="$work/frames"
mkdir "$frames"
for i in $(seq -w 1 12); do cp "$image" "$frames/frame$i.jpg"; done
summary="$("$bin/landmark-asl" live --source "$frames" --headless --json | tail -n 1)"
echo "wheel check: landmark-asl live --source <12 frames of L> -> $summary"
"$bin/python" -c "import json, sys; r = json.loads(sys.argv[1]); assert r['text'] == 'L', r" "$summary"
# A signer of ml_slr (user_3; in the shipped model's training since ml_slr joined it, so this checks that
# adapt and evaluate work from the wheel, not accuracy): 5 samples per letter for adapt, 5 others to score.
signer="$data/ml_slr/user_3"
mkdir "$work/mine" "$work/other"
for letter_dir in "$signer"/*/; do
    letter="$(basename "$letter_dir")"
    mkdir "$work/mine/$letter" "$work/other/$letter"
    ls "$letter_dir" | sort | head -n 5 | while read -r f; do cp "$letter_dir/$f" "$work/mine/$letter/"; done
    ls "$letter_dir" | sort | tail -n 5 | while read -r f; do cp "$letter_dir/$f" "$work/other/$letter/"; done
done
"$bin/landmark-asl" adapt "$work/mine" -o "$work/personal" --signer user_3 --n-jobs 2
"$bin/python" -c "import json; c = json.load(open('$work/personal/metadata.json')); a = c['training']['adapted']; assert a['base_rows'] == 'packaged' and a['n_samples'] >= 100, a; print('wheel check: adapt ->', a['n_samples'], 'samples +', a['n_base_rows'], a['base_rows'], 'base rows')"
for model in default personal; do
    args=()
    [ "$model" = personal ] && args=(--model "$work/personal")
    "$bin/landmark-asl" evaluate "$work/other" "${args[@]}" -o "$work/eval_$model" --json > "$work/eval_$model.json"
    "$bin/python" -c "import json; r = json.load(open('$work/eval_$model.json')); assert r['n_test'] == 120 and r['coverage'] > 0.9, r; print('wheel check: evaluate ($model model) on 120 other photos of user_3: hand found %.1f%%, accuracy %.1f%% (all), %.1f%% (hand found)' % (100 * r['coverage'], 100 * r['accuracy_all'], 100 * r['accuracy_detected']))"
    test -s "$work/eval_$model/confusion.png"
done
"$bin/python" -m pip list --format=freeze 2>/dev/null | tr '\n' ' ' | sed 's/^/wheel check: installed without constraints: /'
echo
echo "wheel check: passed (installed outside the checkout without constraints, default model and adapt rows from the wheel)"
