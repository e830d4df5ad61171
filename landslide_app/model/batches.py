"""Network-ready batches of a chip set: held in memory once when they fit, else streamed.

:func:`prepare_in_memory` reads and prepares a chip set once into tensors (:class:`PreparedChips`)
when they fit a memory budget; :func:`iter_batches` yields ``(x, label, valid)`` batches from that
cache or, without one, prepares each batch from the chip source as it is read. Both paths give
bit-identical tensors.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from landslide_app.errors import InputError
from landslide_app.model.chipsets import ChipSubset
from landslide_app.model.inputs import ModelConfig, NormStats, prepare_inputs

logger = logging.getLogger(__name__)


@dataclass
class PreparedChips:
    """Network-ready tensors of a chip set held in memory (filled once, read every epoch).

    ``x`` is stored ``(N, H, W, C)`` so that a gathered batch, permuted to ``(n, C, H, W)``, is
    already ``channels_last``; under bf16 autocast it is stored as bfloat16 (autocast would cast
    it to exactly these values before the first convolution).
    """

    x: torch.Tensor
    label: torch.Tensor
    valid: torch.Tensor
    row: dict[int, int]

    @property
    def nbytes(self) -> int:
        return sum(t.element_size() * t.numel() for t in (self.x, self.label, self.valid))

    def batch(self, ids: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rows = torch.as_tensor([self.row[int(i)] for i in ids], dtype=torch.int64)
        return self.x[rows].permute(0, 3, 1, 2), self.label[rows], self.valid[rows]


def prepare_in_memory(
    subset: ChipSubset,
    config: ModelConfig,
    stats: NormStats,
    budget: int,
    x_dtype: torch.dtype,
    what: str,
    batch_size: int = 32,
    raw: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> PreparedChips | None:
    """Read and prepare ``subset`` once into memory, or ``None`` when it does not fit ``budget``.

    ``raw``: the subset's chips already read, as ``(ids, chips)`` batches in stored order; they
    are consumed (the list is emptied batch by batch, so raw and prepared copies do not pile up).
    """
    n = len(subset)
    if n == 0 or budget <= 0:
        return None
    cache: PreparedChips | None = None
    k = 0

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if raw is None:
            yield from subset.batches(batch_size)
            return
        while raw:
            yield raw.pop(0)

    for ids, chips in batches():
        prep = prepare_inputs(chips, config, stats)
        if prep.label is None:
            raise InputError(f"{what} chips have no label channel.")
        if cache is None:
            _, c, h, w = prep.x.shape
            per_chip = h * w * (c * torch.empty((), dtype=x_dtype).element_size() + 4 + 1)
            if per_chip * n > budget:
                logger.debug(
                    "%s chips need %.0f MB > cache budget %.0f MB: streaming them.",
                    what,
                    per_chip * n / 2**20,
                    budget / 2**20,
                )
                return None
            cache = PreparedChips(
                x=torch.empty((n, h, w, c), dtype=x_dtype),
                label=torch.empty((n, h, w), dtype=torch.float32),
                valid=torch.empty((n, h, w), dtype=torch.bool),
                row={int(i): j for j, i in enumerate(subset.ids)},
            )
        m = len(ids)
        cache.x[k : k + m] = torch.from_numpy(prep.x).permute(0, 2, 3, 1)
        cache.label[k : k + m] = torch.from_numpy(prep.label)
        cache.valid[k : k + m] = torch.from_numpy(prep.valid)
        k += m
    return cache


def iter_batches(
    subset: ChipSubset,
    cache: PreparedChips | None,
    config: ModelConfig,
    stats: NormStats,
    batch_size: int,
    device: torch.device,
    what: str,
    order: np.ndarray | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """``(x, label, valid)`` tensors batch by batch, ``x`` channels_last on ``device``."""
    ids = subset.ids if order is None else order
    for start in range(0, len(ids), batch_size):
        sel = ids[start : start + batch_size]
        if cache is not None:
            x, label, valid = cache.batch(sel)
        else:
            prep = prepare_inputs(subset.get_batch(sel), config, stats)
            if prep.label is None:
                raise InputError(f"{what} chips have no label channel.")
            x, label, valid = torch.from_numpy(prep.x), torch.from_numpy(prep.label), torch.from_numpy(prep.valid)
        yield x.to(device).contiguous(memory_format=torch.channels_last), label, valid
