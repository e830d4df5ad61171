"""Terrain: the island's land mask and elevation, plus slope/curvature helpers.

The land mask is a rounded rectangle (superellipse of exponent ``COAST_SHAPE_EXPONENT``)
roughened by a fractal field, so the coastline is fractal and most chips are on land. The
elevation is a central east-west mountain range (a Gaussian ridge, peak ``RANGE_PEAK_M``)
raised from the coast over ``COAST_RAMP_M``, plus fractal relief (power spectrum ``k^-3.2``) whose
amplitude grows with height, minus two networks of valleys carved along the zero lines of smooth
random fields. Sea is exactly 0.0 m; land is strictly positive.
"""

from __future__ import annotations

from typing import cast

import numpy as np
from scipy import ndimage

from landslide_app.scene.grid import SceneGrid
from landslide_app.scene.noise import fractal_field, upsample

#: Exponent of the superellipse that shapes the island (higher: closer to the rectangle).
COAST_SHAPE_EXPONENT: float = 5.0
#: Coast at this superellipse radius (1 = the rectangle's edge midpoints).
COAST_RADIUS: float = 0.95
#: Amplitude of the fractal roughening of the coast (in superellipse radius units).
COAST_ROUGHNESS: float = 0.035
#: Peak of the mountain range in metres (for scenes at least ~22 km north-south).
RANGE_PEAK_M: float = 1100.0
#: Summits above this height are rounded off towards at most knee + span.
SUMMIT_KNEE_M: float = 1000.0
SUMMIT_SPAN_M: float = 450.0
#: Distance from the coast over which the land rises (e-folding, m).
COAST_RAMP_M: float = 1500.0
#: Spectral exponent and corner wavelength of the fractal relief.
RELIEF_BETA: float = 4.6
RELIEF_CORNER_M: float = 5000.0
#: Relief standard deviation: this many metres plus this fraction of the range height.
RELIEF_STD0_M: float = 25.0
RELIEF_STD_PER_M: float = 0.12
#: Standard deviation (m) of the fine (<300 m) hillslope roughness.
ROUGHNESS_STD_M: float = 3.0
#: Valley networks: (corner wavelength m, width in field units, depth m, depth per m of range).
VALLEYS: tuple[tuple[float, float, float, float], ...] = ((4000.0, 0.4, 15.0, 0.10), (1200.0, 0.4, 5.0, 0.04))
#: Smooth fields are generated on a grid this many times coarser than the 10 m pixels.
COARSEN: int = 4


def coarse_shape(shape: tuple[int, int], factor: int) -> tuple[int, int]:
    """Shape of a coarse grid whose samples bracket every pixel of ``shape``."""
    return (int(np.ceil(shape[0] / factor)) + 1, int(np.ceil(shape[1] / factor)) + 1)


def _rel_coords(grid: SceneGrid, shape: tuple[int, int], step: float) -> tuple[np.ndarray, np.ndarray]:
    """Relative coordinates u (west -1 .. east +1) and v (south -1 .. north +1) of a grid."""
    rows = (np.arange(shape[0]) * step + 0.5) / grid.height
    cols = (np.arange(shape[1]) * step + 0.5) / grid.width
    u = (2.0 * cols - 1.0).astype(np.float32)[None, :]
    v = (1.0 - 2.0 * rows).astype(np.float32)[:, None]
    return u, v


