"""Memory budgets of in-memory caches (prepared training chips, a whole chip store).

:func:`memory_budget` is a fixed cap, at most a quarter of the memory available now, so that a
cache never pushes a small machine into swap; ``cap=0`` switches caching off.
"""

from __future__ import annotations

#: Default cap of the in-memory caches of prepared training chips (and of raw chips in the ablation).
DEFAULT_CACHE_BYTES: int = 1 << 30


def available_memory() -> int | None:
    """Bytes of memory available now (Linux ``MemAvailable``; psutil elsewhere), or None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - psutil missing or unsupported platform: no figure
        return None


def memory_budget(cap: int | None = None) -> int:
    """Bytes an in-memory cache may hold: ``cap`` (default :data:`DEFAULT_CACHE_BYTES`), at most a
    quarter of the memory available now. ``cap=0`` disables caching."""
    cap = DEFAULT_CACHE_BYTES if cap is None else int(cap)
    if cap <= 0:
        return 0
    avail = available_memory()
    return min(cap, avail // 4) if avail else cap
