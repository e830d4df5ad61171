"""Empirical semivariogram and its exponential fit (the blocked split's block size)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from landslide_app.errors import InputError
from landslide_app.model.variogram import exponential, fit_exponential, semivariogram


def test_semivariogram_by_hand():
    # pairs: (0,1) d=1 -> 0.5*1; (1,2) d=1 -> 0.5*4; (0,2) d=2 -> 0.5*9
    lag, gamma, pairs = semivariogram(np.array([0.0, 1.0, 2.0]), np.zeros(3), np.array([0.0, 1.0, 3.0]), 1.0, 2.5)
    np.testing.assert_allclose(lag, [1.0, 2.0])
    np.testing.assert_allclose(gamma, [1.25, 4.5])
    np.testing.assert_array_equal(pairs, [2, 1])
    with pytest.raises(InputError):
        semivariogram(np.zeros(2), np.zeros(2), np.zeros(2), 1.0, 2.0)
    with pytest.raises(InputError):
        semivariogram(np.zeros(3), np.zeros(3), np.zeros(3), 2.0, 1.0)


def test_exponential_fit_recovers_the_range_of_a_simulated_field():
    n = 30
    yy, xx = np.divmod(np.arange(n * n), n)
    pts = np.column_stack([xx, yy]).astype(float)  # 1 km spacing
    cov = exponential(cdist(pts, pts), 0.0, 1.0, 6.0)
    cov = 1.0 - cov  # covariance = sill - gamma
    chol = np.linalg.cholesky(cov + 1e-9 * np.eye(len(pts)))
    ranges = []
    for seed in range(3):
        z = chol @ np.random.default_rng(seed).standard_normal(len(pts))
        v = fit_exponential(pts[:, 0], pts[:, 1], z, 1.0, 12.0)
        ranges.append(v.range_km)
        assert v.model(np.array([0.0]))[0] == pytest.approx(v.nugget)
    assert 3.5 < np.median(ranges) < 10.0, ranges
    # white noise: no spatial structure -> (almost) all nugget or a range below the spacing
    z = np.random.default_rng(9).standard_normal(len(pts))
    w = fit_exponential(pts[:, 0], pts[:, 1], z, 1.0, 12.0)
    assert w.range_km < 1.0 or w.nugget > 0.8 * (w.nugget + w.psill)
