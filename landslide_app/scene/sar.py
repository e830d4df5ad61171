"""Sentinel-1 RTC simulation: VV and VH gamma0 in linear power for the six dates of Table 1.

Per pixel and date (computed per block of rows, so a band never needs other bands)::

    I = base(cover, pol) * texture * terrain * season(t) * [post: wet(t) * strip * flood(t) * scar]
        ; layover / shadow ; * speckle

* ``base``: :data:`BACKSCATTER_DB` per land-cover class (sea: water).
* ``texture``: smooth, date-independent field, std ``TEXTURE_STD_DB`` dB (VH x1.2).
* ``terrain``: ascending pass, radar looking east at ``INCIDENCE_DEG``; residual modulation of the
  terrain-flattened gamma0 ``(cos(theta_local) / cos(theta)) ** TERRAIN_EXPONENT``; layover where the
  range slope facing the radar exceeds the incidence angle (``+LAYOVER_GAIN_DB``), radar shadow
  where the slope facing away exceeds ``90 - INCIDENCE_DEG`` (noise floor :data:`SHADOW_DB`).
* ``season(t)``, every date: a scene-wide offset :data:`SEASON_OFFSET_DB` (the wet season advancing
  from August to October) plus a smooth field of std ``SEASON_STD_DB`` dB on vegetated land,
  independent per date (soil moisture and canopy water of ordinary showers). So the three
  pre-event dates differ by more than speckle.
* ``wet(t)``: after the event, ``WET_DB[pol][k] * r * WET_COVER[cover]`` dB with ``r`` the
  normalised hurricane rainfall (hidden), fading over the three post dates, plus a smooth
  weather field of std ``WEATHER_STD_DB`` dB independent per post date.
* ``strip``: wind-stripped vegetation on forest and pasture after the event, ``STRIP_DB[pol] * w``
  dB with ``w`` the hidden wind-damage field (0..1, see :mod:`.hidden`), persistent over the post
  dates (recovering by ``STRIP_RECOVERY`` per date).
* ``flood(t)``: low (< ``FLOOD_MAX_ELEV_M``), flat (< ``FLOOD_MAX_SLOPE_DEG``) land under heavy
  rain floods in patches on the post dates (extent shrinking over :data:`FLOOD_THRESHOLD`):
  open water (specular, :data:`FLOOD_DB`) except towns, where water and walls double-bounce
  (``+FLOOD_URBAN_GAIN_DB``).
* ``scar``: on landslide footprints ``(1 - f) + f * 10 ** (SCAR_DB[cover][pol] / 10)`` with ``f`` the
  covered fraction of the pixel (vegetation loss: VH drops more than VV); not seen in layover,
  where the cell mixes returns from the whole slope.
* ``layover`` after the event: an independent smooth change of std ``LAYOVER_CHANGE_DB`` dB per
  post date (the mixed return of a slope changes with any wet or stripped patch on it).
* ``speckle``: independent unit-mean gamma noise with ``ENL`` looks per date, polarisation and
  block of ``BLOCK_ROWS`` rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from landslide_app import config
from landslide_app.scene.hidden import BARE, FOREST, GRASS, URBAN, WATER, RainField
from landslide_app.scene.noise import upsample
from landslide_app.scene.relief import gradients
from landslide_app.scene.rng import stream

Polarisation = Literal["vv", "vh"]

#: Equivalent number of looks of the multiplicative gamma speckle (Sentinel-1 RTC at 10 m).
ENL: float = 4.4
INCIDENCE_DEG: float = 39.0
LOOK_DIRECTION: str = "east"
TERRAIN_EXPONENT: float = 1.0
LAYOVER_GAIN_DB: float = 6.0
#: Noise-equivalent floor in radar shadow (dB) for VV, VH.
SHADOW_DB: dict[str, float] = {"vv": -24.0, "vh": -28.0}
#: Typical backscatter (dB) per land-cover class for VV, VH.
BACKSCATTER_DB: dict[int, tuple[float, float]] = {
    WATER: (-20.0, -27.0),
    FOREST: (-7.0, -13.0),
    GRASS: (-10.0, -17.0),
    BARE: (-12.0, -20.0),
    URBAN: (-3.0, -10.0),
}
TEXTURE_STD_DB: float = 0.8
#: Post-event wet-soil / vegetation-damage brightening (dB at normalised rainfall 1) per post date.
WET_DB: dict[str, tuple[float, float, float]] = {"vv": (2.0, 1.0, 0.4), "vh": (1.6, 0.8, 0.3)}
WET_COVER: dict[int, float] = {WATER: 0.0, FOREST: 1.0, GRASS: 1.0, BARE: 1.2, URBAN: 0.3}
#: Rainfall normalisation: r = (rain - RAIN_NORM_MM[0]) / (RAIN_NORM_MM[1] - RAIN_NORM_MM[0]).
RAIN_NORM_MM: tuple[float, float] = (250.0, 750.0)
WEATHER_STD_DB: float = 0.3
#: Change (dB) on a fully covered landslide scar, per cover class, for VV, VH.
SCAR_DB: dict[int, tuple[float, float]] = {
    WATER: (0.0, 0.0),
    FOREST: (-2.0, -6.0),
    GRASS: (-0.5, -3.0),
    BARE: (0.0, -1.0),
    URBAN: (-2.0, -3.0),
}
#: Scene-wide seasonal offset (dB) per date (Aug 23 .. Oct 22), and std of the per-date smooth field.
SEASON_OFFSET_DB: tuple[float, ...] = (0.0, 0.15, 0.3, 0.3, 0.35, 0.4)
SEASON_STD_DB: float = 0.5
#: Wind-stripped vegetation: change (dB) at wind damage 1, for VV, VH; share of it left per later date.
STRIP_DB: dict[str, float] = {"vv": -1.0, "vh": -2.0}
STRIP_COVER: dict[int, float] = {WATER: 0.0, FOREST: 1.0, GRASS: 0.5, BARE: 0.0, URBAN: 0.2}
STRIP_RECOVERY: float = 0.85
#: Flooding: land below this elevation (m) and slope (deg) can flood on the post dates.
FLOOD_MAX_ELEV_M: float = 40.0
FLOOD_MAX_SLOPE_DEG: float = 3.0
#: A low, flat pixel is flooded on post date k when patch field + FLOOD_RAIN_GAIN * r > FLOOD_THRESHOLD[k].
FLOOD_RAIN_GAIN: float = 1.5
FLOOD_THRESHOLD: tuple[float, float, float] = (1.2, 2.0, 3.0)
#: Open flood water (dB) for VV, VH; towns instead brighten by double bounce.
FLOOD_DB: tuple[float, float] = (-18.0, -25.0)
FLOOD_URBAN_GAIN_DB: float = 4.0
#: Std (dB) of the independent post-event change in layover.
LAYOVER_CHANGE_DB: float = 2.0
#: Rows per speckle block (a multiple of the chip size).
BLOCK_ROWS: int = 512

_POL_INDEX = {"vv": 0, "vh": 1}


def _lut(table: dict[int, float]) -> np.ndarray:
    lut = np.zeros(256, dtype=np.float32)
    for k, v in table.items():
        lut[k] = v
    return lut


@dataclass
class SarFields:
    """Hidden smooth fields of the SAR simulation, on coarse grids (upsampled per block).

    Attributes:
        texture: Date-independent texture (``fine_factor`` coarser than the pixels).
        flood_patch: Patchiness of flooding (``fine_factor``).
        layover_change: One field per post date (``fine_factor``).
        season: One field per date (``smooth_factor``).
        weather: One field per post date (``smooth_factor``).
        wind: Wind damage 0..1 (``smooth_factor``).
        fine_factor: Coarsening of the fine fields.
        smooth_factor: Coarsening of the smooth fields.
    """

    texture: np.ndarray
    flood_patch: np.ndarray
    layover_change: np.ndarray
    season: np.ndarray
    weather: np.ndarray
    wind: np.ndarray
    fine_factor: int
    smooth_factor: int


@dataclass
class _Block:
    """A block of rows of the scene: its land cover, and the hidden fields upsampled onto it."""

    shape: tuple[int, int]
    rows: slice
    cover: np.ndarray
    fields: SarFields

    @property
    def land(self) -> np.ndarray:
        return self.cover != WATER

    def fine(self, coarse: np.ndarray) -> np.ndarray:
        return upsample(coarse, self.fields.fine_factor, self.shape, self.rows)

    def smooth(self, coarse: np.ndarray) -> np.ndarray:
        return upsample(coarse, self.fields.smooth_factor, self.shape, self.rows)


def sar_block(
    *,
    date_index: int,
    pol: Polarisation,
    rows: slice,
    elevation: np.ndarray,
    land_cover: np.ndarray,
    footprint: np.ndarray,
    rain: RainField,
    fields: SarFields,
    pixel_m: float,
    seed: int,
    speckle: bool = True,
) -> np.ndarray:
    """Gamma0 (linear, float32) of one date and polarisation for a block of rows.

    ``rows`` must start on a multiple of :data:`BLOCK_ROWS` when ``speckle`` is on, so that the
    speckle of a block does not depend on how the band is cut.
    """
    if pol not in _POL_INDEX:
        raise ValueError(f"pol must be 'vv' or 'vh', got {pol!r}")
    p = _POL_INDEX[pol]
    shape = elevation.shape
    r0, r1, _ = rows.indices(shape[0])
    blk = _Block(shape, slice(r0, r1), land_cover[r0:r1], fields)
    cover, land = blk.cover, blk.land

    # Base backscatter and date-independent texture.
    db = _lut({k: v[p] for k, v in BACKSCATTER_DB.items()})[cover]
    db += np.float32(TEXTURE_STD_DB * (1.0 if p == 0 else 1.2)) * blk.fine(fields.texture)
    terrain_db, cos_loc, gx, flat = _terrain(elevation, r0, r1, pixel_m, land)
    db += terrain_db
    del terrain_db
    # Season: every date, on land.
    season = np.float32(SEASON_OFFSET_DB[date_index]) + np.float32(SEASON_STD_DB) * blk.smooth(
        fields.season[date_index]
    )
    db += np.where(land, season, 0.0).astype(np.float32)
    del season
    layover = land & (gx > np.float32(np.tan(np.radians(INCIDENCE_DEG))))
    post = date_index - config.N_PRE_DATES
    flooded = np.zeros(cover.shape, dtype=bool)
    if post >= 0:
        flooded = _add_post_event_db(db, blk, post, pol, elevation[r0:r1], rain, flat, layover)
    lin = np.power(np.float32(10.0), db / np.float32(10.0)).astype(np.float32)
    del db
    if post >= 0:
        _apply_scar_and_flood(lin, cover, p, footprint[r0:r1], layover, flooded)
    lin[layover] *= np.float32(10.0 ** (LAYOVER_GAIN_DB / 10.0))
    shadow = land & (cos_loc <= 0)
    lin[shadow] = np.float32(10.0 ** (SHADOW_DB[pol] / 10.0))
    if speckle:
        _apply_speckle(lin, seed, date_index, p, r0, r1, shape)
    return lin


def _terrain(
    elevation: np.ndarray, r0: int, r1: int, pixel_m: float, land: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Terrain modulation (dB, 0 off land), cosine of the local incidence, range slope ``gx`` and the
    flat land mask of rows ``r0:r1``, from the DEM with a one-row halo for the gradient."""
    shape = elevation.shape
    h0, h1 = max(r0 - 1, 0), min(r1 + 1, shape[0])
    gx, gy = gradients(elevation[h0:h1], pixel_m)
    gx = gx[r0 - h0 : r1 - h0]
    gy = gy[r0 - h0 : r1 - h0]
    theta = np.radians(INCIDENCE_DEG)
    norm = np.sqrt(1.0 + gx * gx + gy * gy)
    cos_loc = (np.float32(np.cos(theta)) + gx * np.float32(np.sin(theta))) / norm
    flat = land & (norm < np.float32(1.0 / np.cos(np.radians(FLOOD_MAX_SLOPE_DEG))))
    del gy, norm
    mod = np.clip(cos_loc, 0.05, None) / np.float32(np.cos(theta))
    terrain_db = np.where(land, np.float32(10.0 * TERRAIN_EXPONENT) * np.log10(mod), 0.0).astype(np.float32)
    return terrain_db, cos_loc, gx, flat


