"""Channel selection and normalisation of the network inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from landslide_app import config as C
from landslide_app.errors import ConfigError, InputError
from landslide_app.model.inputs import (
    ModelConfig,
    NormStats,
    fit_norm_stats,
    prepare_inputs,
    sar_chip_indices,
    to_db,
)


def chips_const(n=2, size=4):
    """Chips with elevation 100, slope 10, curvature 0, aspect 90, VV 0.1 (-10 dB), VH 0.01."""
    ch = np.zeros((n, 17, size, size), np.float32)
    ch[:, 0], ch[:, 1], ch[:, 2], ch[:, 3] = 100.0, 10.0, 0.0, 90.0
    ch[:, 4:16:2] = 0.1
    ch[:, 5:16:2] = 0.01
    ch[:, 16] = 0.0
    return ch


STATS = NormStats(dem_mean=(100.0, 10.0, 0.0), dem_std=(50.0, 5.0, 1.0), sar_mean=(-10.0, -20.0), sar_std=(2.0, 4.0))


@pytest.mark.parametrize("inputs,revisits", [("rgb", 1), ("fused", 0), ("fused", 4), ("sar", 1.5), ("dem", True)])
def test_bad_config_raises(inputs, revisits):
    with pytest.raises(ConfigError):
        ModelConfig(inputs, revisits)


def test_channel_selection():
    assert ModelConfig("dem", 2).chip_channels == (0, 1, 2, 3)
    assert ModelConfig("dem", 2).n_dem == 5 and ModelConfig("dem", 2).n_sar == 0
    # 3 pre + 1 post dates, VV and VH: chip channels 4..11
    assert sar_chip_indices(1) == tuple(range(4, 12))
    assert ModelConfig("sar", 1).chip_channels == tuple(range(4, 12))
    assert [C.CHANNELS[i] for i in sar_chip_indices(1)][-2:] == ["vv_t3", "vh_t3"]
    assert ModelConfig("fused", 3).n_sar == 12 and ModelConfig("fused", 3).n_dem == 5
    assert ModelConfig("sar", 2).n_sar == 10
    assert ModelConfig.from_dict(ModelConfig("sar", 2).to_dict()) == ModelConfig("sar", 2)


def test_transform_by_hand():
    ch = chips_const()
    ch[0, 4, 0, 0] = 1.0  # VV 0 dB -> (0 - -10) / 2 = 5
    ch[0, 3, 0, 1] = -1.0  # flat cell: aspect encodes as (0, 0)
    ch[0, 3, 0, 2] = 180.0
    prep = prepare_inputs(ch, ModelConfig("fused", 1), STATS)
    assert prep.x.shape == (2, 5 + 8, 4, 4) and prep.x.dtype == np.float32
    x = prep.x[0]
    assert x[0, 1, 1] == pytest.approx(0.0)  # elevation standardised
    assert x[3, 1, 1] == pytest.approx(1.0) and x[4, 1, 1] == pytest.approx(0.0, abs=1e-6)  # sin/cos 90
    assert (x[3, 0, 1], x[4, 0, 1]) == (0.0, 0.0)
    assert x[3, 0, 2] == pytest.approx(0.0, abs=1e-6) and x[4, 0, 2] == pytest.approx(-1.0)
    assert x[5, 0, 0] == pytest.approx(5.0)  # first SAR channel (vv_t0)
    np.testing.assert_allclose(x[5:, 1, 1], 0.0, atol=1e-5)
    assert prep.valid.all()
    np.testing.assert_array_equal(prep.label, 0.0)


def test_db_floor_and_nan():
    v = to_db(np.array([1.0, 0.01, 0.0, -0.5, np.nan], np.float32))
    np.testing.assert_allclose(v[:4], [0.0, -20.0, -40.0, -40.0], atol=1e-5)
    assert np.isnan(v[4])


def test_nan_masks_only_selected_channels():
    ch = chips_const()
    ch[0, 7, 2, 2] = np.nan  # vh_t1 (a pre date) missing
    ch[0, 15, 3, 3] = np.nan  # vh_t5 (third post date) missing
    ch[1, 0, 1, 1] = np.nan  # elevation missing
    fused1 = prepare_inputs(ch, ModelConfig("fused", 1), STATS)
    assert not fused1.valid[0, 2, 2] and fused1.valid[0, 3, 3]  # t5 is not used with 1 revisit
    assert not fused1.valid[1, 1, 1]
    assert (fused1.x[0, :, 2, 2] == 0).all() and (fused1.x[1, :, 1, 1] == 0).all()
    assert np.isfinite(fused1.x).all()
    assert fused1.valid.sum() == 2 * 16 - 2
    dem = prepare_inputs(ch, ModelConfig("dem", 3), STATS)
    assert dem.valid[0].all() and not dem.valid[1, 1, 1]
    sar3 = prepare_inputs(ch, ModelConfig("sar", 3), STATS)
    assert not sar3.valid[0, 3, 3] and sar3.valid[1, 1, 1]


def test_fit_norm_stats_streaming_and_nan():
    ch = chips_const(n=2, size=2)
    ch[0, 0] = [[0.0, 10.0], [10.0, 0.0]]
    ch[1, 0] = [[np.nan, 10.0], [0.0, 5.0]]  # NaN ignored: values 0,10,10,0,10,0,5
    ch[:, 5:16:2] = 0.1  # VH -10 dB on every date ...
    ch[1, 15] = 0.01  # ... except the last date of chip 1: -20 dB
    one = fit_norm_stats(ch)
    streamed = fit_norm_stats([ch[:1], ch[1:]])
    vals = np.array([0, 10, 10, 0, 10, 0, 5], float)
    assert one.dem_mean[0] == pytest.approx(vals.mean()) and one.dem_std[0] == pytest.approx(vals.std())
    assert streamed.dem_mean[0] == pytest.approx(one.dem_mean[0])
    assert one.sar_mean[0] == pytest.approx(-10.0)  # VV constant
    assert one.sar_std[0] == 1.0  # constant channel -> std 1
    vh = np.r_[np.full(44, -10.0), np.full(4, -20.0)]  # 2 chips x 6 dates x 4 px, 4 px at -20
    assert one.sar_mean[1] == pytest.approx(vh.mean()) and one.sar_std[1] == pytest.approx(vh.std(), rel=1e-5)
    assert one.n_pixels["elevation"] == 7
    # A configuration with fewer revisits pools only its own dates: the -20 dB last date is not among them.
    r2 = fit_norm_stats(ch, revisits=2)
    assert r2.sar_mean[1] == pytest.approx(-10.0) and r2.sar_std[1] == 1.0
    assert r2.n_pixels["vh"] == 2 * 5 * 4
    assert r2.dem_mean == one.dem_mean
    with pytest.raises(ConfigError, match="revisits"):
        fit_norm_stats(ch, revisits=0)


def test_stats_json_round_trip_and_missing_sar():
    assert NormStats.from_json(STATS.to_json()) == STATS
    ch = chips_const()
    ch[:, 4:16] = np.nan  # a region without SAR
    stats = fit_norm_stats(ch)
    d = json.loads(stats.to_json())  # strict JSON: NaN became null
    assert d["sar_mean"] == [None, None]
    back = NormStats.from_json(json.dumps(d))
    assert np.isnan(back.sar_mean).all()
    prepare_inputs(ch, ModelConfig("dem", 1), back)  # DEM-only still works
    with pytest.raises(InputError, match="no valid SAR"):
        prepare_inputs(ch, ModelConfig("fused", 1), back)
    with pytest.raises(InputError):
        NormStats.from_json("{not json")


def test_bad_chip_shape():
    with pytest.raises(InputError):
        prepare_inputs(np.zeros((1, 5, 4, 4), np.float32), ModelConfig(), STATS)
