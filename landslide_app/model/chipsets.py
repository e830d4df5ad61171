"""Chip sets for the network: batch getters and the ids they read.

Data access is lazy: chips are read batch by batch through a *batch getter*, a callable
``get_batch(ids) -> np.ndarray (len(ids), 17, H, W)`` (see :func:`as_batch_getter`: a chip store
with ``read_many``, any callable, or an in-memory array via :class:`ArrayChips`), so a large store
is never loaded whole. A :class:`ChipSubset` pairs a getter with the ids of a set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from landslide_app.errors import InputError

BatchGetter = Callable[[np.ndarray], np.ndarray]


class ArrayChips:
    """Batch getter over an in-memory (or memory-mapped) chip array.

    Args:
        chips: ``(N, 17, H, W)``.
        ids: chip id of each row (default ``0..N-1``).
    """

    def __init__(self, chips: np.ndarray, ids: Sequence[int] | np.ndarray | None = None) -> None:
        self.chips = chips
        self.ids = np.arange(len(chips), dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
        if len(self.ids) != len(chips):
            raise InputError(f"{len(self.ids)} ids for {len(chips)} chips.")
        self._row = {int(i): k for k, i in enumerate(self.ids)}
        if len(self._row) != len(self.ids):
            raise InputError("Chip ids must be unique.")

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        try:
            rows = [self._row[int(i)] for i in np.asarray(ids).ravel()]
        except KeyError as err:
            raise InputError(f"Unknown chip id {err}.") from None
        return np.asarray(self.chips[rows], dtype=np.float32)


def _id_list_reader(method: Callable[[list[int]], Any]) -> BatchGetter:
    """Wrap ``method(list_of_int_ids)`` as a :data:`BatchGetter` returning float32 chips."""

    def get_batch(ids: np.ndarray) -> np.ndarray:
        return np.asarray(method([int(i) for i in np.asarray(ids).ravel()]), dtype=np.float32)

    return get_batch


def as_batch_getter(reader: Any) -> BatchGetter:
    """Turn a chip source into ``get_batch(ids) -> (n, 17, H, W)``.

    Accepts an array (rows are ids ``0..N-1``), an object with ``read_many(ids)`` (the chip
    store) or ``get_batch(ids)``, or any callable.
    """
    if isinstance(reader, np.ndarray):
        return ArrayChips(reader)
    for name in ("read_many", "get_batch"):
        method = getattr(reader, name, None)
        if callable(method):
            return _id_list_reader(method)
    if callable(reader):
        return reader
    raise InputError(
        f"Cannot read chips from a {type(reader).__name__}: pass a chip store, an array or a callable get_batch(ids)."
    )


@dataclass(frozen=True)
class ChipSubset:
    """A set of chips: a batch getter and the ids it should read."""

    get_batch: BatchGetter
    ids: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def batches(self, batch_size: int, order: np.ndarray | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(ids, chips)`` batches in ``order`` (default: stored order)."""
        ids = self.ids if order is None else order
        for start in range(0, len(ids), batch_size):
            sel = ids[start : start + batch_size]
            yield sel, self.get_batch(sel)


def as_subset(chips: Any, ids: Sequence[int] | np.ndarray | None = None) -> ChipSubset:
    """Build a :class:`ChipSubset` from an array, a ``ChipSubset``, a ``(getter, ids)`` pair or a
    reader plus ``ids``."""
    if isinstance(chips, ChipSubset):
        return chips if ids is None else ChipSubset(chips.get_batch, np.asarray(ids, dtype=np.int64))
    if isinstance(chips, tuple) and len(chips) == 2 and ids is None:
        return ChipSubset(as_batch_getter(chips[0]), np.asarray(chips[1], dtype=np.int64))
    if isinstance(chips, np.ndarray) and ids is None:
        return ChipSubset(ArrayChips(chips), np.arange(len(chips), dtype=np.int64))
    if ids is None:
        raise InputError("Give the chip ids to read from this chip source.")
    return ChipSubset(as_batch_getter(chips), np.asarray(ids, dtype=np.int64))