def _add_post_event_db(
    db: np.ndarray,
    blk: _Block,
    post: int,
    pol: Polarisation,
    elevation: np.ndarray,
    rain: RainField,
    flat: np.ndarray,
    layover: np.ndarray,
) -> np.ndarray:
    """Add, in place, the post-event wet soil, weather, wind stripping and layover change of post
    date ``post`` to ``db``; return the flooded pixels (``elevation``: the block's rows)."""
    cover, land, fields = blk.cover, blk.land, blk.fields
    flooded = np.zeros(cover.shape, dtype=bool)
    rain_mm = rain.block(elevation, blk.rows)
    r = np.clip((rain_mm - np.float32(RAIN_NORM_MM[0])) / np.float32(RAIN_NORM_MM[1] - RAIN_NORM_MM[0]), 0.0, 1.5)
    del rain_mm
    db += np.float32(WET_DB[pol][post]) * r * _lut(WET_COVER)[cover]
    db += np.where(land, np.float32(WEATHER_STD_DB) * blk.smooth(fields.weather[post]), 0.0).astype(np.float32)
    strip = np.float32(STRIP_DB[pol] * STRIP_RECOVERY**post) * blk.smooth(fields.wind) * _lut(STRIP_COVER)[cover]
    db += strip
    del strip
    low = flat & (elevation < np.float32(FLOOD_MAX_ELEV_M))
    if low.any():
        patch = blk.fine(fields.flood_patch)
        flooded = low & (patch + np.float32(FLOOD_RAIN_GAIN) * r > np.float32(FLOOD_THRESHOLD[post]))
        del patch
    del low, r
    if layover.any():
        db[layover] += np.float32(LAYOVER_CHANGE_DB) * blk.fine(fields.layover_change[post])[layover]
    return flooded


