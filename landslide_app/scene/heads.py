"""The landslide inventory: head points in WGS84 lon/lat, written as a GeoPackage.

Only what a downloaded inventory would hold: one point per head and an integer ``id``; nothing
about footprints or causes.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from landslide_app.scene.grid import SceneGrid

INVENTORY_LAYER: str = "landslide_heads"


def heads_frame(grid: SceneGrid, x: np.ndarray, y: np.ndarray) -> gpd.GeoDataFrame:
    """Head points (grid-CRS metres in) as a GeoDataFrame in EPSG:4326 with an ``id`` column."""
    lon, lat = grid.to_lonlat(x, y)
    geom = shapely.points(lon, lat) if len(lon) else np.array([], dtype=object)
    return gpd.GeoDataFrame(
        {"id": np.arange(1, len(lon) + 1, dtype=np.int64)}, geometry=gpd.GeoSeries(geom, crs="EPSG:4326")
    )


def write_inventory(path: Path, grid: SceneGrid, x: np.ndarray, y: np.ndarray) -> None:
    """Write the heads to a GeoPackage (layer :data:`INVENTORY_LAYER`)."""
    frame = heads_frame(grid, x, y)
    frame.to_file(path, driver="GPKG", layer=INVENTORY_LAYER, engine="pyogrio")
