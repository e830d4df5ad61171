"""Building chip rows: strip reads, terrain, chip assembly and background chunk writes.

Work is done a chip row at a time (one strip read per row, so each COG tile is decoded once) and
pipelined in one process (:func:`build_rows_here`): strips are read ahead on a reader thread (SAR
rasters on two threads), terrain and chip assembly run on the calling thread, and chunks are
written on a writer thread. Measured on the demo scene (2 cores): the build takes about 1.5x the
time of reading the same COG windows alone (``benchmarks/bench_chips.py``). :func:`build_row` is
independent of every other row, so rows may also be built by several processes at once
(:mod:`landslide_app.chips.distributed`).
"""

from __future__ import annotations

import collections
import contextlib
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from landslide_app.chips.labels import HeadRaster, label_record
from landslide_app.chips.layout import SarLayout
from landslide_app.chips.store import ChipStore
from landslide_app.config import CHANNELS, CHIP_SIZE, DEFAULT_DENSITY_THRESHOLDS, DEFAULT_MIN_LAND_FRACTION
from landslide_app.core.density import check_thresholds
from landslide_app.core.grid import ChipGrid
from landslide_app.errors import ConfigError
from landslide_app.sources.loader import DEM_HALO, GridReader
from landslide_app.sources.retry import RetryPolicy
from landslide_app.sources.stac import SceneSource
from landslide_app.terrain import terrain_stack


@dataclass
class ChipBuildSettings:
    """Settings of a chip build (all part of the store's fingerprint)."""

    chip_size: int = CHIP_SIZE
    density_thresholds: tuple[float, float] = DEFAULT_DENSITY_THRESHOLDS
    min_land_fraction: float = DEFAULT_MIN_LAND_FRACTION

    def __post_init__(self) -> None:
        self.density_thresholds = check_thresholds(self.density_thresholds)
        if not 0.0 <= self.min_land_fraction <= 1.0:
            raise ConfigError(f"min land fraction {self.min_land_fraction} must lie in [0, 1]")
        if not (8 <= int(self.chip_size) <= 2048):
            raise ConfigError(f"--chip-size {self.chip_size} must be between 8 and 2048 pixels")


class RowCounts(Protocol):
    """What :func:`build_rows_here` counts into (a :class:`~landslide_app.chips.build.BuildReport`)."""

    n_built: int
    n_dropped: int


@dataclass(frozen=True)
class RowJob:
    """Everything a worker needs to build chip rows into an existing (incomplete) store."""

    store_path: Path
    source: SceneSource
    grid: ChipGrid
    heads: HeadRaster | None
    settings: ChipBuildSettings
    retry: RetryPolicy | None = None


#: ``runner(job, [(row, [chip ids to build]), ...], on_done)`` builds the rows (in any order, anywhere)
#: and calls ``on_done(n_built, n_dropped)`` as each row finishes.
RowRunner = Callable[[RowJob, list[tuple[int, list[int]]], Callable[[int, int], None]], None]


