"""An in-memory copy of a chip store, for work that reads every chip many times (the ablation).

:class:`StoreCache` reads the whole store once, on first use, when it fits a memory budget
(:func:`landslide_app.core.memory.memory_budget` with :data:`DEFAULT_STORE_CACHE_BYTES`);
otherwise, or when the budget is 0, every read goes to the store as before (chips streamed, never
all in memory). Either way it behaves like the store for the readers of chips (``read_many``,
``ids``, ``classes``, ``index``, ``grid``, ``meta``), and returns the same values.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from landslide_app.chips.store import ChipStore
from landslide_app.core.memory import memory_budget

log = logging.getLogger(__name__)

#: Default cap of a store held in memory (the demo store is ~0.45 GB; a Puerto Rico one ~6 GB).
DEFAULT_STORE_CACHE_BYTES: int = 2 << 30


class StoreCache:
    """A chip store read through an optional whole-store memory copy.

    Args:
        store: the chip store.
        cache_bytes: cap (default :data:`DEFAULT_STORE_CACHE_BYTES`, at most a quarter of the
            available memory; 0: never copy).
    """

    def __init__(self, store: ChipStore, cache_bytes: int | None = None) -> None:
        self.store = store
        self.budget = memory_budget(DEFAULT_STORE_CACHE_BYTES if cache_bytes is None else cache_bytes)
        self._chips: np.ndarray | None = None
        self._row: dict[int, int] = {}
        self._tried = False
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:  # ids, classes, index, grid, meta, path, channels ...
        return getattr(self.store, name)

    @property
    def nbytes(self) -> int:
        """Bytes held in memory (0 while streaming)."""
        return 0 if self._chips is None else int(self._chips.nbytes)

    def _load(self) -> None:
        with self._lock:
            if self._tried:
                return
            self._tried = True
            ids = self.store.ids
            s = self.store.grid.chip_size
            need = len(ids) * len(self.store.channels) * s * s * 4
            if not len(ids) or need > self.budget:
                log.debug(
                    "chip store %s (%.0f MB) is read from disk (memory budget %.0f MB)",
                    self.store.path,
                    need / 2**20,
                    self.budget / 2**20,
                )
                return
            chips = np.empty((len(ids), len(self.store.channels), s, s), np.float32)
            for k in range(0, len(ids), 64):
                chips[k : k + 64] = self.store.read_many([int(i) for i in ids[k : k + 64]])
            self._chips = chips
            self._row = {int(i): k for k, i in enumerate(ids)}
            log.debug("chip store %s held in memory (%.0f MB)", self.store.path, need / 2**20)

    def read_many(self, chip_ids: Sequence[int], channels: Sequence[int] | None = None) -> np.ndarray:
        """Like :meth:`ChipStore.read_many` (from memory when the store fits)."""
        self._load()
        if self._chips is None or any(int(i) not in self._row for i in chip_ids):
            return self.store.read_many(chip_ids, channels)
        rows = [self._row[int(i)] for i in chip_ids]
        out = self._chips[rows]
        return out[:, list(channels)] if channels is not None else out
