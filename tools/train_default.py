"""Rebuild the shipped model ``models/default``, measure what it is worth, and write its README.

The shipped model is the configuration chosen on the leave-one-source-out dev protocol
(``benchmarks/bench_lodo.py``, docs/experiments.md, 2026-12-03): a 50-tree random
forest on the handshape features, every dataset weighing the same, one augmented copy of each
row, temperature-scaled probabilities (``RECIPE``), trained on every source with a hand,
letters and DEL/NOTHING/SPACE only (massey's digits are left out: the live speller types
letters).

Its card (``metadata.json`` ``metrics``) carries figures measured on held-out data only, with
the same recipe, by models trained without that data:

- ``lodo``: the protocol itself: each source/signer held out in turn (mean, worst fold, per
  fold, calibration of the temperature-scaled probabilities);
- ``massey_cross``: trained on every other source, scored on massey's letters (five signers, a
  camera and a background never trained on);
- ``asl2text_session``: trained on asl2text/train, scored on asl2text/test (another session).

No figure is computed on training data. About 10 minutes on 2 cores once the landmark cache
is filled.

Usage: ``python tools/train_default.py [--output models/default] [--cache-dir DIR]``
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from landmark_asl.estimators.pointing import DEFAULT_GATES, gates_from_list
from landmark_asl.paths import landmark_cache_dir
from landmark_asl.training.recipe import DEFAULT_LABELS, DEFAULT_RECIPE, DEFAULT_SOURCES

REPO = Path(__file__).resolve().parent.parent

LABELS = list(DEFAULT_LABELS)
#: The recipe, defined once in the library (``landmark-asl train`` defaults to it).
RECIPE = DEFAULT_RECIPE.training_kwargs()
SOURCES = list(DEFAULT_SOURCES)
#: The pointing gates of the recipe, as a protocol result records them (``exp_newsigner.py report --write-lodo``).
POINTING = [[list(letters), mode] for letters, mode in DEFAULT_GATES] if DEFAULT_RECIPE.pointing else []


def _shown(path: Path) -> str:
    """``path`` relative to the repository when inside it (the command in the README is run from there)."""
    path = path.resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _cross(train: list[str], test: str, output: Path, cache_dir: Path, *, calibrate: bool) -> dict:
    """The chosen recipe trained on ``train`` and scored on ``test`` (a cross-dataset ``compare``)."""
    from landmark_asl.evaluation.comparison import compare

    report = compare(train, [test], output=output, models=[DEFAULT_RECIPE.model_name],
                     params={DEFAULT_RECIPE.model_name: RECIPE["params"]},
                     balance=RECIPE["balance"], augment=RECIPE["augment"], calibrate=calibrate,
                     pointing=DEFAULT_RECIPE.pointing,
                     cache_dir=cache_dir, n_jobs=2, save_models=False, overwrite=True, progress=True)
    rf = report["models"]["rf"]
    keys = ("n_test", "n_detected", "coverage", "accuracy_all", "accuracy_detected", "macro_f1")
    cal = rf.get("calibration") or {}
    return {
        **{k: rf.get(k) for k in keys},
        **{k: cal.get(k) for k in ("ece", "brier", "auroc", "median_confidence_correct", "temperature")},
        "train_sources": train, "test_sources": [test], "report": _shown(output / "report.json"),
        "split_file_sha256": report["metadata"]["split_file_sha256"],
    }


def protocol(out: Path, cache_dir: Path, views_dir: Path | None = None, seeds: tuple[int, ...] = (0,),
             lodo_json: Path | None = None) -> dict:
    """The dev protocol's figures of the shipped recipe, for the card.

    With ``views_dir`` (``experiments/extract_views.py``'s output) each held-out photo is scored on
    the mean over its own landmarks and the views of ``DEFAULT_VIEWS``, as ``predict`` does.
    With ``lodo_json`` the protocol is not run again: the file is a result of the same recipe
    and views (``bench_lodo.py --json``, ``exp_newsigner.py report --write-lodo``), checked.
    """
    from landmark_asl.evaluation.lodo import format_confusions, format_folds, leave_one_group_out
    from landmark_asl.evaluation.protocol import APART, load_table, load_views
    from landmark_asl.hands.views import DEFAULT_VIEWS, VIEWS_BELOW

    if lodo_json is not None:
        result = json.loads(lodo_json.read_text())
        found = (result.get("recipe"), result.get("pointing", []), result.get("views"), result.get("views_below"),
                 result.get("sources"))
        expected = (RECIPE, POINTING, list(DEFAULT_VIEWS), VIEWS_BELOW, sorted(SOURCES))
        if found != expected:
            raise SystemExit(f"{lodo_json}: recipe, pointing gate, views and sources {found} are not the shipped "
                             f"{expected}")
        seeds = tuple(result["seeds"])
        views = DEFAULT_VIEWS or None
    else:
        table = load_table(cache_dir, 2)
        views = load_views(views_dir, DEFAULT_VIEWS) if views_dir is not None and DEFAULT_VIEWS else None
        result = leave_one_group_out(table, DEFAULT_RECIPE, seeds=seeds, n_jobs=2, apart=APART, views=views,
                                     progress=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "lodo.json").write_text(json.dumps({k: result[k] for k in ("runs", "summary")}, indent=2))
    (out / "lodo.md").write_text(format_folds(result["summary"]) + "\n\n" + format_confusions(result["summary"]["errors"])
                                 + "\n")
    s = result["summary"]
    lodo = {k: s[k] for k in ("n_folds", "mean_accuracy", "mean_accuracy_all", "mean_accuracy_seed_sd", "worst_fold",
                              "worst_accuracy", "mean_ece", "mean_ece_scaled", "mean_median_confidence_correct_scaled",
                              "mean_temperature", "apart")}
    lodo["seeds"] = list(seeds)
    lodo["views"] = list(DEFAULT_VIEWS) if views is not None else []
    lodo["views_below"] = VIEWS_BELOW if views is not None else None
    lodo["pointing"] = POINTING
    lodo["per_fold_accuracy_detected"] = {r["fold"]: r["accuracy_detected"] for r in s["per_fold"]}
    lodo["per_fold_ece_scaled"] = {r["fold"]: r["ece_scaled"] for r in s["per_fold"]}
    lodo["confusable_groups"] = s["errors"]["groups"]
    lodo["letters"] = {k: {m: e[m] for m in ("rate", "worst_fold", "worst_rate")} for k, e in s["errors"]["letters"].items()}
    lodo["report"] = _shown(out / "lodo.json")
    return lodo


def measure(out: Path, cache_dir: Path, views_dir: Path | None = None, seeds: tuple[int, ...] = (0,),
            lodo_json: Path | None = None) -> dict:
    """Every held-out figure of the shipped recipe (see the module docstring)."""
    others = [s for s in SOURCES if s != "massey"]
    return {
        "massey_cross": _cross(others, "massey", out / "massey_cross", cache_dir, calibrate=True),
        # asl2text/train is one group: no out-of-group calibration there (labels are unchanged by it).
        "asl2text_session": _cross(["asl2text/train"], "asl2text/test", out / "asl2text_session", cache_dir,
                                   calibrate=False),
        "lodo": protocol(out, cache_dir, views_dir, seeds, lodo_json),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO / "models" / "default")
    parser.add_argument("--reports", type=Path, default=REPO / "out" / "default",
                        help="Where the measuring runs write their reports.")
    parser.add_argument("--cache-dir", type=Path, default=landmark_cache_dir(),
                        help="Landmark cache (default: the per-user cache).")
    parser.add_argument("--views-dir", type=Path, default=Path(".cache/views"),
                        help="The protocol photos' extra views (experiments/extract_views.py), for the figures of "
                             "predict's multi-view answer.")
    parser.add_argument("--seeds", default="0,1,2", help="Seeds of the protocol's figures.")
    parser.add_argument("--card-only", action="store_true",
                        help="Keep the trained model; replace the card's protocol figures with --lodo-json's "
                             "(e.g. after more seeds) and rewrite its README.")
    parser.add_argument("--lodo-json", type=Path, default=None,
                        help="Take the protocol's figures from this result of the same recipe and views instead of "
                             "running it again (bench_lodo.py --json, exp_newsigner.py report --write-lodo).")
    args = parser.parse_args(argv)
    args.output, args.reports, args.cache_dir = (p.resolve() for p in (args.output, args.reports, args.cache_dir))

    from landmark_asl.training.train import train_model

    seeds = tuple(int(s) for s in args.seeds.split(","))
    if args.card_only:
        return refresh_card(args.output, args.reports, args.cache_dir, args.lodo_json)
    metrics = measure(args.reports, args.cache_dir, args.views_dir if args.views_dir.is_dir() else None, seeds,
                      args.lodo_json)
    command = ["landmark-asl", "train", *SOURCES, "--model-name", "rf", "-o", _shown(args.output),
               "--labels", ",".join(LABELS), "--random-state", "0", "--n-jobs", "2",
               "--balance", RECIPE["balance"], "--calibrate", "--overwrite"]
    if args.cache_dir != landmark_cache_dir().resolve():  # the per-user cache is train's default: not shown
        command[command.index("--balance"):command.index("--balance")] = ["--cache-dir", _shown(args.cache_dir)]
    command += [arg for k, v in RECIPE["params"].items() for arg in ("--param", f"{k}={json.dumps(v)}")]
    command += [arg for k, v in RECIPE["augment"].items() for arg in ("--augment", f"{k}={json.dumps(v)}")]
    print("training, as:", shlex.join(command), flush=True)
    train_model(SOURCES, output=args.output, recipe=DEFAULT_RECIPE, n_jobs=2, random_state=0, cache_dir=args.cache_dir,
                labels=LABELS, metrics=metrics)
    metadata = json.loads((args.output / "metadata.json").read_text())
    write_readme(args.output, command, metadata)
    size = sum(p.stat().st_size for p in args.output.iterdir() if p.is_file())
    print(f"{args.output}: rf, {len(metadata['classes'])} classes, {size / 1e6:.2f} MB")
    return 0


def refresh_card(output: Path, reports: Path, cache_dir: Path, lodo_json: Path | None) -> int:
    """Replace the protocol figures on ``output``'s card with ``lodo_json``'s and rewrite its README."""

    if lodo_json is None:
        raise SystemExit("--card-only needs --lodo-json")
    path = output / "metadata.json"
    metadata = json.loads(path.read_text())
    metadata["metrics"]["lodo"] = protocol(reports, cache_dir, lodo_json=lodo_json)
    path.write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    readme = (output / "README.md").read_text()
    command = shlex.split(readme.split("trains exactly as\n\n```\n", 1)[1].split("\n```", 1)[0])
    write_readme(output, command, metadata)
    print(f"{path}: protocol figures from {_shown(lodo_json)}")
    return 0


def write_readme(output: Path, command: list[str], metadata: dict) -> None:
    """Describe the shipped model: how it was built and what was measured, and on what."""
    m = metadata["metrics"]
    lodo, cross, session = m["lodo"], m["massey_cross"], m["asl2text_session"]

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f}%"

    folds = "\n".join(
        f"| {fold}{' (' + lodo['apart'][fold] + '; not in the mean)' if fold in lodo['apart'] else ''} | "
        f"{pct(acc)} | {lodo['per_fold_ece_scaled'][fold]:.3f} |"
        for fold, acc in lodo["per_fold_accuracy_detected"].items()
    )
    groups = "\n".join(f"| {name} | {e['n']} | {pct(e['rate'])} ({pct(e['rate_seed_sd'])}) | {e['worst_fold']} "
                       f"{pct(e['worst_rate'])} |" for name, e in lodo["confusable_groups"].items())
    views = (f"; as `predict` does, a photo whose first answer has a confidence under {lodo['views_below']} is "
             f"answered from the mean over its landmarks and its {' and '.join(lodo['views'])} view(s)"
             if lodo["views"] else "")
    gates = gates_from_list(metadata["pointing"]) if metadata.get("pointing") else ()
    pointing = ("; " + " and ".join(f"{'/'.join(g.letters)} by where the index points ({g.describe()}; {g.mode})"
                                   for g in gates)
                + " (where one of a pair leads, the two shared by a logistic regression on the index's angle; the "
                  "card's `pointing`)" if gates else "")
    text = f"""# Shipped default model (`models/default`)

`landmark-asl predict` and `landmark-asl live` use this model when no `--model` is given.

- estimator: `rf` (LandmarkNormalizer with the handshape features + a 50-tree random forest),
  feature version {metadata['feature_version']}; recipe: every dataset weighs the same, one augmented
  copy of each row (3D rotations up to 30 degrees, y stretched up to 1.3x; G and H also turned up to
  180 degrees about the vertical axis){pointing}, temperature scaling
  (T = {metadata['calibration']['temperature']:.3f}, fitted on out-of-group predictions of the training rows)
- classes ({len(metadata['classes'])}): {' '.join(metadata['classes'])}
- trained on every sample with a hand of: {', '.join(f'`{s}`' for s in SOURCES)}
  (letters and DEL/NOTHING/SPACE only), {metadata['training']['n_fit']} samples
- extractor settings: `{json.dumps(metadata['extractor_settings'])}`
- created {metadata.get('created_at', '?')} with {json.dumps(metadata.get('package_versions', {}))}

## What it scores, and where the figures come from

Every figure was measured with the same recipe by a model trained WITHOUT the data it is
scored on (the shipped model itself has seen all of it, so no figure is computed on it).

**Leave one source out** (the dev protocol; `{lodo['report']}`): each signer/session/source
held out in turn, images with a hand{views}; seeds {', '.join(map(str, lodo['seeds']))}. Mean over {lodo['n_folds']} folds
**{pct(lodo['mean_accuracy'])}** (sd over seeds {pct(lodo['mean_accuracy_seed_sd'])}), worst {lodo['worst_fold']}
{pct(lodo['worst_accuracy'])}; temperature-scaled ECE {lodo['mean_ece_scaled']:.3f}, median confidence of right
answers {lodo['mean_median_confidence_correct_scaled']:.2f}.

| held-out fold | accuracy (with a hand) | ECE, temperature-scaled |
| --- | ---: | ---: |
{folds}

Errors within the letter groups a new signer confuses (share of the group's held-out rows read
as another letter of the group; pooled over the folds, and the worst fold):

| group | rows | error, pooled (sd over seeds) | worst fold |
| --- | ---: | ---: | --- |
{groups}

The next two are scored on each photo's first landmark estimate only (no view).

**Cross-dataset onto massey letters** (massey never trained on; `{cross['report']}`):
{cross['n_test']} images, hand found in {pct(cross['coverage'])}, accuracy {pct(cross['accuracy_detected'])}
on images with a hand, {pct(cross['accuracy_all'])} on all; ECE {cross['ece']:.3f} (calibrated model).

**asl2text/train -> asl2text/test** (another recording session; `{session['report']}`):
{session['n_test']} images, hand found in {pct(session['coverage'])}, accuracy {pct(session['accuracy_detected'])}
on images with a hand, {pct(session['accuracy_all'])} on all.

## Rebuild

```
python experiments/extract_views.py --cache-dir .cache/landmarks   # the protocol photos' views, once
python tools/train_default.py --cache-dir .cache/landmarks
```

measures the figures above (writing the reports under `out/default/`; `--lodo-json FILE` takes
the protocol's from a result of the same recipe and views, e.g. `python experiments/exp_newsigner.py
report base:rf+gq+mirror+crop+zoom_out+below0.7 --seeds 0,1,2 --write-lodo FILE`, as this card's were; only runs that recorded the shipped recipe are taken), then trains exactly as

```
{shlex.join(command)}
```

The classifier is stored as data ({', '.join(metadata['artefacts'])}, storage
`{metadata['estimator']['storage']}`), never a pickle: loading it runs no code. Every artefact's
SHA-256 is in `metadata.json` and is checked on load.
"""
    (output / "README.md").write_text(text)


if __name__ == "__main__":
    sys.exit(main())
