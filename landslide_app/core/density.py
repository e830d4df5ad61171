"""Landslide density classes (Boehm et al. §3): 0 none, 1 up to 25 heads/km², 2 above.

The class depends on the head count and the chip's area (1.28 km x 1.28 km = 1.6384 km² for
128 pixels of 10 m): ``density = count / area``; class 0 if ``density <= t0`` (default 0, i.e.
no head), 1 if ``t0 < density <= t1`` (default 25 /km²), 2 if ``density > t1``.
:func:`class_names` gives the legend labels of the classes for any thresholds.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from landslide_app.config import DEFAULT_DENSITY_THRESHOLDS
from landslide_app.core.vocabulary import N_CLASSES
from landslide_app.errors import ConfigError

__all__ = ["CLASS_NAMES", "N_CLASSES", "check_thresholds", "class_names", "density_class"]


def check_thresholds(thresholds: tuple[float, float]) -> tuple[float, float]:
    """Validate ``(t0, t1)``: finite, ``0 <= t0 < t1``; return them as floats."""
    try:
        t0, t1 = (float(t) for t in thresholds)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"density thresholds must be two numbers (t0 t1), got {thresholds!r}") from exc
    if not (np.isfinite(t0) and np.isfinite(t1) and 0 <= t0 < t1):
        raise ConfigError(f"density thresholds ({t0}, {t1}) are impossible: need 0 <= t0 < t1 heads/km², e.g. 0 25")
    return t0, t1


def density_class(
    head_count: ArrayLike,
    area_km2: float,
    thresholds: tuple[float, float] = DEFAULT_DENSITY_THRESHOLDS,
) -> np.ndarray:
    """Density class (int8: 0, 1, 2) for head counts over chips of ``area_km2``. Vectorised."""
    t0, t1 = check_thresholds(thresholds)
    if not area_km2 > 0:
        raise ConfigError(f"chip area must be positive, got {area_km2} km²")
    density = np.asarray(head_count, dtype=np.float64) / float(area_km2)
    if np.any(density < 0):
        raise ConfigError("head counts must be non-negative")
    return np.where(density <= t0, 0, np.where(density <= t1, 1, 2)).astype(np.int8)


def class_names(thresholds: tuple[float, float] = DEFAULT_DENSITY_THRESHOLDS) -> dict[int, str]:
    """Legend labels of the :data:`N_CLASSES` density classes for ``thresholds`` (heads/km²)."""
    t0, t1 = check_thresholds(thresholds)
    if t0 == 0:
        return {0: "0: no landslide", 1: f"1: 1–{t1:g} /km²", 2: f"2: > {t1:g} /km²"}
    return {0: f"0: ≤ {t0:g} /km²", 1: f"1: {t0:g}–{t1:g} /km²", 2: f"2: > {t1:g} /km²"}


#: Labels of the classes at the default thresholds (derived, never restated).
CLASS_NAMES: dict[int, str] = class_names()
