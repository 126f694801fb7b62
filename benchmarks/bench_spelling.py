"""Benchmark of live fingerspelling: words built from photos of signers the model never saw, through the real live loop.

Two held-out sources, each with a model trained WITHOUT it (the recipe chosen on the
leave-one-source-out protocol, ``DEFAULT_RECIPE``, with temperature scaling in the card):

- ``asl2text`` (DEV, used to choose the live defaults): words from asl2text/test photos; the
  model is trained on the shipped model's sources less asl2text (massey, ml_slr,
  asl_alphabet_64/test and the two landmark CSVs; no asl2text at all: its train and test sessions
  share signers).
- ``massey`` (TEST, reported, never used to choose): words from massey photos; the model is
  trained on the shipped model's sources less massey.

Each word is a 640x480 video at 30 fps: each letter one photo (chosen among the source's photos of
that letter where the landmark cache found a hand at full confidence), resized to 340-420 px and pasted on
a canvas of its border colour, held 14-22
frames, with 3-5 TRANSITION frames between letters (cross-fade, half of them motion-blurred); a
double letter slides the photo sideways by about half a hand width in 4-6 frames (every third
one drops the hand for 6 frames instead; a double J or Z traces its path twice); J is an I photo moved along a J hook, Z an
index-pointing photo (massey ``1``/``d``, asl2text ``D``) moved along a Z. Motion clips (J, Z)
and negatives (a still I, a still pointing hand, B and L moved along J and Z paths) measure the
motion letters; a no-hand video and a transitions-only video measure false commits.

Frames go through the real video-mode ``HandLandmarkExtractor`` (with the live loop's recovery
pass, ``VideoHandDetector`` and ``LiveSettings.recover_every``) and ``LiveRecognizer.process``
(the code path of ``landmark-asl live``). The detected hands of every rendered clip are cached
(``--work-dir``, with the two models), so a second run only classifies and spells (seconds).

Usage::

    python benchmarks/bench_spelling.py [--sources asl2text,massey] [--setting NAME=VALUE ...] [--json OUT]

Reports, per source: the normalised Levenshtein score (N - D) / N over all words (the Kaggle ASL
Fingerspelling metric), exact words, deletions / insertions / substitutions per letter, commit
latency from a letter's first held frame to its commit (ms), J/Z recognised per motion clip,
false J/Z, and letters committed on the no-hand and transitions-only videos.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import json
import multiprocessing
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from landmark_asl.estimators.pointing import DEFAULT_GATES
from landmark_asl.evaluation.protocol import LABELS
from landmark_asl.training.recipe import DEFAULT_RECIPE, DEFAULT_SOURCES

from _common import add_cache_dir, add_n_jobs

#: The shipped recipe (temperature scaling on).
CHOSEN = DEFAULT_RECIPE.training_kwargs()

WIDTH, HEIGHT, FPS = 640, 480, 30.0
#: Bump when the rendering changes: the cached detections of the old clips are then ignored.
RENDER_VERSION = 5

WORDS = [
    "HELLO", "BALL", "JAZZ", "QUIZ", "PIZZA", "JUMP", "ZOO", "COFFEE", "BOOK", "APPLE",
    "SIGN", "TEXT", "NUMBER", "HAND", "WORLD", "JELLY", "ZERO", "LETTER", "MOON", "KEEP",
    "SCHOOL", "VIDEO", "QUEEN", "GREEN", "WATER", "YES", "FRIEND", "MAZE", "JOKE", "FOX",
    "HAPPY", "GUIDE", "OXYGEN", "RIVER", "WAVE", "DIZZY",
]  # fmt: skip

#: Held-out source -> (photo dataset, sources the model under test is trained on): the shipped
#: model's sources (``DEFAULT_SOURCES``, ml_slr included) less the held-out source.
HELD_OUT = {
    "asl2text": ("asl2text/test", [s for s in DEFAULT_SOURCES if not s.startswith("asl2text/")]),
    "massey": ("massey", [s for s in DEFAULT_SOURCES if s != "massey"]),
}
DEV = "asl2text"
#: Photos of an index-pointing hand (the Z handshape), per photo dataset.
POINTING = {"massey": ["1", "D"], "asl2text/test": ["D"]}


# --- models ----------------------------------------------------------------------------------------


def held_out_model(name: str, cache_dir: Path, work_dir: Path, n_jobs: int):
    """The model trained without source ``name`` (trained once, then loaded from the cache)."""
    from landmark_asl.model.store import load_model
    from landmark_asl.training.train import train_model

    _, sources = HELD_OUT[name]
    from landmark_asl.data.datasets import CSV_LOADER_VERSION

    # The CSV loader's version too: its rows changed (frame size) without the recipe changing.
    recipe = {"sources": sources, **CHOSEN, "calibrate": True, "labels": LABELS, "csv_loader": CSV_LOADER_VERSION}
    if DEFAULT_RECIPE.pointing:  # (the key of a model without the gates stays what it was)
        recipe["pointing"] = [[list(letters), mode] for letters, mode in DEFAULT_GATES]
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:10]
    folder = work_dir / f"model-without-{name}-{key}"
    if not (folder / "metadata.json").exists():
        print(f"training the model without {name} on {', '.join(sources)} (once)", file=sys.stderr)
        train_model(sources, output=folder, recipe=DEFAULT_RECIPE.replace(calibrate=True), n_jobs=n_jobs,
                    cache_dir=cache_dir, labels=LABELS, progress=False)
    return load_model(folder)


# --- clips -----------------------------------------------------------------------------------------


@dataclass
class Clip:
    """A rendered video: its frames are made by :func:`render` from ``steps``.

    ``steps``: one entry per frame, a list of layers ``(photo index, cx, cy, alpha[, angle])`` plus a
    blur (False, True: a horizontal 21x3 box, or ``(dx, dy)``: a motion blur along that
    displacement in pixels); ``letters``: (letter, first held frame) of each letter of ``word``
    (for an ``alphabet`` clip: the first frame of the transition into it). ``mirror``: every
    frame is flipped left-right (a mirroring camera).
    """

    name: str
    kind: str  # 'word', 'J', 'Z', 'negative', 'no_hand', 'transitions'
    word: str
    photos: list[str]
    size: int
    steps: list[tuple[list[tuple[int, float, float, float]], bool]] = field(default_factory=list)
    letters: list[tuple[str, int]] = field(default_factory=list)
    mirror: bool = False


def photo_pool(dataset: str, cache_dir: Path) -> dict[str, list[str]]:
    """Label -> photo paths of ``dataset`` where the landmark cache found a hand at full confidence (sorted).

    The plain pass or edge padding (the live loop's recovery pass pads too); photos found only at
    a lower threshold or mirrored are left out: the live loop's detector has no such passes by
    default, and a photo it cannot see would measure the detector, not the spelling.
    """
    from landmark_asl.data.landmark_cache import load_landmarks

    table, _ = load_landmarks([dataset], cache_dir=cache_dir, progress=False)
    table = table[table["detected"].astype(bool) & table["strategy"].isin(["plain", "pad"])]
    return {label: sorted(group["source"]) for label, group in table.groupby("label")}


def j_path(rng: np.random.Generator, amplitude: float, n: int) -> np.ndarray:
    """(n, 2) offsets of a J: straight down, then a hook that curls sideways and up."""
    radius = amplitude * rng.uniform(0.3, 0.4)
    s = np.linspace(0.0, 1.0, n)
    down_share = 0.5
    points = []
    for t in s:
        if t <= down_share:
            points.append((0.0, amplitude * t / down_share))
        else:
            theta = np.pi * (t - down_share) / (1 - down_share)
            points.append((-radius + radius * np.cos(theta), amplitude + radius * np.sin(theta)))
    path = np.asarray(points)
    if rng.random() < 0.5:
        path[:, 0] *= -1
    return path


def z_path(rng: np.random.Generator, amplitude: float, n: int) -> np.ndarray:
    """(n, 2) offsets of a Z: right, diagonally down-left, right."""
    height = amplitude * rng.uniform(0.7, 0.9)
    corners = np.array([(0.0, 0.0), (amplitude, 0.0), (0.0, height), (amplitude, height)])
    lengths = np.linalg.norm(np.diff(corners, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(lengths)])
    s = np.linspace(0.0, cum[-1], n)
    path = np.stack([np.interp(s, cum, corners[:, k]) for k in range(2)], axis=1)
    if rng.random() < 0.5:
        path[:, 0] *= -1
    return path


class ClipBuilder:
    """Builds the steps of one clip, keeping the photo list and the current position."""

    def __init__(self, name: str, kind: str, word: str, rng: np.random.Generator):
        self.rng = rng
        self.clip = Clip(name, kind, word, [], int(rng.integers(340, 421)))
        self.pos = (WIDTH / 2, HEIGHT / 2)
        self.current: int | None = None
        self.angle = 0.0

    def photo(self, path: str) -> int:
        self.clip.photos.append(path)
        return len(self.clip.photos) - 1

    def frame(self, layers: list[tuple[int, float, float, float]], blur: bool = False) -> None:
        self.clip.steps.append((layers, blur))

    def empty(self, n: int) -> None:
        for _ in range(n):
            self.frame([])
        self.current = None

    def hold(self, n: int) -> None:
        for _ in range(n):
            self.frame([(self.current, *self.pos, 1.0)])

    def move(self, path: np.ndarray) -> None:
        start = self.pos
        for dx, dy in path:
            self.pos = (start[0] + dx, start[1] + dy)
            self.frame([(self.current, *self.pos, 1.0)])

    def hold_jitter(self, n: int) -> None:
        """A held letter as a person holds it: the hand drifts by a pixel or two a frame."""
        for _ in range(n):
            self.pos = (self.pos[0] + self.rng.normal(0, 0.8), self.pos[1] + self.rng.normal(0, 0.8))
            self.frame([(self.current, *self.pos, 1.0, self.angle)])

    def glide(self, index: int, n: int, offset: np.ndarray | None = None) -> None:
        """A smooth transition of ``n`` frames: the hand travels (eased) to a new place while the shape morphs; the fast middle frames are motion-blurred."""
        new_pos = self.jitter_pos()
        if offset is not None:
            centre = (offset.max(axis=0) + offset.min(axis=0)) / 2
            new_pos = (new_pos[0] - centre[0], new_pos[1] - centre[1])
        start = self.pos
        previous = start
        for k in range(1, n + 1):
            t = k / (n + 1)
            e = 0.5 - 0.5 * np.cos(np.pi * t)  # ease in and out
            pos = (start[0] + e * (new_pos[0] - start[0]), start[1] + e * (new_pos[1] - start[1]))
            step = (pos[0] - previous[0], pos[1] - previous[1])
            blur = step if np.hypot(*step) >= 3 else False
            layers = [(index, *pos, e)] if self.current is None else [(self.current, *pos, 1.0 - e, self.angle),
                                                                       (index, *pos, e)]
            self.frame(layers, blur)
            previous = pos
        self.current, self.pos, self.angle = index, new_pos, 0.0

    def stroke(self, path: np.ndarray, angles: np.ndarray) -> None:
        """Move along a motion letter's path while the hand turns (degrees), motion-blurred as it goes."""
        start = self.pos
        previous = start
        for (dx, dy), angle in zip(path, angles):
            self.pos = (start[0] + dx, start[1] + dy)
            self.angle = float(angle)
            step = (self.pos[0] - previous[0], self.pos[1] - previous[1])
            self.frame([(self.current, *self.pos, 1.0, self.angle)], step if np.hypot(*step) >= 3 else False)
            previous = self.pos

    def jitter_pos(self) -> tuple[float, float]:
        return (WIDTH / 2 + self.rng.uniform(-30, 30), HEIGHT / 2 + self.rng.uniform(-25, 25))

    def enter(self, index: int, offset: np.ndarray | None = None) -> None:
        """Cross-fade (3-5 frames, half of them motion-blurred) from the current photo, or appear.

        ``offset``: a motion path the photo will follow, centred on the canvas from where it starts.
        """
        new_pos = self.jitter_pos()
        if offset is not None:
            centre = (offset.max(axis=0) + offset.min(axis=0)) / 2
            new_pos = (new_pos[0] - centre[0], new_pos[1] - centre[1])
        if self.current is not None:
            n = int(self.rng.integers(3, 6))
            blur = bool(self.rng.random() < 0.5)
            for k in range(1, n + 1):
                a = k / (n + 1)
                self.frame([(self.current, *self.pos, 1.0 - a), (index, *new_pos, a)], blur)
        self.current, self.pos = index, new_pos


def word_clip(word: str, pool: dict[str, list[str]], pointing: list[str], rng: np.random.Generator, name: str) -> Clip:
    """A word with transitions, double letters by slide (or a dropped hand) and J/Z by motion."""
    b = ClipBuilder(name, "word", word, rng)
    b.empty(6)
    n_doubles = 0
    for i, letter in enumerate(word):
        double = i > 0 and word[i - 1] == letter
        path = motion_path(rng, letter, b.clip.size) if letter in "JZ" else None
        if double and letter in "JZ":
            b.pos = (b.pos[0] - path[0, 0], b.pos[1] - path[0, 1])  # the second stroke starts where the first began
            b.hold(2)
        elif double:
            n_doubles += 1
            if n_doubles % 3 == 0:  # every third double letter: the hand drops
                index = b.current
                b.empty(6)
                b.current = index
            else:  # slide sideways by about half a hand width, then settle
                shift = 0.5 * 0.55 * b.clip.size * rng.choice([-1.0, 1.0])
                n = int(rng.integers(4, 7))
                b.move(np.stack([np.linspace(shift / n, shift, n), np.zeros(n)], axis=1))
        else:
            shape = "I" if letter == "J" else (rng.choice(pointing) if letter == "Z" else letter)
            b.enter(b.photo(str(rng.choice(pool[shape]))), path)
        b.clip.letters.append((letter, len(b.clip.steps)))
        if path is not None:
            motion_letter(b, path)
        else:
            b.hold(int(rng.integers(14, 23)))
    b.empty(8)
    return b.clip


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def alphabet_clip(pool: dict[str, list[str]], pointing: list[str], rng: np.random.Generator, name: str,
                  mirror: bool) -> Clip:
    """The manual alphabet A..Z as an instructional video signs it: each still letter held 0.9-1.2 s
    (the hand drifting a little), smooth transitions of 8-12 frames (the hand travels while the shape
    morphs, blurred while fast), J a still I then the hook while the hand turns 45-80 degrees, Z a
    still pointing hand then the Z, both motion-blurred; P and Q are the dataset's own photos
    (pointing down). ``mirror``: the same clip seen by a mirroring camera."""
    b = ClipBuilder(name, "alphabet", ALPHABET, rng)
    b.clip.mirror = mirror
    b.empty(10)
    for letter in ALPHABET:
        shape = "I" if letter == "J" else (str(rng.choice(pointing)) if letter == "Z" else letter)
        path = motion_path(rng, letter, b.clip.size) if letter in "JZ" else None
        b.clip.letters.append((letter, len(b.clip.steps)))
        b.glide(b.photo(str(rng.choice(pool[shape]))), int(rng.integers(8, 13)), path)
        if path is None:
            b.hold_jitter(int(rng.integers(27, 37)))
            continue
        b.hold_jitter(int(rng.integers(6, 12)))
        angles = np.zeros(len(path))
        if letter == "J":  # the wrist turns during the hook
            hook = np.arange(len(path)) >= len(path) // 2
            turn = rng.uniform(45, 80) * np.sign(path[-1, 0] or 1.0)
            angles[hook] = turn * np.linspace(0, 1, int(hook.sum()))
        b.stroke(path, angles)
        b.hold_jitter(int(rng.integers(6, 11)))
    b.empty(10)
    return b.clip


def build_alphabet_clips(source: str, cache_dir: Path, seed: int) -> list[Clip]:
    """One alphabet clip per seed, seen by a plain and by a mirroring camera (the same frames flipped)."""
    dataset, _ = HELD_OUT[source]
    pool = photo_pool(dataset, cache_dir)
    pointing = [p for p in POINTING[dataset] if p in pool]
    clips = []
    for mirror in (False, True):
        rng = np.random.default_rng([seed, sum(map(ord, source)), 26])  # the same clip both ways
        clips.append(alphabet_clip(pool, pointing, rng, f"{source}/{seed}/alphabet{'-mirrored' if mirror else ''}",
                                   mirror))
    return clips


def score_alphabet(clips: list[Clip], hands: dict[str, list], model, settings) -> dict:
    """Commit recall per letter (its letter committed between the start of its transition and the next
    letter's), extra letters (letters of the final text beyond the recalled ones: a wrong letter or one
    committed on a transition), and whether mirroring changed the text."""
    recalled = {letter: 0 for letter in ALPHABET}
    shown = {letter: 0 for letter in ALPHABET}
    extra, texts, views = 0, {}, {False: [0, 0], True: [0, 0]}
    for clip in clips:
        commits, text = spell_clip(model, settings, hands[clip.name])
        texts[clip.name] = text
        bounds = [f for _, f in clip.letters] + [len(clip.steps)]
        used = set()
        for k, (letter, first) in enumerate(clip.letters):
            shown[letter] += 1
            hits = [i for i, (f, label, _) in enumerate(commits) if first <= f < bounds[k + 1] and label == letter]
            if hits:
                recalled[letter] += 1
                used.add(hits[0])
                views[clip.mirror][0] += 1
            views[clip.mirror][1] += 1
        # Letters of the final text that are not a recalled letter (a J's I replaced by the J is gone).
        extra += max(0, len(text) - len(used))
    pairs = [(texts[c.name], texts[c.name + "-mirrored"]) for c in clips if not c.mirror and c.name + "-mirrored" in texts]
    recall = {letter: recalled[letter] / shown[letter] for letter in ALPHABET if shown[letter]}
    return {
        "clips": len(clips), "recall": recall, "recall_min": min(recall.values()),
        "letters_below_0.97": {k: round(v, 3) for k, v in recall.items() if v < 0.97},
        "recall_all": sum(recalled.values()) / max(1, sum(shown.values())),
        "recall_plain": views[False][0] / max(1, views[False][1]),
        "recall_mirrored": views[True][0] / max(1, views[True][1]),
        "extra_letters": extra, "mirror_changed_text": sum(a != b for a, b in pairs), "mirror_pairs": len(pairs),
        "texts": texts,
    }


def format_alphabet(name: str, r: dict) -> str:
    return "\n".join([
        f"## {name} alphabet (real-signing suite, {r['clips']} clips: each seed plain and mirrored)",
        f"commit recall: all {r['recall_all']:.3f} (plain {r['recall_plain']:.3f}, mirrored "
        f"{r['recall_mirrored']:.3f}); lowest letter {r['recall_min']:.3f}; below 0.97: {r['letters_below_0.97'] or 'none'}",
        f"extra letters (in the text, not a recalled letter): {r['extra_letters']}; mirroring changed the text of "
        f"{r['mirror_changed_text']}/{r['mirror_pairs']} clips",
        "texts: " + ", ".join(f"{k.split('/', 1)[1]}={v}" for k, v in r["texts"].items()),
    ])  # fmt: skip


def motion_path(rng: np.random.Generator, letter: str, size: int) -> np.ndarray:
    """The offsets of a J or Z stroke of 16-24 frames, 0.35-0.45 of the photo's size."""
    amplitude = size * rng.uniform(0.35, 0.45)
    n = int(rng.integers(16, 25))
    return j_path(rng, amplitude, n) if letter == "J" else z_path(rng, amplitude, n)


def motion_letter(b: ClipBuilder, path: np.ndarray) -> None:
    """A short still start, the stroke, a short still end."""
    b.hold(int(b.rng.integers(3, 6)))
    b.move(path)
    b.hold(int(b.rng.integers(4, 8)))


def motion_clip(kind: str, shape_photo: str, motion: str | None, rng: np.random.Generator, name: str,
                word: str) -> Clip:
    """One motion letter (``motion`` 'J'/'Z'), or a still hand (``motion`` None) of 30-40 frames."""
    b = ClipBuilder(name, kind, word, rng)
    b.empty(4)
    path = motion_path(rng, motion, b.clip.size) if motion is not None else None
    b.enter(b.photo(shape_photo), path)
    b.clip.letters.append((word, len(b.clip.steps)))
    if path is None:
        b.hold(int(rng.integers(30, 41)))
    else:
        motion_letter(b, path)
    b.empty(6)
    return b.clip


def transitions_clip(pool: dict[str, list[str]], rng: np.random.Generator, name: str, n_letters: int = 30) -> Clip:
    """Only transitions: each photo is fully visible for at most one frame while cross-fading on."""
    b = ClipBuilder(name, "transitions", "", rng)
    b.empty(4)
    letters = [c for c in LABELS if len(c) == 1 and c in pool]
    for _ in range(n_letters):
        b.enter(b.photo(str(rng.choice(pool[str(rng.choice(letters))]))))
        b.hold(1)
    b.empty(4)
    return b.clip


def no_hand_clip(rng: np.random.Generator, name: str, n_frames: int = 150) -> Clip:
    clip = Clip(name, "no_hand", "", [], 0)
    clip.steps = [([], False)] * n_frames
    return clip


def build_clips(source: str, cache_dir: Path, seed: int = 0) -> list[Clip]:
    dataset, _ = HELD_OUT[source]
    pool = photo_pool(dataset, cache_dir)
    # Canonical labels: massey's folders are lower case; the cache already normalises them.
    rng = np.random.default_rng([seed, sum(map(ord, source))])
    pointing = [p for p in POINTING[dataset] if p in pool]
    source = f"{source}/{seed}"
    clips = [word_clip(w, pool, pointing, rng, f"{source}/word/{w}") for w in WORDS]
    for k in range(10):
        clips.append(motion_clip("J", str(rng.choice(pool["I"])), "J", rng, f"{source}/J/{k}", "J"))
        clips.append(motion_clip("Z", str(rng.choice(pool[str(rng.choice(pointing))])), "Z", rng, f"{source}/Z/{k}", "Z"))
    for k in range(4):
        clips.append(motion_clip("negative", str(rng.choice(pool["I"])), None, rng, f"{source}/still-I/{k}", "I"))
        clips.append(motion_clip("negative", str(rng.choice(pool[str(rng.choice(pointing))])), None, rng,
                                 f"{source}/still-pointing/{k}", "D"))
        for shape in ("B", "L"):
            motion = "J" if k % 2 == 0 else "Z"
            clips.append(motion_clip("negative", str(rng.choice(pool[shape])), motion, rng,
                                     f"{source}/moving-{shape}-{motion}/{k}", shape))
    clips.append(no_hand_clip(rng, f"{source}/no-hand"))
    clips.append(transitions_clip(pool, rng, f"{source}/transitions"))
    return clips


# --- rendering and detection -----------------------------------------------------------------------


def _load_photo(path: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    from landmark_asl.hands.images import read_image

    rgb = cv2.resize(read_image(path), (size, size), interpolation=cv2.INTER_AREA)
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    return rgb, np.median(border, axis=0).astype(np.uint8)


def _paste(canvas: np.ndarray, photo: np.ndarray, cx: float, cy: float) -> None:
    h, w = photo.shape[:2]
    x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + w, WIDTH), min(y0 + h, HEIGHT)
    if xa < xb and ya < yb:
        canvas[ya:yb, xa:xb] = photo[ya - y0:yb - y0, xa - x0:xb - x0]


def render(clip: Clip) -> list[np.ndarray]:
    """The clip's RGB frames (640x480); each photo sits on a canvas of its own border colour."""
    import cv2

    photos = [_load_photo(p, clip.size) for p in clip.photos]
    background = photos[0][1] if photos else np.array([40, 40, 40], np.uint8)
    frames = []
    for layers, blur in clip.steps:
        out = np.zeros((HEIGHT, WIDTH, 3), np.float32)
        if not layers:
            out[:] = background
        for index, cx, cy, alpha, *angle in layers:
            photo, fill = photos[index]
            if angle and angle[0]:
                # The photo turned by angle degrees about its centre, which lands on (cx, cy).
                h, w = photo.shape[:2]
                matrix = cv2.getRotationMatrix2D((w / 2, h / 2), float(angle[0]), 1.0)
                matrix[:, 2] += (cx - w / 2, cy - h / 2)
                canvas = cv2.warpAffine(photo, matrix, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_CONSTANT, borderValue=tuple(int(v) for v in fill))
            else:
                canvas = np.empty((HEIGHT, WIDTH, 3), np.uint8)
                canvas[:] = fill
                _paste(canvas, photo, cx, cy)
            out += alpha * canvas.astype(np.float32)
        frame = np.clip(out, 0, 255).astype(np.uint8)
        if blur is True:
            frame = cv2.blur(frame, (21, 3))
        elif blur:
            frame = cv2.filter2D(frame, -1, motion_kernel(*blur))
        frames.append(cv2.flip(frame, 1) if clip.mirror else frame)
    return frames


def motion_kernel(dx: float, dy: float) -> np.ndarray:
    """A normalised line kernel along (dx, dy) pixels: the blur of a hand moving that far during the exposure."""
    import cv2

    length = int(np.clip(np.hypot(dx, dy), 3, 31)) | 1
    kernel = np.zeros((length, length), np.float32)
    c = length // 2
    angle = np.arctan2(dy, dx)
    end = (int(round(c + c * np.cos(angle))), int(round(c + c * np.sin(angle))))
    start = (int(round(c - c * np.cos(angle))), int(round(c - c * np.sin(angle))))
    cv2.line(kernel, start, end, 1.0, 1)
    return kernel / kernel.sum()


def detect_clip(clip: Clip, recover_every: int = 0, passes: tuple[str, ...] | None = None) -> list:
    """Hands found by a fresh video-mode extractor in each frame of the clip (None: no hand), through the
    live loop's detector (``VideoHandDetector``: a recovery pass when the video pass misses)."""
    import cv2

    from landmark_asl.hands.extractor import HandLandmarkExtractor, quiet_native_logs
    from landmark_asl.live.loop import RECOVERY_PASSES, VideoHandDetector

    cv2.setNumThreads(1)
    quiet_native_logs()
    with HandLandmarkExtractor(mode="video") as extractor:
        detector = VideoHandDetector(extractor, recover_every, passes or RECOVERY_PASSES)
        return [detector.detect(frame, int(round(i * 1000.0 / FPS))) for i, frame in enumerate(render(clip))]


def detected_hands(clips: list[Clip], work_dir: Path, n_jobs: int, recover_every: int = 0,
                   passes: tuple[str, ...] | None = None) -> dict[str, list]:
    """Hands per clip name, from the cache when the same clips were detected before (with the same
    ``LiveSettings.recover_every``)."""
    key = hashlib.sha256(pickle.dumps([(c.name, c.photos, c.size, c.steps, c.mirror) for c in clips])).hexdigest()[:12]
    # The cache files of detections made without recovery keep their old names.
    tag = f"-r{recover_every}" + ("-" + "-".join(passes) if passes else "") if recover_every else ""
    path = work_dir / f"hands-v{RENDER_VERSION}-{key}{tag}.pkl"
    if path.exists():
        try:
            with path.open("rb") as f:
                return pickle.load(f)
        except (ModuleNotFoundError, AttributeError) as exc:  # pickled by a library of another layout
            print(f"detecting again: {path.name} does not load ({exc})", file=sys.stderr)
    start = time.perf_counter()
    n_frames = sum(len(c.steps) for c in clips)
    print(f"detecting hands in {len(clips)} clips, {n_frames} frames (cached afterwards)", file=sys.stderr)
    # Spawned, not forked: MediaPipe's threads (the model trained just before, in this process) do not
    # survive a fork; a forked worker segfaults in its first graph.
    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        hands = dict(zip([c.name for c in clips], pool.map(functools.partial(detect_clip, recover_every=recover_every, passes=passes),
                                                           clips)))
    print(f"  {time.perf_counter() - start:.0f} s", file=sys.stderr)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        pickle.dump(hands, f)
    tmp.replace(path)
    return hands


# --- spelling and scoring --------------------------------------------------------------------------


def edit_ops(truth: str, guess: str) -> tuple[int, int, int]:
    """(deletions, insertions, substitutions) of a minimal alignment of ``guess`` to ``truth``."""
    n, m = len(truth), len(guess)
    d = np.zeros((n + 1, m + 1), dtype=int)
    d[:, 0], d[0, :] = np.arange(n + 1), np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (truth[i - 1] != guess[j - 1]))
    i, j, ops = n, m, [0, 0, 0]
    while i or j:
        if i and j and d[i, j] == d[i - 1, j - 1] + (truth[i - 1] != guess[j - 1]):
            ops[2] += truth[i - 1] != guess[j - 1]
            i, j = i - 1, j - 1
        elif i and d[i, j] == d[i - 1, j] + 1:
            ops[0] += 1
            i -= 1
        else:
            ops[1] += 1
            j -= 1
    return ops[0], ops[1], ops[2]


