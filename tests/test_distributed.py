"""Chip building and prediction on a Dask cluster give the single-process results exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes talking over loopback TCP."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
    ) as c:
        yield c


def _arrays(store):
    import zarr

    return np.asarray(zarr.open_array(str(store.path / "chips.zarr"), mode="r")[:])


def test_distributed_chip_build_equals_local(cluster, scene_dir, tiny_store, tmp_path):
    from landslide_app.chips.distributed import build_chips_distributed
    from landslide_app.chips.store import ChipStore
    from landslide_app.sources.stac import open_local_catalog

    out = tmp_path / "chips"
    rep = build_chips_distributed(
        open_local_catalog(scene_dir / "catalog.json"),
        scene_dir / "inventory.gpkg",
        out,
        scheduler=cluster.scheduler_address,
        progress=False,
    )
    local, dist = ChipStore.open(tiny_store), ChipStore.open(out)
    assert rep.n_built == len(local.ids) and rep.n_built + rep.n_dropped == local.grid.n_chips
    assert dist.meta.fingerprint == local.meta.fingerprint
    np.testing.assert_array_equal(_arrays(dist), _arrays(local))  # NaN positions included
    cols = ["chip_id", "row", "col", "head_count", "density_class", "land_fraction", "nan_fraction"]
    assert dist.index[cols].equals(local.index[cols])


@pytest.mark.parametrize("ensemble", [1, 2])
def test_distributed_prediction_equals_local(cluster, tiny_store, tmp_path, ensemble):
    """The workers return every member's features side by side for an ensemble run (``--ensemble 2``)."""
    from landslide_app.experiments.distributed import predict_run_distributed
    from landslide_app.experiments.production import predict_run, train_run
    from landslide_app.model.inputs import ModelConfig

    run = tmp_path / "run"
    train_run(tiny_store, ModelConfig("fused", 3), run, epochs=1, seed=0, progress=False, ensemble=ensemble)
    local = predict_run(run, tiny_store, tmp_path / "local", progress=False)
    with distributed.Client(cluster) as client:
        # chips_per_task=16: several tasks even for the tiny store, spread over both workers
        dist = predict_run_distributed(
            run, tiny_store, tmp_path / "dist", scheduler=client, progress=False, chips_per_task=16
        )
    assert dist == local and local["model"]["ensemble"] == ensemble
    import rasterio

    with rasterio.open(tmp_path / "local" / "density.tif") as a, rasterio.open(tmp_path / "dist" / "density.tif") as b:
        np.testing.assert_array_equal(a.read(), b.read())
    import geopandas as gpd

    ga, gb = gpd.read_file(tmp_path / "local" / "chips.gpkg"), gpd.read_file(tmp_path / "dist" / "chips.gpkg")
    assert ga.drop(columns="geometry").equals(gb.drop(columns="geometry"))
    assert json.loads((tmp_path / "dist" / "summary.json").read_text()) == local
