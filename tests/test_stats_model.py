"""The SAR chip-statistics model as a portable run: ``train --model sar-stats``, ``predict`` and ``respond``
with it, and what a run without a network refuses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from landslide_app.baselines.sar_stats import centre_on_median, compute_sar_stats_features, feature_names
from landslide_app.chips.store import ChipStore
from landslide_app.cli import main
from landslide_app.errors import ConfigError, ModelFileError
from landslide_app.experiments.production import embed_store, load_run, predict_run
from landslide_app.experiments.stats_model import train_stats_run
from landslide_app.model.protocol import train_val_positions


@pytest.fixture(scope="module")
def stats_run(tiny_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-revisit statistics run trained through the CLI, then moved away from where it was trained."""
    root = tmp_path_factory.mktemp("stats")
    argv = ["-q", "train", "--model", "sar-stats", "--chips", str(tiny_store), "--revisits", "2"]
    assert main([*argv, "--seed", "3", "--out", str(root / "run")]) == 0
    moved = root / "elsewhere" / "bundle"
    moved.parent.mkdir()
    shutil.move(root / "run", moved)
    return moved


def test_the_run_records_its_kind_features_split_and_decisions(stats_run, tiny_store):
    meta = json.loads((stats_run / "run.json").read_text())
    store = ChipStore.open(tiny_store)
    assert meta["kind"] == "sar_stats" and meta["name"] == "sar-stats-r2"
    assert meta["config"]["inputs"] == "fused" and meta["config"]["revisits"] == 2
    assert meta["features"] == list(feature_names(2))
    train, val = train_val_positions(len(store.ids), 3, 0.2)
    assert (meta["n_train"], meta["n_val"]) == (len(train), len(val)) and len(train) + len(val) == len(store.ids)
    assert set(meta["decision"]["rules"]) == {"cost", "accuracy", "macro_f1"}
    assert set(meta["files"]) == {"forest.npz", "forest_scene.npz"} and not (stats_run / "model.pt").exists()
    assert meta["channel_stats"] and meta["density_thresholds"]
    run = load_run(stats_run)
    assert run.is_stats and run.models == [] and run.name == "sar-stats-r2" and run.n_features == 8
    # a workspace folder holding it lists it (the dashboard's responder picks its models from there)
    from landslide_app.experiments.workspace import discover

    found = discover(stats_run.parent.parent)["runs"]
    assert [(r["path"], r["name"]) for r in found] == [("elsewhere/bundle", "sar-stats-r2")]


def test_train_val_positions_match_the_network_runs_split():
    train, val = train_val_positions(50, 7, 0.2)
    perm = np.random.default_rng(7).permutation(50)
    assert val.tolist() == sorted(perm[:10].tolist()) and train.tolist() == sorted(perm[10:].tolist())


def test_predict_uses_the_forest_on_the_chip_statistics(stats_run, tiny_store, tmp_path, capsys):
    out = tmp_path / "pred"
    assert main(["-q", "predict", "--model", str(stats_run), "--chips", str(tiny_store), "--out", str(out)]) == 0
    assert "sar-stats-r2" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"]["kind"] == "sar_stats" and summary["model"]["name"] == "sar-stats-r2"
    assert summary["config"] == "sar-stats-r2" and summary["n_chips"] == len(ChipStore.open(tiny_store).ids)
    # the probabilities are the run's forest on the statistics computed here, in the store's order
    import geopandas as gpd

    run, store = load_run(stats_run), ChipStore.open(tiny_store)
    expected = run.forest.predict_proba(compute_sar_stats_features(store, store.ids, 2, progress=False))
    got = gpd.read_file(out / "chips.gpkg").set_index("chip_id").loc[store.ids, ["p0", "p1", "p2"]].to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert {"density.tif", "map.png"} <= {p.name for p in out.iterdir()}


