"""How much of the scene's chip-level landslide density terrain alone explains.

:func:`terrain_r2` aggregates the simulation to the 128-px chips of the chip store (land chips:
land fraction > 0.5, density per km² of land in the chip) and fits, by ordinary least squares, a
*slope-only* model of the chip's log density: an intercept plus the chip's mean slope, the shares
of its land in the slope bins of :data:`SLOPE_BINS_DEG`, and the log of the chip mean of the
generator's own logistic slope term. That is a generous terrain model (it knows the exact slope
response of the generator); its in-sample R² is an upper bound for what slope can explain.

Two targets:

* **expected**: ``log`` of the chip's expected density (sum of the hidden Poisson intensity);
* **realised**: ``log((heads + 0.5) / land_km2)`` of the heads actually drawn (the 0.5 keeps
  chips without heads finite).

Issue 13 asks for terrain alone to explain well under half of the expected log density, as in
Puerto Rico after María, where rainfall decided where the slopes failed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from landslide_app import config
from landslide_app.scene import landslides, relief
from landslide_app.scene.simulate import SceneFields

#: Slope bins (deg) whose land shares enter the slope-only model.
SLOPE_BINS_DEG: tuple[float, ...] = (0.0, 10.0, 20.0, 30.0, 40.0, 90.0)
#: A chip is a land chip when more than this share of its pixels is land (as in the chip store).
LAND_CHIP_FRACTION: float = 0.5


@dataclass(frozen=True)
class TerrainR2:
    """R² of the slope-only model on the chip-level log density.

    Attributes:
        expected: R² on the log expected density (hidden intensity).
        realised: R² on the log realised density (drawn heads).
        n_chips: Land chips used.
        class_counts: Land chips per density class 0/1/2 (realised heads, class edges of the paper).
    """

    expected: float
    realised: float
    n_chips: int
    class_counts: tuple[int, int, int]


def _chip_sum(a: np.ndarray, chip: int) -> np.ndarray:
    r, c = a.shape
    r, c = r // chip * chip, c // chip * chip
    return a[:r, :c].reshape(r // chip, chip, c // chip, chip).sum(axis=(1, 3), dtype=np.float64)


def r2_ols(x: np.ndarray, y: np.ndarray) -> float:
    """In-sample R² of an ordinary least-squares fit of ``y`` on ``x`` (an intercept is added)."""
    design = np.column_stack([np.ones(len(y)), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    total = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float((resid**2).sum()) / total if total > 0 else float("nan")


def slope_features(fields: SceneFields, chip: int = config.CHIP_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Per-chip slope-only features ``(n_chips, k)`` and the land-chip mask of the chip grid."""
    land = fields.land
    slope = relief.slope_deg(fields.elevation, fields.grid.pixel_m)
    land_px = _chip_sum(land.astype(np.float32), chip)
    is_land_chip = land_px / chip**2 > LAND_CHIP_FRACTION
    n = np.maximum(land_px, 1.0)
    feats = [_chip_sum(np.where(land, slope, 0.0), chip) / n]
    for lo, hi in zip(SLOPE_BINS_DEG[:-2], SLOPE_BINS_DEG[1:-1]):  # last bin is implied by the others
        feats.append(_chip_sum(land & (slope >= lo) & (slope < hi), chip) / n)
    term = 1.0 / (1.0 + np.exp(-(slope - landslides.SLOPE_MID_DEG) / landslides.SLOPE_SCALE_DEG))
    feats.append(np.log(_chip_sum(np.where(land, term, 0.0), chip) / n + 1e-9))
    return np.stack([f[is_land_chip] for f in feats], axis=1), is_land_chip


def terrain_r2(fields: SceneFields, chip: int = config.CHIP_SIZE) -> TerrainR2:
    """R² of the slope-only model on the expected and realised chip-level log density."""
    x, is_land_chip = slope_features(fields, chip)
    land_km2 = _chip_sum(fields.land.astype(np.float32), chip)[is_land_chip] * fields.grid.pixel_area_km2
    expected = _chip_sum(fields.intensity, chip)[is_land_chip]
    heads = _chip_sum(fields.head_counts().astype(np.float32), chip)[is_land_chip]
    y_exp = np.log(np.maximum(expected, 1e-6) / land_km2)
    y_real = np.log((heads + 0.5) / land_km2)
    # Density classes as in the paper (heads per km² of the whole chip).
    density = heads / ((chip * fields.grid.pixel_m / 1000.0) ** 2)
    high = config.DEFAULT_DENSITY_THRESHOLDS[1]
    classes = np.where(heads == 0, 0, np.where(density <= high, 1, 2))
    counts = np.bincount(classes.astype(np.int64), minlength=3)
    return TerrainR2(
        expected=r2_ols(x, y_exp),
        realised=r2_ols(x, y_real),
        n_chips=int(is_land_chip.sum()),
        class_counts=(int(counts[0]), int(counts[1]), int(counts[2])),
    )