def spell_clip(model, settings, hands: list, *, suggest: bool = False):
    """(frame, label, text) of every commit of the live loop over the clip's detected hands, and the text
    (with ``suggest``: and the three words suggested for it at the end)."""
    from landmark_asl.live.loop import LiveRecognizer

    recognizer = LiveRecognizer(model, settings)
    commits = []
    for i, hand in enumerate(hands):
        result = recognizer.process(hand, i, int(round(i * 1000.0 / FPS)), frame_size=(WIDTH, HEIGHT))
        if result.committed is not None:
            commits.append((i, result.committed, recognizer.text))
    if suggest:
        return commits, recognizer.text, recognizer.suggestions()
    return commits, recognizer.text


def score(clips: list[Clip], hands: dict[str, list], model, settings) -> dict:
    n = dels = ins = subs = exact = 0
    latencies, words, motion_hits, motion_total, false_motion, negatives = [], [], {"J": 0, "Z": 0}, {"J": 0, "Z": 0}, 0, 0
    false_commits, unseen, motion_latencies = {}, 0, []
    suggested = first_suggested = 0
    for clip in clips:
        commits, text, suggestions = spell_clip(model, settings, hands[clip.name], suggest=True)
        if clip.kind == "word":
            d, i, s = edit_ops(clip.word, text)
            n += len(clip.word)
            dels, ins, subs = dels + d, ins + i, subs + s
            exact += text == clip.word
            suggested += clip.word in suggestions
            first_suggested += suggestions[:1] == [clip.word]
            words.append({"word": clip.word, "spelled": text, "suggestions": suggestions})
            starts = [f for _, f in clip.letters] + [len(clip.steps)]
            for k, (letter, first) in enumerate(clip.letters):
                unseen += all(h is None for h in hands[clip.name][first:starts[k + 1]])
                hits = [f for f, label, _ in commits if first <= f < starts[k + 1] and label == letter]
                if hits:
                    (motion_latencies if letter in "JZ" else latencies).append((hits[0] - first) * 1000.0 / FPS)
        elif clip.kind in ("J", "Z"):
            motion_total[clip.kind] += 1
            motion_hits[clip.kind] += clip.kind in text
            words.append({"clip": clip.name, "spelled": text})
        elif clip.kind == "negative":
            negatives += 1
            false_motion += ("J" in text) or ("Z" in text)
            words.append({"clip": clip.name, "spelled": text})
        else:
            false_commits[clip.kind] = {"frames": len(clip.steps), "committed": len(commits), "text": text}
    return {
        "letters": n, "words": sum(c.kind == "word" for c in clips),
        "score": (n - dels - ins - subs) / n, "exact_words": exact,
        "word_in_suggestions": suggested, "word_first_suggestion": first_suggested,
        "deletions_per_letter": dels / n, "insertions_per_letter": ins / n, "substitutions_per_letter": subs / n,
        "latency_ms_median": float(np.median(latencies)) if latencies else None,
        "latency_ms_p90": float(np.percentile(latencies, 90)) if latencies else None,
        "latency_ms_max": float(np.max(latencies)) if latencies else None,
        "letters_with_latency": len(latencies),
        "motion_latency_ms_median": float(np.median(motion_latencies)) if motion_latencies else None,
        "letters_never_detected": unseen,
        "J_recognised": f"{motion_hits['J']}/{motion_total['J']}", "Z_recognised": f"{motion_hits['Z']}/{motion_total['Z']}",
        "motion_rate": (motion_hits["J"] + motion_hits["Z"]) / max(1, motion_total["J"] + motion_total["Z"]),
        "false_JZ": f"{false_motion}/{negatives}",
        "false_commits": false_commits,
        "spelled": words,
    }


