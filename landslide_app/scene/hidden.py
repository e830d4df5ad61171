"""Hidden drivers: hurricane rainfall, soil strength and land cover.

These fields shape where landslides happen and how the radar sees the ground, but they are
never written to disk: they reach the products only through the simulated SAR (and, for land
cover, the landslide intensity). So the DEM alone cannot explain everything.

* Rainfall (storm total, mm): ``RAIN_BASE_MM`` plus a Gaussian band of ``RAIN_TRACK_MM`` around
  a straight hurricane track crossing the scene from south-east to north-west (width
  ``RAIN_TRACK_WIDTH`` of the scene's diagonal), times rain bands and cells: a lognormal field
  (log-std ``RAIN_CELL_LOG_STD``, spectrum ``k^-RAIN_CELL_BETA`` below ``RAIN_CELL_CORNER_M``),
  independent of the terrain (``RAIN_OROGRAPHIC`` = 0 mm per m of elevation).
* Wind damage (0..1): a wider band around the same track plus gusts; strips vegetation (seen by
  the SAR), triggers no landslide.
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
from landslide_app.scene.relief import coarse_shape

WATER, FOREST, GRASS, BARE, URBAN = 0, 1, 2, 3, 4

RAIN_BASE_MM: float = 250.0
RAIN_TRACK_MM: float = 350.0
RAIN_TRACK_WIDTH: float = 0.22
#: Orographic enhancement (mm per m of elevation). 0: the rain field is independent of the terrain,
#: so that terrain cannot stand in for it (issue 13); kept as a named knob.
RAIN_OROGRAPHIC: float = 0.0
#: Rain bands and convective cells: a multiplicative lognormal field (log-std, spectral exponent,
#: corner wavelength m) with features of a few km, larger than a 1.28 km chip.
RAIN_CELL_LOG_STD: float = 0.45
RAIN_CELL_BETA: float = 3.0
RAIN_CELL_CORNER_M: float = 8000.0
SOIL_LOG_STD: float = 0.6
#: Wind damage (0..1): peak on the track, band width in rain-band widths, std of the gusts.
WIND_PEAK: float = 0.8
WIND_WIDTH: float = 2.0
WIND_GUST: float = 0.15
#: Coarsening of the smooth hidden fields (160 m samples).
HIDDEN_COARSEN: int = 16


@dataclass
class RainField:
    """Rainfall stored as a smooth coarse grid plus the orographic term (computed per row block)."""

    coarse_mm: np.ndarray
    factor: int
    shape: tuple[int, int]
    #: Distance to the storm track on the coarse grid, in units of the rain band's width.
    track_distance: np.ndarray

    def block(self, elevation_rows: np.ndarray, rows: slice) -> np.ndarray:
        """Storm-total rainfall (mm, float32) for a block of rows given its elevation."""
        smooth = upsample(self.coarse_mm, self.factor, self.shape, rows)
        if RAIN_OROGRAPHIC:
            smooth += np.float32(RAIN_OROGRAPHIC) * elevation_rows
        return smooth


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
    cells = fractal_field(rng, cshape, grid.pixel_m * f, beta=RAIN_CELL_BETA, corner_m=RAIN_CELL_CORNER_M)
    band = RAIN_BASE_MM + RAIN_TRACK_MM * np.exp(-0.5 * (dist / width) ** 2)
    rain = band * np.exp(RAIN_CELL_LOG_STD * cells - 0.5 * RAIN_CELL_LOG_STD**2)
    return RainField(np.maximum(rain, 50.0).astype(np.float32), f, grid.shape, (dist / width).astype(np.float32))


def wind_damage(rain: RainField, rng: np.random.Generator) -> np.ndarray:
    """Vegetation stripped by the wind, 0..1 on the rain's coarse grid (float32).

    Highest along the track and wider than the rain band (``WIND_WIDTH`` band widths), with
    smooth random gusts (std ``WIND_GUST``): it brightens or darkens the SAR but triggers no
    landslide.
    """
    gusts = fractal_field(rng, rain.coarse_mm.shape, 1.0, beta=3.0, corner_m=40.0)
    base = np.exp(-0.5 * (rain.track_distance / WIND_WIDTH) ** 2)
    return np.clip(WIND_PEAK * base + WIND_GUST * gusts, 0.0, 1.0).astype(np.float32)


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
