"""Build a chip store from a :class:`~landslide_app.sources.stac.SceneSource` and an inventory.

Per chip: read the DEM with a one-pixel halo, drop the chip if less than ``min_land_fraction`` of
it is land with data (elevation finite and > 0), else compute slope / curvature / aspect
(richdem, true cell size), read the SAR days, rasterise the heads, and write the 17 channels of
design.md §4. Finished chips are skipped on a rerun; a progress bar shows the rest.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from landslide_app import __version__
from landslide_app.chips.grid import ChipGrid
from landslide_app.chips.labels import HeadRaster
from landslide_app.chips.store import ChipStore
from landslide_app.config import (
    CHANNELS, CHIP_SIZE, DEFAULT_DENSITY_THRESHOLDS, DEFAULT_MIN_LAND_FRACTION, EVENT_DATE,
    N_POST_DATES, N_PRE_DATES,
)
from landslide_app.errors import ConfigError
from landslide_app.model.density import check_thresholds, density_class
from landslide_app.sources.loader import DEM_HALO, GridReader
from landslide_app.sources.retry import RetryPolicy
from landslide_app.sources.stac import SceneSource
from landslide_app.terrain import terrain_stack

log = logging.getLogger(__name__)


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


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def default_grid(source: SceneSource, chip_size: int, epsg: int | None = None) -> ChipGrid:
    """Whole chips over the data footprint, in the SAR's CRS (or the DEM's UTM zone)."""
    if epsg is None:
        epsg = source.native_epsg()
    if epsg is None:
        from pyproj import CRS
        from pyproj.aoi import AreaOfInterest
        from pyproj.database import query_utm_crs_info

        w, s, e, n = source.dem_items[0]["bbox"]
        info = query_utm_crs_info(datum_name="WGS 84", area_of_interest=AreaOfInterest(w, s, e, n))
        epsg = int(CRS.from_authority(info[0].auth_name, info[0].code).to_epsg())
    return ChipGrid.from_bounds(source.projected_bounds(epsg), epsg, chip_size)


def build_chips(
    source: SceneSource,
    inventory: str | Path,
    out: str | Path,
    grid: ChipGrid | None = None,
    settings: ChipBuildSettings | None = None,
    overwrite: bool = False,
    progress: bool = True,
    retry: RetryPolicy | None = None,
    max_chips: int | None = None,
) -> BuildReport:
    """Build (or finish building) the chip store at ``out``.

    Args:
        source: where DEM and SAR come from (``source.without_sar()`` for DEM-only).
        inventory: landslide heads (any format :func:`read_inventory` reads).
        out: store directory.
        grid: chip grid; default: whole chips over the data footprint.
        settings: chip size, density thresholds, land filter.
        overwrite: delete an existing store at ``out`` built from other inputs.
        max_chips: stop after building this many chips (the store stays incomplete; for tests).
    """
    from landslide_app.sources.inventory import read_inventory

    t_start = time.perf_counter()
    settings = settings or ChipBuildSettings()
    grid = grid or default_grid(source, settings.chip_size)
    if grid.chip_size != settings.chip_size:
        raise ConfigError(f"grid chip size {grid.chip_size} != --chip-size {settings.chip_size}")
    out = Path(out)
    if overwrite and out.exists():
        shutil.rmtree(out)

    inv_path = Path(inventory)
    inv = read_inventory(inv_path, grid.crs, bounds=grid.bounds)
    heads = HeadRaster(grid, inv.points.geometry.x.to_numpy(), inv.points.geometry.y.to_numpy())
    inv_report = {"path": str(inv_path), "n_read": inv.n_read, "dropped": inv.dropped, "n_in_grid": heads.n_inside}

    n_dates = len(source.sar_days)
    dates = [str(d) for d in source.dates]
    fp_inputs = {
        "source": source.description,
        "items": sorted(i["id"] for _, items in source.sar_days for i in items) + sorted(i["id"] for i in source.dem_items),
        "inventory": _file_digest(inv_path), "grid": grid.to_dict(),
        "thresholds": list(settings.density_thresholds), "min_land": settings.min_land_fraction,
        "has_sar": source.has_sar, "code_version": __version__,
    }
    from landslide_app.atomic import fingerprint

    extra = {
        "fingerprint": fingerprint(fp_inputs), "source": source.description, "has_sar": source.has_sar,
        "dates": dates, "n_pre_dates": source.n_pre, "event_date": EVENT_DATE.isoformat(),
        "density_thresholds": list(settings.density_thresholds),
        "min_land_fraction": settings.min_land_fraction, "chip_area_km2": grid.chip_area_km2,
        "label": "per-pixel landslide head count (label > 0: pixel holds a head)",
        "inventory": inv_report, "created": datetime.now().isoformat(timespec="seconds"),
    }
    if source.has_sar and n_dates != N_PRE_DATES + N_POST_DATES:
        log.warning("source has %d SAR days (expected %d); missing ones stay NaN", n_dates, N_PRE_DATES + N_POST_DATES)
    store = ChipStore.create(out, grid, CHANNELS, extra)
    report = BuildReport(store=store, inventory=inv_report)
    done = store.done_records()
    todo = [c for c in range(grid.n_chips) if c not in done]
    report.n_skipped = len(done)
    if done:
        log.info("resuming %s: %d of %d chips already done", out, len(done), grid.n_chips)

    reader = GridReader(source, grid, retry)
    s, h = grid.chip_size, DEM_HALO
    n_sar = 2 * (N_PRE_DATES + N_POST_DATES)
    todo_set = set(todo)
    rows = sorted({grid.chip_rc(c)[0] for c in todo})
    bar = tqdm(total=len(todo), desc="chips", unit="chip", disable=not progress)
    for row in rows:  # one strip read per chip row: each COG tile is decoded once
        if max_chips is not None and report.n_built >= max_chips:
            break
        dem_row = reader.read_dem_row(row)
        sar_row = None
        for col in range(grid.n_cols):
            chip_id = grid.chip_id(row, col)
            if chip_id not in todo_set:
                continue
            if max_chips is not None and report.n_built >= max_chips:
                break
            dem = dem_row[:, col * s:(col + 1) * s + 2 * h]
            core = dem[h:h + s, h:h + s]
            land = float(np.mean(np.isfinite(core) & (core > 0)))
            rec = {"row": row, "col": col, "land_fraction": round(land, 4)}
            bar.update(1)
            if land < settings.min_land_fraction or land == 0.0:
                store.write_chip(chip_id, None, {**rec, "kept": False})
                report.n_dropped += 1
                continue
            if sar_row is None:
                sar_row = reader.read_sar_row(row)
            data = np.full((len(CHANNELS), s, s), np.nan, np.float32)
            data[0:4] = terrain_stack(dem, grid.resolution, grid.resolution)[:, h:h + s, h:h + s]
            sar = sar_row[..., col * s:(col + 1) * s]
            if sar.size:
                data[4:4 + 2 * sar.shape[0]] = sar.reshape(-1, s, s)[:n_sar]
            counts = heads.chip_counts(chip_id)
            data[-1] = counts
            n_heads = int(counts.sum())
            cls = int(density_class(n_heads, grid.chip_area_km2, settings.density_thresholds))
            store.write_chip(chip_id, data, {
                **rec, "kept": True, "head_count": n_heads, "density_class": cls,
                "density_per_km2": round(n_heads / grid.chip_area_km2, 4),
                "nan_fraction": round(float(np.isnan(data[:-1]).mean()), 4),
            })
            report.n_built += 1
    bar.close()
    report.seconds = time.perf_counter() - t_start
    if max_chips is None or len(store.done_records()) == grid.n_chips:
        store.finalize({"build_seconds": round(report.seconds, 3)})
    log.info("built %d chips (%d dropped, %d already done) in %.1f s", report.n_built, report.n_dropped,
             report.n_skipped, report.seconds)
    return report
