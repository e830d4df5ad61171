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
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from landslide_app.errors import InventoryError

if TYPE_CHECKING:
    import geopandas as gpd
    import pyproj

logger = logging.getLogger(__name__)

#: Extensions read as delimited text tables (lon/lat columns) rather than through OGR.
TABLE_SUFFIXES: frozenset[str] = frozenset({".csv", ".tsv", ".txt"})
#: Column names recognised (case-insensitively), in order of preference.
LON_COLUMNS: tuple[str, ...] = ("longitude", "lon", "long", "lng", "x")
LAT_COLUMNS: tuple[str, ...] = ("latitude", "lat", "y")

EMPTY = "empty geometry"
INVALID = "invalid coordinates"
DUPLICATE = "duplicate row"
OUTSIDE = "outside area"
#: Spreadsheet formats: refused with the advice to save a CSV.
SHEET_SUFFIXES: frozenset[str] = frozenset({".xlsx", ".xls", ".xlsm", ".xlsb", ".ods"})
#: OGR geometry type names of point layers (pyogrio ``list_layers``).
POINT_TYPES: frozenset[str] = frozenset(
    {
        "Point",
        "MultiPoint",
        "Point Z",
        "MultiPoint Z",
        "Point M",
        "MultiPoint M",
        "Point ZM",
        "MultiPoint ZM",
        "Point25D",
        "MultiPoint25D",
    }
)


