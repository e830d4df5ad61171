"""The ablation on a Dask distributed cluster: one task per (configuration, seed).

Each task runs :func:`landslide_app.experiments.ablation.run_one` on a worker, which writes the
configuration's run folder exactly as a local run does (same cache key, same files, same lock).
Configurations already cached are not sent. Then :func:`run_ablation_distributed` runs the plain
:func:`~landslide_app.experiments.ablation.run_ablation` here, which finds every configuration
cached and only assembles ``results.json`` (baselines, computed here, are cheap).

Identical results to one process: a task trains with the torch thread count of this process
(``threads``; the float reductions of a convolution may be split differently over a different
number of threads), its chips come from the same store, and the seeds are those of the local run.
The workers must see the chip store and ``OUT`` at the same paths (one machine, or a shared
filesystem).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from landslide_app.chips.store import ChipStore
from landslide_app.cluster import LOCAL, dask_client, worker_cache
from landslide_app.experiments.ablation import (
    AblationSettings,
    OnFold,
    ProgressHook,
    RunSpec,
    _run_fingerprint,
    check_store,
    load_cached,
    repeat_dir,
    run_ablation,
    run_one,
)

log = logging.getLogger(__name__)


def _task(store_path: str, spec: tuple[str, int, str, Any], out: str, settings: dict[str, Any], threads: int) -> str:
    """Worker side: compute one configuration of one seed into ``out`` (returns its key)."""
    import torch

    torch.set_num_threads(int(threads))
    store, reader = worker_cache(("ablate", store_path), lambda: _open(store_path))
    s = AblationSettings(**settings)
    run_one(store, RunSpec(*spec), Path(out), s, progress=False, reader=reader)
    return RunSpec(*spec).key


def _open(store_path: str) -> tuple[ChipStore, Any]:
    from landslide_app.chips.cache import StoreCache

    store = ChipStore.open(store_path)
    return store, StoreCache(store)


def pending_tasks(store: ChipStore, out: Path, settings: AblationSettings) -> list[tuple[RunSpec, Path, int]]:
    """``(spec, repeat folder, seed)`` of the configurations not cached yet (DEM-only once per seed)."""
    todo = []
    for i, seed in enumerate(settings.seed_list()):
        s_i = replace(settings, seed=seed)
        bases = list(dict.fromkeys(spec.computes_as for spec in settings.specs()))
        for spec in bases:
            d = repeat_dir(out, i, seed)
            if load_cached(d, spec, _run_fingerprint(store, spec, s_i)) is None:
                todo.append((spec, d, seed))
    return todo


def compute_on_cluster(
    client: Any,
    store: ChipStore,
    out: Path,
    settings: AblationSettings,
    progress: bool = True,
    threads: int | None = None,
) -> int:
    """Compute the pending (configuration, seed) tasks on ``client``'s workers; returns how many ran."""
    import torch
    from distributed import as_completed
    from tqdm.auto import tqdm

    todo = pending_tasks(store, out, settings)
    if not todo:
        return 0
    n_threads = int(threads or torch.get_num_threads())
    base = asdict(settings)
    futures = [
        client.submit(
            _task,
            str(store.path),
            (spec.inputs, spec.revisits, spec.split, spec.thresholds),
            str(d),
            {**base, "seed": seed, "seeds": 1, "save_models": settings.save_models and d == out},
            n_threads,
            pure=False,
            key=f"ablate-{spec.key}-seed{seed}-{id(todo)}",
        )
        for spec, d, seed in todo
    ]
    log.info("ablation: %d (configuration, seed) tasks on the Dask cluster (%d threads each)", len(futures), n_threads)
    try:
        with tqdm(total=len(futures), desc="ablation (dask)", unit="config", disable=not progress) as bar:
            for fut in as_completed(futures):
                fut.result()  # a task's error is raised here, with its message
                bar.update(1)
    finally:
        client.cancel(futures)
    return len(futures)


def run_ablation_distributed(
    store_path: str | Path,
    out: str | Path,
    settings: AblationSettings | None = None,
    scheduler: Any = LOCAL,
    progress: bool = True,
    on_progress: ProgressHook | None = None,
    on_fold: OnFold | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """:func:`~landslide_app.experiments.ablation.run_ablation` with the configurations computed on a Dask cluster.

    Args:
        scheduler: ``"local"``, a scheduler address or a ``distributed.Client``.
        threads: torch threads per task (default: this process's count, for results identical to a local run).
    """
    from landslide_app.atomic import check_output_dir

    settings = settings or AblationSettings()
    store = ChipStore.open(store_path)
    check_store(store, settings)
    out_dir = check_output_dir(out, "ablation output directory", create=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    with dask_client(scheduler) as client:
        compute_on_cluster(client, store, out_dir, settings, progress=progress, threads=threads)
    return run_ablation(store_path, out_dir, settings, progress=progress, on_progress=on_progress, on_fold=on_fold)
