"""Build a chip store from a :class:`~landslide_app.sources.stac.SceneSource` and, optionally, an inventory.

Per chip: read the DEM with a one-pixel halo, drop the chip if less than ``min_land_fraction`` of
it is land with data (elevation finite and > 0), else compute slope / curvature / aspect
(:mod:`landslide_app.terrain`: richdem's formulas, true cell size), read the SAR days, rasterise
the heads, and write the 17 channels of docs/design.md §4. The layout is fixed: SAR slots ``t0..t2``
hold the pre-event days (the latest in ``t2``), ``t3..t5`` the post-event days; slots without a
day (fewer post-event passes, a DEM-only store) stay NaN. Without an inventory the label channel
is NaN and the store is unlabelled; a rerun with ``--inventory`` labels it without reading the
rasters again (:func:`landslide_app.chips.labels.relabel_store`).

Finished chips are skipped on a rerun (a chip row is marked finished once all its chunks are
written); a rerun first checks every finished chip's chunk against its recorded CRC-32 and
rebuilds exactly the damaged ones. A progress bar shows the rest.

Chip rows are built by :mod:`landslide_app.chips.rows` (here, pipelined over threads, or on a Dask
cluster by :mod:`landslide_app.chips.distributed`); this module decides what to build (new, resumed,
damaged or relabelled chips) and finalises the store.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from landslide_app.atomic import (
    LOCK_NAME,
    check_output_dir,
    file_digest,
    fingerprint,
    is_temp_name,
    output_lock,
    remove_stale_temps,
)
from landslide_app.chips.labels import HeadRaster, relabel_store
from landslide_app.chips.layout import store_meta, with_labels
from landslide_app.chips.meta import StoreMeta, meta_problems
from landslide_app.chips.rows import ChipBuildSettings, RowJob, RowRunner, build_rows_here
from landslide_app.chips.store import ARRAY_DIR, DONE_DIR, INDEX_FILE, META_FILE, ChipStore
from landslide_app.core.grid import ChipGrid, check_grid_epsg
from landslide_app.errors import (
    ChipStoreError,
    ConfigError,
    InputError,
    LandslideAppError,
    OutputError,
    RasterError,
    SourceError,
)
from landslide_app.sources.checks import check_source_rasters
from landslide_app.sources.loader import GridReader
from landslide_app.sources.retry import RetryPolicy
from landslide_app.sources.stac import SceneSource

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What a build did."""

    store: ChipStore
    n_built: int = 0
    n_skipped: int = 0
    n_dropped: int = 0
    seconds: float = 0.0
    inventory: dict = field(default_factory=dict)

    @property
    def chips_per_s(self) -> float:
        return self.n_built / self.seconds if self.seconds > 0 else float("nan")


def default_grid(source: SceneSource, chip_size: int, epsg: int | None = None) -> ChipGrid:
    """Whole chips over the data footprint, in the SAR's CRS (or the DEM's UTM zone)."""
    if epsg is not None:
        check_grid_epsg(epsg)
    if epsg is None:
        epsg = source.native_epsg()
    if epsg is None:
        from landslide_app.sources.checks import utm_epsg_for_lonlat_bbox

        # the UTM zone of the DEM; beyond the UTM zones (polar areas) a ConfigError names --epsg
        epsg = utm_epsg_for_lonlat_bbox(source.dem_items[0]["bbox"])
    return ChipGrid.from_bounds(source.projected_bounds(epsg), epsg, chip_size)


def grid_for_area(
    source: SceneSource, chip_size: int, bbox: Sequence[float] | None = None, epsg: int | None = None
) -> ChipGrid | None:
    """The chip grid of ``chips --bbox/--epsg`` (and ``respond``): whole chips over ``bbox`` (lon/lat)
    in ``epsg`` (default: the SAR's CRS, else the DEM's UTM zone); None = :func:`default_grid` later."""
    if bbox is not None:
        epsg = epsg or source.native_epsg() or default_grid(source, chip_size).epsg
        return ChipGrid.from_lonlat_bbox(tuple(bbox), epsg, chip_size)  # type: ignore[arg-type]
    return default_grid(source, chip_size, epsg) if epsg else None


