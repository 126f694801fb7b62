"""The extraction pipeline: images -> one row of landmarks (or the reason for none) per sample, resumable and parallel."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import hashlib
import importlib.metadata as md
import json
import multiprocessing as mp
import os
import platform
import re
import shutil
import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from landmark_asl import __version__
from landmark_asl._util import available_cores, exclusive_lock
from landmark_asl.data import datasets
from landmark_asl.data.datasets import MANIFEST_COLUMNS, read_sample
from landmark_asl.data.table import (
    LANDMARK_COLUMNS,
    METADATA_KEY,
    RESULT_COLUMNS,
    TABLE_COLUMNS,
    TABLE_FORMAT,
    TABLE_FORMAT_VERSION,
    coverage_summary,
    extract_batch,
    is_csv,
    read_table,
    write_parquet,
    write_table,
)
from landmark_asl.exceptions import DatasetError, ExtractionError, ParameterError
from landmark_asl.hands.extractor import (
    ExtractorSettings,
    HandLandmarkExtractor,
    model_bundle_path,
    native_logs_quiet,
    quiet_native_logs,
)
from landmark_asl.hands.images import printable_path

#: Version of the code that turns a sample into a row (image reading, detection passes, row
#: layout). Bump it when that code changes what a row holds: tables and cache files made by
#: another version are not resumed from, so stale rows are never reused.
LOADER_VERSION = 2
#: Samples sent to a worker at a time; also the most work an interrupted run can lose.
BATCH_SIZE = 32


# Worker state: one extractor per process, built in the initializer (MediaPipe graphs cannot be pickled).
_WORKER: dict = {}


def _worker_init(settings_dict: dict, quiet: bool, cpus: Sequence[int], started, ready, processed) -> None:
    if quiet:
        quiet_native_logs()
    with started.get_lock():
        index = started.value
        started.value += 1
    if cpus and hasattr(os, "sched_setaffinity"):
        # One core per worker: MediaPipe's graph threads otherwise spread over every core and
        # n workers fight over them.
        os.sched_setaffinity(0, {cpus[index % len(cpus)]})

    try:
        _WORKER["extractor"] = HandLandmarkExtractor(ExtractorSettings(**settings_dict))
    except ExtractionError as exc:
        # Raising here would make the pool restart the worker forever; the first task re-raises.
        _WORKER["error"] = exc
    _WORKER["read_sample"] = read_sample
    _WORKER["processed"] = processed
    with ready.get_lock():
        ready.value += 1


def _worker_batch(batch: pd.DataFrame) -> pd.DataFrame:
    if "error" in _WORKER:
        raise _WORKER["error"]
    result = extract_batch(_WORKER["extractor"], _WORKER["read_sample"], batch)
    with _WORKER["processed"].get_lock():
        _WORKER["processed"].value += len(batch)
    return result


# --- sources ---------------------------------------------------------------------------------------


def _is_landmark_csv(path: Path) -> bool:
    if not (path.is_file() and is_csv(path)):
        return False
    with path.open("r", errors="replace") as handle:
        header = handle.readline().strip().split(",")
    return "pixel1" not in header and any(name in header for name in ("x0", "x1"))


def _collect(sources) -> tuple[pd.DataFrame, pd.DataFrame, list[pd.DataFrame], list[str]]:
    """Split sources into an image manifest, rejected files and ready-made landmark tables."""

    if isinstance(sources, pd.DataFrame):
        missing = [c for c in MANIFEST_COLUMNS if c not in sources.columns]
        if missing:
            raise DatasetError(f"manifest is missing columns {missing}: expected {list(MANIFEST_COLUMNS)}")
        return sources[list(MANIFEST_COLUMNS)].reset_index(drop=True), pd.DataFrame(columns=["source", "reason"]), [], ["<manifest>"]
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    image_sources, landmark_tables, names = [], [], []
    for source in sources:
        path = datasets.resolve_source(source)
        names.append(str(path))
        if _is_landmark_csv(path):
            landmark_tables.append(datasets.load_landmark_csv(path))
        else:
            image_sources.append(path)
    if not names:
        raise DatasetError("no sources given: pass at least one image folder, dataset name or CSV")
    if image_sources:
        manifest, rejected = datasets.load_manifest(image_sources)
    else:
        manifest = pd.DataFrame({c: pd.Series(dtype=str) for c in MANIFEST_COLUMNS})
        rejected = pd.DataFrame(columns=["source", "reason"])
    return manifest, rejected, landmark_tables, names


def _versions() -> dict[str, str]:

    versions = {"landmark_asl": __version__, "python": platform.python_version()}
    for package in ("mediapipe", "numpy", "pandas", "pyarrow", "opencv-contrib-python"):
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            versions[package] = ""
    return versions


def _model_info(settings: ExtractorSettings) -> dict[str, str]:


    path = Path(settings.model_asset) if settings.model_asset else model_bundle_path()
    if not path.is_file():
        raise ExtractionError(
            f"model asset not found: {path}; expected a MediaPipe hand_landmarker.task file: "
            "check the path, or leave model_asset unset to use the model inside mediapipe"
        )
    return {"model_asset_name": path.name, "model_asset_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


# --- resume ----------------------------------------------------------------------------------------


def _parts_dir(output: Path) -> Path:
    return output.with_name(output.name + ".parts")


#: The name of a bundle built by :func:`landmark_asl.hands.landmarks.model_bundle_path`: it holds the
#: mediapipe version and a digest of the member models' bytes, so two such bundles of one name hold
#: the same models even where their zip bytes differ (bundles built before the zip was made
#: reproducible carried the install's file dates).
_BUILT_BUNDLE_NAME = re.compile(r"hand_landmarker-mp[0-9.]+-[0-9a-f]{16}\.task")


def _same_models(found: dict, expected: dict) -> bool:
    """Whether a table's model asset is this run's: the same bytes, or the same built bundle's name."""
    if found.get("model_asset_sha256", expected["model_asset_sha256"]) == expected["model_asset_sha256"]:
        return True
    name = found.get("model_asset_name")
    return name == expected.get("model_asset_name") and bool(_BUILT_BUNDLE_NAME.fullmatch(str(name)))


