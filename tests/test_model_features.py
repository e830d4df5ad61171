"""Percentile features on hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from landslide_app.model.features import FEATURE_NAMES, N_FEATURES, PERCENTILES, percentile_features


def test_percentiles_of_0_to_99():
    emb = np.arange(100, dtype=np.float32).reshape(1, 10, 10)
    f = percentile_features(emb)
    assert f.shape == (1, 19) and f.dtype == np.float32
    # linear interpolation on 100 sorted values: percentile p -> index p * 99 / 100
    expected = [
        4.95,
        9.9,
        14.85,
        19.8,
        24.75,
        29.7,
        34.65,
        39.6,
        44.55,
        49.5,
        54.45,
        59.4,
        64.35,
        69.3,
        74.25,
        79.2,
        84.15,
        89.1,
        94.05,
    ]
    np.testing.assert_allclose(f[0], expected, rtol=1e-6)
    assert PERCENTILES == tuple(range(5, 100, 5)) and N_FEATURES == 19 and FEATURE_NAMES[0] == "p05"


def test_two_values():
    f = percentile_features(np.array([[[0.0, 10.0]]]))
    # p -> 10 * p / 100
    np.testing.assert_allclose(f[0], np.arange(5, 100, 5) / 10.0, rtol=1e-6)


def test_mask_and_nan_are_excluded():
    emb = np.arange(100, dtype=np.float32).reshape(1, 1, 10, 10)  # (N, 1, H, W) accepted
    valid = np.zeros((1, 1, 10, 10), dtype=bool)
    valid[0, 0, 0] = True  # only 0..9 valid
    f = percentile_features(emb, valid)
    np.testing.assert_allclose(f[0], 9 * np.arange(5, 100, 5) / 100, rtol=1e-6)  # p -> 9p/100
    emb_nan = emb.astype(np.float32).copy()
    emb_nan[~valid] = np.nan
    np.testing.assert_allclose(percentile_features(emb_nan), f)


def test_several_chips_mixed_and_empty():
    emb = np.stack([np.arange(100).reshape(10, 10), np.full((10, 10), 0.25)]).astype(np.float32)
    emb = np.concatenate([emb, np.full((1, 10, 10), np.nan, np.float32)])
    f = percentile_features(emb)
    assert f.shape == (3, 19)
    assert f[0, 9] == pytest.approx(49.5)
    np.testing.assert_allclose(f[1], 0.25)
    assert np.isnan(f[2]).all()


def test_bad_shape():
    with pytest.raises(ValueError):
        percentile_features(np.zeros((10, 10)))