@dataclass
class InventoryResult:
    """Landslide head points read from an inventory file.

    Attributes:
        points: Point geometries in the requested CRS; column ``id`` is the 0-based row/feature
            number in the source file (so a point can be traced back to it); the file's other
            attribute columns follow (a source column named ``id`` becomes ``source_id``).
        n_read: Rows (CSV) or features (vector file) read.
        dropped: Reason -> number of rows dropped for it (only reasons that occurred).
        converted: Geometry type -> number of non-point geometries replaced by a point on them.
        source: The file read.
        crs: The CRS of ``points`` as a string (e.g. ``"EPSG:32619"``).
        coincident: Points kept that share their coordinates with an earlier point but differ
            in an attribute.
        wrapped: Longitudes given in 0-360° and wrapped to -180-180°.
        layer: The layer read from a multi-layer file (``None`` for single-layer files and CSVs).
    """

    points: gpd.GeoDataFrame
    n_read: int
    dropped: dict[str, int] = field(default_factory=dict)
    converted: dict[str, int] = field(default_factory=dict)
    source: Path | None = None
    crs: str = ""
    coincident: int = 0
    wrapped: int = 0
    layer: str | None = None

    @property
    def n_kept(self) -> int:
        """Number of points kept."""
        return len(self.points)

    def summary(self) -> str:
        """One line for logs, the CLI and the dashboard."""
        name = self.source.name if self.source is not None else "inventory"
        text = f"{name}: read {self.n_read:,}, kept {self.n_kept:,} landslide points"
        n_dropped = sum(self.dropped.values())
        if n_dropped:
            parts = ", ".join(f"{n:,} {why}" for why, n in self.dropped.items())
            text += f"; dropped {n_dropped:,} ({parts})"
        if self.converted:
            parts = ", ".join(f"{n:,} {kind}" for kind, n in self.converted.items())
            text += f"; converted to points: {parts}"
        if self.coincident:
            text += f"; {self.coincident:,} kept at the coordinates of another point"
        if self.wrapped:
            text += f"; {self.wrapped:,} longitudes wrapped from 0-360°"
        if self.layer is not None:
            text += f"; layer {self.layer!r}"
        if self.crs:
            text += f" [{self.crs}]"
        return text


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
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    path = Path(path)
    if not path.exists():
        raise InventoryError(f"inventory file {path} does not exist; check the path.")
    _check_kind(path)
    if csv_crs is not None:
        _user_crs(csv_crs)  # a bad --crs is refused whatever the file
    try:
        dst_crs = CRS.from_user_input(crs)
    except CRSError as err:
        raise InventoryError(f"unknown target CRS {crs!r} for the inventory: {err}") from err
    if bounds is not None:
        bounds = tuple(float(v) for v in bounds)  # type: ignore[assignment]
        if len(bounds) != 4 or not (bounds[0] < bounds[2] and bounds[1] < bounds[3]):
            raise InventoryError(
                f"area bounds {bounds} must be (xmin, ymin, xmax, ymax) with xmin < xmax and ymin < ymax."
            )

    layer_read: str | None = None
    if path.suffix.lower() in TABLE_SUFFIXES:
        x, y, empty, src_crs, attrs, converted = _read_table(path, lon_col, lat_col, csv_crs)
    else:
        layer_read = _pick_layer(path, layer)
        x, y, empty, src_crs, attrs, converted = _read_vector(path, layer_read, csv_crs)
    n_read = len(x)
    if n_read == 0:
        raise InventoryError(f"inventory {path} has no rows/features; give a file with landslide points.")

    x, wrapped = _wrap_longitudes(x, y, src_crs, path)
    # Coordinates: finite, in range for geographic CRSs, and reprojectable.
    invalid = ~empty & ~(np.isfinite(x) & np.isfinite(y))
    invalid |= ~empty & ~_in_geographic_range(x, y, src_crs)
    ok = ~empty & ~invalid
    tx, ty = np.full(n_read, np.nan), np.full(n_read, np.nan)
    if ok.any():
        tx[ok], ty[ok] = _transform(src_crs, dst_crs, x[ok], y[ok])
    bad_proj = ok & ~(np.isfinite(tx) & np.isfinite(ty))
    invalid |= bad_proj
    ok &= ~bad_proj
    duplicate, coincident = _duplicates(x, y, attrs, ok)
    ok &= ~duplicate
    outside = ok & ~_inside(tx, ty, bounds)
    keep = ok & ~outside

    dropped = {
        reason: int(n)
        for reason, n in (
            (EMPTY, empty.sum()),
            (INVALID, invalid.sum()),
            (DUPLICATE, duplicate.sum()),
            (OUTSIDE, outside.sum()),
        )
        if n
    }
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

    if not keep.any():
        _raise_nothing_kept(path, x, y, empty, invalid, outside, src_crs, dst_crs, bounds, n_read)

    import geopandas as gpd

    ids = np.flatnonzero(keep)
    table = attrs.iloc[ids].reset_index(drop=True)
    table = table.rename(columns={c: f"source_{c}" for c in table.columns if c.lower() == "id"})
    table.insert(0, "id", ids.astype(np.int64))
    points = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(tx[keep], ty[keep]), crs=dst_crs)
    result = InventoryResult(
        points=points,
        n_read=n_read,
        dropped=dropped,
        converted=converted,
        source=path,
        crs=dst_crs.to_string(),
        coincident=coincident,
        wrapped=wrapped,
        layer=layer_read,
    )
    logger.info("%s", result.summary())
    return result


# --------------------------------------------------------------------------------------------
# readers: each returns x, y (float arrays), empty (bool array), source CRS, attributes, converted
# --------------------------------------------------------------------------------------------