def _check_compatible(found: dict, expected: dict, where: Path) -> None:
    for key in ("settings", "model_asset_sha256", "loader_version"):
        if key == "model_asset_sha256" and _same_models(found, expected):
            continue
        # Tables from before the loader was versioned are version 1.
        value = found.get(key, 1) if key == "loader_version" else found.get(key, expected[key])
        if value != expected[key]:
            raise ExtractionError(
                f"cannot resume into {where}: it was extracted with different {key} "
                f"({value}) than this run ({expected[key]}); write to a new output file, "
                "or delete the old one (and its .parts folder) to start over"
            )


def _load_done(output: Path, identity: dict) -> list:
    """Tables already written for ``output``: the output itself and leftover part files."""

    done = []
    if output.exists():
        table, metadata = read_table(output)
        _check_compatible(metadata, identity, output)
        done.append(table)
    parts = _parts_dir(output)
    if parts.is_dir():
        for part in sorted(parts.glob("part-*.parquet")):
            try:
                arrow = pq.read_table(part)
            except (OSError, ValueError) as exc:  # truncated or garbled: its samples are redone
                warnings.warn(f"dropping unreadable part file {part} ({exc}); its samples are extracted again", stacklevel=3)
                part.unlink()
                continue
            raw = (arrow.schema.metadata or {}).get(METADATA_KEY)
            _check_compatible(json.loads(raw) if raw else {}, identity, part)
            done.append(arrow)
    return done


# --- the pipeline ----------------------------------------------------------------------------------


