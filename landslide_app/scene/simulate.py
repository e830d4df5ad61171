"""Simulation of a whole scene in memory: :func:`simulate_scene` -> :class:`SceneFields`.

Holds the public fields (elevation, landslide heads) next to the hidden ones (rainfall, land
cover, landslide intensity and footprints) for tests and inspection. SAR bands are computed on
demand, one date/polarisation (and block of rows) at a time, so a large scene never holds all 13
rasters at once. Nothing here writes files; see :mod:`landslide_app.scene.write`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from landslide_app import config
from landslide_app.scene import hidden, landslides, relief, sar
from landslide_app.scene.grid import SceneGrid
from landslide_app.scene.noise import fractal_field
from landslide_app.scene.rng import stream
from landslide_app.scene.sizes import SceneSize, check_seed, parse_scene_size

log = logging.getLogger(__name__)

#: Version of the simulation and file layout; a scene of another version is regenerated.
GENERATOR_VERSION: str = "2"

#: Coarsening of the SAR texture (40 m samples) and post-event weather fields (160 m samples).
TEXTURE_COARSEN: int = 4
WEATHER_COARSEN: int = 16


@dataclass
class SceneFields:
    """A simulated scene held in memory (public and hidden fields).

    Attributes:
        size: Scene size in chips.
        seed: Seed it was simulated from.
        grid: Raster grid (EPSG:32619, 10 m).
        elevation: float32 DEM (m); sea exactly 0.0.
        land: Boolean land mask.
        land_cover: uint8 land-cover codes (hidden; see :mod:`landslide_app.scene.hidden`).
        rain: Hurricane rainfall (hidden; full raster via :meth:`rainfall`).
        intensity: Expected landslide heads per pixel (hidden).
        slides: Landslide heads and sizes.
        footprint: Fraction of each pixel covered by landslide footprints (hidden).
        sar_fields: Hidden smooth fields of the SAR simulation (texture, season, weather, wind, flooding).
    """

    size: SceneSize
    seed: int
    grid: SceneGrid
    elevation: np.ndarray
    land: np.ndarray
    land_cover: np.ndarray
    rain: hidden.RainField
    intensity: np.ndarray
    slides: landslides.Landslides
    footprint: np.ndarray
    sar_fields: sar.SarFields

    @property
    def n_heads(self) -> int:
        """Number of landslide heads."""
        return len(self.slides)

    @property
    def land_area_km2(self) -> float:
        """Land area in km²."""
        return float(self.land.sum()) * self.grid.pixel_area_km2

    @property
    def mean_density_per_km2(self) -> float:
        """Heads per km² of land."""
        area = self.land_area_km2
        return self.n_heads / area if area > 0 else 0.0

    def heads_xy(self) -> tuple[np.ndarray, np.ndarray]:
        """Head coordinates (x, y) in the grid CRS (m)."""
        g = self.grid
        return g.x0 + self.slides.cols * g.pixel_m, g.y0 - self.slides.rows * g.pixel_m

    def head_counts(self) -> np.ndarray:
        """Heads per pixel (int32 raster)."""
        counts = np.zeros(self.grid.shape, dtype=np.int32)
        np.add.at(counts, (self.slides.rows.astype(np.int64), self.slides.cols.astype(np.int64)), 1)
        return counts

    def rainfall(self) -> np.ndarray:
        """Storm-total rainfall (mm, float32 raster; hidden)."""
        return self.rain.block(self.elevation, slice(0, self.grid.height))

    def sar(
        self, date_index: int, pol: sar.Polarisation, rows: slice | None = None, speckle: bool = True
    ) -> np.ndarray:
        """Gamma0 (linear power, float32) for one date of ``config.S1_DATES`` and polarisation.

        Args:
            date_index: 0..5 (0-2 before the event, 3-5 after).
            pol: ``"vv"`` or ``"vh"``.
            rows: Block of rows (must start on a multiple of ``sar.BLOCK_ROWS``); all if None.
            speckle: Apply the speckle (False gives the underlying backscatter).
        """
        n_dates = len(config.S1_DATES)
        if not 0 <= date_index < n_dates:
            raise ValueError(f"date_index must be in 0..{n_dates - 1}, got {date_index}")
        return sar.sar_block(
            date_index=date_index,
            pol=pol,
            rows=rows or slice(0, self.grid.height),
            elevation=self.elevation,
            land_cover=self.land_cover,
            footprint=self.footprint,
            rain=self.rain,
            fields=self.sar_fields,
            pixel_m=self.grid.pixel_m,
            seed=self.seed,
            speckle=speckle,
        )


def _sar_fields(grid: SceneGrid, rain: hidden.RainField, seed: int) -> sar.SarFields:
    """The hidden smooth fields of the SAR simulation, each from its own random stream."""
    cshape = relief.coarse_shape(grid.shape, TEXTURE_COARSEN)
    fine_m = grid.pixel_m * TEXTURE_COARSEN
    wshape = relief.coarse_shape(grid.shape, WEATHER_COARSEN)
    smooth_m = grid.pixel_m * WEATHER_COARSEN
    texture = fractal_field(stream(seed, "sar-texture"), cshape, fine_m, beta=3.0, corner_m=800.0)
    flood = fractal_field(stream(seed, "sar-flood"), cshape, fine_m, beta=3.0, corner_m=1000.0)
    lrng = stream(seed, "sar-layover")
    n_post = config.N_POST_DATES
    layover = np.stack([fractal_field(lrng, cshape, fine_m, beta=2.0, corner_m=200.0) for _ in range(n_post)])
    srng = stream(seed, "sar-season")
    n_dates = config.N_PRE_DATES + config.N_POST_DATES
    season = np.stack([fractal_field(srng, wshape, smooth_m, beta=3.5, corner_m=3000.0) for _ in range(n_dates)])
    wrng = stream(seed, "sar-weather")
    weather = np.stack([fractal_field(wrng, wshape, smooth_m, beta=4.0, corner_m=5000.0) for _ in range(n_post)])
    wind = hidden.wind_damage(rain, stream(seed, "wind"))
    return sar.SarFields(texture, flood, layover, season, weather, wind, TEXTURE_COARSEN, WEATHER_COARSEN)


def simulate_scene(size: str | SceneSize = "demo", seed: int = 0, progress: bool = True) -> SceneFields:
    """Simulate a scene in memory (deterministic for ``size`` and ``seed``).

    Raises:
        ConfigError: for an unknown size or a bad seed.
    """
    size = parse_scene_size(size)
    seed = check_seed(seed)
    grid = SceneGrid(size.width, size.height)
    stages = ["land", "terrain", "hidden fields", "landslides", "footprints", "sar fields"]
    bar = tqdm(total=len(stages), desc=f"simulate {size.name}", disable=not progress, unit="stage")

    def done(name: str) -> None:
        log.debug("scene %s seed %d: %s done", size.name, seed, name)
        bar.set_postfix_str(name)
        bar.update(1)

    land, coast = relief.land_mask(grid, stream(seed, "coast"))
    done("land")
    elev = relief.elevation(grid, land, coast, stream(seed, "terrain"))
    done("terrain")
    slope = relief.slope_deg(elev, grid.pixel_m)
    rain = hidden.rainfall(grid, stream(seed, "rain"))
    cover = hidden.land_cover(grid, land, elev, slope, coast, stream(seed, "cover"))
    del coast
    done("hidden fields")
    lam = landslides.intensity(
        land,
        slope,
        relief.hollowness(elev, grid.pixel_m),
        rain.block(elev, slice(0, grid.height)),
        hidden.soil_factor(grid, stream(seed, "soil")),
        cover,
        grid.pixel_area_km2,
    )
    del slope
    slides = landslides.sample_heads(lam, stream(seed, "heads"))
    done("landslides")
    frac = landslides.footprint_fraction(slides, elev, land, grid.pixel_m)
    done("footprints")
    sar_fields = _sar_fields(grid, rain, seed)
    done("sar fields")
    bar.close()
    fields = SceneFields(size, seed, grid, elev, land, cover, rain, lam, slides, frac, sar_fields)
    log.info(
        "Simulated scene %s (seed %d): %d x %d px, %.1f km² land, %d landslide heads (%.2f /km²)",
        size.name,
        seed,
        grid.width,
        grid.height,
        fields.land_area_km2,
        fields.n_heads,
        fields.mean_density_per_km2,
    )
    return fields