def build_chips(
    source: SceneSource,
    inventory: str | Path | None,
    out: str | Path,
    grid: ChipGrid | None = None,
    settings: ChipBuildSettings | None = None,
    overwrite: bool = False,
    progress: bool = True,
    retry: RetryPolicy | None = None,
    max_chips: int | None = None,
    row_runner: RowRunner | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    layer: str | None = None,
    inventory_crs: str | None = None,
) -> BuildReport:
    """Build (or finish building) the chip store at ``out``.

    Long only for its documented options (the body is 33 lines).

    Inputs are checked before anything is written. While it writes, the build holds a lock on
    ``out`` (a second build of the same store waits, then finds the chips done). A build that
    stops on a network fault (:class:`~landslide_app.errors.SourceError`) or is killed keeps its
    finished chips for the rerun; a new store whose inputs turn out to be unusable is removed.
    A rerun on a finished store checks every chip's chunk (CRC-32) and rebuilds exactly the
    damaged ones; on an unlabelled store with an ``inventory`` it labels the chips in place.

    Args:
        source: where DEM and SAR come from (``source.without_sar()`` for DEM-only).
        inventory: landslide heads (any format :func:`read_inventory` reads); None: an unlabelled
            store (label channel NaN, no density classes).
        out: store directory (new, empty, or a chip store).
        grid: chip grid; default: whole chips over the data footprint.
        settings: chip size, density thresholds, land filter.
        overwrite: delete an existing store at ``out`` built from other inputs (only a chip store
            is ever deleted: a directory holding other files is refused).
        retry: retries of remote reads (default :class:`RetryPolicy`).
        max_chips: stop after building this many chips (the store stays incomplete; for tests).
        row_runner: builds the chip rows elsewhere (e.g. on a Dask cluster,
            :mod:`landslide_app.chips.distributed`); default: one row after the other here.
        lon_col, lat_col: coordinate columns of a CSV inventory (default: recognised by name).
        layer: layer of a multi-layer inventory (default: its only point layer).
        inventory_crs: CRS of a CSV inventory's coordinates (default EPSG:4326 lon/lat).
    """

    t_start = time.perf_counter()
    settings = settings or ChipBuildSettings()
    grid = grid or default_grid(source, settings.chip_size)
    if grid.chip_size != settings.chip_size:
        raise ConfigError(f"grid chip size {grid.chip_size} != --chip-size {settings.chip_size}")
    _check_area(source, grid)
    check_source_rasters(source)  # no CRS, antimeridian, SAR in dB: refused before anything is written
    out = check_output_dir(out, "chip store directory", create=False)

    heads, inv_report, label_fp = _read_labels(inventory, grid, settings, lon_col, lat_col, layer, inventory_crs)
    # the rasters are opened only when chips are to be built (relabelling a finished store reads none)
    reader: GridReader | None = None if (out / META_FILE).exists() else GridReader(source, grid, retry)
    meta = store_meta(source, grid, settings, label_fp, inv_report if heads is not None else None)

    return _locked_build(
        out,
        overwrite,
        lambda: _build(
            source,
            out,
            grid,
            settings,
            meta,
            inv_report,
            heads,
            reader,
            progress,
            max_chips,
            t_start,
            row_runner=row_runner,
            retry=retry,
        ),
    )


def _read_labels(
    inventory: str | Path | None,
    grid: ChipGrid,
    settings: ChipBuildSettings,
    lon_col: str | None,
    lat_col: str | None,
    layer: str | None,
    inventory_crs: str | None,
) -> tuple[HeadRaster | None, dict, str | None]:
    """The inventory's heads on the grid, its report and the labels' fingerprint (``None, {}, None``
    without an inventory: an unlabelled store)."""
    from landslide_app.sources.inventory import read_inventory

    if inventory is None:
        return None, {}, None
    inv_path = Path(inventory)
    inv = read_inventory(
        inv_path, grid.crs, bounds=grid.bounds, lon_col=lon_col, lat_col=lat_col, layer=layer, csv_crs=inventory_crs
    )
    heads = HeadRaster(grid, inv.points.geometry.x.to_numpy(), inv.points.geometry.y.to_numpy())
    inv_report = {"path": str(inv_path), "n_read": inv.n_read, "dropped": inv.dropped, "n_in_grid": heads.n_inside}
    label_inputs: dict = {"inventory": file_digest(inv_path)[:16], "thresholds": list(settings.density_thresholds)}
    if lon_col or lat_col:
        label_inputs["inventory_columns"] = [lon_col, lat_col]
    if layer is not None or inventory_crs is not None:
        label_inputs["inventory_layer_crs"] = [layer, inventory_crs]
    return heads, inv_report, fingerprint(label_inputs)