def _read_table(path: Path, lon_col: str | None, lat_col: str | None, csv_crs):
    src_crs = _user_crs(4326 if csv_crs is None else csv_crs)
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        df = pd.read_csv(path, sep=sep, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        if df.shape[1] == 1 and sep == ",":
            header = str(df.columns[0])
            for other in (";", "\t", "|"):
                if other in header:
                    df = pd.read_csv(path, sep=other, encoding="utf-8-sig", dtype=str,
                                     keep_default_na=False)  # fmt: skip
                    break
    except pd.errors.EmptyDataError as err:
        raise InventoryError(
            f"inventory {path} is empty (no header, no rows); give a CSV with a header and one row per landslide."
        ) from err
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as err:
        raise InventoryError(
            f"inventory {path} cannot be read as a CSV table ({err}); save it as UTF-8 CSV with a "
            "header row, or as a GeoPackage/shapefile/GeoJSON."
        ) from err
    df.columns = [str(c).strip() for c in df.columns]
    lon = _pick_column(df, lon_col, LON_COLUMNS, "longitude", "--lon-col", path)
    lat = _pick_column(df, lat_col, LAT_COLUMNS, "latitude", "--lat-col", path)
    if lon == lat:
        raise InventoryError(
            f"inventory {path}: the same column {lon!r} was chosen for longitude and latitude; "
            "pass different --lon-col and --lat-col."
        )
    raw_x, raw_y = df[lon].str.strip(), df[lat].str.strip()
    empty = ((raw_x == "") | (raw_y == "")).to_numpy()
    x = _to_float(raw_x)
    y = _to_float(raw_y)
    logger.info("inventory %s: coordinates from columns %r (x/lon) and %r (y/lat), %s",
                path.name, lon, lat, src_crs.to_string())  # fmt: skip
    return x, y, empty, src_crs, df, {}


def _to_float(values: pd.Series) -> np.ndarray:
    """Numbers from text; a decimal comma ("18,25", from ';'-separated files) is accepted."""
    out = pd.to_numeric(values, errors="coerce")
    comma = out.isna() & values.str.fullmatch(r"[-+]?\d+,\d+")
    if comma.any():
        out[comma] = pd.to_numeric(values[comma].str.replace(",", ".", regex=False))
    return out.to_numpy(dtype=float)


def _pick_column(df, explicit, candidates, what, flag, path) -> str:
    columns = list(df.columns)
    by_lower = {c.lower(): c for c in reversed(columns)}  # first occurrence wins
    if explicit is not None:
        if explicit in columns:
            return explicit
        if explicit.lower() in by_lower:
            return by_lower[explicit.lower()]
        raise InventoryError(
            f"inventory {path} has no column {explicit!r} (given as the {what} column); the "
            f"columns are {columns}. Pass one of them with {flag}."
        )
    for name in candidates:
        if name in by_lower:
            return by_lower[name]
    raise InventoryError(
        f"inventory {path} has no recognisable {what} column (looked for "
        f"{', '.join(candidates)}, any case); the columns are {columns}. Pass the coordinate "
        "columns with --lon-col and --lat-col (longitude/latitude in EPSG:4326)."
    )


def _user_crs(crs):
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return CRS.from_user_input(crs)
    except CRSError as err:
        raise InventoryError(
            f"unknown inventory CRS {crs!r} ({err}); pass --crs as EPSG:NNNN, e.g. --crs EPSG:4326 for "
            "longitude/latitude or the UTM zone such as --crs EPSG:32619."
        ) from err


def _check_kind(path: Path) -> None:
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


def _pick_layer(path: Path, layer: str | int | None) -> str | None:
    """The layer to read: ``layer`` when given (checked), else the only point layer of a
    multi-layer file; ``None`` for a single-layer file."""
    import pyogrio

    try:
        layers = [(str(n), str(t)) for n, t in pyogrio.list_layers(path)]
    except Exception:  # noqa: BLE001 - unreadable files are reported by the reader with context
        return None if layer is None else str(layer)
    names = [n for n, _ in layers]

    def listing() -> str:
        parts = []
        for n, t in layers:
            try:
                n_feat = int(pyogrio.read_info(path, layer=n)["features"])
                count = f", {n_feat:,} feature{'' if n_feat == 1 else 's'}"
            except Exception:  # noqa: BLE001 - the count is only a hint
                count = ""
            parts.append(f"{n!r} ({t}{count})")
        return ", ".join(parts)

    if layer is not None:
        if isinstance(layer, int) or str(layer).isdigit():
            i = int(layer)
            if not 0 <= i < len(names):
                raise InventoryError(
                    f"inventory {path} has {len(names)} layer(s), no layer {i}: {listing()}; pass --layer NAME."
                )
            return names[i]
        if str(layer) not in names:
            raise InventoryError(
                f"inventory {path} has no layer {str(layer)!r}; its layers are {listing()}. "
                "Pass one of them with --layer."
            )
        return str(layer)
    if len(layers) <= 1:
        return None
    points = [n for n, t in layers if t in POINT_TYPES]
    if len(points) == 1:
        logger.warning(
            "inventory %s has %d layers; reading its point layer %r (pass --layer to read another): %s",
            path.name,
            len(layers),
            points[0],
            listing(),
        )
        return points[0]
    what = "several point layers" if points else "no point layer"
    raise InventoryError(
        f"inventory {path} has {len(layers)} layers and {what}: {listing()}; say which one holds the landslide "
        "heads with --layer NAME."
    )


def _read_vector(path: Path, layer, fallback_crs=None):
    import geopandas as gpd
    import shapely
    from pyogrio.errors import DataLayerError, DataSourceError, FieldError, GeometryError

    try:
        gdf = gpd.read_file(path, engine="pyogrio", layer=layer)
    except (DataSourceError, DataLayerError, FieldError, GeometryError, ValueError, OSError) as err:
        raise InventoryError(
            f"inventory {path} cannot be read as a vector file ({err}); give a GeoPackage, "
            "shapefile (with its .shx/.dbf/.prj), GeoJSON or a CSV with lon/lat columns."
        ) from err
    except Exception as err:  # noqa: BLE001 - GDAL reports corrupt files in many ways
        raise InventoryError(
            f"inventory {path} could not be read ({type(err).__name__}: {err}); check that the "
            "file is complete and in a format GDAL reads."
        ) from err
    if len(gdf) and gdf.crs is None and fallback_crs is not None:
        gdf = gdf.set_crs(_user_crs(fallback_crs))
    elif gdf.crs is not None and fallback_crs is not None and _user_crs(fallback_crs) != gdf.crs:
        logger.warning(
            "inventory %s declares its CRS (%s); the --crs %s given is not used (it is for CSV tables and "
            "files without a CRS)",
            path.name,
            gdf.crs.to_string(),
            fallback_crs,
        )
    if len(gdf) and gdf.crs is None:
        raise InventoryError(
            f"inventory {path} has no coordinate reference system; set one (e.g. add the .prj "
            "of a shapefile, or ogr2ogr -a_srs EPSG:4326 fixed.gpkg input, or pass --crs EPSG:4326) and retry."
        )
    if len(gdf) == 0:
        return (np.empty(0), np.empty(0), np.empty(0, bool), None, pd.DataFrame(), {})

    geoms = np.asarray(gdf.geometry.array, dtype=object)
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    type_ids = np.where(empty, -1, shapely.get_type_id(geoms))
    points = geoms.copy()
    converted: dict[str, int] = {}
    # Single-part multipoints are points.
    single_multi = (type_ids == 4) & (shapely.get_num_geometries(geoms) == 1)
    points[single_multi] = shapely.get_geometry(geoms[single_multi], 0)
    other = ~empty & (type_ids != 0) & ~single_multi
    if other.any():
        for kind, n in pd.Series(shapely.get_type_id(geoms[other])).value_counts().items():
            converted[_GEOM_NAMES.get(int(kind), str(kind))] = int(n)
        points[other] = [_point_on(g) for g in geoms[other]]
    x = np.full(len(gdf), np.nan)
    y = np.full(len(gdf), np.nan)
    have = ~empty & ~shapely.is_missing(points)
    x[have] = shapely.get_x(points[have])
    y[have] = shapely.get_y(points[have])
    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    return x, y, empty, gdf.crs, attrs, converted


_GEOM_NAMES = {
    1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString",
    6: "MultiPolygon", 7: "GeometryCollection",
}  # fmt: skip


def _point_on(geom):
    """A point on a (possibly invalid) geometry, or None."""
    import shapely

    for fn in (shapely.point_on_surface, shapely.centroid):
        try:
            pt = fn(geom)
        except shapely.errors.GEOSException:
            continue
        if pt is not None and not pt.is_empty:
            return pt
    return None


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _is_geographic(crs) -> bool:
    from pyproj import CRS

    pcrs = CRS.from_user_input(crs)
    if pcrs.is_compound:
        pcrs = pcrs.sub_crs_list[0]
    return bool(pcrs.is_geographic)


def _wrap_longitudes(x: np.ndarray, y: np.ndarray, crs, path: Path) -> tuple[np.ndarray, int]:
    """Longitudes in 0-360° (180 < lon <= 360 with a valid latitude) wrapped to -180-180°."""
    if crs is None or len(x) == 0 or not _is_geographic(crs):
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


def _duplicates(x: np.ndarray, y: np.ndarray, attrs: pd.DataFrame, ok: np.ndarray) -> tuple[np.ndarray, int]:
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


def _in_geographic_range(x: np.ndarray, y: np.ndarray, crs) -> np.ndarray:
    """True where (x, y) are plausible lon/lat for a geographic ``crs`` (always True otherwise)."""
    from pyproj import CRS

    pcrs = CRS.from_user_input(crs)
    if pcrs.is_compound:
        pcrs = pcrs.sub_crs_list[0]
    if not pcrs.is_geographic:
        return np.ones(len(x), dtype=bool)
    to_deg = pcrs.axis_info[0].unit_conversion_factor / (np.pi / 180.0)
    with np.errstate(invalid="ignore"):
        return (np.abs(x * to_deg) <= 180.0) & (np.abs(y * to_deg) <= 90.0)


def _transform(src_crs, dst_crs, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from pyproj import CRS, Transformer

    src, dst = CRS.from_user_input(src_crs), CRS.from_user_input(dst_crs)
    if src == dst:
        return x.astype(float), y.astype(float)
    tr = Transformer.from_crs(src, dst, always_xy=True)
    with np.errstate(all="ignore"):
        tx, ty = tr.transform(x, y, errcheck=False)
    return np.asarray(tx, dtype=float), np.asarray(ty, dtype=float)


def _inside(x: np.ndarray, y: np.ndarray, bounds) -> np.ndarray:
    if bounds is None:
        return np.ones(len(x), dtype=bool)
    xmin, ymin, xmax, ymax = bounds
    with np.errstate(invalid="ignore"):
        return (x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax)


def _projected_hint(x: np.ndarray, y: np.ndarray, src_crs, dst_crs, bounds) -> str:
    """A hint when lon/lat coordinates look like projected metres (e.g. UTM easting/northing)."""
    if len(x) == 0 or not _is_geographic(src_crs):
        return ""
    big = (np.abs(x) > 360.0) | (np.abs(y) > 90.0)
    if big.mean() < 0.5:
        return ""
    hint = (
        f" The coordinates look projected (metres, e.g. x={x[big][0]:.10g}, y={y[big][0]:.10g}), not "
        "longitude/latitude in degrees: pass their CRS with --crs EPSG:NNNN (for UTM: EPSG:326ZZ north, "
        "EPSG:327ZZ south of the equator)"
    )
    if bounds is not None and not _is_geographic(dst_crs) and _inside(x, y, bounds).mean() >= 0.5:
        hint += f"; read in the chip grid's CRS they fall inside the area: --crs {dst_crs.to_string()}"
    return hint + "."


def _raise_nothing_kept(path, x, y, empty, invalid, outside, src_crs, dst_crs, bounds, n_read):
    """No usable point: explain why, noticing swapped longitude/latitude."""
    candidates = ~empty & np.isfinite(x) & np.isfinite(y)
    swapped_ok = 0
    if candidates.any():
        sx, sy = y[candidates], x[candidates]
        in_range = _in_geographic_range(sx, sy, src_crs)
        if in_range.any():
            tx, ty = _transform(src_crs, dst_crs, sx[in_range], sy[in_range])
            good = np.isfinite(tx) & np.isfinite(ty) & _inside(tx, ty, bounds)
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
