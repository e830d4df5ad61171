"""Rapid response (issue 11): the portable run bundle, prediction on unlabelled stores, domain-shift
warnings (SAR in dB, DEM in feet), ``--normalise scene`` and ``respond`` end to end without inventory."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio

from landslide_app.chips.store import ChipStore
from landslide_app.cli import main
from landslide_app.config import CHANNELS
from landslide_app.errors import ConfigError
from landslide_app.experiments.domain_shift import compare, read_sample, stats_of_sample
from landslide_app.experiments.production import load_run, predict_run, train_run
from landslide_app.model.inputs import ModelConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SAR = [i for i, c in enumerate(CHANNELS) if c.startswith(("vv_", "vh_"))]


@pytest.fixture(scope="module")
def fused_run(tiny_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fused 1-revisit run (1 epoch) trained on a copy of the tiny store, then MOVED to another
    folder, and the copy it was trained on deleted: every use below is of a relocated bundle."""
    import torch

    root = tmp_path_factory.mktemp("fused")
    store = shutil.copytree(tiny_store, root / "train-store")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_run(store, ModelConfig("fused", 1), root / "run", epochs=1, progress=False)
    finally:
        torch.set_num_threads(before)
    moved = root / "elsewhere" / "bundle"
    moved.parent.mkdir()
    shutil.move(root / "run", moved)
    shutil.rmtree(store)
    return moved


