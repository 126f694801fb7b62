"""The `landmark-asl` command line: each command parses options, calls the library, prints a summary."""

from __future__ import annotations

import functools
import json
import math
import re
import sys
import warnings
from pathlib import Path  # noqa: F401  (used by the commands' click.Path types)

import click

from landmark_asl import __version__
from landmark_asl.exceptions import LandmarkASLError
from landmark_asl.hands.settings import ExtractorSettings
from landmark_asl.live.settings import HANDEDNESS_CHOICES, MAX_RECOVER_EVERY, LiveSettings
from landmark_asl.serve.settings import DEFAULT_HOST, DEFAULT_PORT, ServeSettings
from landmark_asl.training.recipe import DEFAULT_RECIPE, Recipe
from landmark_asl.training.settings import CollectSettings


class _Group(click.Group):
    """Turn library errors into one line and exit status 1; `--debug` shows the traceback."""

    def invoke(self, ctx: click.Context):
        try:
            with warnings.catch_warnings():  # library warnings: one "Warning: ..." line each on stderr
                warnings.showwarning = _show_warning
                return super().invoke(ctx)
        except (LandmarkASLError, OSError) as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            line = _as_options(str(exc), self.get_command(ctx, ctx.invoked_subcommand or "")) \
                if isinstance(exc, LandmarkASLError) else _os_error_line(exc)
            click.echo(f"Error: {line}", err=True)
            sys.exit(1)


def _as_options(message: str, command: click.Command | None) -> str:
    """A library message names Python parameters (``overwrite=True``, ``cache_dir=``); say the command's options.

    An option's name equals the library parameter it feeds, so the command's own options are the table:
    ``overwrite=True`` -> ``--overwrite``, ``window=False`` -> ``--no-window``, ``source=1`` -> ``--source 1``.
    """
    for param in command.params if command is not None else ():
        if not isinstance(param, click.Option) or not param.name or param.hidden:
            continue
        flag = max(param.opts, key=len)
        negative = max(param.secondary_opts, key=len) if param.secondary_opts else None

        def option(match: re.Match, flag: str = flag, negative: str | None = negative) -> str:
            value = match.group(1)
            if value == "True" or not value:
                return flag
            return negative if value == "False" and negative else f"{flag} {value}"

        message = re.sub(rf"(?<![\w.])(?<!\w\(){re.escape(param.name)}=(True\b|False\b|[^\s,;)]*)", option, message)
    return message


def _os_error_line(exc: OSError) -> str:
    """A fault of the system (no permission, disk full, ...) as one line naming the path."""
    from landmark_asl.hands.images import printable_path

    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is None:
        return f"{reason} ({type(exc).__name__})"
    where = printable_path(exc.filename)
    if exc.filename2 is not None:
        where += f" -> {printable_path(exc.filename2)}"
    return f"{where}: {reason}"


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"Warning: {message}", err=True)


class _FiniteRange(click.FloatRange):
    """``click.FloatRange`` that also refuses ``nan`` (which compares false with every bound)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


#: Longest live smoothing window: 1000 frames is half a minute at 30 fps.
MAX_SMOOTHING_WINDOW = 1000


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="landmark-asl")
@click.option("-v", "--verbose", is_flag=True, help="Show MediaPipe/TFLite native log output.")
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
@click.pass_context
def main(ctx: click.Context, verbose: bool, debug: bool) -> None:
    """Recognise the ASL fingerspelling alphabet from MediaPipe hand landmarks."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    ctx.obj["debug"] = debug


def _shown(confidence: float) -> str:
    """A confidence to two decimals, rounded down: an answer 'unknown' below ``--min-confidence``
    never shows one at or above it (0.99994 is 0.99, not 1.00)."""
    return f"{math.floor(confidence * 100 + 1e-9) / 100:.2f}" if math.isfinite(confidence) else f"{confidence:.2f}"


