"""train / predict / embed / ablate on the tiny scene: artifacts, provenance, caching, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from result_fields import RESULT_KEYS

from landslide_app.chips.store import ChipStore
from landslide_app.cli import main
from landslide_app.errors import ConfigError, InputError
from landslide_app.experiments import ablation
from landslide_app.experiments.ablation import AblationSettings, RunSpec, run_ablation
from landslide_app.experiments.production import embed_dem, embed_store, load_run, predict_run, train_run
from landslide_app.model.inputs import ModelConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_train_writes_run_and_loads_back(dem_run, tiny_store):
    meta = json.loads((dem_run / "run.json").read_text())
    assert meta["name"] == "dem-r1" and meta["n_train"] + meta["n_val"] == len(ChipStore.open(tiny_store).ids)
    run = load_run(dem_run)
    assert run.config == ModelConfig("dem", 1)
    with pytest.raises(InputError, match="not a trained run"):
        load_run(dem_run.parent / "missing")


def test_predict_writes_density_map_and_gpkg_with_provenance(dem_run, tiny_store, tmp_path):
    import geopandas as gpd
    import pyogrio

    s = predict_run(dem_run, tiny_store, tmp_path / "pred", progress=False)
    store = ChipStore.open(tiny_store)
    with rasterio.open(tmp_path / "pred" / "density.tif") as ds:
        assert ds.count == 4 and ds.crs.to_epsg() == 32619
        assert ds.width == store.grid.n_cols and ds.res == (1280.0, 1280.0)
        arr = ds.read()
        tags = ds.tags()
    assert tags["config"] == "dem-r1" and tags["data_fingerprint"] == store.meta.fingerprint
    valid = np.isfinite(arr[0])
    assert valid.sum() == s["n_chips"] == len(store.ids)
    np.testing.assert_allclose(arr[1:, valid].sum(axis=0), 1.0, atol=1e-5)  # probabilities sum to 1
    assert set(np.unique(arr[0, valid])) <= {0, 1, 2}
    gdf = gpd.read_file(tmp_path / "pred" / "chips.gpkg")
    assert len(gdf) == len(store.ids) and {"pred_class", "p0", "p1", "p2", "head_count", "true_class"} <= set(
        gdf.columns
    )
    assert pyogrio.read_info(tmp_path / "pred" / "chips.gpkg")["dataset_metadata"]["config"] == "dem-r1"
    assert s["in_sample"] is True and "optimistic" in s["auc_note"]  # trained on this very store


def test_predict_on_another_store_is_not_in_sample(dem_run, scene_dir, tmp_path):
    from landslide_app.chips.build import build_chips
    from landslide_app.sources.stac import dem_only_source

    other = build_chips(
        dem_only_source(scene_dir / "dem" / "elevation.tif"),
        scene_dir / "inventory.gpkg",
        tmp_path / "dem-only",
        progress=False,
    ).store.path
    s = predict_run(dem_run, other, tmp_path / "pred", progress=False)
    assert s["in_sample"] is False and "auc_note" not in s and s["n_chips"] > 0


def test_embed_store_and_any_dem(dem_run, tiny_store, scene_dir, tmp_path):
    out = embed_store(dem_run, tiny_store, tmp_path / "emb.tif", progress=False)
    store = ChipStore.open(tiny_store)
    with rasterio.open(out) as ds:
        assert (ds.width, ds.height) == (store.grid.width, store.grid.height)
        e = ds.read(1)
    fin = e[np.isfinite(e)]
    assert fin.size > 0.8 * len(store.ids) * 128 * 128 and fin.min() >= 0 and fin.max() <= 1
    out2 = embed_dem(dem_run, scene_dir / "dem" / "elevation.tif", tmp_path / "emb_dem.tif", tile=200, progress=False)
    with rasterio.open(out2) as ds, rasterio.open(scene_dir / "dem" / "elevation.tif") as dem:
        assert ds.shape == dem.shape and ds.transform == dem.transform
        e2 = ds.read(1)
        tags = ds.tags()
    assert tags["config"] == "dem-r1" and tags["dem"].endswith("elevation.tif")
    assert "data_fingerprint" not in tags  # from a DEM file, not a chip store: no "None" tag
    # tiles with a halo give the same interior values as the chip path (same network, same inputs)
    r, c = store.grid.chip_rc(int(store.ids[len(store.ids) // 2]))
    sl = (slice(r * 128 + 20, r * 128 + 108), slice(c * 128 + 20, c * 128 + 108))
    np.testing.assert_allclose(e2[sl], e[sl], atol=1e-4)


def test_sar_model_refused_for_any_dem(tiny_store, tmp_path, scene_dir):
    out = tmp_path / "sar"
    train_run(tiny_store, ModelConfig("sar", 1), out, epochs=1, progress=False)
    with pytest.raises(ConfigError, match="DEM-only model"):
        embed_dem(out, scene_dir / "dem" / "elevation.tif", tmp_path / "x.tif", progress=False)


def test_ablation_writes_results_and_caches(tiny_store, tmp_path, monkeypatch):
    s = AblationSettings(inputs=("dem", "fused"), revisits=(1, 2), epochs=1, baselines=False)
    res = run_ablation(tiny_store, tmp_path / "abl", s, progress=False)
    keys = [r["key"] for r in res["runs"]]
    assert keys == ["dem-r1-random", "dem-r2-random", "fused-r1-random", "fused-r2-random"]
    r0 = res["runs"][0]
    assert RESULT_KEYS <= set(r0)
    assert set(r0["auc"]) == {"train", "val", "test"}
    assert res["runs"][1]["shared_with"] == "dem-r1-random" and res["runs"][1]["auc"] == r0["auc"]
    table = (tmp_path / "abl" / "table.md").read_text()
    assert "DEM only" in table and "DEM + SAR fused" in table and "2 revisits" in table
    assert (tmp_path / "abl" / "roc.png").stat().st_size > 1000
    ids, emb = ablation.read_embeddings(tmp_path / "abl", RunSpec("fused", 2))
    assert emb.shape == (len(ids), 128, 128)
    # the forest's real input is stored: each fold's forest gives the stored probabilities from it
    import pandas as pd

    from landslide_app.experiments import artifacts
    from landslide_app.model.forest import DensityForest

    d = artifacts.run_dir(tmp_path / "abl", RunSpec("fused", 2))
    fids, feats = artifacts.read_features(tmp_path / "abl", RunSpec("fused", 2))
    pred = pd.read_csv(d / artifacts.PREDICTIONS_FILE)
    assert feats.shape == (len(pred), 19) and fids.tolist() == pred["chip_id"].tolist()
    for k, name in enumerate(("A", "B")):
        rows = (pred["fold"] == name).to_numpy()
        forest = DensityForest.load(artifacts.fold_model_paths(d, k)[1])
        np.testing.assert_allclose(
            forest.predict_proba(feats[rows]), pred[["p0", "p1", "p2"]].to_numpy()[rows], rtol=0, atol=1e-12
        )
    # pred_class is the map's class (the decision rule the map metrics describe), as each fold's decision
    # gives it from the forest's probabilities: the dashboard's map and exports show these classes
    from landslide_app.model.decision import Decision

    result = json.loads((d / artifacts.RESULT_FILE).read_text())
    folds = result["decision"]["folds"]
    for name, rec in zip(("A", "B"), folds):
        rows = (pred["fold"] == name).to_numpy()
        decided = Decision.from_dict(rec).apply(pred[["p0", "p1", "p2"]].to_numpy()[rows])
        assert (pred["pred_class"].to_numpy()[rows] == decided).all()
    confusion = np.zeros((3, 3), int)
    np.add.at(confusion, (pred["true_class"].to_numpy(), pred["pred_class"].to_numpy()), 1)
    assert confusion.tolist() == result["map"]["confusion"]
    # a second run recomputes nothing
    import landslide_app.model.cnn_protocol as pipeline

    monkeypatch.setattr(pipeline, "run_configuration", lambda *a, **k: pytest.fail("recomputed a cached run"))
    again = run_ablation(tiny_store, tmp_path / "abl", s, progress=False)
    assert [r["auc"] for r in again["runs"]] == [r["auc"] for r in res["runs"]]
    # a predictions.csv of an older version (pred_class = the forest's argmax) reads as the map's classes
    old = pred.copy()
    old["pred_class"] = pred[["p0", "p1", "p2"]].to_numpy().argmax(axis=1)
    old.to_csv(d / artifacts.PREDICTIONS_FILE, index=False)
    read = artifacts.read_predictions(tmp_path / "abl", RunSpec("fused", 2))
    assert (read["pred_class"] == pred["pred_class"].to_numpy()).all()
    assert read["fold"].tolist() == pred["fold"].tolist()


def test_cli_train_predict_and_bad_values(tiny_store, tmp_path, capsys):
    assert (
        main(
            [
                "-q",
                "train",
                "--chips",
                str(tiny_store),
                "--inputs",
                "dem",
                "--epochs",
                "1",
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )
    assert (
        main(
            ["-q", "predict", "--model", str(tmp_path / "r"), "--chips", str(tiny_store), "--out", str(tmp_path / "p")]
        )
        == 0
    )
    assert (tmp_path / "p" / "density.tif").exists()
    with pytest.raises(SystemExit):
        main(["ablate", "--chips", str(tiny_store), "--out", str(tmp_path / "a"), "--revisits", "4"])
    assert main(["embed", "--model", str(tmp_path / "r"), "--out", str(tmp_path / "e.tif")]) == 2
    assert "exactly one of --chips" in capsys.readouterr().err
