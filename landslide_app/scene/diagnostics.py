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

**What a map could be on this scene** (:func:`class_probabilities`, :func:`terrain_class_probabilities`):
a chip's heads are a Poisson draw of its expected count ``λ`` (the sum of the hidden intensity), so its
density class is random even for a model that knows ``λ``: ``P(0) = e^-λ``, ``P(2) = P(N > c)`` with
``c`` the most heads a class-1 chip holds (:attr:`ChipTruth.max_class1_heads`, 40 on 128-px chips),
``P(1)`` the rest. Two reference models, both fitted on the truth (upper bounds, not methods):

* the **oracle** knows ``λ`` (what SAR and DEM together could tell at best: the storm included);
* the **terrain oracle** knows only what slope tells of ``λ``: the slope-only model's fit of the
  log expected density (in-sample, as for the R²), with the spread of its residuals mixed in
  (``λ = land_km2 * exp(fit + r)`` over the empirical residuals ``r``, a Poisson-lognormal count).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import poisson

from landslide_app import config
from landslide_app.core.density import density_class
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


@dataclass(frozen=True)
class ChipTruth:
    """The hidden truth of a scene's land chips (grid order, land chips only).

    Attributes:
        expected: Expected heads per chip (``λ``, the sum of the hidden Poisson intensity).
        heads: Heads drawn per chip.
        land_km2: Land area of each chip (km²).
        classes: Density class of each chip (realised heads per km² of the whole chip, the paper's
            class edges :data:`landslide_app.config.DEFAULT_DENSITY_THRESHOLDS`).
        max_class1_heads: The most heads a class-1 chip holds (more is class 2).
    """

    expected: np.ndarray
    heads: np.ndarray
    land_km2: np.ndarray
    classes: np.ndarray
    max_class1_heads: int

    @property
    def log_expected_density(self) -> np.ndarray:
        """``log`` of the expected heads per km² of land (what the slope-only model fits)."""
        return np.log(np.maximum(self.expected, 1e-6) / self.land_km2)


def _chip_sum(a: np.ndarray, chip: int) -> np.ndarray:
    r, c = a.shape
    r, c = r // chip * chip, c // chip * chip
    return a[:r, :c].reshape(r // chip, chip, c // chip, chip).sum(axis=(1, 3), dtype=np.float64)


def r2_ols(x: np.ndarray, y: np.ndarray) -> float:
    """In-sample R² of an ordinary least-squares fit of ``y`` on ``x`` (an intercept is added)."""
    _, resid = _ols(x, y)
    total = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float((resid**2).sum()) / total if total > 0 else float("nan")


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """In-sample fitted values and residuals of ``y`` on ``x`` plus an intercept."""
    design = np.column_stack([np.ones(len(y)), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    fitted = design @ coef
    return fitted, y - fitted


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


def chip_truth(fields: SceneFields, chip: int = config.CHIP_SIZE) -> ChipTruth:
    """Expected and drawn heads, land area and density class of every land chip."""
    land_px = _chip_sum(fields.land.astype(np.float32), chip)
    is_land_chip = land_px / chip**2 > LAND_CHIP_FRACTION
    chip_km2 = (chip * fields.grid.pixel_m / 1000.0) ** 2
    heads = _chip_sum(fields.head_counts().astype(np.float32), chip)[is_land_chip]
    return ChipTruth(
        expected=_chip_sum(fields.intensity, chip)[is_land_chip],
        heads=heads,
        land_km2=land_px[is_land_chip] * fields.grid.pixel_area_km2,
        classes=density_class(heads, chip_km2).astype(np.int64),  # the chip store's rule
        max_class1_heads=int(np.floor(config.DEFAULT_DENSITY_THRESHOLDS[1] * chip_km2 + 1e-9)),
    )


def class_probabilities(expected: np.ndarray, max_class1_heads: int) -> np.ndarray:
    """``P(class | λ)`` ``(n, 3)`` of chips whose heads are Poisson with mean ``expected``."""
    lam = np.maximum(np.asarray(expected, np.float64), 0.0)
    p0 = np.exp(-lam)
    p2 = poisson.sf(max_class1_heads, lam)
    return np.stack([p0, np.clip(1.0 - p0 - p2, 0.0, 1.0), p2], axis=1)


def terrain_class_probabilities(fields: SceneFields, truth: ChipTruth, chip: int = config.CHIP_SIZE) -> np.ndarray:
    """``P(class | slope)`` ``(n, 3)``: the slope-only model's in-sample fit of the log expected density
    (per km² of land, as for the R²; the chip's land area is known) with its empirical residuals mixed
    in (each chip: the mean over residuals ``r`` of ``P(class | land_km2 * exp(fit + r))``)."""
    x, _ = slope_features(fields, chip)
    fitted, resid = _ols(x, truth.log_expected_density)
    lam = truth.land_km2[:, None] * np.exp(fitted[:, None] + resid[None, :])  # (chips, residuals)
    proba = class_probabilities(lam.ravel(), truth.max_class1_heads).reshape(*lam.shape, 3)
    return proba.mean(axis=1)


def terrain_r2(fields: SceneFields, chip: int = config.CHIP_SIZE) -> TerrainR2:
    """R² of the slope-only model on the expected and realised chip-level log density."""
    x, _ = slope_features(fields, chip)
    truth = chip_truth(fields, chip)
    counts = np.bincount(truth.classes, minlength=3)
    return TerrainR2(
        expected=r2_ols(x, truth.log_expected_density),
        realised=r2_ols(x, np.log((truth.heads + 0.5) / truth.land_km2)),
        n_chips=len(truth.classes),
        class_counts=(int(counts[0]), int(counts[1]), int(counts[2])),
    )
