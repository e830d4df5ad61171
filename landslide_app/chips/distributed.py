"""Chip building on a Dask distributed cluster: one task per chip row.

Each task opens the (incomplete) store, reads its row's DEM and SAR strips, and writes its chips
and then the row's done-marker (:func:`landslide_app.chips.rows.build_row`). Rows are independent
and every chip is its own zarr chunk written atomically, so workers write into the same store
concurrently; this process holds the store's lock, counts the finished rows, and finalises the
index once at the end. The result is identical to :func:`~landslide_app.chips.build.build_chips`
in one process (same chips, same index). An interrupted distributed build resumes like a local
one (finished chips have their markers), with or without a cluster.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from landslide_app.chips.build import BuildReport, build_chips
from landslide_app.chips.rows import RowJob, RowRunner, build_row
from landslide_app.cluster import LOCAL, dask_client, worker_cache

log = logging.getLogger(__name__)


def _row_task(job: RowJob, row: int, chip_ids: list[int]) -> tuple[int, int]:
    """Worker side: build one chip row into the store."""
    from landslide_app.chips.store import ChipStore
    from landslide_app.sources.loader import GridReader

    def make() -> tuple[ChipStore, GridReader]:
        return ChipStore.open(job.store_path, require_complete=False), GridReader(job.source, job.grid, job.retry)

    key = (str(job.store_path), job.source.description, repr(job.grid.to_dict()))
    store, reader = worker_cache(("chips", key), make)
    return build_row(store, reader, job.heads, job.settings, row, chip_ids)


def dask_row_runner(client: Any) -> RowRunner:
    """A :data:`~landslide_app.chips.build.RowRunner` that builds each row as a task on ``client``."""
    from distributed import as_completed

    def run(job: RowJob, rows: list[tuple[int, list[int]]], on_done: Callable[[int, int], None]) -> None:
        if not rows:
            return
        [job_f] = client.scatter([job], broadcast=True)
        futures = [
            client.submit(_row_task, job_f, row, ids, pure=False, key=f"chips-row-{row}-{id(job):x}")
            for row, ids in rows
        ]
        log.info(
            "building %d chip rows on %d Dask workers", len(futures), len(client.scheduler_info().get("workers", {}))
        )
        try:
            for fut in as_completed(futures):
                n_built, n_dropped = fut.result()  # re-raises a worker's error here
                on_done(n_built, n_dropped)
        finally:
            client.cancel(futures)

    return run


def build_chips_distributed(
    source: Any, inventory: str | Path, out: str | Path, scheduler: Any = LOCAL, **kwargs: Any
) -> BuildReport:
    """:func:`~landslide_app.chips.build.build_chips` with the rows built on a Dask cluster.

    Args:
        scheduler: ``"local"``, a scheduler address (``tcp://HOST:8786``) or a ``distributed.Client``
            (see :func:`landslide_app.cluster.dask_client`). Workers must see ``out`` and the source files.
        kwargs: the other arguments of ``build_chips`` (grid, settings, overwrite, progress, retry).
    """
    with dask_client(scheduler) as client:
        return build_chips(source, inventory, out, row_runner=dask_row_runner(client), **kwargs)