def land_mask(grid: SceneGrid, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Simulate the island.

    Returns:
        ``(land, coast_distance_m)``: boolean land mask and float32 distance to the sea in metres
        (0 at sea), both of ``grid.shape``.
    """
    f = COARSEN
    cshape = coarse_shape(grid.shape, f)
    u, v = _rel_coords(grid, cshape, f)
    p = COAST_SHAPE_EXPONENT
    radius = (np.abs(u) ** p + np.abs(v) ** p) ** (1.0 / p)
    size_m = min(grid.width, grid.height) * grid.pixel_m
    rough = fractal_field(rng, cshape, grid.pixel_m * f, beta=3.4, corner_m=0.6 * size_m)
    indicator = radius + COAST_ROUGHNESS * rough - COAST_RADIUS
    coarse_land = indicator < 0
    # Keep the main island only where noise created many specks, but keep real islets >~1 km².
    labels, n = ndimage.label(coarse_land)
    if n > 1:
        sizes = ndimage.sum_labels(coarse_land, labels, index=np.arange(1, n + 1))
        min_px = 1e6 / (grid.pixel_m * f) ** 2
        keep = np.concatenate([[False], sizes >= min_px])
        keep[1 + int(np.argmax(sizes))] = True
        coarse_land = keep[labels]
        indicator = np.where(coarse_land, np.minimum(indicator, -1e-6), np.maximum(indicator, 1e-6))
    dist = ndimage.distance_transform_edt(coarse_land).astype(np.float32) * np.float32(grid.pixel_m * f)
    land = upsample(indicator.astype(np.float32), f, grid.shape) < 0
    coast_distance = upsample(dist, f, grid.shape)
    coast_distance = np.where(land, np.maximum(coast_distance, grid.pixel_m / 2), 0.0).astype(np.float32)
    return land, coast_distance


def range_peak_m(grid: SceneGrid) -> float:
    """Peak of the range: ``RANGE_PEAK_M``, lowered for scenes under ~22 km north-south."""
    half_height_km = grid.height * grid.pixel_m / 2000.0
    return RANGE_PEAK_M * float(np.clip(half_height_km / 11.0, 0.45, 1.0))


def elevation(grid: SceneGrid, land: np.ndarray, coast_distance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Simulate the elevation (float32 m): 0.0 at sea, > 0 on land."""
    h_m = grid.height * grid.pixel_m
    w_m = grid.width * grid.pixel_m
    f = COARSEN
    cshape = coarse_shape(grid.shape, f)
    ramp = 1.0 - np.exp(-coast_distance / np.float32(COAST_RAMP_M))  # 0 at coast, -> 1 inland
    # Central E-W range with a wavy crest, highest in the middle, lower towards the ends.
    x = (np.arange(grid.width, dtype=np.float32) + 0.5) * np.float32(grid.pixel_m)
    y = (np.arange(grid.height, dtype=np.float32) + 0.5) * np.float32(grid.pixel_m)
    phase = rng.uniform(0, 2 * np.pi)
    crest = h_m / 2 + 0.07 * h_m * np.sin(2 * np.pi * 1.3 * x / w_m + phase)
    sigma = min(0.33 * h_m / 2, 8000.0)
    uu = 2 * x / w_m - 1
    along = (0.55 + 0.45 * np.cos(np.pi * 0.8 * uu)).astype(np.float32)
    ridge = np.exp(-0.5 * ((y[:, None] - crest[None, :]) / np.float32(sigma)) ** 2)
    base = (range_peak_m(grid) * ridge * along[None, :] + 25.0).astype(np.float32) * ramp
    del ridge
    # Fractal relief, stronger in the mountains, plus fine hillslope roughness.
    relief = fractal_field(rng, grid.shape, grid.pixel_m, beta=RELIEF_BETA, corner_m=RELIEF_CORNER_M)
    elev = base + relief * (RELIEF_STD0_M + RELIEF_STD_PER_M * base) * ramp
    relief = fractal_field(rng, grid.shape, grid.pixel_m, beta=3.0, corner_m=300.0)
    elev += relief * (ROUGHNESS_STD_M * ramp)
    del relief
    # Valley networks along the zero lines of smooth fields (main valleys, then tributaries).
    for corner_m, width, depth0, depth1 in VALLEYS:
        nv = fractal_field(rng, cshape, grid.pixel_m * f, beta=5.0, corner_m=corner_m)
        carve = upsample(np.exp(-((nv / np.float32(width)) ** 2)), f, grid.shape)
        elev -= carve * (depth0 + depth1 * base) * ramp
        del carve
    # Round off the summits (soft cap: heights above SUMMIT_KNEE_M approach +SUMMIT_SPAN_M).
    knee, span = np.float32(SUMMIT_KNEE_M), np.float32(SUMMIT_SPAN_M)
    elev = np.where(elev > knee, knee + span * np.tanh((elev - knee) / span), elev)
    # Keep land strictly positive without flat plateaus (soft floor at ~1 m).
    soft = np.float32(5.0)
    elev = np.where(elev > 30, elev, soft * np.log1p(np.exp(np.minimum(elev, 30) / soft)) + 0.1)
    return np.where(land, elev, 0.0).astype(np.float32)


def gradients(elev: np.ndarray, pixel_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(dz/dx_east, dz/dy_north)`` by central differences (float32)."""
    # A 2-D input gives one gradient array per axis (numpy's stub cannot tell the dimension).
    gy, gx = cast(tuple[np.ndarray, np.ndarray], np.gradient(elev.astype(np.float32, copy=False), np.float32(pixel_m)))
    return gx.astype(np.float32, copy=False), (-gy).astype(np.float32, copy=False)


def slope_deg(elev: np.ndarray, pixel_m: float) -> np.ndarray:
    """Slope in degrees from ``numpy.gradient`` (float32)."""
    gx, gy = gradients(elev, pixel_m)
    return np.degrees(np.arctan(np.hypot(gx, gy))).astype(np.float32)


def hollowness(elev: np.ndarray, pixel_m: float, sigma_px: float = 2.0) -> np.ndarray:
    """Laplacian of the Gaussian-smoothed DEM (1/m): positive in concave hollows and valleys."""
    return ndimage.gaussian_laplace(elev.astype(np.float32), sigma_px, mode="nearest") / np.float32(pixel_m**2)
