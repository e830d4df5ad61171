"""Landslide labels of chips: head points binned to the chip grid, per-chip label records, and
labelling the chips of an existing store without reading its rasters again."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from landslide_app.atomic import write_json_atomic
from landslide_app.config import LABEL_CHANNEL
from landslide_app.core.density import density_class
from landslide_app.core.grid import ChipGrid

if TYPE_CHECKING:
    from landslide_app.chips.store import ChipStore

log = logging.getLogger(__name__)

#: Record keys that are per-chip labels (absent in an unlabelled store).
LABEL_KEYS = ("head_count", "density_class", "density_per_km2")


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


def label_record(n_heads: int, chip_area_km2: float, thresholds: tuple[float, float]) -> dict[str, Any]:
    """The label fields of a kept chip's record (and index row) holding ``n_heads`` heads."""
    return {
        "head_count": int(n_heads),
        "density_class": int(density_class(n_heads, chip_area_km2, thresholds)),
        "density_per_km2": round(n_heads / chip_area_km2, 4),
    }


def relabel_store(
    store: ChipStore, heads: HeadRaster | None, thresholds: tuple[float, float], progress: bool = True
) -> int:
    """Write the labels of ``heads`` (None: no labels, NaN) into every finished kept chip of ``store``.

    Reads and rewrites each chip's chunk (its label channel) and rewrites each done-marker with the
    new label fields and chunk checksums; the DEM and SAR sources are not read. The store is
    incomplete until the caller finalises it. Chips of a marker not yet rewritten when the process
    is killed keep their old records, so a rerun relabels them (and the chunk check rebuilds any chip
    whose chunk was rewritten but not its marker). Returns the number of chips relabelled.
    """
    store.mark_incomplete()
    label = store.channels.index(LABEL_CHANNEL)
    area = store.grid.chip_area_km2
    markers = store.marker_files()
    n = 0
    with tqdm(total=sum(len(r) for r in markers.values()), desc="labels", unit="chip", disable=not progress) as bar:
        for f, recs in markers.items():
            new = []
            for r in recs:
                bar.update(1)
                if not r.get("kept"):
                    new.append(r)
                    continue
                chip = store.read(int(r["chip_id"])).copy()
                rec = {k: v for k, v in r.items() if k not in LABEL_KEYS}
                if heads is None:
                    chip[label] = np.nan
                else:
                    counts = heads.chip_counts(int(r["chip_id"]))
                    chip[label] = counts
                    rec.update(label_record(int(counts.sum()), area, thresholds))
                rec["chunk_bytes"], rec["chunk_crc32"] = store.write_chip_data(int(r["chip_id"]), chip)
                new.append(rec)
                n += 1
            write_json_atomic(f, {"chips": new})
    return n
