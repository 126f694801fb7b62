"""Write landmark_asl/static/handshapes.json: each letter's median hand from asl2text/train, drawn by the web page as its handshape chart.

asl2text (keptsecret/ASLAlphabets) is Apache-2.0; the file holds only a derived statistic (one median
hand per letter, 21 points rounded to 0.01 palm lengths), with the attribution, so no image is shipped
or downloaded. Each detected hand is made a right hand (left ones mirrored), put with its wrist at the
origin and scaled to a palm length of 1 (wrist to middle knuckle), keeping its orientation (P and Q point
down); the median is taken per coordinate.

Usage::

    python tools/make_handshapes.py [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "landmark_asl" / "static" / "handshapes.json"
DATASET = "asl2text/train"


def median_hands(table) -> dict[str, list[list[float]]]:
    """Letter -> 21 [x, y] points of its median normalised hand (see the module docstring)."""
    from landmark_asl.hands.landmarks import IMAGE_COLUMNS

    table = table[table["detected"].astype(bool)]
    out = {}
    for label, group in sorted(table.groupby("label")):
        if len(label) != 1:
            continue
        p = group[list(IMAGE_COLUMNS)].to_numpy(np.float64).reshape(len(group), 21, 3)[:, :, :2]
        p[:, :, 1] *= (group["image_height"].to_numpy(float) / group["image_width"].to_numpy(float))[:, None]
        p = p - p[:, :1]
        left = (group["handedness"] == "Left").to_numpy()
        p[left, :, 0] *= -1
        p /= np.linalg.norm(p[:, 9], axis=1)[:, None, None]
        out[label] = np.round(np.median(p, axis=0), 2).tolist()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="Landmark cache (default: the per-user cache, landmark_asl.paths).")
    args = parser.parse_args()
    from landmark_asl.data.landmark_cache import load_landmarks

    table, _ = load_landmarks([DATASET], cache_dir=args.cache_dir, progress=False)
    data = {
        "about": "Median hand of each letter (a right hand, wrist at the origin, palm length 1, y down), "
                 "computed by tools/make_handshapes.py from the MediaPipe landmarks of the asl2text/train "
                 "photos. J and Z are signed with motion: their entry is the still end of the stroke.",
        "source": "asl2text: keptsecret/ASLAlphabets (https://github.com/keptsecret/ASLAlphabets), Apache-2.0",
        "letters": median_hands(table),
    }
    OUT.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes, {len(data['letters'])} letters)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