def _quiet_unless_verbose(func):
    """Silence native MediaPipe logging for a command unless `-v` was given."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        if not ctx.find_root().obj.get("verbose"):
            import os

            from landmark_asl.hands.extractor import quiet_native_logs

            quiet_native_logs()
            # Dask reads its logging levels when imported: a lost cluster is then one error line, not pages of logs.
            os.environ.setdefault("DASK_LOGGING", '{"distributed": "critical", "distributed.client": "critical"}')
        else:
            import os

            from landmark_asl.hands.extractor import VERBOSE_ENV

            os.environ[VERBOSE_ENV] = "1"  # the library hides them by default too
        return func(*args, **kwargs)

    return wrapper


# --- extract -----------------------------------------------------------------


def _check_n_jobs(ctx: click.Context, param: click.Parameter, value: int) -> int:
    """``--n-jobs``: a positive count, or -1 for one per core."""
    if value == 0 or value < -1:
        raise click.BadParameter(f"must be >= 1, or -1 for one per core; got {value}")
    return value


def _check_fit_n_jobs(ctx: click.Context, param: click.Parameter, value: int) -> int:
    """``--n-jobs`` of a fit: as :func:`_check_n_jobs`, and more than the available cores is capped with a
    warning, as extract caps its workers (a fit starts a thread per job: 100000 cannot even be started)."""
    from landmark_asl._util import available_cores

    value = _check_n_jobs(ctx, param, value)
    available = available_cores()
    if value > available:
        click.echo(f"Warning: --n-jobs {value} capped at the {available} available cores (more threads than cores "
                   "would only compete)", err=True)
        return available
    return value


_scheduler_option = click.option(
    "--scheduler", default=None, metavar="ADDRESS",
    help="Run extraction (and xgb training) on this Dask cluster, e.g. tcp://host:8786; its workers must see "
         "the same image paths. Needs the 'dask' extra.")


#: The extractor's defaults, read by extract's options (defined once, in hands.settings).
_EXTRACTOR = ExtractorSettings()


@main.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Landmark table to write (.parquet, or .csv with a .meta.json sidecar); resumed if it exists.")
@click.option("--n-jobs", default=1, show_default=True, type=int, callback=_check_n_jobs,
              help="Worker processes (-1: one per core).")
@click.option("--min-detection-confidence", default=_EXTRACTOR.min_detection_confidence, show_default=True,
              type=_FiniteRange(0, 1),
              help="Palm detector threshold of the plain pass.")
@click.option("--model-asset", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="An official MediaPipe hand_landmarker.task (default: the model inside mediapipe).")
@click.option("--recovery/--no-recovery", default=_EXTRACTOR.recovery, show_default=True,
              help="Retry images without a hand (edge padding, lower threshold, mirrored).")
@_scheduler_option
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_quiet_unless_verbose
def extract(sources: tuple[str, ...], output: Path, n_jobs: int, min_detection_confidence: float,
            model_asset: Path | None, recovery: bool, scheduler: str | None, as_json: bool) -> None:
    """Extract hand landmarks of SOURCE... (folders, CSVs or dataset names like asl2text/test) into a table."""
    from landmark_asl.data.extraction import extract_table, format_summary

    settings = ExtractorSettings(min_detection_confidence=min_detection_confidence, recovery=recovery,
                                 model_asset=str(model_asset) if model_asset else None)
    summary = extract_table(list(sources), output, settings=settings, n_jobs=n_jobs, progress=not as_json,
                            scheduler=scheduler)
    click.echo(json.dumps(summary, indent=2) if as_json else format_summary(summary))

# --- train / compare / predict ---------------------------------------------


class _RegistryChoice(click.Choice):
    """``click.Choice(sorted(REGISTRY))``, read on first use so that ``--help`` of other commands stays instant."""

    def __init__(self) -> None:
        self.case_sensitive = True

    @property
    def choices(self) -> list[str]:  # type: ignore[override]
        from landmark_asl.estimators.registry import REGISTRY

        return sorted(REGISTRY)


def _model_list(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    """Split ``rf,xgb,cnn`` and check every name against the registry."""
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    choice = _RegistryChoice()
    for name in names:
        choice.convert(name, param, ctx)
    if not names:
        raise click.BadParameter(f"give at least one model, e.g. {','.join(choice.choices)}")
    return names


def _comma_list(value: tuple[str, ...]) -> list[str] | None:
    """``('a,b', 'c')`` -> ``['a', 'b', 'c']``; None when empty."""
    return [g.strip() for item in value for g in item.split(",") if g.strip()] or None


_n_jobs_option = click.option("--n-jobs", default=1, show_default=True, type=int, callback=_check_fit_n_jobs,
                              help="Worker processes/threads (-1: one per core; more than the cores are capped).")
_random_state_option = click.option("--random-state", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1),
                                    help="Seed of the split and the models.")
_cache_dir_option = click.option(
    "--cache-dir", default=None, type=click.Path(file_okay=False, path_type=Path),
    help="Cache of extracted landmark tables, reused by later runs (default: the per-user cache, "
         "~/.cache/landmark_asl/landmarks on Linux; $LANDMARK_ASL_CACHE moves it).")


def _recipe_options(command=None, *, shipped: bool = False):
    """``--balance``, ``--augment`` and ``--calibrate``: the training recipe of a landmark model.

    ``shipped``: the defaults are the shipped model's recipe (``training.DEFAULT_RECIPE``, for
    ``train``); otherwise none of it (``compare`` measures models as asked).
    """
    if command is None:
        return functools.partial(_recipe_options, shipped=shipped)
    recipe = " (default for landmark models: the shipped recipe)" if shipped else ""
    command = click.option(
        "--pointing/--no-pointing", default=None if shipped else False, show_default=not shipped,
        help="Landmark models: tell G from Q and K from P by where the index points (gates fitted on the "
             "training rows and stored with the model)" + (" (default: on, as the shipped recipe)." if shipped else "."))(command)
    command = click.option(
        "--calibrate/--no-calibrate", default=None if shipped else False, show_default=not shipped,
        help="Landmark models: fit a temperature on out-of-group predictions (needs two or more groups) and "
             "store it with the model, so its confidence can be trusted"
             + (" (default: when the data holds two or more groups)." if shipped else "."))(command)
    command = click.option(
        "--augment", "augment", multiple=True, metavar="NAME=VALUE",
        help="Landmark models: add perturbed copies of the training rows (augment_landmarks parameters, "
             "e.g. n_copies=1, max_angle=15, stretch=0.3); repeat for several" + (f"{recipe}; 'none': no copies."
                                                                                  if shipped else "."))(command)
    return click.option(
        "--balance", default=None if shipped else "none", show_default=not shipped,
        type=click.Choice(["none", "dataset"]),
        help="Landmark models: 'dataset' weighs every dataset the same, however many rows it has" + recipe + ".")(command)


_overwrite_model_option = click.option(
    "--overwrite", is_flag=True,
    help="Replace the model in --output (a folder holding anything but a model is never replaced).")


def _check_model_output(output: Path, overwrite: bool) -> None:
    """Refuse, before any work, an ``--output`` holding a model unless ``--overwrite`` (as evaluate and compare
    refuse an earlier report), and one holding anything else whatever the flag (the library's own check)."""
    from landmark_asl.model.store import check_destination

    check_destination(output)
    if not overwrite and output.is_dir() and any(output.iterdir()):
        raise LandmarkASLError(f"{output} already holds a model: pass --overwrite to replace it, or choose another folder")


def _recipe(balance: str | None, augment: tuple[str, ...]) -> dict:
    """The CLI's recipe options as library arguments (None: not given)."""
    from landmark_asl.estimators.registry import parse_params

    if augment == ("none",):
        return {"balance": None if balance == "none" else balance, "augment": None}
    return {"balance": None if balance == "none" else balance, "augment": parse_params(augment, per_model=False) or None}


@main.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--model-name", default=DEFAULT_RECIPE.model_name, show_default=True, type=_RegistryChoice(),
              help=f"Registry name of the model ({DEFAULT_RECIPE.model_name}: the shipped recipe's).")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Model directory to write: new, empty, or a model to replace with --overwrite.")