def _apply_scar_and_flood(
    lin: np.ndarray, cover: np.ndarray, p: int, footprint: np.ndarray, layover: np.ndarray, flooded: np.ndarray
) -> None:
    """Multiply in the landslide scars (not in layover) and set flood water / urban double bounce."""
    f = np.where(layover, 0.0, footprint).astype(np.float32)
    scar = np.power(np.float32(10.0), _lut({k: v[p] for k, v in SCAR_DB.items()})[cover] / np.float32(10.0))
    lin *= (1.0 - f) + f * scar
    del f, scar
    urban = cover == URBAN
    lin[flooded & ~urban] = np.float32(10.0 ** (FLOOD_DB[p] / 10.0))
    lin[flooded & urban] *= np.float32(10.0 ** (FLOOD_URBAN_GAIN_DB / 10.0))


def _apply_speckle(
    lin: np.ndarray, seed: int, date_index: int, p: int, r0: int, r1: int, shape: tuple[int, ...]
) -> None:
    """Multiply in unit-mean gamma speckle, drawn per whole block of :data:`BLOCK_ROWS` rows."""
    if r0 % BLOCK_ROWS:
        raise ValueError(f"speckled blocks must start on a multiple of {BLOCK_ROWS} rows, got {r0}")
    for b0 in range(r0, r1, BLOCK_ROWS):
        b1 = min(b0 + BLOCK_ROWS, r1)
        full = min(b0 + BLOCK_ROWS, shape[0]) - b0  # always draw the whole block
        rng = stream(seed, "speckle", date_index, p, b0 // BLOCK_ROWS)
        g = rng.standard_gamma(ENL, size=(full, shape[1]), dtype=np.float32)[: b1 - b0]
        lin[b0 - r0 : b1 - r0] *= g / np.float32(ENL)
