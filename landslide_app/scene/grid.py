"""The scene grid: EPSG:32619, 10 m pixels, north-up, anchored in Puerto Rico's UTM area.

Its CRS, transform and bounds come from :mod:`landslide_app.core.grid` (shared with the chip grid).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from pyproj import Transformer
from rasterio.transform import Affine

from landslide_app import config
from landslide_app.core.grid import crs_name, grid_bounds, north_up_transform

#: Top-left corner of every demo scene (UTM 19N metres), in Puerto Rico's area.
ORIGIN_X: float = 680000.0
ORIGIN_Y: float = 2050000.0
SCENE_EPSG: int = config.DEFAULT_EPSG


@dataclass(frozen=True)
class SceneGrid:
    """A north-up raster grid.

    Attributes:
        width: Columns (pixels).
        height: Rows (pixels).
        x0: x of the top-left corner (m).
        y0: y of the top-left corner (m).
        pixel_m: Pixel size (m).
        epsg: EPSG code of the CRS.
    """

    width: int
    height: int
    x0: float = ORIGIN_X
    y0: float = ORIGIN_Y
    pixel_m: float = config.PIXEL_SIZE_M
    epsg: int = SCENE_EPSG

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)``."""
        return (self.height, self.width)

    @property
    def crs(self) -> str:
        """CRS as ``"EPSG:<code>"``."""
        return crs_name(self.epsg)

    @property
    def transform(self) -> Affine:
        """Affine pixel-to-CRS transform (top-left corners)."""
        return north_up_transform(self.x0, self.y0, self.pixel_m)

    @property
    def transform_tuple(self) -> tuple[float, float, float, float, float, float]:
        """The six GDAL-order coefficients ``(a, b, c, d, e, f)`` of :attr:`transform`."""
        t = self.transform
        return (t.a, t.b, t.c, t.d, t.e, t.f)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` in the grid CRS."""
        return grid_bounds(self.x0, self.y0, self.width, self.height, self.pixel_m)

    @property
    def pixel_area_km2(self) -> float:
        """Area of one pixel in km²."""
        return self.pixel_m * self.pixel_m / 1e6

    @cached_property
    def _to_lonlat(self) -> Transformer:
        return Transformer.from_crs(self.epsg, 4326, always_xy=True)

    def to_lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Convert grid-CRS coordinates to longitude/latitude (WGS84)."""
        lon, lat = self._to_lonlat.transform(np.asarray(x, float), np.asarray(y, float))
        return np.asarray(lon), np.asarray(lat)

    def lonlat_bbox(self) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` in WGS84 of the densified grid outline."""
        xmin, ymin, xmax, ymax = self.bounds
        t = np.linspace(0.0, 1.0, 33)
        xs = np.concatenate(
            [xmin + t * (xmax - xmin), np.full_like(t, xmax), xmax - t * (xmax - xmin), np.full_like(t, xmin)]
        )
        ys = np.concatenate(
            [np.full_like(t, ymin), ymin + t * (ymax - ymin), np.full_like(t, ymax), ymax - t * (ymax - ymin)]
        )
        lon, lat = self.to_lonlat(xs, ys)
        return (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))

    def lonlat_footprint(self) -> list[list[float]]:
        """Closed outer ring (lon, lat) of the grid's four corners, counter-clockwise."""
        xmin, ymin, xmax, ymax = self.bounds
        xs = np.array([xmin, xmax, xmax, xmin, xmin])
        ys = np.array([ymin, ymin, ymax, ymax, ymin])
        lon, lat = self.to_lonlat(xs, ys)
        return [[float(a), float(b)] for a, b in zip(lon, lat)]
