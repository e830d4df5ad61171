"""The fast paths return what the plain paths return (timings live in benchmarks/, not here)."""

from __future__ import annotations

import numpy as np
import pytest
import torch


def test_direct_reads_equal_stackstac(scene_dir):
    from landslide_app.chips.build import default_grid
    from landslide_app.sources.loader import GridReader
    from landslide_app.sources.stac import open_local_catalog

    src = open_local_catalog(scene_dir / "catalog.json")
    grid = default_grid(src, 128)
    plain, fast = GridReader(src, grid, direct=False), GridReader(src, grid)
    assert plain._direct is None and fast._direct is not None  # the demo scene lies on the chip grid
    for row in range(grid.n_rows):
        np.testing.assert_array_equal(fast.read_dem_row(row), plain.read_dem_row(row))
        np.testing.assert_array_equal(fast.read_sar_row(row), plain.read_sar_row(row))


def test_direct_reader_refuses_misaligned_grid(scene_dir):
    from landslide_app.chips.build import default_grid
    from landslide_app.core.grid import ChipGrid
    from landslide_app.sources.direct import DirectReader
    from landslide_app.sources.stac import open_local_catalog

    src = open_local_catalog(scene_dir / "catalog.json")
    g = default_grid(src, 128)
    shifted = ChipGrid.from_dict({**g.to_dict(), "x0": g.x0 + 5.0})  # half a pixel off
    assert DirectReader.maybe(src, shifted) is None
    assert DirectReader.maybe(src, g) is not None


def test_store_cache_reads_like_the_store(tiny_store):
    from landslide_app.chips.cache import StoreCache
    from landslide_app.chips.store import ChipStore

    store = ChipStore.open(tiny_store)
    ids = [int(i) for i in store.ids[[3, 0, 7]]]
    cached, streamed = StoreCache(store), StoreCache(store, cache_bytes=0)
    np.testing.assert_array_equal(cached.read_many(ids), store.read_many(ids))
    np.testing.assert_array_equal(streamed.read_many(ids, channels=[0, 16]), store.read_many(ids, channels=[0, 16]))
    assert cached.nbytes > 0 and streamed.nbytes == 0
    assert np.array_equal(cached.ids, store.ids) and cached.grid == store.grid


def test_conv_flops_from_layer_shapes():
    from landslide_app.model.inputs import ModelConfig
    from landslide_app.model.network import EmbeddingNet
    from landslide_app.model.runtime import conv_flops

    cfg = ModelConfig("fused", 3)
    f = conv_flops(EmbeddingNet.for_config(cfg), cfg.n_dem + cfg.n_sar, 128, 128)
    macs_px = 9 * (5 * 16 + 2 * 16 * 16) + 9 * (12 * 16 + 2 * 16 * 16) + 9 * (32 * 16 + 16 * 16) + 16
    first_px = 9 * (5 * 16 + 12 * 16)  # the branches' first convolutions get no input gradient
    assert f["forward"] == 2 * macs_px * 128 * 128
    assert f["training"] == 2 * (3 * macs_px - first_px) * 128 * 128


def test_precision_resolution():
    from landslide_app.errors import ConfigError
    from landslide_app.model.runtime import bf16_supported, resolve_precision

    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    assert resolve_precision("auto", cpu) == ("bf16" if bf16_supported(cpu) else "fp32")
    with pytest.raises(ConfigError):
        resolve_precision("fp16", cpu)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_training_and_embedding_on_cuda():
    from landslide_app.model.inputs import ModelConfig
    from landslide_app.model.train import fit_embedding_model

    rng = np.random.default_rng(0)
    chips = rng.gamma(4.0, 0.0125, (6, 17, 16, 16)).astype(np.float32)
    chips[:, 16] = (rng.random((6, 16, 16)) > 0.97).astype(np.float32)
    m = fit_embedding_model(chips[:4], chips[4:], ModelConfig("fused", 3), epochs=1, batch_size=2, progress=False)
    assert m.device.type == "cuda" and next(m.net.parameters()).is_cuda
    emb = m.embed(chips)
    assert emb.shape == (6, 16, 16) and np.nanmax(emb) <= 1