def test_normalise_scene_uses_the_centred_statistics_and_their_forest(stats_run, tiny_store, tmp_path):
    import geopandas as gpd

    summary = predict_run(stats_run, tiny_store, tmp_path / "scene", progress=False, normalise="scene")
    assert summary["normalise"] == "scene"
    run, store = load_run(stats_run), ChipStore.open(tiny_store)
    assert run.scene_forest is not None and json.loads((stats_run / "run.json").read_text())["scene"]["decision"]
    feats = compute_sar_stats_features(store, store.ids, 2, progress=False)
    expected = run.scene_forest.predict_proba(centre_on_median(feats))
    got = gpd.read_file(tmp_path / "scene" / "chips.gpkg").set_index("chip_id").loc[store.ids, ["p0", "p1", "p2"]]
    np.testing.assert_allclose(got.to_numpy(), expected, atol=1e-6)
    # a shift of every chip's post - pre change (another season, not the storm) leaves the centred input as it was
    shifted = feats.copy()
    shifted[:, 2:] += 3.0
    np.testing.assert_allclose(centre_on_median(shifted), centre_on_median(feats), atol=1e-5)


def test_what_a_run_without_network_refuses(stats_run, tiny_store, tmp_path):
    with pytest.raises(ConfigError, match="no network"):
        embed_store(stats_run, tiny_store, tmp_path / "e.tif", progress=False)
    with pytest.raises(ConfigError, match="drop --scheduler"):
        predict_run(stats_run, tiny_store, tmp_path / "q", progress=False, features=lambda *a: np.zeros((1, 8)))
    # features recorded under other names: retrain, not a silently wrong map
    broken = shutil.copytree(stats_run, tmp_path / "renamed")
    meta = json.loads((broken / "run.json").read_text())
    meta["features"] = meta["features"][::-1]
    (broken / "run.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="retrain"):
        predict_run(broken, tiny_store, tmp_path / "r", progress=False)
    # a run without the scene forest (as one written before it): --normalise scene says to retrain
    meta["features"] = meta["features"][::-1]
    del meta["scene"]
    (broken / "run.json").write_text(json.dumps(meta))
    (broken / "forest_scene.npz").unlink()
    with pytest.raises(ConfigError, match="no forest for --normalise scene"):
        predict_run(broken, tiny_store, tmp_path / "s", progress=False, normalise="scene")
    (broken / "forest.npz").unlink()
    with pytest.raises(ModelFileError, match="forest.npz"):
        load_run(broken)


def test_train_refuses_what_does_not_apply(tiny_store, tmp_path):
    base = ["-q", "train", "--chips", str(tiny_store), "--out", str(tmp_path / "r")]
    assert main([*base, "--model", "sar-stats", "--inputs", "dem"]) == 2
    assert main([*base, "--model", "sar-stats", "--ensemble", "2"]) == 2
    assert main(base) == 2  # --model cnn needs --inputs
    assert not (tmp_path / "r" / "run.json").exists()
    with pytest.raises(ConfigError, match="DEM-only"):
        dem_only = tmp_path / "dem-store"
        shutil.copytree(tiny_store, dem_only)
        meta = json.loads((dem_only / "store.json").read_text())
        meta["has_sar"] = False
        (dem_only / "store.json").write_text(json.dumps(meta))
        train_stats_run(dem_only, 1, tmp_path / "s", progress=False)


def test_respond_with_a_statistics_run(stats_run, scene_dir, tmp_path, capsys):
    out = tmp_path / "event"
    argv = ["-q", "respond", "--source", str(scene_dir / "catalog.json"), "--event-date", "2017-09-20"]
    assert main([*argv, "--model", str(stats_run), "--out", str(out)]) == 0
    assert "map.png" in capsys.readouterr().out
    ws = json.loads((out / "workspace.json").read_text())
    assert ws["runs"][0]["name"] == "sar-stats-r2"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["labelled"] is False and summary["model"]["kind"] == "sar_stats" and summary["n_chips"] > 0


def test_the_demo_prepares_a_run_for_the_responder(tmp_path):
    from landslide_app.demo import RESPONDER_RUN, prepare_demo
    from landslide_app.experiments.workspace import Workspace

    paths = prepare_demo(tmp_path / "demo", size="tiny", progress=False, train_default=False)
    run_json = paths.models / RESPONDER_RUN / "run.json"
    assert json.loads(run_json.read_text())["kind"] == "sar_stats"
    ws = Workspace.load(paths.root)
    assert [r["name"] for r in ws.runs] == [RESPONDER_RUN]
    # a second launch reuses it
    before = run_json.stat().st_mtime_ns
    prepare_demo(tmp_path / "demo", size="tiny", progress=False, train_default=False)
    assert run_json.stat().st_mtime_ns == before
