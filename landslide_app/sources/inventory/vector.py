"""Inventory vector files (GeoPackage, shapefile, GeoJSON, any OGR format): the layer to read, and
each feature's geometry as a point (lines and polygons by a point on them)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from landslide_app.errors import InventoryError
from landslide_app.sources.inventory.crs import user_crs

logger = logging.getLogger(__name__)

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


def pick_layer(path: Path, layer: str | int | None) -> str | None:
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


def read_vector(path: Path, layer, fallback_crs=None):
    """x, y (float arrays), empty (bool array), source CRS, attributes and converted (type -> count)."""
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
        gdf = gdf.set_crs(user_crs(fallback_crs))
    elif gdf.crs is not None and fallback_crs is not None and user_crs(fallback_crs) != gdf.crs:
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