@pytest.fixture(scope="module")
def unlabelled_store(scene_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny scene's chips built without any inventory."""
    from landslide_app.chips.build import build_chips
    from landslide_app.sources.stac import open_local_catalog

    out = tmp_path_factory.mktemp("unlabelled") / "chips"
    build_chips(open_local_catalog(scene_dir / "catalog.json"), None, out, progress=False)
    return out


def _scene_with_sar(scene_dir: Path, dest: Path, fn) -> Path:
    """A copy of the scene whose SAR rasters went through ``fn(values) -> values`` (same COG profile)."""
    out = shutil.copytree(scene_dir, dest)
    for tif in sorted((out / "sar").glob("*.tif")):
        with rasterio.open(tif) as ds:
            profile, v = ds.profile, ds.read()
        tif.unlink()
        with rasterio.open(tif, "w", **profile) as ds:
            ds.write(fn(v).astype(v.dtype))
    return out


def _store_of(scene: Path, out: Path) -> Path:
    from landslide_app.chips.build import build_chips
    from landslide_app.sources.stac import open_local_catalog

    return build_chips(open_local_catalog(scene / "catalog.json"), None, out, progress=False).store.path


def test_run_bundle_records_what_a_prediction_needs(fused_run, tiny_store):
    meta = json.loads((fused_run / "run.json").read_text())
    store = ChipStore.open(tiny_store)
    assert meta["density_thresholds"] == [0.0, 25.0] and meta["chip_size"] == 128
    assert set(meta["norm_stats"]) >= {"dem_mean", "dem_std", "sar_mean", "sar_std"}
    td = meta["training_data"]
    assert td["fingerprint"] == store.meta.fingerprint and td["event_date"].startswith("2017-09-20")
    assert td["dates"] == list(store.meta.dates) and len(td["bbox_lonlat"]) == 4
    w, s, e, n = td["bbox_lonlat"]
    assert -68 < w < e < -66 and 17 < s < n < 19  # the demo grid in Puerto Rico's UTM zone
    cs = meta["channel_stats"]
    assert set(cs) == {"elevation", "slope", "curvature", *(CHANNELS[i] for i in SAR)}
    assert cs["vv_t0"]["nonpositive"] == 0.0 and -25 < cs["vv_t0"]["mean"] < 0  # dB of linear gamma0
    assert set(meta["files"]) == {"model.pt", "forest.npz"} and meta["code_version"]


def test_moved_model_predicts_an_unlabelled_store(fused_run, unlabelled_store, tmp_path):
    import geopandas as gpd

    assert not (fused_run.parent.parent / "train-store").exists()  # its training store is gone
    store = ChipStore.open(unlabelled_store)
    assert store.meta.labelled is False
    s = predict_run(fused_run, unlabelled_store, tmp_path / "pred", progress=False)
    out = tmp_path / "pred"
    assert {p.name for p in out.iterdir()} >= {"density.tif", "chips.gpkg", "map.png", "summary.json"}
    with rasterio.open(out / "density.tif") as ds:
        arr = ds.read()
        assert ds.count == 4 and ds.descriptions[0] == "density_class"
    valid = np.isfinite(arr[0])
    assert valid.sum() == len(store.ids) == s["n_chips"]
    np.testing.assert_allclose(arr[1:, valid].sum(axis=0), 1.0, atol=1e-5)
    gdf = gpd.read_file(out / "chips.gpkg")
    assert {"chip_id", "pred_class", "p0", "p1", "p2", "geometry"} <= set(gdf.columns)
    assert not {"true_class", "head_count"} & set(gdf.columns)  # no labels to show
    np.testing.assert_allclose(gdf[["p0", "p1", "p2"]].sum(axis=1), 1.0, atol=1e-6)
    # the map shows the run's decision (fitted on its validation chips) over the forest's probabilities
    from landslide_app.model.map_classes import run_decision

    decision = run_decision(json.loads((fused_run / "run.json").read_text()))
    assert s["decision"] == decision.rule == "cost"
    assert (gdf["pred_class"].to_numpy() == decision.apply(gdf[["p0", "p1", "p2"]].to_numpy())).all()
    # summary: no AUC without labels; chips and km² per class; the 20 most likely class-2 chips
    assert s["labelled"] is False and "auc_vs_store_labels" not in s and "in_sample" not in s
    assert sum(c["chips"] for c in s["classes"].values()) == s["n_chips"]
    for k, c in s["classes"].items():
        assert c["chips"] == int((gdf["pred_class"] == int(k)).sum())
        assert c["km2"] == pytest.approx(c["chips"] * 1.6384, abs=1e-3)
    top = s["top_class2"]
    assert len(top) == min(20, s["n_chips"]) and [t["p2"] for t in top] == sorted((t["p2"] for t in top), reverse=True)
    assert top[0]["p2"] == pytest.approx(gdf["p2"].max(), abs=1e-4)
    w, so, e, n = s["data"]["bbox_lonlat"]
    assert all(w <= t["lon"] <= e and so <= t["lat"] <= n for t in top)
    assert s["model"]["name"] == "fused-r1" and s["model"]["trained_on"]["event_date"].startswith("2017-09-20")
    assert json.loads((out / "summary.json").read_text()) == s
    from PIL import Image

    with Image.open(out / "map.png") as im:
        rgb = np.asarray(im.convert("RGB")).reshape(-1, 3)
        assert im.format == "PNG" and im.size[0] > 600 and len(np.unique(rgb, axis=0)) > 50
    assert load_run(fused_run).meta["fingerprint"] == s["model_fingerprint"]


def test_same_area_raises_no_domain_shift(fused_run, tiny_store, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        s = predict_run(fused_run, tiny_store, tmp_path / "pred", progress=False)
    assert s["domain_shift"]["shifted"] == [] and "differs from the chips" not in caplog.text
    # the same chips as the (deleted) copy it was trained on: recognised by fingerprint, in-sample
    assert s["in_sample"] is True and "auc_out_of_area" not in s


def test_sar_in_db_is_flagged_by_channel(fused_run, scene_dir, tmp_path, caplog, monkeypatch):
    import landslide_app.chips.build as build

    with np.errstate(divide="ignore", invalid="ignore"):
        db_scene = _scene_with_sar(scene_dir, tmp_path / "scene-db", lambda v: 10 * np.log10(v))
    # `chips` refuses local SAR files in dB before reading them; a store can still hold dB values
    # (built by an older version, or from a remote source the header check cannot sample)
    monkeypatch.setattr(build, "check_source_rasters", lambda source: None)
    db_store = _store_of(db_scene, tmp_path / "db")
    with caplog.at_level(logging.WARNING):
        s = predict_run(fused_run, db_store, tmp_path / "pred", progress=False)
    shifted = {c["channel"]: c for c in s["domain_shift"]["shifted"]}
    used_sar = {"vv_t0", "vh_t0", "vv_t1", "vh_t1", "vv_t2", "vh_t2", "vv_t3", "vh_t3"}  # 3 pre + 1 post
    assert set(shifted) == used_sar  # the DEM channels did not move; unused SAR dates are not reported
    assert all(c["looks_db"] for c in shifted.values())
    assert "vv_t0" in caplog.text and "dB" in caplog.text and "elevation (" not in caplog.text


def test_dem_in_feet_is_flagged(dem_run, scene_dir, tmp_path, caplog):
    from landslide_app.chips.build import build_chips
    from landslide_app.sources.stac import dem_only_source

    src = scene_dir / "dem" / "elevation.tif"
    feet = tmp_path / "feet.tif"
    with rasterio.open(src) as ds:
        profile, z = ds.profile, ds.read(1)
    with rasterio.open(feet, "w", **profile) as ds:
        ds.write(np.where(np.isfinite(z), z * 3.28084, z).astype(z.dtype), 1)
    preds = {}
    for name, dem in (("metres", src), ("feet", feet)):
        store = build_chips(dem_only_source(dem), None, tmp_path / name, progress=False).store.path
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            preds[name] = predict_run(dem_run, store, tmp_path / f"pred-{name}", progress=False)
        if name == "metres":
            assert preds[name]["domain_shift"]["shifted"] == [] and "differs from the chips" not in caplog.text
    shifted = {c["channel"]: c for c in preds["feet"]["domain_shift"]["shifted"]}
    assert "elevation" in shifted and 2.8 < shifted["elevation"]["std_ratio"] < 3.8
    assert "elevation" in caplog.text and "feet" in caplog.text


def test_compare_thresholds():
    train = {"elevation": {"n": 10, "mean": 100.0, "std": 50.0}}
    ok = stats_of_sample(np.array([[[[90.0, 160.0], [40.0, 110.0]]]], np.float32), ["elevation"])
    assert compare(train, ok) == []  # mean -0, std within x2
    moved = stats_of_sample(np.array([[[[190.0, 260.0], [140.0, 210.0]]]], np.float32), ["elevation"])
    (c,) = compare(train, moved)
    assert c.channel == "elevation" and c.mean_shift_sigma == pytest.approx(2.0, abs=1e-3)


def test_scene_normalisation_absorbs_a_sar_calibration_offset(fused_run, scene_dir, unlabelled_store, tmp_path):
    """SAR twice as bright (+3 dB everywhere): with the store's own statistics the inputs are the
    same after standardisation, so the map is the same."""
    bright = _store_of(_scene_with_sar(scene_dir, tmp_path / "scene-bright", lambda v: v * 2.0), tmp_path / "bright")
    ref = predict_run(fused_run, unlabelled_store, tmp_path / "ref", normalise="scene", progress=False)
    got = predict_run(fused_run, bright, tmp_path / "got", normalise="scene", progress=False)
    assert got["normalise"] == "scene" and got["class_counts"] == ref["class_counts"]
    with rasterio.open(tmp_path / "ref" / "density.tif") as a, rasterio.open(tmp_path / "got" / "density.tif") as b:
        np.testing.assert_allclose(a.read(), b.read(), atol=0.02, equal_nan=True)
    with pytest.raises(ConfigError, match="--normalise"):
        predict_run(fused_run, unlabelled_store, tmp_path / "x", normalise="global", progress=False)


def test_sample_reads_every_chip_of_a_small_store(tiny_store):
    store = ChipStore.open(tiny_store)
    sample = read_sample(store)
    assert sample.shape == (len(store.ids), len(store.channels), 32, 32)


# ---- respond ---------------------------------------------------------------------------------------
def test_respond_end_to_end_without_inventory(fused_run, scene_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "event"
    argv = [
        "-q",
        "respond",
        "--source",
        str(scene_dir / "catalog.json"),
        "--event-date",
        "2017-09-20",
        "--model",
        str(fused_run),
        "--out",
        str(out),
    ]
    # interrupted in the predict stage: the chips are kept, the rerun finishes
    import landslide_app.experiments.respond as respond_mod

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(respond_mod, "predict_run", boom)
    assert main(argv) == 130
    assert (out / "chips" / "store.json").exists() and not (out / "summary.json").exists()
    monkeypatch.undo()
    capsys.readouterr()
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "resumed: chips" in printed and "map.png" in printed
    assert {"density.tif", "chips.gpkg", "map.png", "summary.json", "workspace.json", "respond.json"} <= {
        p.name for p in out.iterdir()
    }
    assert main(["info", "--json", str(out / "chips")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["labelled"] is False
    ws = json.loads((out / "workspace.json").read_text())
    assert ws["format"] == "landslide-app-workspace/1" and ws["event"]["date"] == "2017-09-20"
    assert ws["stores"][0] == {**ws["stores"][0], "path": "chips", "labelled": False}
    assert ws["predictions"][0]["map"] == "map.png" and ws["runs"][0]["name"] == "fused-r1"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["labelled"] is False and summary["n_chips"] == info["n_chips"] > 0
    timings = json.loads((out / "respond.json").read_text())
    assert set(timings["seconds"]) == {"model", "acquisitions", "chips", "predict", "workspace"}
    # a third run redoes nothing
    assert main(argv) == 0
    assert json.loads((out / "respond.json").read_text())["resumed"] == ["chips", "predict"]


def test_respond_says_when_the_data_do_not_exist_yet(fused_run, scene_dir, tmp_path, capsys):
    base = ["respond", "--source", str(scene_dir / "catalog.json"), "--model", str(fused_run)]
    # after the last pass of the catalog: nothing post-event yet
    assert main([*base, "--event-date", "2017-10-23", "--out", str(tmp_path / "late")]) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "after 2017-10-23 yet" in err and "expected on" in err and "Traceback" not in err
    assert not (tmp_path / "late" / "chips").exists()


def test_respond_refuses_a_model_needing_more_passes(tiny_store, scene_dir, tmp_path, capsys):
    # a 2-revisit model, the day before the last pass: one post-event pass exists
    run = tmp_path / "r2"
    train_run(tiny_store, ModelConfig("sar", 2), run, epochs=1, progress=False)
    argv = [
        "respond",
        "--source",
        str(scene_dir / "catalog.json"),
        "--event-date",
        "2017-10-21",
        "--model",
        str(run),
        "--out",
        str(tmp_path / "ev"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "1 post-event acquisition (2017-10-22)" in err and "--revisits 1" in err
    assert not (tmp_path / "ev" / "chips").exists()


def test_embed_works_on_an_unlabelled_store(dem_run, unlabelled_store, tmp_path):
    from landslide_app.experiments.production import embed_store

    out = embed_store(dem_run, unlabelled_store, tmp_path / "emb.tif", progress=False)
    store = ChipStore.open(unlabelled_store)
    with rasterio.open(out) as ds:
        e = ds.read(1)
    fin = e[np.isfinite(e)]
    assert fin.size > 0.8 * len(store.ids) * 128 * 128 and 0 <= fin.min() and fin.max() <= 1


def test_respond_needs_the_event_date(tmp_path, capsys):
    # a new disaster has no sensible default event: respond refuses to guess (chips keeps paper Table 1's)
    with pytest.raises(SystemExit) as exc:
        main(["respond", "--source", "catalog.json", "--model", str(tmp_path / "run"), "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    assert "--event-date" in capsys.readouterr().err


def test_respond_rerun_on_another_area_needs_overwrite(dem_run, scene_dir, tmp_path, capsys):
    """The store message's advice (--overwrite) is an option of respond, and it rebuilds the chips."""
    from pyproj import Transformer

    grid = json.loads((scene_dir / "scene.json").read_text())["grid"]
    w, s, e, n = grid["bounds"]
    to_ll = Transformer.from_crs(grid["crs"], "EPSG:4326", always_xy=True)
    lon0, lat0 = to_ll.transform(w + 0.25 * (e - w), s + 0.25 * (n - s))
    lon1, lat1 = to_ll.transform(w + 0.75 * (e - w), s + 0.75 * (n - s))
    out = tmp_path / "event"
    base = ["-q", "respond", "--source", str(scene_dir / "catalog.json"), "--event-date", "2017-09-20"]
    base += ["--model", str(dem_run), "--out", str(out)]
    assert main(base) == 0
    n_whole = json.loads((out / "summary.json").read_text())["n_chips"]
    capsys.readouterr()
    area = ["--bbox", str(lon0), str(lat0), str(lon1), str(lat1)]
    assert main([*base, *area]) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and "Traceback" not in err
    assert main([*base, *area, "--overwrite"]) == 0
    assert 0 < json.loads((out / "summary.json").read_text())["n_chips"] < n_whole
