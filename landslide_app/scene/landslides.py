"""Landslides: an inhomogeneous Poisson process of heads and their downslope footprints.

Intensity per 10 m land pixel (expected heads)::

    lambda = c * slope_term * hollow_term * rain_term * soil * cover_term

* ``slope_term = 1 / (1 + exp(-(slope - SLOPE_MID_DEG) / SLOPE_SCALE_DEG))``, a logistic rise
  with slope (from ``numpy.gradient`` of the DEM);
* ``hollow_term = exp(HOLLOW_GAIN * clip(z, -3, 3))`` with ``z`` the Laplacian of the smoothed
  DEM (sigma 20 m) in robust standard units (positive = concave hollows and valleys);
* ``rain_term = (rain / RAIN_REF_MM) ** RAIN_EXPONENT``;
* ``soil``: hidden lognormal factor; ``cover_term``: :data:`COVER_SUSCEPTIBILITY`;
* ``c`` is calibrated so that the expected mean density over land is ``TARGET_DENSITY_PER_KM2``.

Heads are Poisson counts per pixel, placed uniformly inside the pixel. Each landslide gets a
lognormal length (median ``LENGTH_MEDIAN_M``, log-std ``LENGTH_LOG_STD``, clipped to
``LENGTH_RANGE_M``) and width (median ``WIDTH_MEDIAN_M``, log-std ``WIDTH_LOG_STD``, clipped to
``WIDTH_RANGE_M``); its footprint starts at the head and follows the downslope direction of the
smoothed DEM (with some inertia). The footprint is rasterised as the covered fraction of each
pixel by dense sub-sampling (``STEP_M`` along, ``N_ACROSS`` samples across), all landslides at
once per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from landslide_app.scene.hidden import BARE, FOREST, GRASS, URBAN, WATER

TARGET_DENSITY_PER_KM2: float = 8.0
SLOPE_MID_DEG: float = 22.0
SLOPE_SCALE_DEG: float = 6.0
HOLLOW_GAIN: float = 0.35
RAIN_REF_MM: float = 500.0
RAIN_EXPONENT: float = 4.0
COVER_SUSCEPTIBILITY: dict[int, float] = {WATER: 0.0, FOREST: 1.0, GRASS: 1.6, BARE: 2.0, URBAN: 0.2}

LENGTH_MEDIAN_M: float = 40.0
LENGTH_LOG_STD: float = 0.75
LENGTH_RANGE_M: tuple[float, float] = (20.0, 300.0)
WIDTH_MEDIAN_M: float = 9.0
WIDTH_LOG_STD: float = 0.35
WIDTH_RANGE_M: tuple[float, float] = (5.0, 20.0)
STEP_M: float = 2.0
N_ACROSS: int = 8
#: Weight of the local downslope direction at each step (the rest keeps the previous heading).
STEER: float = 0.25


@dataclass
class Landslides:
    """Simulated landslides.

    Attributes:
        rows: Head row positions in fractional pixels (0 = top edge of the grid).
        cols: Head column positions in fractional pixels (0 = left edge).
        length_m: Footprint lengths.
        width_m: Footprint widths.
    """

    rows: np.ndarray
    cols: np.ndarray
    length_m: np.ndarray
    width_m: np.ndarray

    def __len__(self) -> int:
        return int(self.rows.size)


def intensity(
    land: np.ndarray,
    slope: np.ndarray,
    hollow: np.ndarray,
    rain: np.ndarray,
    soil: np.ndarray,
    cover: np.ndarray,
    pixel_area_km2: float,
) -> np.ndarray:
    """Expected landslide heads per pixel (float32), calibrated to ``TARGET_DENSITY_PER_KM2``."""
    hl = hollow[land]
    med = np.median(hl)
    mad = np.median(np.abs(hl - med)) * 1.4826 + 1e-12
    z = np.clip((hollow - med) / np.float32(mad), -3.0, 3.0)
    lam = 1.0 / (1.0 + np.exp(-(slope - np.float32(SLOPE_MID_DEG)) / np.float32(SLOPE_SCALE_DEG)))
    lam *= np.exp(np.float32(HOLLOW_GAIN) * z)
    lam *= (rain / np.float32(RAIN_REF_MM)) ** np.float32(RAIN_EXPONENT)
    lam *= soil
    lut = np.zeros(256, dtype=np.float32)
    for code, value in COVER_SUSCEPTIBILITY.items():
        lut[code] = value
    lam *= lut[cover]
    lam[~land] = 0.0
    total = float(lam.sum(dtype=np.float64))
    n_land = int(land.sum())
    if total > 0:
        lam *= np.float32(TARGET_DENSITY_PER_KM2 * n_land * pixel_area_km2 / total)
    return lam.astype(np.float32, copy=False)


def sample_heads(lam: np.ndarray, rng: np.random.Generator) -> Landslides:
    """Draw heads from per-pixel Poisson counts, with sizes (lengths, widths)."""
    counts = rng.poisson(lam.ravel().astype(np.float64))
    idx = np.flatnonzero(counts)
    idx = np.repeat(idx, counts[idx])
    r, c = np.divmod(idx, lam.shape[1])
    n = idx.size
    rows = r + rng.uniform(0.05, 0.95, n)
    cols = c + rng.uniform(0.05, 0.95, n)
    length = np.clip(LENGTH_MEDIAN_M * np.exp(LENGTH_LOG_STD * rng.standard_normal(n)), *LENGTH_RANGE_M)
    width = np.clip(WIDTH_MEDIAN_M * np.exp(WIDTH_LOG_STD * rng.standard_normal(n)), *WIDTH_RANGE_M)
    return Landslides(rows, cols, length, width)


def footprint_fraction(slides: Landslides, elevation: np.ndarray, land: np.ndarray, pixel_m: float) -> np.ndarray:
    """Fraction of each pixel covered by landslide footprints (float32 in [0, 1])."""
    shape = elevation.shape
    frac = np.zeros(shape[0] * shape[1], dtype=np.float32)
    n = len(slides)
    if n == 0:
        return frac.reshape(shape)
    smooth = ndimage.gaussian_filter(elevation, 1.5, mode="nearest")

    def downslope(r: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ri = np.clip(r.astype(np.int64), 1, shape[0] - 2)
        ci = np.clip(c.astype(np.int64), 1, shape[1] - 2)
        g_c = smooth[ri, ci + 1] - smooth[ri, ci - 1]  # dz per +column
        g_r = smooth[ri + 1, ci] - smooth[ri - 1, ci]  # dz per +row
        norm = np.hypot(g_c, g_r)
        ok = norm > 1e-6
        return np.where(ok, -g_r / np.where(ok, norm, 1), 0.0), np.where(ok, -g_c / np.where(ok, norm, 1), 0.0)

    r = slides.rows.copy()
    c = slides.cols.copy()
    dr, dc = downslope(r, c)
    # Flat spots: a random heading (does not consume the global streams: derived from position).
    flat = (dr == 0) & (dc == 0)
    ang = (r[flat] * 12.9898 + c[flat] * 78.233) % (2 * np.pi)
    dr[flat], dc[flat] = np.sin(ang), np.cos(ang)
    step_px = STEP_M / pixel_m
    across = ((np.arange(N_ACROSS) + 0.5) / N_ACROSS - 0.5)[None, :]  # in widths
    weight = (STEP_M * slides.width_m / N_ACROSS) / (pixel_m * pixel_m)  # area per sample in pixels
    n_steps = int(np.ceil(slides.length_m.max() / STEP_M))
    active = np.arange(n)
    for step in range(n_steps):
        keep = slides.length_m[active] > step * STEP_M
        active = active[keep]
        if active.size == 0:
            break
        # Sample points at the middle of this step, spread across the width (perpendicular).
        half_w = (slides.width_m[active] / pixel_m)[:, None] * across
        rr = r[active, None] + dr[active, None] * 0.5 * step_px + dc[active, None] * half_w
        cc = c[active, None] + dc[active, None] * 0.5 * step_px - dr[active, None] * half_w
        w = np.broadcast_to(weight[active, None], rr.shape)
        inside = (rr >= 0) & (rr < shape[0]) & (cc >= 0) & (cc < shape[1])
        flat_idx = rr[inside].astype(np.int64) * shape[1] + cc[inside].astype(np.int64)
        np.add.at(frac, flat_idx, w[inside].astype(np.float32))
        # Advance and steer towards the local downslope direction.
        r[active] += dr[active] * step_px
        c[active] += dc[active] * step_px
        gr, gc = downslope(r[active], c[active])
        nr = (1 - STEER) * dr[active] + STEER * gr
        nc = (1 - STEER) * dc[active] + STEER * gc
        norm = np.hypot(nr, nc)
        ok = norm > 1e-6
        dr[active] = np.where(ok, nr / np.where(ok, norm, 1), dr[active])
        dc[active] = np.where(ok, nc / np.where(ok, norm, 1), dc[active])
    frac = frac.reshape(shape)
    frac[~land] = 0.0
    np.minimum(frac, 1.0, out=frac)
    return frac