@_n_jobs_option
@_random_state_option
@_cache_dir_option
@click.option("--metrics-from", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A comparison report.json whose metrics for this model go into the metadata.")
@click.option("--labels", default=None, help="Comma-separated labels to keep (default: all), e.g. to leave out digits.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Model parameter, e.g. n_estimators=50; repeat for several "
                   f"({DEFAULT_RECIPE.model_name}: on top of the shipped recipe's "
                   f"{', '.join(f'{k}={json.dumps(v)}' for k, v in DEFAULT_RECIPE.params.items())}).")
@_recipe_options(shipped=True)
@_scheduler_option
@_overwrite_model_option
@_quiet_unless_verbose
def train(sources: tuple[str, ...], model_name: str, output: Path, n_jobs: int, random_state: int,
          cache_dir: Path, metrics_from: Path | None, labels: str | None, params: tuple[str, ...],
          balance: str, augment: tuple[str, ...], calibrate: bool, pointing: bool | None,
          scheduler: str | None, overwrite: bool) -> None:
    """Train a model on every sample of SOURCE... (dataset names, folders or landmark tables) and save it.

    By default a landmark model is trained with the shipped model's recipe (models/default/README.md).
    """
    from landmark_asl.estimators.registry import get_spec, parse_params
    from landmark_asl.training.train import train_model

    _check_model_output(output, overwrite)
    options = _recipe(balance, augment)
    shipped = DEFAULT_RECIPE if get_spec(model_name).input_kind == "landmarks" else None
    if balance is None:
        options["balance"] = shipped.balance if shipped else None
    if not augment:
        options["augment"] = dict(shipped.augment) if shipped and shipped.augment else None
    base_params = dict(DEFAULT_RECIPE.params) if model_name == DEFAULT_RECIPE.model_name else {}
    recipe = Recipe(model_name=model_name, params={**base_params, **parse_params(params, per_model=False)},
                    calibrate=("auto" if shipped else False) if calibrate is None else calibrate,
                    pointing=(shipped.pointing if shipped else False) if pointing is None else pointing, **options)
    path = train_model(list(sources), output=output, recipe=recipe, n_jobs=n_jobs,
                       random_state=random_state, cache_dir=cache_dir, metrics_from=metrics_from,
                       labels=_comma_list((labels,)) if labels else None, scheduler=scheduler)
    click.echo(f"saved {model_name} model to {path}")


@main.command()
@click.option("--train", "train_sources", multiple=True, required=True,
              help="Training source (dataset name, folder or landmark table); repeat for several.")
@click.option("--test", "test_sources", multiple=True,
              help="Test source for a cross-dataset comparison; repeat for several. Omitted: --train is split.")
@click.option("--split", default="random", show_default=True, type=click.Choice(["group", "lodo", "random"]),
              help="How to split --train when --test is omitted (random overstates accuracy on video frames; "
                   "lodo holds out every signer/session/source group in turn, landmark models only).")
@click.option("--test-size", default=0.2, show_default=True, type=_FiniteRange(0, 1, min_open=True, max_open=True),
              help="Test share of the split.")
@click.option("--test-groups", multiple=True, help="Groups held out by --split group, e.g. massey/hand5.")
@click.option("--split-file", default=None, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Reuse this split file instead of making one.")
@click.option("--models", default="rf,xgb,cnn", show_default=True, callback=_model_list,
              help="Comma-separated registry names.")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Report folder (report.md, report.json, PNGs, split.csv, models/): new, empty, or an "
                   "interrupted run's; an earlier report needs --overwrite.")
@_random_state_option
@_n_jobs_option
@_cache_dir_option
@click.option("--param", "params", multiple=True, metavar="MODEL.NAME=VALUE",
              help="Model parameter, e.g. rf.n_estimators=50; repeat for several.")
@_recipe_options
@_scheduler_option
@click.option("--overwrite", is_flag=True, help="Replace an earlier report in --output (other folders are never written into).")
@click.option("--json", "as_json", is_flag=True, help="Print report.json instead of the table.")
@_quiet_unless_verbose
def compare(train_sources: tuple[str, ...], test_sources: tuple[str, ...], split: str, test_size: float,
            test_groups: tuple[str, ...], split_file: Path | None, models: tuple[str, ...], output: Path,
            random_state: int, n_jobs: int, cache_dir: Path, params: tuple[str, ...], balance: str,
            augment: tuple[str, ...], calibrate: bool, pointing: bool, scheduler: str | None, overwrite: bool,
            as_json: bool) -> None:
    """Compare models on one split: coverage, accuracy (all / detected images), F1, size, speed."""
    from landmark_asl.estimators.registry import parse_params
    from landmark_asl.evaluation import comparison, reporting

    report = comparison.compare(list(train_sources), list(test_sources) or None, output=output, models=models,
                                split=split, test_size=test_size, test_groups=_comma_list(test_groups),
                                split_file=split_file, random_state=random_state, n_jobs=n_jobs,
                                cache_dir=cache_dir, params=parse_params(params, per_model=True),
                                overwrite=overwrite, calibrate=calibrate, pointing=pointing, scheduler=scheduler,
                                **_recipe(balance, augment))
    if as_json:
        click.echo(json.dumps(report, indent=2, default=reporting.json_default))
        return
    if split == "lodo":
        from landmark_asl.evaluation.lodo import format_folds

        for name, result in report["models"].items():
            click.echo(f"{name}: {report['metadata']['title']}\n{format_folds(result['summary'])}\n")
    else:
        click.echo(f"{report['metadata']['title']}  ({report['metadata']['n_test']} test images)")
        click.echo(reporting.format_table(reporting.summary_rows(report), markdown=False))
    dropped = report["metadata"].get("dropped_labels") or []
    if dropped:
        n_kept = len(report["metadata"].get("classes") or [])
        click.echo(f"labels dropped (not in both train and test; {n_kept} kept): {' '.join(dropped)}")
    click.echo(f"report: {output / 'report.md'}")


_labels_answer_option = click.option(
    "--labels", default=None, metavar="A,B,C",
    help="Only these classes can be answered (comma-separated), e.g. the letters a word can hold.")
_min_confidence_option = click.option(
    "--min-confidence", default=None, type=_FiniteRange(0, 1),
    help="Below this probability the answer is 'unknown' instead of the best guess.")


def _views_option(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...] | None:
    """``--views``: comma-separated names of landmark_asl.hands.views.VIEWS, or 'none'."""
    if value is None:
        return None
    from landmark_asl.hands.views import check_views

    names = () if value.strip().lower() == "none" else tuple(v.strip() for v in value.split(",") if v.strip())
    try:
        return check_views(names)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@main.command()
@click.argument("paths", metavar="IMAGE_OR_DIR...", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--model", default=None, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Model directory (default: the shipped models/default).")
@_labels_answer_option
@_min_confidence_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image per line.")
@click.option("--views", default=None, metavar="NAMES", callback=_views_option,
              help="Extra landmark estimates of each photo whose probabilities are averaged, comma-separated "
                   "(mirror, crop, zoom_out), or 'none' [default: mirror,crop,zoom_out, used when the first answer's confidence is under 0.7].")
@_quiet_unless_verbose
def predict(paths: tuple[Path, ...], model: Path | None, labels: str | None, min_confidence: float | None,
            as_json: bool, views: tuple[str, ...] | None) -> None:
    """Predict the letter shown in each image (folders are searched for images).

    Images in folders named like a label (A/, del/, ...) are scored: the accuracy is printed at the end.
    """
    from landmark_asl.exceptions import DatasetError
    from landmark_asl.hands.images import image_files, printable_path
    from landmark_asl.labels import display_label
    from landmark_asl.model.recognizer import folder_label, load_model, prediction_row

    scored = []  # (true label, predicted label, detected) of images in label folders
    n_images = n_failed = 0
    with load_model(model, **({} if views is None else {"views": views})) as recognizer:
        # Only images whose folder label can be answered are scored (evaluate leaves the others out too).
        answerable = set(recognizer.answerable(labels))
        for path in image_files(paths):
            try:
                row = prediction_row(printable_path(path), recognizer.predict(path, labels=labels,
                                                                              min_confidence=min_confidence))
            except DatasetError as exc:
                row = prediction_row(printable_path(path), None, str(exc))
            n_images += 1
            error = row["error"]
            truth = folder_label(path)
            if truth is not None and truth in answerable:
                scored.append((truth, row["label"], bool(row["detected"]) if row["detected"] is not None else True))
            if as_json:  # an unreadable image is a line with its "error": the run goes on, exit status 0
                click.echo(json.dumps(row))
            elif error:
                n_failed += 1
                click.echo(f"Warning: {_one_line(error)}", err=True)
            else:
                click.echo(f"{_one_line(row['path'])}\t{display_label(row['label'])}\t{_shown(row['confidence'])}")
    if scored:
        right = sum(truth == label for truth, label, _ in scored)
        detected = [found for _, _, found in scored]
        line = (f"accuracy {100 * right / len(scored):.1f}% ({right} of {len(scored)} images in label folders; "
                f"hand found in {100 * sum(detected) / len(detected):.1f}%)")
        click.echo(line, err=as_json)
    if n_failed and not as_json:
        raise LandmarkASLError(f"{n_failed} of {n_images} images could not be read (see the warnings above)")


def _check_output_outside(output: Path, sources: tuple[str, ...]) -> None:
    """Refuse an ``--output`` inside a folder being scored: its confusion.png would be scored as a photo next time."""
    from landmark_asl.data.datasets import resolve_source
    from landmark_asl.exceptions import DatasetError
    from landmark_asl.hands.images import printable_path

    where = output.resolve()
    for source in sources:
        try:
            folder = resolve_source(source).resolve()
        except DatasetError:  # not found: evaluate_images says so
            continue
        if folder.is_dir() and (where == folder or folder in where.parents):
            relation = "is" if where == folder else "lies inside"
            raise LandmarkASLError(
                f"--output {printable_path(str(output))} {relation} {printable_path(source)}, a folder being scored: "
                "what it writes there could change what a later evaluation reads (confusion.png in a letter's "
                "folder is scored as a photo of it); choose a folder outside the data"
            )


def _one_line(text: str) -> str:
    """``text`` with control characters (a newline or tab in a file name) escaped, so one result stays one line."""
    import re

    return re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\x{ord(m.group()):02x}", text)


@main.command()
@click.argument("sources", metavar="FOLDER...", nargs=-1, required=True)
@click.option("--model", default=None, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Model directory (default: the shipped models/default).")
@_labels_answer_option
@_min_confidence_option
@click.option("-o", "--output", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write confusion.png and evaluation.json into.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier evaluation's files in --output.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_quiet_unless_verbose
def evaluate(sources: tuple[str, ...], model: Path | None, labels: str | None, min_confidence: float | None,
             output: Path | None, overwrite: bool, as_json: bool) -> None:
    """Score a model on labelled FOLDER... (<label>/*.jpg, or dataset names): coverage, accuracy, per class."""
    from landmark_asl.labels import display_label
    from landmark_asl.model.recognizer import evaluate_images

    if output is not None:
        _check_output_outside(output, sources)
    report = evaluate_images(list(sources), model=model, labels=labels, min_confidence=min_confidence,
                             output=output, overwrite=overwrite, progress=not as_json)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return

    def pct(value):
        return "-" if value is None else f"{100 * value:.1f}%"

    click.echo(f"{report['model']['name']} model on {', '.join(report['sources'])}: {report['n_test']} images")
    click.echo(f"hand found {pct(report['coverage'])}  accuracy (all images) {pct(report['accuracy_all'])}  "
               f"accuracy (hand found) {pct(report['accuracy_detected'])}  macro F1 {report['macro_f1']:.3f}")
    click.echo("label\timages\taccuracy\tF1")
    for label, row in report["per_class"].items():
        click.echo(f"{display_label(label)}\t{row['n']}\t{pct(row['accuracy'])}\t{row['f1']:.3f}")
    if report["dropped"]:
        shown = ", ".join(f"{k} ({v})" for k, v in report["dropped"].items())
        click.echo(f"left out (labels the model cannot answer): {shown}")
    if report["n_unreadable"]:
        click.echo(f"{report['n_unreadable']} images could not be read (counted as wrong)")
    for name, path in report["files"].items():
        click.echo(f"{name}: {path}")

# --- live --------------------------------------------------------------------

#: The live loop's defaults, read by the options below (defined once, in LiveSettings).
_LIVE = LiveSettings()


@main.command()
@click.option("--source", default="0", show_default=True,
              help="Camera index, video file, or folder of images played as frames in sorted order.")
@click.option("--model", "model_dir", default=None, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Model directory (default: the shipped models/default).")
@click.option("--mirror", is_flag=True, help="Flip frames horizontally before detection (selfie cameras).")
@click.option("--smoothing-window", default=_LIVE.smoothing_window, show_default=True, type=click.IntRange(1, MAX_SMOOTHING_WINDOW),
              help="Frames whose class probabilities are averaged.")
@click.option("--threshold", default=_LIVE.threshold, show_default=True, type=_FiniteRange(0, 1),
              help="No letter is shown below this smoothed probability.")
@click.option("--stable-frames", default=_LIVE.stable_frames, show_default=True, type=click.IntRange(1),
              help="Held (still) frames a letter must be shown to be committed.")
@click.option("--release-frames", default=_LIVE.release_frames, show_default=True, type=click.IntRange(1),
              help="Frames of no hand or another shape before the same letter commits again.")
@click.option("--margin", default=_LIVE.margin, show_default=True, type=_FiniteRange(0, 1),
              help="No letter is shown unless the top smoothed probability leads the runner-up by this.")
@click.option("--max-speed", default=_LIVE.max_speed, show_default=True, type=_FiniteRange(0.001, 100),
              help="Palm lengths per frame above which the hand moves (a moving hand holds no letter).")
@click.option("--slide-distance", default=_LIVE.slide_distance, show_default=True, type=_FiniteRange(0.01, 100),
              help="Palm lengths the hand slides or bounces before the same letter commits again.")
@click.option("--motion-letters/--no-motion-letters", default=_LIVE.motion_letters, show_default=True,
              help="J and Z from the fingertip's trajectory (never from a still frame).")
@click.option("--motion-distance", default=_LIVE.motion_distance, show_default=True, type=_FiniteRange(0.001, 10),
              help="Largest DTW distance of a fingertip path to a J or Z template that spells the letter.")
@click.option("--reuse-still", default=_LIVE.reuse_still, show_default=True, type=click.IntRange(0, 10),
              help="30 fps frames in a row a very still hand reuses the last class probabilities (a slower source's "
                   "frame counts for the frames it stands for; 0: classify every frame).")
@click.option("--recover-every", default=_LIVE.recover_every, show_default=True, type=click.IntRange(0, MAX_RECOVER_EVERY),
              help="When the video detector finds no hand, try the frame again with a border (a fist close to the "
                   "camera): after a frame with a hand, else once every this many frames (0: never).")
@click.option("--handedness", default=_LIVE.handedness, show_default=True, type=click.Choice(sorted(HANDEDNESS_CHOICES)),
              help="Which hand the model is told it sees: from the landmarks' 3D shape (the answer does not "
                   "depend on --mirror) or MediaPipe's label.")
@click.option("--max-frames", default=None, type=click.IntRange(1), help="Stop after this many frames.")
@click.option("--headless", is_flag=True, help="No window (automatic when there is no display).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per committed letter, then a summary.")
@_quiet_unless_verbose
def live(source: str, model_dir: Path | None, mirror: bool, smoothing_window: int, threshold: float,
         stable_frames: int, release_frames: int, margin: float, max_speed: float, slide_distance: float,
         motion_letters: bool, motion_distance: float, reuse_still: int, recover_every: int, handedness: str,
         max_frames: int | None, headless: bool, as_json: bool) -> None:
    """Spell text from a camera, video or image folder; q/ESC quits and c clears in the window."""
    from landmark_asl.live.display import display_available
    from landmark_asl.live.loop import LiveRecognizer
    from landmark_asl.live.output import format_letter, format_summary, letter_event, live_results, session_summary
    from landmark_asl.live.sources import open_source
    from landmark_asl.model.recognizer import load_model

    settings = LiveSettings(smoothing_window=smoothing_window, threshold=threshold, stable_frames=stable_frames,
                            release_frames=release_frames, mirror=mirror, margin=margin, max_speed=max_speed,
                            slide_distance=slide_distance, motion_letters=motion_letters, handedness=handedness,
                            motion_distance=motion_distance, reuse_still=reuse_still, recover_every=recover_every)
    with open_source(source) as frames:  # first, so that a bad source fails before the model loads
        model = load_model(model_dir)
        recognizer = LiveRecognizer(model, settings, extractor_settings=model.card.extractor_settings)
        if not headless and not display_available():
            headless = True
            click.echo("no display (no X server at $DISPLAY, no $WAYLAND_DISPLAY socket): running headless", err=True)
        try:
            for result in live_results(recognizer, frames, headless=headless, max_frames=max_frames):
                if result.committed:
                    click.echo(json.dumps(letter_event(result, recognizer.suggestions())) if as_json
                               else format_letter(result))
        except KeyboardInterrupt:
            recognizer.stats.stop_reason = "interrupted"
    summary = session_summary(recognizer, source=source, model_name=model.name)
    click.echo(json.dumps(summary) if as_json else format_summary(summary))

# --- serve -------------------------------------------------------------------

#: The web server's defaults, read by serve's options (defined once, in landmark_asl.serve.settings).
_SERVE = ServeSettings()


@main.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="Interface to bind (127.0.0.1: this machine only; 0.0.0.0 exposes the camera page to the network).")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Also answer requests for this host name or address (e.g. the LAN address others open); "
                   "127.0.0.1, localhost, [::1] and --host are always answered, any other Host is refused. Repeatable.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--model", "model_dir", default=None, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Landmark model directory (default: the shipped models/default).")
@click.option("--personal-dir", default=_SERVE.personal_dir, show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Where the page's collect mode keeps each signer's samples and personal model.")
@click.option("--collect/--no-collect", default=True, show_default=True,
              help="Offer collect mode (record your samples, build and use a personal model) on the page.")
@click.option("--recover-every", default=_LIVE.recover_every, show_default=True, type=click.IntRange(0, MAX_RECOVER_EVERY),
              help="As live's: when the video detector finds no hand, try the frame again with a border (0: never; "
                   "each connection then holds one landmarker fewer, about 80 MB).")
@_cache_dir_option
@_quiet_unless_verbose
def serve(host: str, allow_hosts: tuple[str, ...], port: int, model_dir: Path | None, personal_dir: Path,
          collect: bool, recover_every: int, cache_dir: Path) -> None:
    """Serve the live recognition web page and its API (needs the 'serve' extra)."""
    from landmark_asl.serve.app import create_app, run_app

    try:
        settings = ServeSettings(personal_dir=personal_dir if collect else None, cache_dir=cache_dir,
                                 allowed_hosts=allow_hosts, live=LiveSettings(recover_every=recover_every))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--allow-host") from exc
    app = create_app(model_dir, settings)
    # Bound here first, so that a port in use or a bad host is one error line, never a "serving" line; port 0
    # (any free one) is chosen here, so that the address printed is the one served.
    port = _bindable_port(host, port)
    click.echo(f"serving http://{f'[{host}]' if ':' in host else host}:{port}/ (Ctrl-C stops)", err=True)
    if host in ("0.0.0.0", "::") and not allow_hosts:
        click.echo("other machines are refused until you name the address they open with --allow-host "
                   "(e.g. --allow-host 192.168.1.20)", err=True)
    if collect:
        click.echo(f"collect mode: samples and personal models go to {personal_dir}/<name>/", err=True)
    try:
        run_app(app, host=host, port=port)
    except SystemExit as exc:  # uvicorn could not start (the port taken since the check): it logged why
        if exc.code in (0, None):
            raise
        raise LandmarkASLError(f"the server could not start on {host} port {port} (the reason is logged above)") from exc


def _bindable_port(host: str, port: int) -> int:
    """``port``, or for 0 a port free on ``host`` now, after binding it on every address of ``host`` as
    uvicorn will (asyncio binds each address the name resolves to; ``localhost`` is often ::1 and
    127.0.0.1), then closed.

    Raises
    ------
    LandmarkASLError
        If ``host`` is no address of this machine, or the port cannot be bound (in use, privileged).
    """
    import contextlib
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        with contextlib.ExitStack() as stack:
            for family, kind, proto, _, address in dict.fromkeys(infos):
                sock = stack.enter_context(socket.socket(family, kind, proto))
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: TIME_WAIT is no bar
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # as asyncio's create_server
                sock.bind((address[0], port, *address[2:]))
                port = int(sock.getsockname()[1])  # port 0: the one chosen on the first address, on all
            return port
    except (OSError, UnicodeError, ValueError, OverflowError) as exc:
        reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__
        raise LandmarkASLError(f"cannot serve on host {host!r} port {port}: {reason}; choose another --port, or a "
                               "--host that is an address of this machine (127.0.0.1, 0.0.0.0)") from exc


# --- collect / adapt --------------------------------------------------------

#: A recording session's defaults, read by collect's options (defined once, in CollectSettings).
_COLLECT = CollectSettings()


@main.command()
@click.option("--source", required=True, help="Camera index (0), a video file, or a folder whose sub-folders are labels.")
@click.option("--letters", default="A-Z", show_default=True, help="Letters to record, in order, e.g. A-Z,SPACE,DEL.")
@click.option("--per-letter", default=_COLLECT.per_letter, show_default=True, type=click.IntRange(min=1), help="Samples per letter.")
@click.option("--signer", default=_COLLECT.signer, show_default=True, help="Your name, recorded as the samples' group.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Landmark table to write (.parquet or .csv); an existing one is resumed.")
@click.option("--every", default=_COLLECT.every, show_default=True, type=click.IntRange(min=1),
              help="Video/camera: record every N-th frame with a hand (consecutive frames are near-duplicates).")
@click.option("--countdown", default=_COLLECT.countdown, show_default=True, type=click.IntRange(min=0),
              help="Video/camera: frames to wait before recording each letter (time to form it).")
@click.option("--window/--no-window", default=None,
              help="Show the guided window (default: for a camera when a display is available).")
@click.option("--mirror/--no-mirror", default=False, show_default=True, help="Flip frames left-right (selfie view).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_quiet_unless_verbose
def collect(source: str, letters: str, per_letter: int, signer: str, output: Path, every: int, countdown: int,
            window: bool | None, mirror: bool, as_json: bool) -> None:
    """Record your own samples, letter by letter, into a landmark table for `adapt`."""
    from landmark_asl.live.display import display_available
    from landmark_asl.training import collect as co

    if window is None:
        window = source.strip().isdecimal() and not Path(source).exists() and display_available()
    summary = co.collect(source, output,
                         letters=co.parse_letters(letters), per_letter=per_letter, signer=signer, every=every,
                         countdown=countdown, window=window, mirror=mirror, progress=not as_json)
    if as_json:
        click.echo(json.dumps(summary))
        return
    counts = " ".join(f"{k}:{v}" for k, v in summary["counts"].items())
    click.echo(f"{summary['output']}: samples of {summary['signer']}: {counts}")
    if summary["missing"]:
        click.echo(f"fewer than {per_letter} samples (run again to resume): {' '.join(summary['missing'])}")


@main.command()
@click.argument("samples", nargs=-1, required=True)
@click.option("--base", default=None, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Base model directory (default: the shipped models/default).")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Personal model directory to write: new, empty, or a model to replace with --overwrite.")
@click.option("--signer", default=None, help="Name recorded in the model card (default: the samples' group).")
@click.option("--weight", default=None, type=float,
              help="Weight of one of your samples relative to a base training row (default: the measured one).")
@click.option("--n-jobs", default=-1, show_default=True, type=int, callback=_check_fit_n_jobs,
              help="Threads of the fit (-1: every core; more than the cores are capped).")
@click.option("--base-rows", default="auto", show_default=True, type=click.Choice(["auto", "datasets", "packaged"]),
              help="What the model is retrained on besides your samples: the base model's training data (datasets, "
                   "from the cache or $LANDMARK_ASL_DATA), the rows shipped with landmark_asl (packaged), or the "
                   "datasets when they are there, else the packaged rows (auto).")
@_cache_dir_option
@_overwrite_model_option
@_quiet_unless_verbose
def adapt(samples: tuple[str, ...], base: Path | None, output: Path, signer: str | None, weight: float | None,
          n_jobs: int, base_rows: str, cache_dir: Path, overwrite: bool) -> None:
    """Build a personal model from a base model and SAMPLES... (collect tables, image folders, landmark CSVs)."""
    from landmark_asl.model.store import default_model_dir
    from landmark_asl.training.adapt import DEFAULT_WEIGHT, adapt_model

    if output.resolve() != (base or default_model_dir()).resolve():  # the base itself: adapt_model says why not
        _check_model_output(output, overwrite)
    path = adapt_model(list(samples), output=output, base=base, signer=signer,
                       weight=DEFAULT_WEIGHT if weight is None else weight, cache_dir=cache_dir, n_jobs=n_jobs,
                       base_rows=base_rows)
    click.echo(f"saved personal model to {path}")


if __name__ == "__main__":  # pragma: no cover
    main()
