"""Dask distributed clusters for the stages that scale out (chip building, prediction).

``--scheduler local`` starts a :class:`distributed.LocalCluster` on this machine (one
single-threaded worker process per core); ``--scheduler tcp://HOST:8786`` connects to a running
scheduler (``dask scheduler`` + ``dask worker`` on each machine). The workers must see the same
paths as this process (the source rasters, the chip store, the run directory): a shared
filesystem, or one machine. ``distributed`` is an optional dependency (``pip install
landslide-app[dist]``), imported only here.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from landslide_app.errors import ConfigError, SourceError

log = logging.getLogger(__name__)

LOCAL = "local"


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:  # pragma: no cover - optional dependency
        raise ConfigError(
            "--scheduler needs the Dask 'distributed' package: pip install 'landslide-app[dist]' "
            "(or pip install distributed)"
        ) from None
    return distributed


@contextlib.contextmanager
def dask_client(scheduler: Any = LOCAL, n_workers: int | None = None) -> Iterator[Any]:
    """A ``distributed.Client`` for ``scheduler``, closed afterwards (a given Client stays open).

    Args:
        scheduler: ``"local"`` (a LocalCluster of ``n_workers`` single-threaded processes, default
            one per core), a scheduler address such as ``"tcp://10.0.0.5:8786"``, or a Client.
        n_workers: workers of the local cluster.
    """
    distributed = _import_distributed()
    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    if not isinstance(scheduler, str) or not scheduler:
        raise ConfigError(f"--scheduler must be 'local' or an address such as tcp://HOST:8786, got {scheduler!r}")
    if scheduler == LOCAL:
        n = n_workers or os.cpu_count() or 1
        log.info("starting a local Dask cluster: %d worker processes, 1 thread each", n)
        with (
            distributed.LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = distributed.Client(scheduler, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise SourceError(
            f"cannot reach the Dask scheduler at {scheduler} ({exc}); start one (`dask scheduler`, then "
            "`dask worker ADDRESS` on each machine) or use --scheduler local"
        ) from exc
    try:
        n = len(client.scheduler_info().get("workers", {}))
        log.info("connected to Dask scheduler %s (%d workers)", scheduler, n)
        if n == 0:
            log.warning("the Dask scheduler %s has no workers yet; tasks wait until one joins", scheduler)
        yield client
    finally:
        client.close()


def worker_cache(key: Any, make: Any, _cache: dict[Any, Any] = {}) -> Any:  # noqa: B006 - per-process cache
    """``make()`` once per worker process and ``key`` (the last key only is kept)."""
    if key not in _cache:
        _cache.clear()
        _cache[key] = make()
    return _cache[key]