def extract_table(
    sources: str | os.PathLike | Iterable[str | os.PathLike] | pd.DataFrame,
    output: str | os.PathLike,
    *,
    settings: ExtractorSettings | None = None,
    n_jobs: int = 1,
    progress: bool = True,
    scheduler: Any = None,
) -> dict:
    """Extract hand landmarks from every sample of ``sources`` into a landmark table.

    Each sample gets one row: its manifest columns, whether a hand was found (``detected``),
    why not (``reason``: ``'no hand found'``, ``'cannot decode image: ...'``), which pass found
    it (``strategy``), handedness and score, image size (0 when it could not be decoded) and
    the 63 image + 63 world landmark coordinates (NaN when no hand). Landmark CSVs pass
    straight through (``strategy = 'csv'``).

    Work is saved batch by batch as part files in ``<output>.parts/`` (each written
    atomically), then merged into ``output`` atomically; running again after an interruption
    skips samples already done (by ``sample_id``), so a killed run loses at most the batches
    in flight and never leaves a corrupt table.

    Parameters
    ----------
    sources : str, path-like, iterable of them, or DataFrame
        Image folders, dataset names under the data root (``'asl2text/test'``), Sign-MNIST or
        landmark CSVs, or a manifest DataFrame with :data:`MANIFEST_COLUMNS`.
    output : str or path-like
        ``*.parquet`` (metadata in the schema under key ``b'landmark_asl'``) or ``*.csv``
        (metadata in ``<output>.meta.json``). Existing rows are kept.
    settings : ExtractorSettings, optional
        Extractor settings; must match those of an existing ``output``.
    n_jobs : int, default 1
        Worker processes (``-1``: one per available core). 1 runs in this process.
    progress : bool, default True
        Show a progress bar on stderr.
    scheduler : str or dask.distributed.Client, optional
        Run the batches on the workers of this Dask cluster instead (``n_jobs`` is then
        unused; see :mod:`landmark_asl.data.distributed`). The workers read the images from the
        same paths, so they must share them. Results, resume and the summary are the same.

    Returns
    -------
    dict
        :func:`coverage_summary` of this run's samples, plus ``output``, ``n_processed``
        (extracted now), ``n_resumed`` (found done), ``rejected`` (files skipped by the
        manifest, with reasons), ``seconds`` (the whole call), ``startup_seconds`` (until the
        extractor or every worker was ready: listing sources, importing mediapipe, loading
        the model), ``images_per_second`` (over the whole call) and
        ``images_per_second_after_startup`` (images extracted after that, per second).

    Raises
    ------
    DatasetError
        A source is missing or empty.
    ExtractionError
        The model cannot be loaded, or ``output`` was made with different settings.
    """
    settings = settings if settings is not None else ExtractorSettings()
    output = Path(output)
    n_jobs = _n_jobs(n_jobs)
    start = time.perf_counter()
    clock: dict[str, float] = {}
    manifest, rejected, landmark_tables, source_names = _collect(sources)
    identity = {"settings": dataclasses.asdict(settings), **_model_info(settings), "loader_version": LOADER_VERSION}
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(exclusive_lock(output, "landmark-asl extract"))
        except OSError as exc:  # a missing, read-only or special folder
            raise DatasetError(f"cannot write {printable_path(output)}: {exc.strerror or exc}") from exc
        try:
            done = _load_done(output, identity)
            done_ids = set().union(*(set(_column(t, "sample_id")) for t in done)) if done else set()
            todo = manifest[~manifest["sample_id"].isin(done_ids)].drop_duplicates("sample_id")
            parts = _parts_dir(output)
            if len(todo):
                done += _extract_parts(todo, parts, identity, settings, n_jobs=n_jobs, progress=progress, clock=clock,
                                       scheduler=scheduler)
            seconds = time.perf_counter() - start
            startup = clock.get("ready", time.perf_counter()) - start
            table = _merge(done, manifest, landmark_tables, _source_roots(sources, source_names))
            metadata = {
                "format": TABLE_FORMAT,
                "format_version": TABLE_FORMAT_VERSION,
                **identity,
                "versions": _versions(),
                "sources": source_names,
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "n_rows": len(table),
            }
            write_table(table, output, metadata)
            if parts.is_dir():
                shutil.rmtree(parts)
        except OSError as exc:
            raise DatasetError(f"cannot write {printable_path(exc.filename or output)}: {exc.strerror or exc}") from exc
    run_ids = set(manifest["sample_id"]).union(*(set(t["sample_id"]) for t in landmark_tables))
    summary = coverage_summary(table[table["sample_id"].isin(run_ids)])
    summary.update(
        output=str(output),
        n_processed=len(todo),
        n_resumed=int(manifest["sample_id"].isin(done_ids).sum()),
        rejected=[{"source": s, "reason": r} for s, r in zip(rejected["source"], rejected["reason"])],
        seconds=round(seconds, 3),
        startup_seconds=round(startup, 3),
        images_per_second=round(len(todo) / seconds, 2) if seconds > 0 else 0.0,
        images_per_second_after_startup=(
            round((len(todo) - clock.get("processed_at_ready", 0)) / (seconds - startup), 2) if seconds > startup else 0.0
        ),
    )
    return summary


