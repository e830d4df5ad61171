"""Data commands: ``scene`` (offline demo scene), ``terrain`` (DEM derivatives), ``chips`` (cut a chip
store from a source), ``info`` and ``check`` (summarise / verify a chip store); parsers beside handlers."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from landslide_app.cli.common import (
    SubParsers,
    add_source_options,
    emit,
    non_negative_int,
    positive_int,
    source_from_args,
)
from landslide_app.config import CHIP_SIZE, DEFAULT_DENSITY_THRESHOLDS, DEFAULT_MIN_LAND_FRACTION
from landslide_app.core.vocabulary import DEFAULT_DEM_COLLECTION, DEM_COLLECTIONS


# ---- scene, terrain ------------------------------------------------------------------------------
def cmd_scene(a: argparse.Namespace) -> int:
    from landslide_app.scene import generate_scene

    summary = generate_scene(a.out, size=a.size, seed=a.seed, progress=not a.quiet)
    emit(
        f"scene written to {summary.out_dir}: {summary.n_cols} x {summary.n_rows} chips, "
        f"{summary.n_heads} landslide heads, {summary.mean_density_per_km2:.1f} /km² on land, "
        f"{summary.seconds:.1f} s"
    )
    return 0


def add_scene(sub: SubParsers) -> None:
    s = sub.add_parser("scene", help="generate the offline demo scene (COGs, STAC catalog, inventory)")
    s.add_argument("--out", required=True, type=Path, help="output directory")
    s.add_argument("--size", default="demo", help="demo (default), pr, tiny or COLSxROWS chips, e.g. 12x8")
    s.add_argument("--seed", default=0, type=non_negative_int, help="random seed (default 0)")
    s.set_defaults(func=cmd_scene)


def cmd_terrain(a: argparse.Namespace) -> int:
    from landslide_app.terrain import write_terrain

    out = write_terrain(a.dem, a.out)
    emit(f"terrain written to {out} (bands: elevation, slope_deg, curvature, aspect_deg)")
    return 0


def add_terrain(sub: SubParsers) -> None:
    s = sub.add_parser("terrain", help="elevation, slope, curvature, aspect of a DEM as a 4-band GeoTIFF")
    s.add_argument("dem", type=Path, help="DEM GeoTIFF")
    s.add_argument("--out", required=True, type=Path, help="output GeoTIFF")
    s.set_defaults(func=cmd_terrain)


# ---- chips ---------------------------------------------------------------------------------------
def cmd_chips(a: argparse.Namespace) -> int:
    from landslide_app.chips.build import ChipBuildSettings, build_chips, grid_for_area

    settings = ChipBuildSettings(
        chip_size=a.chip_size, density_thresholds=tuple(a.thresholds), min_land_fraction=a.min_land
    )
    source = source_from_args(a)
    grid = grid_for_area(source, a.chip_size, a.bbox, a.epsg)
    kwargs = dict(
        grid=grid,
        settings=settings,
        overwrite=a.overwrite,
        progress=not a.quiet,
        lon_col=a.lon_col,
        lat_col=a.lat_col,
        layer=a.layer,
        inventory_crs=a.crs,
    )
    if a.scheduler:
        from landslide_app.chips.distributed import build_chips_distributed

        report = build_chips_distributed(source, a.inventory, a.out, scheduler=a.scheduler, **kwargs)
    else:
        report = build_chips(source, a.inventory, a.out, **kwargs)
    info = report.store.info()
    labels = (
        f"classes {info['class_counts']}, {info['n_heads']} heads"
        if info["labelled"]
        else "unlabelled (no --inventory)"
    )
    emit(
        f"chip store {a.out}: {info['n_chips']} chips ({report.n_built} built, {report.n_skipped} "
        f"already done, {report.n_dropped} dropped as sea/no data), {labels}, "
        f"{info['n_post']} post-event SAR date(s), {report.seconds:.1f} s"
    )
    return 0


def add_chips(sub: SubParsers) -> None:
    s = sub.add_parser("chips", help="cut 17-channel chips (labelled with --inventory) into a chip store")
    s.add_argument("--source", help="path/URL of a STAC catalog.json, the URL of a STAC API, or 'planetary-computer'")
    _add_inventory_options(s)
    s.add_argument("--out", required=True, type=Path, help="chip store directory (new, empty, or a chip store)")
    s.add_argument("--bbox", nargs=4, type=float, metavar=("W", "S", "E", "N"), help="area in lon/lat degrees")
    s.add_argument("--dem", type=Path, help="DEM GeoTIFF to use instead of the source's DEM")
    s.add_argument("--dem-only", action="store_true", help="no SAR: DEM channels and labels only")
    _add_grid_options(s)
    add_source_options(s)
    s.add_argument(
        "--overwrite",
        action="store_true",
        help="rebuild a store made from other inputs (only a chip store is ever deleted)",
    )
    s.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="build the chip rows on a Dask cluster: 'local' (one worker per core) or tcp://HOST:8786",
    )
    s.set_defaults(func=cmd_chips)


def _add_inventory_options(s: argparse.ArgumentParser) -> None:
    """``chips``: the landslide inventory and how to read it."""
    s.add_argument(
        "--inventory",
        type=Path,
        help="landslide heads (gpkg, shp, geojson, csv lon/lat); without it the store is unlabelled "
        "(rerun with it later to label the chips without reading the rasters again)",
    )
    s.add_argument("--lon-col", help="longitude column of a CSV inventory (default: lon, longitude, x, ...)")
    s.add_argument("--lat-col", help="latitude column of a CSV inventory (default: lat, latitude, y, ...)")
    s.add_argument("--layer", help="layer of a multi-layer inventory file (default: its only point layer)")
    s.add_argument("--crs", help="CRS of a CSV inventory's coordinates (default EPSG:4326 lon/lat), e.g. EPSG:32619")


def _add_grid_options(s: argparse.ArgumentParser) -> None:
    """``chips``: chip size, labelling thresholds, land fraction, grid CRS, DEM collection."""
    s.add_argument(
        "--chip-size", type=positive_int, default=CHIP_SIZE, help=f"chip edge in pixels (default {CHIP_SIZE})"
    )
    s.add_argument(
        "--thresholds",
        nargs=2,
        type=float,
        default=list(DEFAULT_DENSITY_THRESHOLDS),
        metavar=("T0", "T1"),
        help="density class thresholds in heads/km² (default 0 25)",
    )
    s.add_argument(
        "--min-land",
        type=float,
        default=DEFAULT_MIN_LAND_FRACTION,
        help="keep chips with at least this land/data fraction",
    )
    s.add_argument("--epsg", type=int, help="CRS of the chip grid (default: the SAR's, or the DEM's UTM zone)")
    s.add_argument(
        "--dem-collection",
        default=DEFAULT_DEM_COLLECTION,
        choices=DEM_COLLECTIONS,
        help="Planetary Computer DEM collection",
    )


# ---- info, check ---------------------------------------------------------------------------------
#: Store facts ``info`` prints, in this order (when present).
INFO_KEYS = (
    "path",
    "n_chips",
    "chip_size",
    "crs",
    "labelled",
    "class_counts",
    "n_heads",
    "has_sar",
    "event_date",
    "relative_orbit",
    "orbit_state",
    "n_post",
)


def cmd_info(a: argparse.Namespace) -> int:
    from landslide_app.chips.store import ChipStore

    info = ChipStore.open(a.store).info()
    if a.json:
        emit(json.dumps(info, indent=2))
    else:
        for k in INFO_KEYS:
            if k in info:
                emit(f"{k:>14}: {info[k]}")
        for acq in info["acquisitions"]:
            slot = f"{acq['role']} t{acq['slot']}"
            emit(f"{slot:>14}: {acq['datetime'] or acq['date']} {acq['platform'] or ''}")
        emit(f"{'channels':>14}: {', '.join(info['channels'])}")
    return 0


def add_info(sub: SubParsers) -> None:
    s = sub.add_parser("info", help="summarise a chip store")
    s.add_argument("store", type=Path)
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_info)


def cmd_check(a: argparse.Namespace) -> int:
    from landslide_app.chips.store import ChipStore

    store = ChipStore.open(a.store, verify=False)
    check = store.verify(full=True)
    if a.json:
        emit(json.dumps(check.to_dict(), indent=2))
    elif check.ok:
        what = "size and CRC-32 of every chunk" if check.checksums else "metadata only (no checksums recorded)"
        emit(f"{a.store}: {check.n_checked} chips OK ({what} checked, {check.seconds:.1f} s)")
    if not check.ok:
        sys.stderr.write(f"error: {check.message()}\n")
        return 2
    return 0


def add_check(sub: SubParsers) -> None:
    s = sub.add_parser("check", help="check a chip store against itself: metadata, index, every chunk's checksum")
    s.add_argument("store", type=Path)
    s.add_argument("--json", action="store_true", help="machine-readable report")
    s.set_defaults(func=cmd_check)
