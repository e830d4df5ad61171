"""The respond fast paths give the values of the straightforward computation: land fractions of a
whole chip row at once, terrain computed only over the span of a row's kept chips, and prediction
features with the next batch read on a thread."""

from __future__ import annotations

import numpy as np
import pytest

from landslide_app.chips.layout import SarLayout
from landslide_app.chips.rows import _row_land, _row_stats, _RowInputs
from landslide_app.core.grid import ChipGrid
from landslide_app.sources.loader import DEM_HALO
from landslide_app.terrain import terrain_stack


def _strip(rng: np.random.Generator, s: int, n: int) -> np.ndarray:
    dem = (rng.random((s + 2 * DEM_HALO, n * s + 2 * DEM_HALO)) * 300.0).astype(np.float32)
    dem[:, : s + 3] = np.nan  # sea (nodata) over the first chip and into the second
    dem[:, -s // 2 :] = 0.0  # sea at 0 m over half of the last chip
    dem[3:6, s + 8 : s + 12] = np.nan  # a hole inside the land
    return dem


def test_row_land_equals_per_chip_mean():
    g = ChipGrid(epsg=32619, x0=0.0, y0=160.0, n_rows=1, n_cols=5, chip_size=16)
    dem = _strip(np.random.default_rng(0), 16, 5)
    land = _row_land(dem, g)
    for col in range(5):
        core = dem[1:17, col * 16 + 1 : (col + 1) * 16 + 1]
        assert land[col] == float(np.mean(np.isfinite(core) & (core > 0)))
    assert land[0] == 0.0 and 0.0 < land[1] < 1.0 and 0.0 < land[4] < 1.0


@pytest.mark.parametrize("cols", [[1, 2, 3], [2], [1, 3, 4], [0, 1, 2, 3, 4]])
def test_cropped_row_inputs_equal_whole_strip(cols):
    """Each kept chip's 17 channels and statistics equal those cut from the whole strip."""
    s, n = 16, 5
    g = ChipGrid(epsg=32619, x0=0.0, y0=160.0, n_rows=1, n_cols=n, chip_size=s, resolution=10.0)
    rng = np.random.default_rng(len(cols))
    dem = _strip(rng, s, n)
    sar = rng.random((6, 2, s, n * s)).astype(np.float32)
    sar[rng.random(sar.shape) < 0.1] = np.nan
    lay = SarLayout.of(6, 3)
    inputs = _RowInputs.of(dem, sar, lay, g, cols)
    terrain = terrain_stack(dem, g.resolution, g.resolution)  # the whole strip, as before
    nan_fraction, sar_valid = _row_stats(terrain, sar, g)
    for col in cols:
        chip = inputs.chip(col, s, 4, 16)
        want = terrain[:, 1 : s + 1, col * s + 1 : (col + 1) * s + 1]
        np.testing.assert_array_equal(chip[:4], want)
        np.testing.assert_array_equal(chip[4:16], sar[..., col * s : (col + 1) * s].reshape(-1, s, s))
        assert np.isnan(chip[16]).all()
        rec = inputs.record(col)
        assert rec["nan_fraction"] == round(float(nan_fraction[col]), 4)
        assert rec["sar_valid"] == [round(float(v), 4) for v in sar_valid[:, col]]


class _FakeModel:
    """embed_batch: a deterministic per-pixel function of the chips, with masked pixels."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def embed_batch(self, chips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.sizes.append(len(chips))
        emb = np.tanh(chips[:, 0] * 0.01 + chips[:, 1]).astype(np.float32)
        valid = np.isfinite(emb) & (chips[:, 2] > 0.1)
        emb[~valid] = np.nan
        return emb, valid


@pytest.mark.parametrize("n", [0, 5, 16, 37])
def test_stream_features_equal_batch_by_batch(n):
    from landslide_app.experiments.prediction import FEATURE_BATCH, stream_features
    from landslide_app.model.features import percentile_features

    rng = np.random.default_rng(n)
    chips = rng.random((40, 17, 8, 8)).astype(np.float32)
    ids = rng.permutation(40)[:n]
    seen: list[int] = []
    model = _FakeModel()
    got = stream_features(model, lambda sel: chips[sel], ids, on_batch=lambda sel, b: seen.extend(sel.tolist()))  # type: ignore[arg-type]
    want = [
        percentile_features(*_FakeModel().embed_batch(chips[ids[i : i + FEATURE_BATCH]]))
        for i in range(0, n, FEATURE_BATCH)
    ]
    assert got.shape == (n, 19) and got.dtype == np.float32
    np.testing.assert_array_equal(got, np.concatenate(want) if want else np.empty((0, 19), np.float32))
    assert seen == ids.tolist()
    assert model.sizes == [len(ids[i : i + FEATURE_BATCH]) for i in range(0, n, FEATURE_BATCH)]
