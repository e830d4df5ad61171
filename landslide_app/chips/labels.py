"""Landslide heads -> per-pixel head counts on the chip grid."""

from __future__ import annotations

import numpy as np

from landslide_app.core.grid import ChipGrid


class HeadRaster:
    """Head points binned to grid pixels, grouped by chip for fast per-chip rasters."""

    def __init__(self, grid: ChipGrid, x: np.ndarray, y: np.ndarray) -> None:
        self.grid = grid
        col = np.floor((np.asarray(x, float) - grid.x0) / grid.resolution).astype(np.int64)
        row = np.floor((grid.y0 - np.asarray(y, float)) / grid.resolution).astype(np.int64)
        inside = (col >= 0) & (col < grid.width) & (row >= 0) & (row < grid.height)
        self.n_outside = int((~inside).sum())
        row, col = row[inside], col[inside]
        s = grid.chip_size
        chip = (row // s) * grid.n_cols + (col // s)
        order = np.argsort(chip, kind="stable")
        self._chip, self._row, self._col = chip[order], (row % s)[order], (col % s)[order]
        self.n_inside = int(inside.sum())

    def chip_counts(self, chip_id: int) -> np.ndarray:
        """``(S, S)`` float32 head count per pixel of chip ``chip_id``."""
        s = self.grid.chip_size
        lo, hi = np.searchsorted(self._chip, [chip_id, chip_id + 1])
        out = np.zeros((s, s), np.float32)
        np.add.at(out, (self._row[lo:hi], self._col[lo:hi]), 1.0)
        return out
