"""Landslide inventory reader: head points from any vector file or a lon/lat CSV.

:func:`read_inventory` reads shapefiles, GeoPackages, GeoJSON (anything GDAL/OGR reads, through
geopandas with the pyogrio engine) or CSV tables with longitude/latitude columns, reprojects the
points to the chip grid's CRS, keeps those inside the area and reports how many were dropped and
why (``dropped``: reason -> count, also logged):

* ``"empty geometry"``: a feature without geometry, an empty geometry, or a CSV row with a blank
  coordinate;
* ``"invalid coordinates"``: non-numeric or non-finite coordinates, longitudes/latitudes out of
  range (geographic CRS), or a point that cannot be reprojected;
* ``"outside area"``: a valid point outside ``bounds``.

Lines, polygons and multi-part geometries are *not* dropped: each is replaced by a point on the
geometry (shapely ``point_on_surface``: inside a polygon, on a line) and counted in
``converted`` (geometry type -> count). A landslide polygon's head is its upslope end, which
cannot be known without a DEM; the representative point is the documented stand-in. Z/M values
are discarded. So ``n_read == len(points) + sum(dropped.values())``.

Checks against a silently wrong result (each handled or refused, never passed on unnoticed):

* **Multi-layer files** (a GeoPackage with a study-area polygon layer and a heads layer): the only
  point layer is read (and named in a warning); with several or no point layers the file is
  refused with the list of layers and ``layer=`` / ``--layer`` to choose one.
* **Duplicates**: rows identical in coordinates *and* every attribute are the same landslide
  entered twice (a table pasted twice, a merge run twice); they are dropped (``"duplicate row"``
  in ``dropped``) with a warning giving the count, keeping the first. Points that share their
  coordinates but differ in an attribute are kept (two landslides rounded to the same
  coordinates are possible) and counted in ``coincident`` with a warning.
* **Longitudes in 0-360°** (geographic CRS, 180 < lon <= 360) are wrapped to -180-180° with a
  warning (``wrapped``). Coordinates that look projected (metres) in a lon/lat table are refused
  with the CRS to pass (``csv_crs`` / ``--crs``), naming the chip grid's CRS when they fit it.
* **Not a vector file**: a folder, an Excel or LibreOffice sheet are refused with what to give.

Modules: :mod:`.table` (CSV lon/lat columns), :mod:`.vector` (OGR files: layer choice, geometries to
points), :mod:`.crs` (CRS parsing and reprojection), :mod:`.checks` (the checks above and the
explanation when no point is kept), :mod:`.result` (:class:`InventoryResult`); this module reads.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from landslide_app.errors import InventoryError
from landslide_app.sources.inventory.checks import (
    PointChecks,
    check_kind,
    check_points,
    raise_nothing_kept,
    wrap_longitudes,
)
from landslide_app.sources.inventory.crs import user_crs
from landslide_app.sources.inventory.result import DUPLICATE, OUTSIDE, InventoryResult
from landslide_app.sources.inventory.table import TABLE_SUFFIXES, read_table
from landslide_app.sources.inventory.vector import pick_layer, read_vector

if TYPE_CHECKING:
    import pyproj

__all__ = ["InventoryResult", "read_inventory"]

logger = logging.getLogger(__name__)


def read_inventory(
    path: str | os.PathLike[str],
    crs: str | int | pyproj.CRS,
    bounds: tuple[float, float, float, float] | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    *,
    layer: str | int | None = None,
    csv_crs: str | int | pyproj.CRS | None = None,
) -> InventoryResult:
    """Read landslide head points, reproject them to ``crs`` and keep those inside ``bounds``.

    Args:
        path: Shapefile, GeoPackage, GeoJSON (any OGR vector format) or CSV/TSV table.
        crs: CRS of the returned points (EPSG code, ``"EPSG:32619"``, WKT or a pyproj CRS).
        bounds: ``(xmin, ymin, xmax, ymax)`` of the area in ``crs``; points outside (edges
            included as inside) are dropped. ``None`` keeps every valid point.
        lon_col: CSV column with the longitude (x); default: the first of ``LON_COLUMNS``
            found, case-insensitively.
        lat_col: CSV column with the latitude (y); default: from ``LAT_COLUMNS``.
        layer: Layer of a multi-layer vector file (default: its only point layer).
        csv_crs: CRS of the CSV coordinates (default EPSG:4326 longitude/latitude); also used for
            a vector file without a CRS.

    Returns:
        An :class:`InventoryResult`.

    Raises:
        InventoryError: If the file is missing, unreadable, has no rows, no CRS (vector), no
            recognisable coordinate columns (CSV), no usable point, or every point lies outside
            ``bounds`` (saying so when longitude and latitude look swapped).
    """
    path = Path(path)
    dst_crs, bounds = _check_arguments(path, crs, bounds, csv_crs)
    layer_read, (x, y, empty, src_crs, attrs, converted) = _read_file(path, lon_col, lat_col, layer, csv_crs)
    n_read = len(x)
    x, wrapped = wrap_longitudes(x, y, src_crs, path)
    checks = check_points(x, y, empty, src_crs, dst_crs, attrs, bounds)
    dropped = checks.dropped()
    _log_report(path, n_read, dropped, checks.coincident, converted)
    if not checks.keep.any():
        raise_nothing_kept(path, x, y, empty, checks.invalid, checks.outside, src_crs, dst_crs, bounds, n_read)

    result = InventoryResult(
        points=_points_frame(attrs, checks, dst_crs),
        n_read=n_read,
        dropped=dropped,
        converted=converted,
        source=path,
        crs=dst_crs.to_string(),
        coincident=checks.coincident,
        wrapped=wrapped,
        layer=layer_read,
    )
    logger.info("%s", result.summary())
    return result


def _read_file(path: Path, lon_col, lat_col, layer, csv_crs):
    """The layer read (``None`` for a table or a single-layer file) and the reader's x, y, empty,
    source CRS, attributes and conversions; a file without rows is refused."""
    layer_read: str | None = None
    if path.suffix.lower() in TABLE_SUFFIXES:
        read = read_table(path, lon_col, lat_col, csv_crs)
    else:
        layer_read = pick_layer(path, layer)
        read = read_vector(path, layer_read, csv_crs)
    if len(read[0]) == 0:
        raise InventoryError(f"inventory {path} has no rows/features; give a file with landslide points.")
    return layer_read, read


def _check_arguments(path: Path, crs, bounds, csv_crs):
    """The target CRS and the area bounds as floats, after refusing a missing or wrong-kind file, a
    bad ``csv_crs`` (whatever the file), an unknown target CRS and malformed bounds."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    if not path.exists():
        raise InventoryError(f"inventory file {path} does not exist; check the path.")
    check_kind(path)
    if csv_crs is not None:
        user_crs(csv_crs)  # a bad --crs is refused whatever the file
    try:
        dst_crs = CRS.from_user_input(crs)
    except CRSError as err:
        raise InventoryError(f"unknown target CRS {crs!r} for the inventory: {err}") from err
    if bounds is not None:
        bounds = tuple(float(v) for v in bounds)
        if len(bounds) != 4 or not (bounds[0] < bounds[2] and bounds[1] < bounds[3]):
            raise InventoryError(
                f"area bounds {bounds} must be (xmin, ymin, xmax, ymax) with xmin < xmax and ymin < ymax."
            )
    return dst_crs, bounds