class _ChipWriter:
    """Writes chips on a background thread: each chip's chunk as it comes, then one done-marker
    per batch (a chip row) once all the batch's chunks are on disk.

    Compression, file writes and fsync release the GIL, so they overlap the next chips' strip
    reads and terrain (one thread: measured on 2 cores, a second one only adds contention).
    A write error is raised in the caller at its next ``write`` or at ``close``. Chips of a batch
    not yet marked when the process is killed are rebuilt by a rerun.
    """

    _END_BATCH = object()

    def __init__(self, store: ChipStore, depth: int = 16) -> None:
        self.store = store
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._pending: list[dict] = []
        self._thread = threading.Thread(target=self._run, name="chip-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            if self._error is not None:
                continue
            try:
                if item is self._END_BATCH:
                    records, self._pending = self._pending, []
                    self.store.write_markers(records)
                else:
                    chip_id, data, record = item
                    record = {"chip_id": int(chip_id), **record}
                    if data is not None:  # the chunk's size and CRC-32, checked on open and by `check`
                        record["chunk_bytes"], record["chunk_crc32"] = self.store.write_chip_data(chip_id, data)
                    self._pending.append(record)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                self._error = exc

    def write(self, chip_id: int, data: np.ndarray | None, record: dict) -> None:
        """Queue one chip (``data`` None: a dropped chip, marker only)."""
        if self._error is not None:
            raise self._error
        self._q.put((chip_id, data, record))

    def end_batch(self) -> None:
        """Mark the chips queued since the last batch finished, after their chunks are written."""
        self._q.put(self._END_BATCH)

    def close(self) -> None:
        """Finish the queued writes (marking the last batch); raise the first write error."""
        self._q.put(self._END_BATCH)
        self._q.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


def _row_land(dem_row: np.ndarray, grid: ChipGrid) -> np.ndarray:
    """Land fraction (elevation finite and > 0) of every chip of a row, in one pass over its DEM strip."""
    s, h, n = grid.chip_size, DEM_HALO, grid.n_cols
    core = dem_row[h : h + s, h : h + n * s]
    with np.errstate(invalid="ignore"):
        land = (np.isfinite(core) & (core > 0)).reshape(s, n, s).sum(axis=(0, 2), dtype=np.int64)
    return land / (s * s)


def _kept(land: float, settings: ChipBuildSettings) -> bool:
    return not (land < settings.min_land_fraction or land == 0.0)


def read_strips(
    reader: GridReader, settings: ChipBuildSettings, row: int, chip_ids: Sequence[int]
) -> tuple[np.ndarray, np.ndarray | None]:
    """The DEM strip of chip row ``row`` and, when one of ``chip_ids`` is kept, its SAR strip."""
    grid = reader.grid
    dem_row = reader.read_dem_row(row)
    land = _row_land(dem_row, grid)
    need_sar = any(_kept(float(land[grid.chip_rc(int(c))[1]]), settings) for c in chip_ids)
    return dem_row, (reader.read_sar_row(row) if need_sar else None)


def _row_stats(terrain_row: np.ndarray, sar_row: np.ndarray, grid: ChipGrid) -> tuple[np.ndarray, np.ndarray]:
    """Per chip of a row (or of a span of its chips), in one pass over the strips: the NaN fraction of
    its input channels that have data (terrain and the SAR days ``sar_row`` holds; slots without a day
    are not counted) and the valid fraction of each SAR day (``(n_days, n_cols)``, ``(0, n_cols)`` for
    DEM-only chips)."""
    s, h = grid.chip_size, DEM_HALO
    n = sar_row.shape[-1] // s
    core = terrain_row[:, h : h + s, h : h + n * s]
    nan = np.isnan(core).reshape(core.shape[0], s, n, s).sum(axis=(0, 1, 3), dtype=np.int64)
    n_days = sar_row.shape[0]
    valid = np.isfinite(sar_row).reshape(n_days, 2, s, n, s).sum(axis=(1, 2, 4), dtype=np.int64)
    nan += 2 * s * s * n_days - valid.sum(axis=0)
    return nan / ((core.shape[0] + 2 * n_days) * s * s), valid / (2 * s * s)


@dataclass
class _RowInputs:
    """A chip row's terrain and SAR cropped to the columns ``c0 ..`` of its kept chips (sea at either
    end is not computed), and the per-chip statistics of :func:`_row_stats`."""

    c0: int
    terrain: np.ndarray  # (4, S + 2h, n * S + 2h)
    sar: np.ndarray  # (n_days, 2, S, n * S), the layout's days only
    nan_fraction: np.ndarray
    sar_valid: np.ndarray

    @classmethod
    def of(cls, dem_row: np.ndarray, sar_row: np.ndarray, lay: SarLayout, grid: ChipGrid, cols: list[int]) -> Any:
        """Terrain once per span: every terrain value depends on its 3 x 3 window only, so the cropped
        strip's values at a chip equal those of the chip's own window with its halo."""
        s, h = grid.chip_size, DEM_HALO
        c0, c1 = min(cols), max(cols) + 1
        terrain = terrain_stack(dem_row[:, c0 * s : c1 * s + 2 * h], grid.resolution, grid.resolution)
        sar = sar_row[lay.first : lay.first + lay.n_days, ..., c0 * s : c1 * s]
        return cls(c0, terrain, sar, *_row_stats(terrain, sar, grid))

    def chip(self, col: int, s: int, sar_lo: int, sar_hi: int) -> np.ndarray:
        """The 17 channels of the chip in column ``col`` (label NaN)."""
        k, h = col - self.c0, DEM_HALO
        data = np.full((len(CHANNELS), s, s), np.nan, np.float32)
        data[0:4] = self.terrain[:, h : h + s, k * s + h : (k + 1) * s + h]
        if sar_hi > sar_lo:
            data[sar_lo:sar_hi] = self.sar[..., k * s : (k + 1) * s].reshape(-1, s, s)
        return data

    def record(self, col: int) -> dict[str, Any]:
        k = col - self.c0
        return {
            "nan_fraction": round(float(self.nan_fraction[k]), 4),
            "sar_valid": [round(float(v), 4) for v in self.sar_valid[:, k]],
        }


def build_row(
    store: ChipStore,
    reader: GridReader,
    heads: HeadRaster | None,
    settings: ChipBuildSettings,
    row: int,
    chip_ids: Sequence[int],
    on_chip: Callable[[], None] | None = None,
    max_built: int | None = None,
    strips: tuple[np.ndarray, np.ndarray | None] | None = None,
    writer: _ChipWriter | None = None,
) -> tuple[int, int]:
    """Build the chips ``chip_ids`` of chip row ``row`` (one strip read) into ``store``.

    Writes each chip, then one done-marker for them all; independent of every other row, so rows may be built
    concurrently by several processes writing into the same store. Returns ``(n_built, n_dropped)``.

    Args:
        strips: the row's strips already read (:func:`read_strips`); default: read them here.
        writer: the background writer to queue the chips on; default: one for this row,
            finished before returning.
    """
    if max_built is not None and max_built <= 0:
        return 0, 0
    own = writer is None
    writer = writer or _ChipWriter(store)
    try:
        result = _build_row(store, reader, heads, settings, row, chip_ids, on_chip, max_built, strips, writer)
    except BaseException:
        with contextlib.suppress(Exception):  # keep the chips finished so far; the original error wins
            writer.end_batch()
            if own:
                writer.close()
        raise
    writer.end_batch()  # one marker for the row's chips
    if own:
        writer.close()
    return result


def _build_row(store, reader, heads, settings, row, chip_ids, on_chip, max_built, strips, writer) -> tuple[int, int]:
    grid = store.grid
    s = grid.chip_size
    lay = SarLayout.of(len(reader.source.sar_days), reader.source.n_pre)
    sar_lo, sar_hi = 4 + 2 * lay.slot0, 4 + 2 * (lay.slot0 + lay.n_days)  # chip channels of the source's days
    wanted = set(int(c) for c in chip_ids)
    n_built = n_dropped = 0
    dem_row, sar_row = strips if strips is not None else (reader.read_dem_row(row), None)
    land = _row_land(dem_row, grid)
    kept_cols = [c for c in range(grid.n_cols) if grid.chip_id(row, c) in wanted and _kept(float(land[c]), settings)]
    inputs: _RowInputs | None = None
    for col in range(grid.n_cols):
        chip_id = grid.chip_id(row, col)
        if chip_id not in wanted:
            continue
        if max_built is not None and n_built >= max_built:
            break
        rec: dict[str, Any] = {"row": row, "col": col, "land_fraction": round(float(land[col]), 4)}
        if on_chip is not None:
            on_chip()
        if not _kept(float(land[col]), settings):
            writer.write(chip_id, None, {**rec, "kept": False})
            n_dropped += 1
            continue
        if inputs is None:  # once per row, at its first kept chip
            sar_row = reader.read_sar_row(row) if sar_row is None else sar_row
            inputs = _RowInputs.of(dem_row, sar_row, lay, grid, kept_cols)
        data = inputs.chip(col, s, sar_lo, sar_hi)
        rec.update(kept=True)
        if heads is not None:
            counts = heads.chip_counts(chip_id)
            data[-1] = counts
            rec.update(label_record(int(counts.sum()), grid.chip_area_km2, settings.density_thresholds))
        writer.write(chip_id, data, {**rec, **inputs.record(col)})
        n_built += 1
    return n_built, n_dropped


#: Bytes of chip-row strips read ahead of the row being built (at least two rows). A COG tile is
#: taller than a chip row (demo: 512 px tiles, 4 rows of 128 px), so every fourth strip read
#: decodes a band of tiles and takes about 10x the others: with one row of read-ahead the build
#: stalled on those reads (measured 4 x 0.23 s idle on the demo scene); reading on continuously
#: overlaps them with building.
READ_AHEAD_BYTES = 256 * 2**20


def _read_ahead_rows(reader: GridReader) -> int:
    grid = reader.grid
    n_days = max(len(reader.source.sar_days), 1)
    row_bytes = 4 * (grid.chip_size + 2 * DEM_HALO) * (grid.width + 2 * DEM_HALO) * (1 + 2 * n_days)
    return max(2, min(8, READ_AHEAD_BYTES // max(row_bytes, 1)))


def build_rows_here(
    store: ChipStore,
    reader: GridReader,
    heads: HeadRaster | None,
    settings: ChipBuildSettings,
    by_row: dict[int, list[int]],
    report: RowCounts,
    bar: Any,
    max_chips: int | None,
) -> None:
    """Rows one after the other in this process, pipelined over three threads: the next rows'
    strips are read ahead (:data:`READ_AHEAD_BYTES`) while this row's chips are computed, and
    chips are written in the background."""
    rows = sorted(by_row)
    writer = _ChipWriter(store)
    pool = ThreadPoolExecutor(1, thread_name_prefix="chip-strips")  # one reader: reads stay in row order
    ahead: collections.deque = collections.deque()
    depth = _read_ahead_rows(reader)
    pending = iter(rows)
    try:
        try:
            for row in rows:  # one strip read per chip row: each COG tile is decoded once
                if max_chips is not None and report.n_built >= max_chips:
                    break
                while len(ahead) < depth and (nxt := next(pending, None)) is not None:
                    ahead.append(pool.submit(read_strips, reader, settings, nxt, by_row[nxt]))
                strips = ahead.popleft().result()
                n_built, n_dropped = build_row(
                    store,
                    reader,
                    heads,
                    settings,
                    row,
                    by_row[row],
                    on_chip=lambda: bar.update(1),
                    max_built=None if max_chips is None else max_chips - report.n_built,
                    strips=strips,
                    writer=writer,
                )
                report.n_built += n_built
                report.n_dropped += n_dropped
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # reads not started yet are dropped
    except BaseException:
        with contextlib.suppress(Exception):
            writer.close()  # keep the chips finished so far; the original error wins
        raise
    writer.close()
