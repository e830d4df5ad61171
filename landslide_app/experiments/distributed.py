"""Prediction on a Dask distributed cluster: the chips' features computed by the workers.

The store's chip ids are split into tasks of whole embedding batches (a multiple of
:data:`~landslide_app.experiments.production.FEATURE_BATCH` chips, aligned with the batches of the
local path); each worker loads the run once, streams its chips from the store, and returns their
19 percentile features. The forest, the exports and the summary then run here exactly as in
:func:`~landslide_app.experiments.production.predict_run`, so the predictions are identical to a
single-process run (same batches, same arithmetic).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from landslide_app.chips.store import ChipStore
from landslide_app.cluster import LOCAL, dask_client, worker_cache
from landslide_app.core.vocabulary import DEFAULT_NORMALISE, N_FEATURES
from landslide_app.experiments.production import FEATURE_BATCH, FeatureFn, LoadedRun, local_features, predict_run

log = logging.getLogger(__name__)

#: Chips per task (a multiple of FEATURE_BATCH).
DEFAULT_CHIPS_PER_TASK = 8 * FEATURE_BATCH


def _features_task(run_path: str, store_path: str, device: str | None, ids: np.ndarray) -> np.ndarray:
    """Worker side: features of ``ids`` (the run and the store are opened once per process)."""
    from landslide_app.experiments.production import load_run

    def make() -> tuple[LoadedRun, ChipStore]:
        return load_run(run_path, device), ChipStore.open(store_path)

    run, store = worker_cache(("predict", run_path, store_path, device), make)
    return local_features(run, store, ids)


def dask_features(
    client: Any,
    run_path: str | Path,
    store_path: str | Path,
    device: str | None = None,
    chips_per_task: int = DEFAULT_CHIPS_PER_TASK,
) -> FeatureFn:
    """A :data:`~landslide_app.experiments.production.FeatureFn` computing features on ``client``'s workers."""
    per_task = max(FEATURE_BATCH, chips_per_task // FEATURE_BATCH * FEATURE_BATCH)

    def features(run: LoadedRun, store: ChipStore, ids: np.ndarray, progress: bool = False) -> np.ndarray:
        from distributed import wait
        from tqdm.auto import tqdm

        parts = [ids[i : i + per_task] for i in range(0, len(ids), per_task)]
        if not parts:
            return np.empty((0, N_FEATURES * len(run.models)), np.float32)
        futures = client.map(
            _features_task,
            [str(run_path)] * len(parts),
            [str(store_path)] * len(parts),
            [device] * len(parts),
            parts,
            pure=False,
        )
        log.info("computing features of %d chips in %d tasks", len(ids), len(parts))
        try:
            with tqdm(total=len(ids), desc="predict", unit="chip", disable=not progress) as bar:
                for fut, part in zip(futures, parts):
                    wait(fut)
                    bar.update(len(part))
            return np.concatenate(client.gather(futures))
        finally:
            client.cancel(futures)

    return features


def predict_run_distributed(
    run_path: str | Path,
    store_path: str | Path,
    out: str | Path,
    scheduler: Any = LOCAL,
    device: str | None = None,
    progress: bool = True,
    chips_per_task: int = DEFAULT_CHIPS_PER_TASK,
    normalise: str = DEFAULT_NORMALISE,
    decision: str | None = None,
) -> dict[str, Any]:
    """:func:`~landslide_app.experiments.production.predict_run` with the features computed on a Dask cluster.

    Args:
        scheduler: ``"local"``, a scheduler address or a ``distributed.Client``. Workers must see
            ``run_path`` and ``store_path``.
        chips_per_task: chips per task (rounded to whole batches of ``FEATURE_BATCH``).
    """
    with dask_client(scheduler) as client:
        feats = dask_features(client, run_path, store_path, device, chips_per_task)
        return predict_run(
            run_path,
            store_path,
            out,
            device=device,
            progress=progress,
            features=feats,
            normalise=normalise,
            decision=decision,
        )