def _locked_build(out: Path, overwrite: bool, build: Callable[[], BuildReport]) -> BuildReport:
    """``build()`` under the store's lock, after ``--overwrite`` deleted an existing store and stale
    temporary files are removed; a new store whose inputs turn out to be unusable is removed."""
    created_dir = not out.exists()
    _store_dir_entries(out)  # refuse a folder of other files before writing anything (even the lock)
    with output_lock(out, f"chip store {out}"):
        before = _store_dir_entries(out)
        if overwrite and before:
            log.info("--overwrite: deleting the chip store in %s", out)
            _remove_entries(out, before)
        remove_stale_temps(out)
        fresh = not (out / META_FILE).exists()
        try:
            return build()
        except LandslideAppError as exc:
            if fresh and not isinstance(exc, SourceError):  # unusable inputs: leave nothing behind
                _remove_entries(out, _store_dir_entries(out))
                if created_dir:
                    shutil.rmtree(out, ignore_errors=True)
            raise


def _check_area(source: SceneSource, grid: ChipGrid) -> None:
    """The grid must overlap the data (else every chip would be empty)."""
    data = source.projected_bounds(grid.epsg)
    g = grid.bounds
    if not (g[0] < data[2] and data[0] < g[2] and g[1] < data[3] and data[1] < g[3]):

        def fmt(b):
            return "(" + ", ".join(f"{float(v):.0f}" for v in b) + ")"

        raise ConfigError(
            f"the chip area {fmt(g)} does not overlap the data {fmt(data)} (EPSG:{grid.epsg}); "
            "check --bbox (W S E N in lon/lat degrees) and --epsg, or the source"
        )


_STORE_ENTRIES = frozenset({META_FILE, ARRAY_DIR, INDEX_FILE, DONE_DIR})


def _store_dir_entries(out: Path) -> list[Path]:
    """The chip-store entries in ``out``; raise OutputError when it also holds anything else."""
    if not out.is_dir():
        return []
    entries = [e for e in out.iterdir() if e.name != LOCK_NAME and not is_temp_name(e.name)]
    foreign = sorted(e.name for e in entries if e.name not in _STORE_ENTRIES)
    if foreign:
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise OutputError(
            f"--out {out} holds files that are not part of a chip store ({shown}); nothing was "
            "written or deleted there. Give a new or empty directory for the chip store."
        )
    return entries


def _remove_entries(out: Path, entries: list[Path]) -> None:
    for e in entries:
        if e.is_dir() and not e.is_symlink():
            shutil.rmtree(e, ignore_errors=True)
        else:
            e.unlink(missing_ok=True)
    remove_stale_temps(out)


def _build(
    source,
    out,
    grid,
    settings,
    meta: StoreMeta,
    inv_report,
    heads,
    reader,
    progress,
    max_chips,
    t_start,
    row_runner: RowRunner | None = None,
    retry: RetryPolicy | None = None,
) -> BuildReport:
    store = ChipStore.create(out, meta)
    _repair(store, progress)
    if store.meta.label_fingerprint != meta.label_fingerprint:
        _relabel(store, meta, heads, settings, progress)
    report = BuildReport(store=store, inventory=inv_report)
    done = store.done_records()
    todo = [c for c in range(grid.n_chips) if c not in done]
    report.n_skipped = len(done)
    if done and todo:
        log.info("resuming %s: %d of %d chips already done", out, len(done), grid.n_chips)

    by_row: dict[int, list[int]] = {}
    for c in todo:
        by_row.setdefault(grid.chip_rc(c)[0], []).append(c)
    bar = tqdm(total=len(todo), desc="chips", unit="chip", disable=not progress)
    if row_runner is not None and max_chips is None:

        def on_done(n_built: int, n_dropped: int) -> None:
            report.n_built += n_built
            report.n_dropped += n_dropped
            bar.update(n_built + n_dropped)

        job = RowJob(store.path, source, grid, heads, settings, retry)
        row_runner(job, sorted(by_row.items()), on_done)
    elif by_row:
        reader = reader or GridReader(source, grid, retry)
        build_rows_here(store, reader, heads, settings, by_row, report, bar, max_chips)
    bar.close()
    report.seconds = time.perf_counter() - t_start
    finished = max_chips is None or len(store.done_records()) == grid.n_chips
    if finished and (todo or not store.meta.complete):  # a finished store with nothing rebuilt stays as it is
        _check_usable(store, settings)
        store.finalize(build_seconds=round(report.seconds, 3) if todo else None)
    log.info(
        "built %d chips (%d dropped, %d already done) in %.1f s",
        report.n_built,
        report.n_dropped,
        report.n_skipped,
        report.seconds,
    )
    return report


