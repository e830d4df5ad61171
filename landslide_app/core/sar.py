"""SAR units: gamma0 linear power -> decibels, one implementation for every layer."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

#: Lowest SAR value in dB: gamma0 <= 1e-4 (including 0 and negative noise) is clipped here.
SAR_DB_FLOOR: float = -40.0


def to_db(linear: ArrayLike, floor_db: float | None = SAR_DB_FLOOR, dtype: DTypeLike = np.float32) -> np.ndarray:
    """``10 log10(linear)`` in ``dtype``; NaN stays NaN.

    Args:
        linear: gamma0 in linear power.
        floor_db: values below ``10 ** (floor_db / 10)`` (zero and negative noise included) are
            clipped to ``floor_db``; ``None``: no floor, and values ``<= 0`` become NaN (for display).
        dtype: computation and result dtype (float32 for network inputs, float64 for statistics).
    """
    out = np.array(linear, dtype=dtype)  # a copy: the log is taken in place
    if floor_db is None:
        out[~(out > 0)] = np.nan
    else:
        np.maximum(out, out.dtype.type(10.0 ** (floor_db / 10.0)), out=out)  # NaN propagates
    np.log10(out, out=out)
    out *= out.dtype.type(10.0)
    return out
