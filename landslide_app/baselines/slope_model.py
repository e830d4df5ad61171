"""DEM-only slope baseline: per-chip slope/curvature statistics -> random forest -> classes.

Landslide density follows steepness (and hollows) more than anything else in the terrain, so a
model that sees nothing but a few slope statistics is the natural floor for the DEM branch of
the CNN. Per chip, over its pixels with finite slope and curvature (:func:`slope_features`):

====================  ===============================================================
``slope_mean``        mean slope (degrees)
``slope_p50``         median slope
``slope_p90``         90th percentile of slope
``frac_slope_gt25``   fraction of pixels steeper than 25 degrees
``curv_mean``         mean richdem curvature (1/100 m; negative = concave)
``frac_concave``      fraction of pixels with curvature < 0
====================  ===============================================================

A chip without any valid pixel gets NaN features (the forest accepts missing values).

Classifier (documented choice): :class:`landslide_app.model.forest.DensityForest`, the CNN's own
random forest (seeded, ``class_weight="balanced"``, out-of-bag probabilities for the "train"
AUC), so the comparison with the CNN differs only in the features. The default here is a small
forest of :data:`N_TREES` trees (6 features need fewer trees than 19 percentiles).

Features are computed once for all chips, streaming ``batch_size`` chips at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from landslide_app import config as C
from landslide_app.errors import InputError

logger = logging.getLogger(__name__)

SLOPE_INDEX: int = C.CHANNELS.index("slope")
CURV_INDEX: int = C.CHANNELS.index("curvature")
STEEP_DEG: float = 25.0
FEATURE_NAMES: tuple[str, ...] = (
    "slope_mean",
    "slope_p50",
    "slope_p90",
    "frac_slope_gt25",
    "curv_mean",
    "frac_concave",
)
N_TREES: int = 200


def slope_features(chips: np.ndarray) -> np.ndarray:
    """Per-chip slope statistics (:data:`FEATURE_NAMES` order), float32 ``(n, 6)``.

    Args:
        chips: ``(n, 17, S, S)`` chips in ``config.CHANNELS`` order (or one ``(17, S, S)`` chip).
    """
    arr = np.asarray(chips)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[1] != len(C.CHANNELS):
        raise InputError(f"chips must be (n, {len(C.CHANNELS)}, S, S), got shape {arr.shape}.")
    out = np.full((len(arr), len(FEATURE_NAMES)), np.nan, dtype=np.float32)
    for k in range(len(arr)):
        slope = arr[k, SLOPE_INDEX].astype(np.float64).ravel()
        curv = arr[k, CURV_INDEX].astype(np.float64).ravel()
        ok = np.isfinite(slope) & np.isfinite(curv)
        if not ok.any():
            continue
        s, c = slope[ok], curv[ok]
        p50, p90 = np.percentile(s, [50, 90])
        out[k] = (s.mean(), p50, p90, (s > STEEP_DEG).mean(), c.mean(), (c < 0).mean())
    return out


def compute_slope_features(
    reader: Any,
    ids: Sequence[int] | np.ndarray,
    *,
    batch_size: int = 32,
    progress: bool = True,
) -> np.ndarray:
    """Stream the chips ``ids`` from ``reader.read_many``; features ``(n, 6)`` in ``ids`` order."""
    ids = np.asarray(ids, dtype=np.int64)
    out = np.full((len(ids), len(FEATURE_NAMES)), np.nan, dtype=np.float32)
    step = max(int(batch_size), 1)
    with tqdm(total=len(ids), unit="chip", desc="slope features", disable=not progress) as bar:
        for start in range(0, len(ids), step):
            sel = ids[start : start + step]
            out[start : start + len(sel)] = slope_features(reader.read_many(sel.tolist()))
            bar.update(len(sel))
    n_nan = int(np.isnan(out).any(axis=1).sum())
    if n_nan:
        logger.warning("%d chip(s) have no pixel with finite slope and curvature (NaN features).", n_nan)
    return out