def _log_report(path: Path, n_read: int, dropped: dict[str, int], coincident: int, converted: dict[str, int]) -> None:
    """Log the drops (warnings; points outside the area at info level), coincident points and conversions."""
    for reason, n in dropped.items():
        # Points outside the area are expected (an island-wide inventory, a smaller area).
        level = logging.INFO if reason == OUTSIDE else logging.WARNING
        extra = (
            " (identical coordinates and attributes: the same landslide listed again; the first is kept)"
            if reason == DUPLICATE
            else ""
        )
        logger.log(level, "inventory %s: dropped %d of %d point(s): %s%s", path.name, n, n_read,
                   reason, extra)  # fmt: skip
    if coincident:
        logger.warning(
            "inventory %s: %d point(s) lie at exactly the coordinates of another point but differ in "
            "an attribute; kept (check for duplicates in the file)",
            path.name,
            coincident,
        )
    if converted:
        logger.info("inventory %s: non-point geometries converted to points: %s", path.name,
                    converted)  # fmt: skip


def _points_frame(attrs: pd.DataFrame, checks: PointChecks, dst_crs):
    """The kept points with their row number (``id``) and the file's attributes (``id`` -> ``source_id``)."""
    import geopandas as gpd

    keep = checks.keep
    ids = np.flatnonzero(keep)
    table = attrs.iloc[ids].reset_index(drop=True)
    table = table.rename(columns={c: f"source_{c}" for c in table.columns if c.lower() == "id"})
    table.insert(0, "id", ids.astype(np.int64))
    return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(checks.tx[keep], checks.ty[keep]), crs=dst_crs)
