"""Extraction and XGBoost training on a Dask cluster (the only module importing dask)."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from landmark_asl.data.datasets import read_sample
from landmark_asl.data.table import extract_batch
from landmark_asl.exceptions import ExtractionError, LandmarkASLError
from landmark_asl.hands.extractor import ExtractorSettings, HandLandmarkExtractor, quiet_native_logs

#: Seconds to wait for the scheduler before giving up.
CONNECT_TIMEOUT = 10
#: Name under which each worker keeps its extractors (one per settings, built on first use).
_WORKER_SLOT = "_landmark_asl_extractors"


def connect(scheduler: Any):
    """A ``dask.distributed.Client`` for ``scheduler`` (an address like ``tcp://host:8786``, or a Client).

    Raises
    ------
    LandmarkASLError
        dask is not installed (names the extra), or the scheduler cannot be reached.
    """
    try:
        from dask.distributed import Client
    except ImportError as exc:
        from landmark_asl.exceptions import MissingExtraError

        raise MissingExtraError(
            "a Dask scheduler needs dask.distributed: pip install 'landmark_asl[dask]'"
        ) from exc
    if isinstance(scheduler, Client):
        return scheduler
    address = str(scheduler)
    help_text = ("start one with `dask scheduler` and workers with `dask worker ADDRESS`, and give its address, "
                 "e.g. tcp://host:8786")
    scheme = address.split("://", 1)[0].lower() if "://" in address else "tcp"
    if scheme != "tcp":
        raise LandmarkASLError(f"Dask scheduler {address!r}: only tcp:// addresses are supported ({scheme}:// needs "
                               f"security or transport settings that landmark-asl does not take); {help_text}")
    outcome: dict[str, Any] = {}

    def attempt() -> None:
        try:
            # Set as default: xgboost.dask looks the client up through distributed.get_client().
            outcome["client"] = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=True)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread below
            outcome["error"] = exc

    # Dask's own timeout does not cover a peer that accepts and never answers: this thread may hang, not the caller.
    thread = threading.Thread(target=attempt, name="landmark-asl dask connect", daemon=True)
    thread.start()
    thread.join(CONNECT_TIMEOUT + 5)
    if thread.is_alive():
        raise LandmarkASLError(f"the Dask scheduler at {address!r} did not answer in {CONNECT_TIMEOUT} s (something "
                               f"accepts connections there but is not a Dask scheduler?); {help_text}")
    error = outcome.get("error")
    if error is not None:
        if not isinstance(error, Exception):
            raise error
        reason = (str(error).strip().splitlines() or [""])[0][:160]
        if isinstance(error, MemoryError):  # a length read from bytes that are not Dask's protocol
            reason = "its answer is not Dask's protocol"
        raise LandmarkASLError(f"cannot reach the Dask scheduler at {address!r} ({type(error).__name__}: {reason}): "
                               f"{help_text}") from None
    return outcome["client"]


def _worker_extract(batch, settings_json: str):
    """Run on a worker: extract one batch with that worker's extractor (created once, never pickled)."""
    from dask.distributed import get_worker


    worker = get_worker()
    slot = getattr(worker, _WORKER_SLOT, None)
    if slot is None:
        slot = {"lock": threading.Lock()}
        setattr(worker, _WORKER_SLOT, slot)
    # One extractor per worker process and settings; a lock, since a worker may run several
    # tasks in threads and a MediaPipe graph takes one image at a time.
    with slot["lock"]:
        if settings_json not in slot:
            quiet_native_logs()
            slot[settings_json] = HandLandmarkExtractor(ExtractorSettings(**json.loads(settings_json)))
        return extract_batch(slot[settings_json], read_sample, batch)


def dask_batches(batches: Iterable, settings: Any, scheduler: Any, bar, clock: dict) -> Iterator:
    """Yield each batch's result table as the cluster's workers finish them (any order).

    Every batch is one task (retried by Dask on another worker if its worker is lost); the
    workers read the images from the paths in the batch, so they must see the same files.
    """

    from dask.distributed import as_completed

    client = connect(scheduler)
    own = client is not scheduler
    settings_json = json.dumps(dataclasses.asdict(settings), sort_keys=True)
    try:
        if not client.scheduler_info().get("workers"):
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
        clock["ready"] = time.perf_counter()
        futures = client.map(_worker_extract, list(batches), settings_json=settings_json, pure=False, retries=2)
        for future in as_completed(futures):
            try:
                result = future.result()
            except ExtractionError:
                raise
            except Exception as exc:  # a task that failed on every worker it was tried on
                reason = " ".join(str(exc).split())  # Dask's messages run over several lines
                raise ExtractionError(f"a batch failed on the Dask cluster: {type(exc).__name__}: {reason}") from exc
            bar.update(len(result))
            yield result
    except TimeoutError as exc:
        raise LandmarkASLError(f"the Dask cluster at {scheduler!r} has no worker: start one with `dask worker ADDRESS`") from exc
    finally:
        if own:
            client.close()


def fit_xgb(estimator, X: np.ndarray, y: np.ndarray, scheduler: Any, *, sample_weight: np.ndarray | None = None):
    """Fit an ``xgb`` pipeline's classifier with ``xgboost.dask`` on the cluster; returns the pipeline.

    The normalizer runs here (it is cheap); the boosting rounds run on the workers
    (``device='cuda'`` where the classifier asks for it and the workers have GPUs). The
    booster comes back into the pipeline's :class:`~landmark_asl.estimators.trees.XGBLandmarkClassifier`,
    so the model is saved and loaded as any other.
    """
    import dask.array as da
    from xgboost import dask as dxgb

    client = connect(scheduler)
    own = client is not scheduler
    try:
        normalizer, clf = estimator.named_steps["normalizer"], estimator.named_steps["clf"]
        Z = normalizer.fit_transform(X)
        clf.fit_distributed(Z, y, lambda Zc, yc, w, params: _dask_train(client, dxgb, da, Zc, yc, w, params),
                            sample_weight=sample_weight)
        return estimator
    finally:
        if own:
            client.close()


def _dask_train(client, dxgb, da, Z: np.ndarray, y: np.ndarray, weight, params: dict):
    """Train a booster with xgboost.dask on ``client``; returns the Booster."""
    n_workers = max(1, len(client.scheduler_info()["workers"]))
    chunks = max(1, -(-len(Z) // n_workers))
    dZ = da.from_array(Z, chunks=(chunks, Z.shape[1]))
    dy = da.from_array(y, chunks=(chunks,))
    dw = da.from_array(weight, chunks=(chunks,)) if weight is not None else None
    dtrain = dxgb.DaskDMatrix(client, dZ, dy, weight=dw)
    rounds = params.pop("n_estimators")
    output = dxgb.train(client, params, dtrain, num_boost_round=rounds)
    return output["booster"]
