"""Checks of inventory points against a silently wrong result: not an inventory file, longitudes in
0-360°, duplicated rows, points outside the area, and the explanation when no point is usable
(swapped longitude/latitude, projected coordinates given as lon/lat)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from landslide_app.errors import InventoryError
from landslide_app.sources.inventory.crs import in_geographic_range, is_geographic, transform_points
from landslide_app.sources.inventory.result import DUPLICATE, EMPTY, INVALID, OUTSIDE

logger = logging.getLogger(__name__)

#: Spreadsheet formats: refused with the advice to save a CSV.
SHEET_SUFFIXES: frozenset[str] = frozenset({".xlsx", ".xls", ".xlsm", ".xlsb", ".ods"})


def check_kind(path: Path) -> None:
    """Refuse inputs that are not an inventory file: a folder, a spreadsheet."""
    if path.is_dir() and path.suffix.lower() != ".gdb":  # an Esri File Geodatabase is a folder
        found = sorted(
            p.name
            for p in path.iterdir()
            if p.suffix.lower() in {".gpkg", ".shp", ".geojson", ".json", ".csv", ".tsv", ".fgb", ".kml"}
        )
        hint = f" It holds {', '.join(found[:6])}{' ...' if len(found) > 6 else ''}: pass one of them." if found else ""
        raise InventoryError(
            f"the inventory {path} is a folder, not a file; pass the inventory file itself (--inventory "
            f"{path}/heads.gpkg, a shapefile's .shp, a GeoJSON or a CSV).{hint}"
        )
    if path.suffix.lower() in SHEET_SUFFIXES:
        raise InventoryError(
            f"the inventory {path} is a spreadsheet ({path.suffix}), which is not read directly; save the sheet "
            "as CSV (UTF-8) with longitude/latitude columns and pass the .csv (--lon-col/--lat-col name the "
            "columns, --crs their CRS when they are not lon/lat)."
        )


@dataclass
class PointChecks:
    """Which points are kept and why the others are dropped (boolean arrays, one value per row).

    Attributes:
        tx: x in the target CRS (NaN where not reprojected).
        ty: y in the target CRS.
        empty: Empty geometry or blank coordinate.
        invalid: Non-finite, out of geographic range, or not reprojectable.
        duplicate: Repeats an earlier row exactly.
        outside: Valid but outside the area.
        keep: Kept.
        coincident: Kept points at the coordinates of an earlier point (other attributes).
    """

    tx: np.ndarray
    ty: np.ndarray
    empty: np.ndarray
    invalid: np.ndarray
    duplicate: np.ndarray
    outside: np.ndarray
    keep: np.ndarray
    coincident: int

    def dropped(self) -> dict[str, int]:
        """Reason -> number of rows dropped for it (only reasons that occurred)."""
        return {
            reason: int(n)
            for reason, n in (
                (EMPTY, self.empty.sum()),
                (INVALID, self.invalid.sum()),
                (DUPLICATE, self.duplicate.sum()),
                (OUTSIDE, self.outside.sum()),
            )
            if n
        }


def check_points(x, y, empty, src_crs, dst_crs, attrs: pd.DataFrame, bounds) -> PointChecks:
    """Coordinates: finite, in range for geographic CRSs, reprojectable, not repeated, in ``bounds``."""
    n_read = len(x)
    invalid = ~empty & ~(np.isfinite(x) & np.isfinite(y))
    invalid |= ~empty & ~in_geographic_range(x, y, src_crs)
    ok = ~empty & ~invalid
    tx, ty = np.full(n_read, np.nan), np.full(n_read, np.nan)
    if ok.any():
        tx[ok], ty[ok] = transform_points(src_crs, dst_crs, x[ok], y[ok])
    bad_proj = ok & ~(np.isfinite(tx) & np.isfinite(ty))
    invalid |= bad_proj
    ok &= ~bad_proj
    duplicate, coincident = find_duplicates(x, y, attrs, ok)
    ok &= ~duplicate
    outside = ok & ~inside(tx, ty, bounds)
    keep = ok & ~outside
    return PointChecks(tx, ty, empty, invalid, duplicate, outside, keep, coincident)


def wrap_longitudes(x: np.ndarray, y: np.ndarray, crs, path: Path) -> tuple[np.ndarray, int]:
    """Longitudes in 0-360° (180 < lon <= 360 with a valid latitude) wrapped to -180-180°."""
    if crs is None or len(x) == 0 or not is_geographic(crs):
        return x, 0
    with np.errstate(invalid="ignore"):
        east = (x > 180.0) & (x <= 360.0) & (np.abs(y) <= 90.0)
    n = int(east.sum())
    if n:
        x = x.copy()
        x[east] -= 360.0
        logger.warning(
            "inventory %s: %d longitude(s) between 180 and 360 degrees (0-360 convention) converted to "
            "-180..180 (e.g. 190 -> -170)",
            path.name,
            n,
        )
    return x, n


def find_duplicates(x: np.ndarray, y: np.ndarray, attrs: pd.DataFrame, ok: np.ndarray) -> tuple[np.ndarray, int]:
    """Rows (among ``ok``) that repeat an earlier row exactly (coordinates and attributes), and
    the number of remaining points that share an earlier point's coordinates only."""
    dup = np.zeros(len(x), dtype=bool)
    if not ok.any():
        return dup, 0
    idx = np.flatnonzero(ok)
    coords = pd.DataFrame({"__x": x[idx], "__y": y[idx]})
    table = attrs.iloc[idx].reset_index(drop=True).astype(str) if attrs.shape[1] else pd.DataFrame(index=coords.index)
    full = pd.concat([coords, table], axis=1)
    same_row = full.duplicated(keep="first").to_numpy()
    dup[idx[same_row]] = True
    same_xy = coords.duplicated(keep="first").to_numpy() & ~same_row
    return dup, int(same_xy.sum())