class MemoModel:
    """The model under test with its probabilities remembered per feature row, for grids of settings."""

    def __init__(self, model):
        self.model, self.classes, self._memo = model, model.classes, {}

    def predict_proba_one(self, x: np.ndarray) -> np.ndarray:
        key = x.tobytes()
        if key not in self._memo:
            self._memo[key] = self.model.predict_proba_one(x)
        return self._memo[key]


def setting_value(name: str, value: str):
    from landmark_asl.live.settings import LiveSettings

    kinds = {f.name: f.type for f in dataclasses.fields(LiveSettings)}
    if name not in kinds:
        raise SystemExit(f"bench_spelling: unknown setting {name!r}; expected one of {', '.join(kinds)}")
    if "bool" in str(kinds[name]):
        return value.lower() in ("1", "true", "yes")
    if "str" in str(kinds[name]):
        return value
    return int(value) if "int" in str(kinds[name]) else float(value)


def parse_settings(items: list[str]) -> dict:
    values = {}
    for item in items:
        name, _, value = item.partition("=")
        values[name] = setting_value(name, value)
    return values


def run_grid(grid: list[str], base: dict, clips, hands, model, *, alphabet: bool = False) -> list[dict]:
    """Score every combination of the ``NAME=v1,v2`` lists on top of ``base``; best first.

    ``alphabet``: the clips are the alphabet suite (:func:`score_alphabet`), else the words suite.
    """
    import itertools

    from landmark_asl.live.settings import LiveSettings

    axes = [(item.partition("=")[0], [setting_value(item.partition("=")[0], v) for v in item.partition("=")[2].split(",")])
            for item in grid]
    memo = MemoModel(model)
    rows = []
    for combo in itertools.product(*[values for _, values in axes]):
        chosen = {**base, **dict(zip([name for name, _ in axes], combo))}
        if alphabet:
            r = score_alphabet(clips, hands, memo, LiveSettings(**chosen))
            rows.append({**chosen, "recall_all": r["recall_all"], "recall_min": r["recall_min"],
                         "extra": r["extra_letters"], "mirror_changed": r["mirror_changed_text"],
                         "below": r["letters_below_0.97"]})
        else:
            r = score(clips, hands, memo, LiveSettings(**chosen))
            fc = r["false_commits"]
            rows.append({**chosen, "score": r["score"], "exact": r["exact_words"],
                         "in_suggestions": r["word_in_suggestions"], "del": r["deletions_per_letter"],
                         "ins": r["insertions_per_letter"], "sub": r["substitutions_per_letter"],
                         "latency_p90": r["latency_ms_p90"], "J": r["J_recognised"], "Z": r["Z_recognised"],
                         "false_JZ": r["false_JZ"], "no_hand": fc["no_hand"]["committed"],
                         "transitions": fc["transitions"]["committed"]})
        print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in rows[-1].items()), file=sys.stderr)
    if alphabet:
        return sorted(rows, key=lambda row: (-row["recall_all"], row["extra"]))
    return sorted(rows, key=lambda row: -row["score"])


