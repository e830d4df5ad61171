"""The core layer: SAR dB conversion, memory budget, the shared vocabulary, the chip grid."""

from __future__ import annotations

import numpy as np
import pytest

from landslide_app.core import memory
from landslide_app.core.grid import ChipGrid
from landslide_app.core.sar import SAR_DB_FLOOR, to_db
from landslide_app.core.vocabulary import INPUTS, N_FEATURES, PERCENTILES, PRECISIONS, REVISITS, SPLITS


def test_to_db_worked_values_floor_and_nan():
    lin = np.array([1.0, 0.1, 0.01, 0.0, -0.5, np.nan], dtype=np.float32)
    db = to_db(lin)
    assert db.dtype == np.float32
    np.testing.assert_allclose(db[:3], [0.0, -10.0, -20.0], atol=1e-5)
    assert db[3] == db[4] == np.float32(SAR_DB_FLOOR)  # zero and negative noise sit on the floor
    assert np.isnan(db[5])
    assert lin[3] == 0.0  # the input is not modified
    # no floor (display): non-positive values become NaN
    shown = to_db(lin, floor_db=None)
    assert np.isnan(shown[3]) and np.isnan(shown[4]) and shown[1] == pytest.approx(-10.0)
    # float64 path equals the formula it replaced in the change-ratio baseline, bit for bit
    x = np.random.default_rng(0).gamma(1.0, 0.05, 1000)
    ref = 10.0 * np.log10(np.maximum(x, 10.0 ** (-40.0 / 10.0)))
    np.testing.assert_array_equal(to_db(x, -40.0, np.float64), ref)


def test_memory_budget(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 8 << 30)
    assert memory.memory_budget() == memory.DEFAULT_CACHE_BYTES  # 1 GiB < a quarter of 8 GiB
    assert memory.memory_budget(4 << 30) == 2 << 30  # capped at a quarter
    assert memory.memory_budget(0) == 0
    monkeypatch.setattr(memory, "available_memory", lambda: None)
    assert memory.memory_budget(4 << 30) == 4 << 30  # unknown: the cap alone


def test_vocabulary_values():
    assert INPUTS == ("dem", "sar", "fused") and REVISITS == (1, 2, 3) and SPLITS == ("random", "blocked")
    assert PRECISIONS == ("auto", "fp32", "bf16")
    assert N_FEATURES == 19 and PERCENTILES[0] == 5 and PERCENTILES[-1] == 95


def test_chip_grid_geometry():
    g = ChipGrid(epsg=32619, x0=1000.0, y0=5000.0, n_rows=2, n_cols=3, chip_size=10, resolution=10.0)
    assert (g.width, g.height, g.n_chips) == (30, 20, 6)
    assert g.bounds == (1000.0, 4800.0, 1300.0, 5000.0)
    assert g.chip_bounds(4) == (1100.0, 4800.0, 1200.0, 4900.0)  # row 1, col 1
    assert tuple(g.transform)[:6] == (10.0, 0.0, 1000.0, 0.0, -10.0, 5000.0)
    assert ChipGrid.from_dict(g.to_dict()) == g


def test_scene_and_chip_grids_share_the_geometry():
    from landslide_app.scene.grid import SceneGrid

    chips = ChipGrid(epsg=32619, x0=680000.0, y0=2050000.0, n_rows=2, n_cols=3, chip_size=10, resolution=10.0)
    scene = SceneGrid(width=30, height=20, x0=680000.0, y0=2050000.0, pixel_m=10.0, epsg=32619)
    assert scene.crs == chips.crs == "EPSG:32619"
    assert scene.transform == chips.transform
    assert scene.bounds == chips.bounds == (680000.0, 2049800.0, 680300.0, 2050000.0)