def inside(x: np.ndarray, y: np.ndarray, bounds) -> np.ndarray:
    if bounds is None:
        return np.ones(len(x), dtype=bool)
    xmin, ymin, xmax, ymax = bounds
    with np.errstate(invalid="ignore"):
        return (x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax)


def _projected_hint(x: np.ndarray, y: np.ndarray, src_crs, dst_crs, bounds) -> str:
    """A hint when lon/lat coordinates look like projected metres (e.g. UTM easting/northing)."""
    if len(x) == 0 or not is_geographic(src_crs):
        return ""
    big = (np.abs(x) > 360.0) | (np.abs(y) > 90.0)
    if big.mean() < 0.5:
        return ""
    hint = (
        f" The coordinates look projected (metres, e.g. x={x[big][0]:.10g}, y={y[big][0]:.10g}), not "
        "longitude/latitude in degrees: pass their CRS with --crs EPSG:NNNN (for UTM: EPSG:326ZZ north, "
        "EPSG:327ZZ south of the equator)"
    )
    if bounds is not None and not is_geographic(dst_crs) and inside(x, y, bounds).mean() >= 0.5:
        hint += f"; read in the chip grid's CRS they fall inside the area: --crs {dst_crs.to_string()}"
    return hint + "."


def raise_nothing_kept(path, x, y, empty, invalid, outside, src_crs, dst_crs, bounds, n_read):
    """No usable point: explain why, noticing swapped longitude/latitude."""
    candidates = ~empty & np.isfinite(x) & np.isfinite(y)
    swapped_ok = 0
    if candidates.any():
        sx, sy = y[candidates], x[candidates]
        in_range = in_geographic_range(sx, sy, src_crs)
        if in_range.any():
            tx, ty = transform_points(src_crs, dst_crs, sx[in_range], sy[in_range])
            good = np.isfinite(tx) & np.isfinite(ty) & inside(tx, ty, bounds)
            swapped_ok = int(good.sum())
    n_cand = int(candidates.sum())
    swapped = n_cand > 0 and swapped_ok >= max(1, n_cand // 2)
    hint = (
        " The longitude and latitude look swapped: with x and y exchanged "
        f"{swapped_ok:,} of {n_cand:,} points would be valid"
        + (" and inside the area" if bounds is not None else "")
        + "; swap the columns (--lon-col/--lat-col) or fix the file's axis order."
        if swapped
        else _projected_hint(x[candidates], y[candidates], src_crs, dst_crs, bounds)
    )
    n_outside = int(outside.sum())
    if n_outside and n_outside == int((~empty & ~invalid).sum()):
        xmin, ymin, xmax, ymax = bounds
        what = "all" if n_outside == n_read else f"all {n_outside:,} valid of the"
        raise InventoryError(
            f"{what} {n_read:,} landslide points of {path} lie outside the area "
            f"({xmin:.10g}, {ymin:.10g}, {xmax:.10g}, {ymax:.10g}) in {dst_crs.to_string()}."
            + (hint or " Check that the inventory covers the area and that its CRS is right.")
        )
    parts = ", ".join(
        f"{int(n):,} {why}"
        for why, n in ((EMPTY, empty.sum()), (INVALID, invalid.sum()), (OUTSIDE, outside.sum()))
        if n
    )
    raise InventoryError(
        f"inventory {path} has no usable landslide point ({parts})."
        + (hint or " Check its geometries and coordinate values (and their CRS).")
    )
