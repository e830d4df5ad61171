"""Hidden drivers: hurricane rainfall, soil strength and land cover.

These fields shape where landslides happen and how the radar sees the ground, but they are
never written to disk: they reach the products only through the simulated SAR (and, for land
cover, the landslide intensity). So the DEM alone cannot explain everything.

* Rainfall (storm total, mm): ``RAIN_BASE_MM`` plus a Gaussian band of ``RAIN_TRACK_MM`` around
  a straight hurricane track crossing the scene from south-east to north-west (width
  ``RAIN_TRACK_WIDTH`` of the scene's diagonal), an orographic term of ``RAIN_OROGRAPHIC``
  mm per m of elevation, and smooth random cells (std ``RAIN_CELL_MM``).
* Soil factor: lognormal, median 1, log-std ``SOIL_LOG_STD``, features of a few km.
* Land cover (codes :data:`WATER`, :data:`FOREST`, :data:`GRASS`, :data:`BARE`, :data:`URBAN`):
  towns on the low coastal plain, pasture on lowlands and in patches, bare ground on some steep
  slopes, forest elsewhere (most of the mountains).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from landslide_app.scene.grid import SceneGrid
from landslide_app.scene.noise import fractal_field, upsample
from landslide_app.scene.terrain import coarse_shape

WATER, FOREST, GRASS, BARE, URBAN = 0, 1, 2, 3, 4

RAIN_BASE_MM: float = 250.0
RAIN_TRACK_MM: float = 500.0
RAIN_TRACK_WIDTH: float = 0.22
RAIN_OROGRAPHIC: float = 0.25
RAIN_CELL_MM: float = 60.0
SOIL_LOG_STD: float = 0.6
#: Coarsening of the smooth hidden fields (160 m samples).
HIDDEN_COARSEN: int = 16


@dataclass
class RainField:
    """Rainfall stored as a smooth coarse grid plus the orographic term (computed per row block)."""

    coarse_mm: np.ndarray
    factor: int
    shape: tuple[int, int]

    def block(self, elevation_rows: np.ndarray, rows: slice) -> np.ndarray:
        """Storm-total rainfall (mm, float32) for a block of rows given its elevation."""
        smooth = upsample(self.coarse_mm, self.factor, self.shape, rows)
        return smooth + np.float32(RAIN_OROGRAPHIC) * elevation_rows


def rainfall(grid: SceneGrid, rng: np.random.Generator) -> RainField:
    """Simulate the hurricane rainfall (without its orographic term, added per block)."""
    f = HIDDEN_COARSEN
    cshape = coarse_shape(grid.shape, f)
    w_m, h_m = grid.width * grid.pixel_m, grid.height * grid.pixel_m
    y = (np.arange(cshape[0]) * f + 0.5) * grid.pixel_m
    x = (np.arange(cshape[1]) * f + 0.5) * grid.pixel_m
    # Track from the SE corner region to the NW, through a random point near the centre.
    cx = w_m * rng.uniform(0.25, 0.75)
    cy = h_m * rng.uniform(0.25, 0.75)
    angle = np.radians(rng.uniform(20.0, 40.0))  # heading west-north-west (from east, CCW)
    dx, dy = -np.cos(angle), np.sin(angle)  # unit vector of the track, x east, y down-is-south
    xx = x[None, :] - cx
    yy = -(y[:, None] - cy)  # northing offset
    dist = np.abs(xx * dy - yy * dx)
    width = RAIN_TRACK_WIDTH * float(np.hypot(w_m, h_m))
    cells = fractal_field(rng, cshape, grid.pixel_m * f, beta=4.0, corner_m=6000.0)
    rain = RAIN_BASE_MM + RAIN_TRACK_MM * np.exp(-0.5 * (dist / width) ** 2) + RAIN_CELL_MM * cells
    return RainField(np.maximum(rain, 50.0).astype(np.float32), f, grid.shape)


def soil_factor(grid: SceneGrid, rng: np.random.Generator) -> np.ndarray:
    """Lognormal soil weakness factor (median 1), float32 of ``grid.shape``."""
    f = 8
    n = fractal_field(rng, coarse_shape(grid.shape, f), grid.pixel_m * f, beta=4.0, corner_m=3000.0)
    field = upsample(n, f, grid.shape)
    return np.exp(np.float32(SOIL_LOG_STD) * field).astype(np.float32)


def land_cover(
    grid: SceneGrid,
    land: np.ndarray,
    elevation: np.ndarray,
    slope: np.ndarray,
    coast_distance: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Simulate land cover (uint8 codes, see module docstring)."""
    f = 4
    cshape = coarse_shape(grid.shape, f)

    def field(corner_m: float) -> np.ndarray:
        return upsample(fractal_field(rng, cshape, grid.pixel_m * f, beta=3.5, corner_m=corner_m), f, grid.shape)

    lowland = np.clip(1.0 - elevation / np.float32(350.0), 0.0, 1.0)
    out = np.full(grid.shape, FOREST, dtype=np.uint8)
    grass = field(1500.0) + 1.6 * lowland > 1.3
    out[grass] = GRASS
    del grass
    bare_n = field(400.0)
    bare = ((slope > 30.0) & (bare_n > 0.8)) | (bare_n > 2.3)
    out[bare] = BARE
    del bare, bare_n
    near_coast = np.clip(1.0 - coast_distance / np.float32(4000.0), 0.0, 1.0)
    urban = (field(2500.0) + 1.5 * near_coast * lowland > 1.7) & (slope < 20.0)
    out[urban] = URBAN
    out[~land] = WATER
    return out