def format_report(name: str, r: dict) -> str:
    role = "dev: settings chosen here" if name == DEV else "test: reported, never used to choose"
    fc = r["false_commits"]
    return "\n".join([
        f"## {name} ({role})",
        f"score (N-D)/N {r['score']:.3f} over {r['letters']} letters; exact words {r['exact_words']}/{r['words']}",
        f"word suggestions: the right word among the three {r['word_in_suggestions']}/{r['words']} "
        f"({r['word_in_suggestions'] / r['words']:.1%}), first {r['word_first_suggestion']}/{r['words']}",
        f"per letter: deletions {r['deletions_per_letter']:.3f}, insertions {r['insertions_per_letter']:.3f}, "
        f"substitutions {r['substitutions_per_letter']:.3f}; letters whose photo the video-mode detector never "
        f"found while it was shown: {r['letters_never_detected']}",
        f"commit latency from the first held frame: median {r['latency_ms_median']:.0f} ms, p90 "
        f"{r['latency_ms_p90']:.0f} ms, max {r['latency_ms_max']:.0f} ms ({r['letters_with_latency']} still letters); "
        f"J/Z in words, from the first frame to the end of the stroke's commit: median "
        f"{r['motion_latency_ms_median'] or 0:.0f} ms",
        f"motion letters: J {r['J_recognised']}, Z {r['Z_recognised']}; false J/Z on still or moving other "
        f"letters {r['false_JZ']}",
        f"false commits: no-hand video {fc['no_hand']['committed']} ({fc['no_hand']['text']!r}), transitions-only "
        f"video {fc['transitions']['committed']} ({fc['transitions']['text']!r})",
        "wrong words: " + ", ".join(f"{w['word']}->{w['spelled']}" for w in r["spelled"]
                                    if "word" in w and w["word"] != w["spelled"]),
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default="asl2text,massey", help=f"Comma-separated, from {', '.join(HELD_OUT)}.")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="LiveSettings field (repeatable); default: the library defaults.")
    parser.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2",
                        help="Score every combination of these LiveSettings values (repeatable); for the dev source.")
    add_cache_dir(parser)
    parser.add_argument("--work-dir", type=Path, default=Path(".cache/bench_spelling"),
                        help="Where the held-out models and the detected hands of the rendered clips are kept.")
    add_n_jobs(parser)
    parser.add_argument("--seeds", default="0,1,2",
                        help="Comma-separated renderings (other photos, sizes, paths); every seed adds the same words.")
    parser.add_argument("--suite", default="words,alphabet",
                        help="Comma-separated: 'words' (words, motion clips, negatives) and/or 'alphabet' (A..Z "
                             "signed with ~1 s holds and smooth transitions, plain and mirrored).")
    parser.add_argument("--alphabet-seeds", default="0,1,2,3,4,5", help="Comma-separated alphabet renderings.")
    parser.add_argument("--recover-passes", default=None,
                        help="Comma-separated recovery passes of the live detector (default: the library's, "
                             "landmark_asl.live.loop.RECOVERY_PASSES); used with --setting recover_every=N.")
    parser.add_argument("--json", type=Path, default=None, help="Write the results as JSON here.")
    args = parser.parse_args(argv)
    passes = tuple(args.recover_passes.split(",")) if args.recover_passes else None
    from landmark_asl.hands.settings import RECOVERY_STRATEGIES

    if passes and not set(passes) <= set(RECOVERY_STRATEGIES):
        raise SystemExit(f"bench_spelling: --recover-passes takes names from {', '.join(RECOVERY_STRATEGIES)}; "
                         f"got {args.recover_passes!r}")
    if any(g.partition("=")[0] == "recover_every" for g in args.grid):
        raise SystemExit("bench_spelling: recover_every changes the detections, which a grid reuses: "
                         "run once per value with --setting recover_every=N")
    from landmark_asl.hands.extractor import quiet_native_logs

    quiet_native_logs()
    from landmark_asl.live.settings import LiveSettings

    settings = LiveSettings(**parse_settings(args.setting))
    results = {"settings": dataclasses.asdict(settings), "recover_passes": list(passes) if passes else None,
               "sources": {}}
    for name in args.sources.split(","):
        if name not in HELD_OUT:
            raise SystemExit(f"bench_spelling: unknown source {name!r}; expected one of {', '.join(HELD_OUT)}")
        model = held_out_model(name, args.cache_dir, args.work_dir, args.n_jobs)
        suites = args.suite.split(",")
        if "alphabet" in suites:
            alphabet = [c for seed in args.alphabet_seeds.split(",")
                        for c in build_alphabet_clips(name, args.cache_dir, int(seed))]
            alphabet_hands = detected_hands(alphabet, args.work_dir, args.n_jobs, settings.recover_every, passes)
            if args.grid:
                results.setdefault("alphabet_grid", {})[name] = run_grid(
                    args.grid, parse_settings(args.setting), alphabet, alphabet_hands, model, alphabet=True)
            else:
                r = score_alphabet(alphabet, alphabet_hands, model, settings)
                results.setdefault("alphabet", {})[name] = r
                print(format_alphabet(name, r) + "\n")
        if "words" not in suites:
            continue
        clips, hands = [], {}
        for seed in args.seeds.split(","):
            clips.append(build_clips(name, args.cache_dir, int(seed)))
            hands.update(detected_hands(clips[-1], args.work_dir, args.n_jobs, settings.recover_every, passes))  # per seed
        clips = [clip for part in clips for clip in part]
        if args.grid:
            if name != DEV:
                print(f"bench_spelling: grid on {name}, which is the TEST source: do not choose on it", file=sys.stderr)
            results["sources"][name] = {"grid": run_grid(args.grid, parse_settings(args.setting), clips, hands, model)}
            continue
        start = time.perf_counter()
        r = score(clips, hands, model, settings)
        r["spell_seconds"] = time.perf_counter() - start
        r["model"] = {"trained_on": HELD_OUT[name][1], "temperature": (model.card.calibration or {}).get("temperature")}
        results["sources"][name] = r
        print(format_report(name, r) + "\n")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