def _extract_parts(todo: pd.DataFrame, parts: Path, identity: dict, settings: ExtractorSettings, *, n_jobs: int,
                   progress: bool, clock: dict, scheduler: Any) -> list:
    """Extract the manifest rows ``todo`` in batches, each saved as a part file in ``parts`` as it ends (resumable)."""
    parts.mkdir(parents=True, exist_ok=True)
    part_meta = {"format": TABLE_FORMAT, "format_version": TABLE_FORMAT_VERSION, **identity}
    numbers = [int(p.stem.split("-")[1]) for p in parts.glob("part-*.parquet") if p.stem.split("-")[1].isdigit()]
    first = max(numbers, default=-1) + 1
    # Small batches when there are few images, so that every worker gets several.
    size = max(1, min(BATCH_SIZE, -(-len(todo) // (4 * n_jobs)))) if scheduler is None else BATCH_SIZE
    batches = [todo.iloc[i : i + size] for i in range(0, len(todo), size)]
    results, n_new = [], 0
    try:
        for k, result in enumerate(_run_batches(batches, settings, n_jobs, progress, len(todo), clock,
                                                scheduler=scheduler)):
            write_parquet(result, parts / f"part-{first + k:06d}.parquet", part_meta)
            results.append(result)
            n_new += len(result)
    except _WorkerDied as exc:
        raise ExtractionError(
            f"{exc}; {n_new} of {len(todo)} samples were extracted and saved in {parts}: "
            "run the same command again to resume"
        ) from exc
    return results


#: Resident memory of one extraction worker (MediaPipe graph + decoded images), measured.
WORKER_MEMORY_MB = 250


def _n_jobs(n_jobs: int) -> int:
    """Worker count: ``-1`` is one per available core; more than the cores is capped, with a warning."""
    available = available_cores()
    if n_jobs == -1:
        return available
    if int(n_jobs) < 1:
        raise ParameterError(f"n_jobs must be >= 1 or -1 (all cores); got {n_jobs}")
    if int(n_jobs) > available:
        warnings.warn(
            f"n_jobs={n_jobs} capped at the {available} available cores (each worker holds about "
            f"{WORKER_MEMORY_MB} MB and one core; more would only compete)",
            stacklevel=3,
        )
        return available
    return int(n_jobs)


class _WorkerDied(ExtractionError):
    """A worker process ended without a result (killed, out of memory, crashed)."""


def _run_batches(batches, settings: ExtractorSettings, n_jobs: int, progress: bool, total: int, clock: dict,
                 *, scheduler: Any = None):
    """Yield the result table of every batch, in this process, in ``n_jobs`` workers or on a Dask cluster.

    Sets ``clock['ready']`` (``time.perf_counter()``) once the extractor(s) are loaded. A
    worker that dies (kill -9, out of memory, segfault) stops the run with :class:`_WorkerDied`
    instead of waiting forever; batches already yielded are kept by the caller.
    """

    bar = tqdm(total=total, unit="img", desc="extracting", file=sys.stderr, disable=not progress, dynamic_ncols=True)
    try:
        if scheduler is not None:
            from landmark_asl.data.distributed import dask_batches

            try:
                yield from dask_batches(batches, settings, scheduler, bar, clock)
            except ExtractionError as exc:
                raise _WorkerDied(str(exc)) from exc
            return
        if n_jobs == 1:
            from landmark_asl.data.datasets import read_sample
            from landmark_asl.hands.extractor import HandLandmarkExtractor

            with HandLandmarkExtractor(settings) as extractor:
                clock["ready"] = time.perf_counter()
                for batch in batches:
                    result = extract_batch(extractor, read_sample, batch)
                    bar.update(len(result))
                    yield result
            return
        yield from _pool_batches(batches, settings, n_jobs, bar, clock)
    finally:
        bar.close()


def _pool_batches(batches, settings: ExtractorSettings, n_jobs: int, bar, clock: dict):

    # spawn: forking a process that already runs MediaPipe's threads can deadlock.
    context = mp.get_context("spawn")
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pin = cpus if len(cpus) >= n_jobs else []
    started, ready, processed = context.Value("i", 0), context.Value("i", 0), context.Value("i", 0)
    initargs = (dataclasses.asdict(settings), native_logs_quiet(), pin, started, ready, processed)
    pool = cf.ProcessPoolExecutor(n_jobs, mp_context=context, initializer=_worker_init, initargs=initargs)
    pending: set = set()
    queue = iter(batches)
    clean = False
    try:
        # A few batches in flight per worker: enough to keep them busy, little to lose.
        for batch in queue:
            pending.add(pool.submit(_worker_batch, batch))
            if len(pending) >= 2 * n_jobs:
                break
        while pending:
            timeout = None if "ready" in clock else 0.01  # poll only to time the start-up
            finished, pending = cf.wait(pending, timeout=timeout, return_when=cf.FIRST_COMPLETED)
            if "ready" not in clock and ready.value >= n_jobs:
                clock["ready"] = time.perf_counter()
                # Images the first workers finished while the last one was still starting.
                clock["processed_at_ready"] = processed.value
            for future in finished:
                result = future.result()
                bar.update(len(result))
                yield result
                nxt = next(queue, None)
                if nxt is not None:
                    pending.add(pool.submit(_worker_batch, nxt))
        clean = True
    except BrokenProcessPool as exc:
        raise _WorkerDied(
            "an extraction worker process died (killed, out of memory or crashed)"
        ) from exc
    finally:
        pool.shutdown(wait=clean, cancel_futures=True)


def _column(table, name: str) -> list:
    """One column of a DataFrame or ``pyarrow.Table`` as a list."""
    return table[name].tolist() if isinstance(table, pd.DataFrame) else table.column(name).to_pylist()


def _source_roots(sources, names: list[str]) -> tuple[str, ...]:
    """The paths whose samples this run owns: a row of an old table under one of them is replaced."""
    return () if isinstance(sources, pd.DataFrame) else tuple(names)


def _owned(source: pd.Series, roots: tuple[str, ...], listed: set[str]) -> np.ndarray:
    """Which old rows belong to this run's sources: listed again, or a file under (or a CSV row of) a root."""
    path = source.str.replace(r"#\d+$", "", regex=True)
    under = tuple(r.rstrip(os.sep) + os.sep for r in roots)
    owned = source.isin(listed) | path.isin(set(roots))
    if under:
        owned |= path.str.startswith(under)
    return owned.to_numpy(dtype=bool)


def _merge(done: list, manifest: pd.DataFrame, landmark_tables: list[pd.DataFrame], roots: tuple[str, ...] = ()) -> pd.DataFrame:
    """A row for every manifest entry and CSV landmark row of this run, plus old rows of other sources.

    Old rows of this run's sources are replaced: a deleted file's row disappears and a
    moved or relabelled file gets its new source and label. Results are reused by
    ``sample_id`` (content hash), so unchanged files are never extracted again.
    """

    arrow = [t for t in done if isinstance(t, pa.Table)]
    done = [t for t in done if not isinstance(t, pa.Table)]
    if arrow:
        done.append(pa.concat_tables(arrow).to_pandas())
    frames = [t[list(TABLE_COLUMNS)] for t in done if len(t)]
    results = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(TABLE_COLUMNS))
    by_id = results.drop_duplicates("sample_id").set_index("sample_id")
    result_cols = list(RESULT_COLUMNS + LANDMARK_COLUMNS)
    new_rows = manifest[list(MANIFEST_COLUMNS)].join(by_id[result_cols], on="sample_id")
    tables = [t[list(TABLE_COLUMNS)] for t in landmark_tables]
    listed = set(manifest["source"]).union(*(set(t["source"]) for t in tables))
    others = results[~_owned(results["source"].astype(str), roots, listed)] if len(results) else results
    # Same dtypes in every piece, so that concatenation does not depend on all-NaN columns.
    pieces = [_typed(frame) for frame in (new_rows, *tables, others) if len(frame)]
    table = pd.concat(pieces, ignore_index=True) if pieces else _typed(new_rows)
    table = table.drop_duplicates(["sample_id", "source"]).sort_values(["dataset", "split", "label", "source"], kind="stable")
    return table.reset_index(drop=True)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[list(TABLE_COLUMNS)].copy()
    dtypes = frame.dtypes
    for column in MANIFEST_COLUMNS + ("reason", "strategy", "handedness"):
        frame[column] = frame[column].fillna("").astype(str).astype(object)
    frame["detected"] = frame["detected"].fillna(False).astype(bool)
    for column in ("image_width", "image_height"):
        # 0: unknown (CSV landmarks, undecodable images)
        frame[column] = pd.to_numeric(frame[column], errors="coerce").fillna(0).astype(np.int32)
    floats = [c for c in LANDMARK_COLUMNS + ("handedness_score",) if dtypes[c] != np.float32]
    if floats:
        frame[floats] = frame[floats].apply(pd.to_numeric, errors="coerce").astype(np.float32)
    return frame


def format_summary(summary: dict) -> str:
    """Render an :func:`extract_table` summary as a short plain-text report (per-class coverage table).

    Parameters
    ----------
    summary : dict
        As returned by :func:`extract_table`.

    Returns
    -------
    str
        Lines of text, no trailing newline.
    """
    lines = [
        f"{summary['output']}: {summary['n_detected']}/{summary['n_samples']} samples with a hand "
        f"(coverage {summary['coverage']:.1%}); {summary['n_processed']} extracted now, "
        f"{summary['n_resumed']} already done; {summary['images_per_second']:.1f} images/s",
        "strategies: " + (", ".join(f"{k}={v}" for k, v in summary["strategies"].items()) or "-"),
        "misses: " + (", ".join(f"{k}={v}" for k, v in summary["reasons"].items()) or "-"),
    ]
    if summary["rejected"]:
        lines.append(f"rejected files ({len(summary['rejected'])}):")
        lines += [f"  {r['source']}: {r['reason']}" for r in summary["rejected"][:10]]
    for title, key in (("dataset", "per_dataset"), ("class", "per_class")):
        lines.append(f"{title:<10} {'n':>6} {'hand':>6} {'coverage':>9}")
        for name, block in summary[key].items():
            lines.append(f"{name:<10} {block['n']:>6} {block['detected']:>6} {block['coverage']:>9.1%}")
    return "\n".join(lines)