def _repair(store: ChipStore, progress: bool) -> None:
    """Before a rerun builds anything: check every finished chip's chunk (size and CRC-32) and forget the
    damaged ones, so that exactly those are rebuilt; an index that disagrees with store.json is rewritten."""
    if not store.done_records():
        return
    problems = meta_problems(store.meta, store.array.shape, store.array.chunks)
    if problems:
        raise ChipStoreError(
            f"{store.path} does not match its store.json: {'; '.join(problems)}; rebuild it with --overwrite"
        )
    check = store.verify(full=True)
    if check.damaged:
        ids = sorted(check.damaged)
        log.warning(
            "%s: %d damaged chip(s) will be rebuilt: %s",
            store.path,
            len(ids),
            "; ".join(f"chip {c} {check.damaged[c]}" for c in ids[:5]) + (" ..." if len(ids) > 5 else ""),
        )
        store.forget(ids)
    elif check.problems:
        log.warning("%s: %s; rewriting the index", store.path, "; ".join(check.problems))
        store.mark_incomplete()


def _relabel(
    store: ChipStore, meta: StoreMeta, heads: HeadRaster | None, settings: ChipBuildSettings, progress: bool
) -> None:
    """Give the finished chips of an unlabelled store the labels of ``meta`` (no raster is read)."""
    old = store.meta
    if old.labelled:
        have = f"from {old.inventory.get('path')}" if old.inventory else "by another build"
        want = "no --inventory" if meta.label_fingerprint is None else "another --inventory or --thresholds"
        raise ChipStoreError(
            f"{store.path} is labelled {have} (thresholds {list(old.density_thresholds or [])}) and this build "
            f"asks for {want}; rerun with the store's --inventory and --thresholds, give another --out, or "
            "pass --overwrite to rebuild it"
        )
    n = relabel_store(store, heads, settings.density_thresholds, progress=progress)
    store.meta = with_labels(store.meta, meta.label_fingerprint, settings.density_thresholds, meta.inventory)
    store.meta.write(store.path)
    log.info("labelled %d finished chips of %s from the inventory (rasters not read again)", n, store.path)


def _check_usable(store: ChipStore, settings: ChipBuildSettings) -> None:
    """Before finalising: at least one chip kept, and no SAR date without any valid pixel."""
    recs = store.done_records()
    kept = [r for r in recs.values() if r.get("kept")]
    if not kept:
        best = max((r.get("land_fraction", 0.0) for r in recs.values()), default=0.0)
        raise InputError(
            f"no chip holds at least {settings.min_land_fraction:.0%} land with DEM data (best: "
            f"{best:.0%}): the DEM is nodata (holes, a wrong nodata value, or all <= 0 m) over the "
            "whole area. Check the DEM and its nodata value, the area (--bbox), or lower --min-land."
        )
    per_day = [r["sar_valid"] for r in kept if r.get("sar_valid")]
    if store.meta.has_sar and per_day and len({len(v) for v in per_day}) == 1:
        valid = np.asarray(per_day).max(axis=0)
        empty = [d for d, v in zip(store.meta.dates, valid) if v == 0]
        if empty:
            raise RasterError(
                f"the SAR of {', '.join(empty)} has no valid pixel in any of the {len(kept)} land chips "
                "(all nodata/NaN): check those files (nodata value, footprint, content) or the "
                "catalog's dates, or build DEM-only chips with --dem-only"
            )
