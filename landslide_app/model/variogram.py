"""Empirical semivariogram of a chip-level quantity and its exponential fit (spatial autocorrelation range).

The blocked split (:mod:`landslide_app.model.protocol`) keeps training chips away from the chips
they predict; its block size should be at least the distance over which chip density stays
correlated. :func:`semivariogram` computes, for distance bins ``h``,
``gamma(h) = 0.5 * mean((z_i - z_j)^2)`` over chip pairs whose centre distance falls in the bin;
:func:`fit_exponential` fits ``gamma(h) = nugget + psill * (1 - exp(-3 h / range))`` (``range``:
the *practical* range, where 95 % of the sill is reached) by least squares weighted by the
pairs per bin (scipy ``curve_fit``). A few hundred chips give ~10^5 pairs: plain numpy is enough.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import curve_fit
from scipy.spatial.distance import pdist

from landslide_app.errors import InputError


@dataclass(frozen=True)
class Variogram:
    """An empirical semivariogram and its exponential fit.

    Attributes:
        lag_km: Mean pair distance per bin.
        gamma: Semivariance per bin.
        pairs: Pairs per bin.
        nugget, psill, range_km: Fitted exponential model (``range_km``: practical range).
        variance: Sample variance of the values (the sill an uncorrelated field would have).
    """

    lag_km: np.ndarray
    gamma: np.ndarray
    pairs: np.ndarray
    nugget: float
    psill: float
    range_km: float
    variance: float

    def model(self, h_km: np.ndarray) -> np.ndarray:
        """The fitted exponential model at distances ``h_km``."""
        return exponential(np.asarray(h_km, dtype=np.float64), self.nugget, self.psill, self.range_km)

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return {
            "lag_km": [round(float(v), 4) for v in self.lag_km],
            "gamma": [round(float(v), 5) for v in self.gamma],
            "pairs": [int(v) for v in self.pairs],
            "nugget": round(self.nugget, 5),
            "psill": round(self.psill, 5),
            "range_km": round(self.range_km, 3),
            "variance": round(self.variance, 5),
        }


def exponential(h: np.ndarray, nugget: float, psill: float, range_km: float) -> np.ndarray:
    """Exponential variogram model with practical range ``range_km``."""
    return nugget + psill * (1.0 - np.exp(-3.0 * h / range_km))


def semivariogram(
    x_km: np.ndarray, y_km: np.ndarray, values: np.ndarray, bin_km: float, max_lag_km: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Empirical semivariogram: (mean lag, semivariance, pairs) per non-empty distance bin."""
    x, y, z = (np.asarray(a, dtype=np.float64).ravel() for a in (x_km, y_km, values))
    if not (len(x) == len(y) == len(z)):
        raise InputError("x_km, y_km and values must have the same length.")
    if len(z) < 3:
        raise InputError(f"A semivariogram needs at least 3 points, got {len(z)}.")
    if bin_km <= 0 or max_lag_km <= bin_km:
        raise InputError(f"Need 0 < bin_km < max_lag_km, got {bin_km} and {max_lag_km}.")
    d = pdist(np.column_stack([x, y]))
    sq = 0.5 * pdist(z[:, None], "sqeuclidean")
    keep = d <= max_lag_km
    d, sq = d[keep], sq[keep]
    idx = np.floor(d / bin_km).astype(np.int64)
    n_bins = int(np.ceil(max_lag_km / bin_km))
    pairs = np.bincount(idx, minlength=n_bins)[:n_bins]
    gsum = np.bincount(idx, weights=sq, minlength=n_bins)[:n_bins]
    hsum = np.bincount(idx, weights=d, minlength=n_bins)[:n_bins]
    ok = pairs > 0
    return hsum[ok] / pairs[ok], gsum[ok] / pairs[ok], pairs[ok]


def fit_exponential(
    x_km: np.ndarray, y_km: np.ndarray, values: np.ndarray, bin_km: float, max_lag_km: float
) -> Variogram:
    """Semivariogram of ``values`` at ``(x_km, y_km)`` and its weighted exponential fit."""
    lag, gamma, pairs = semivariogram(x_km, y_km, values, bin_km, max_lag_km)
    var = float(np.var(np.asarray(values, dtype=np.float64)))
    p0 = (0.1 * var, 0.9 * var, max_lag_km / 3.0)
    bounds = ([0.0, 0.0, 1e-3], [np.inf, np.inf, 10.0 * max_lag_km])
    (nugget, psill, rng), _ = curve_fit(
        exponential, lag, gamma, p0=p0, bounds=bounds, sigma=1.0 / np.sqrt(pairs), maxfev=20000
    )
    return Variogram(lag, gamma, pairs, float(nugget), float(psill), float(rng), var)
