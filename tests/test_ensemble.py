"""The deployable ensemble (``--ensemble K``): K networks trained on the same chips, each with its forest,
their class probabilities averaged; member 0 is the single model, collapsed members are left out of the
average, and a run directory carries every member (checked on loading) to ``predict``."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from landslide_app.core.vocabulary import ENSEMBLE_SEED_STRIDE, MAX_ENSEMBLE, check_ensemble
from landslide_app.errors import ConfigError, ModelFileError
from landslide_app.model.ensemble import EnsembleForest, member_seed


@pytest.mark.parametrize("good", [1, 2, MAX_ENSEMBLE, np.int64(3)])
def test_check_ensemble_accepts_whole_numbers_in_range(good):
    assert check_ensemble(good) == int(good) and isinstance(check_ensemble(good), int)


@pytest.mark.parametrize("bad", [0, -1, MAX_ENSEMBLE + 1, 2.0, True, "2", None])
def test_check_ensemble_refuses_the_rest(bad):
    with pytest.raises(ConfigError, match=r"ensemble .* must be a whole number of networks in 1\.\.16"):
        check_ensemble(bad)


def test_member_seeds_are_far_from_the_protocol_seeds():
    assert member_seed(7, 0) == 7 and member_seed(7, 2) == 7 + 2 * ENSEMBLE_SEED_STRIDE == 2007


class _Member(SimpleNamespace):
    """A fitted member as far as the ensemble reads it."""

    def predict_proba(self, ids):
        return np.repeat(self.p[None], len(ids), axis=0)

    def oob_proba(self):
        return self.oob

    def info(self):
        return {"best_epoch": 1, "collapsed": self.collapsed, "history": []}


def _member(p, oob, collapsed=False, seed=0):
    return _Member(
        p=np.asarray(p, float),
        oob=np.asarray(oob, float),
        collapsed=collapsed,
        seed=seed,
        model=SimpleNamespace(best_epoch=1),
        forest="forest-0" if seed == 0 else f"forest-{seed}",
        oob_set="train",
        forest_fit="train",
    )


def test_probabilities_are_the_mean_of_the_members_that_did_not_collapse(caplog):
    nan = np.nan
    a = _member([0.6, 0.3, 0.1], [[0.2, 0.6, 0.2], [nan, nan, nan], [nan, nan, nan]], seed=0)
    b = _member([0.2, 0.5, 0.3], [[0.4, 0.4, 0.2], [0.1, 0.1, 0.8], [nan, nan, nan]], seed=1000)
    dead = _member([0.0, 1.0, 0.0], [[0.0, 1.0, 0.0]] * 3, collapsed=True, seed=2000)
    ens = EnsembleForest.from_members([a, b, dead])  # type: ignore[list-item]
    np.testing.assert_allclose(ens.predict_proba(np.arange(2)), [[0.4, 0.4, 0.2]] * 2)
    # out-of-bag: the mean of the rows that exist; NaN where no member has one
    oob = ens.oob_proba()
    np.testing.assert_allclose(oob[:2], [[0.3, 0.5, 0.2], [0.1, 0.1, 0.8]])
    assert np.isnan(oob[2]).all()
    assert not ens.collapsed and ens.forest == "forest-0" and ens.k == 3 and ens.seed == 0
    info = ens.info()
    assert [m["seed"] for m in info["members"]] == [0, 1000, 2000]
    assert [m["collapsed"] for m in info["members"]] == [False, False, True] and info["collapsed"] is False
    # every member collapsed: the ensemble is collapsed and averages them all (as a single model would show it)
    all_dead = EnsembleForest.from_members([_member([1, 0, 0], [[1, 0, 0]], True), dead])  # type: ignore[list-item]
    assert all_dead.collapsed
    np.testing.assert_allclose(all_dead.predict_proba(np.arange(1)), [[0.5, 0.5, 0.0]])


def test_cross_prediction_member_zero_is_the_single_model(tiny_store, one_torch_thread):
    from landslide_app.chips.store import ChipStore
    from landslide_app.model.cnn_protocol import run_configuration
    from landslide_app.model.inputs import ModelConfig

    store = ChipStore.open(tiny_store)
    kw = dict(config=ModelConfig("dem", 1), split="random", epochs=1, seed=3, progress=False)
    single = run_configuration(store, store.ids, store.classes, **kw)  # type: ignore[arg-type]
    ens = run_configuration(store, store.ids, store.classes, ensemble=2, **kw)  # type: ignore[arg-type]
    assert single.ensemble == 1 and ens.ensemble == 2 and ens.to_dict()["ensemble"] == 2
    # the same split, and member 0 of every fold is the single model: the same forest input, bit for bit
    assert [f.test.tolist() for f in ens.protocol.folds] == [f.test.tolist() for f in single.protocol.folds]
    np.testing.assert_array_equal(ens.test_features, single.test_features)
    for k, (fold, fm) in enumerate(zip(ens.protocol.folds, ens.cv.models)):
        assert [m.seed for m in fm.members] == [3 + k, 3 + k + ENSEMBLE_SEED_STRIDE]
        members = np.mean([m.predict_proba(fold.test) for m in fm.members], axis=0)
        rows = np.searchsorted(ens.ids, fold.test)
        np.testing.assert_allclose(ens.test_proba[rows], members)
        assert ens.folds[k].info["members"][1]["seed"] == 3 + k + ENSEMBLE_SEED_STRIDE
    assert not np.allclose(ens.test_proba, single.test_proba), "the second network changes the probabilities"


def test_ablation_keys_and_files(tiny_store, tmp_path, one_torch_thread):
    from landslide_app.cli import main
    from landslide_app.experiments.ablation import AblationSettings, _run_fingerprint

    store = SimpleNamespace(meta=SimpleNamespace(fingerprint="abc"))
    spec = AblationSettings().specs()[0]
    one = _run_fingerprint(store, spec, AblationSettings())
    assert one == _run_fingerprint(store, spec, AblationSettings(ensemble=1))
    assert one != _run_fingerprint(store, spec, AblationSettings(ensemble=2))

    out = tmp_path / "abl"
    argv = ["-q", "ablate", "--chips", str(tiny_store), "--inputs", "dem", "--revisits", "1", "--epochs", "1",
            "--no-baselines", "--ensemble", "2", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["ensemble"] == 2 and results["runs"][0]["ensemble"] == 2
    run = out / "runs" / "dem-r1-random"
    names = {p.name for p in run.iterdir()}
    assert {"model_fold0.pt", "model_fold0_m1.pt", "forest_fold1.npz", "forest_fold1_m1.npz"} <= names


def _train(store, out, ensemble):
    from landslide_app.experiments.production import train_run
    from landslide_app.model.inputs import ModelConfig

    return train_run(store, ModelConfig("dem", 1), out, epochs=1, seed=0, progress=False, ensemble=ensemble)


def test_run_directory_predicts_with_every_member(tiny_store, tmp_path, one_torch_thread):
    import geopandas as gpd
    import torch

    from landslide_app.chips.store import ChipStore
    from landslide_app.experiments.prediction import local_features, stream_features
    from landslide_app.experiments.production import load_run, predict_run
    from landslide_app.model.chipsets import as_batch_getter
    from landslide_app.model.trained import read_checkpoint

    run_dir = tmp_path / "run"
    meta = _train(tiny_store, run_dir, 2)
    assert meta["ensemble"] == 2 and [m["seed"] for m in meta["members"]] == [0, ENSEMBLE_SEED_STRIDE]
    assert set(meta["files"]) == {"model.pt", "forest.npz", "model_m1.pt", "forest_m1.npz"}
    run = load_run(run_dir)
    assert len(run.models) == 2 and len(run.forests) == 2

    store = ChipStore.open(tiny_store)
    ids = store.ids
    # the members' features side by side, each read batch embedded by both networks
    feats = local_features(run, store, ids)
    assert feats.shape == (len(ids), 38)
    each = [stream_features(m, as_batch_getter(store), ids) for m in run.models]
    np.testing.assert_array_equal(feats, np.concatenate(each, axis=1))
    expected = np.mean([f.predict_proba(x) for f, x in zip(run.forests, each)], axis=0)
    np.testing.assert_allclose(run.predict_proba(feats), expected)
    with pytest.raises(ValueError, match="expected 38 columns"):
        run.predict_proba(each[0])

    # predict writes the averaged probabilities
    summary = predict_run(run_dir, tiny_store, tmp_path / "pred", progress=False)
    assert summary["model"]["ensemble"] == 2
    gdf = gpd.read_file(tmp_path / "pred" / "chips.gpkg").set_index("chip_id").loc[ids]
    np.testing.assert_allclose(gdf[["p0", "p1", "p2"]].to_numpy(), expected, atol=1e-6)

    # a member recorded as collapsed is left out of the average
    run.meta["members"][1]["collapsed"] = True
    np.testing.assert_allclose(run.predict_proba(feats), run.forests[0].predict_proba(each[0]))

    # member 0 is the single run of the same seed; retraining the folder as a single run removes member 1
    single = tmp_path / "single"
    _train(tiny_store, single, 1)
    a, b = read_checkpoint(single / "model.pt")["state_dict"], read_checkpoint(run_dir / "model.pt")["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    _train(tiny_store, run_dir, 1)
    assert not (run_dir / "model_m1.pt").exists() and not (run_dir / "forest_m1.npz").exists()
    assert len(load_run(run_dir).models) == 1


def test_a_tampered_member_is_refused(tiny_store, tmp_path, one_torch_thread):
    from landslide_app.experiments.production import load_run

    run_dir = tmp_path / "run"
    _train(tiny_store, run_dir, 2)
    data = bytearray((run_dir / "forest_m1.npz").read_bytes())
    data[-20:-12] = bytes(8)
    (run_dir / "forest_m1.npz").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"forest_m1.npz does not match run.json \(its checksum differs\)"):
        load_run(run_dir)


def test_cli_train_reports_the_networks(tiny_store, tmp_path, capsys, one_torch_thread):
    from landslide_app.cli import main

    argv = ["-q", "train", "--chips", str(tiny_store), "--inputs", "dem", "--revisits", "1", "--epochs", "1",
            "--ensemble", "2", "--out", str(tmp_path / "run")]  # fmt: skip
    assert main(argv) == 0
    assert "(2 networks (epochs 1, 1) selected on" in capsys.readouterr().out
    # the workspace records it and the responder's model list says so
    from landslide_app.dashboard.area import ModelChoice
    from landslide_app.experiments.workspace import run_entry

    entry = run_entry(tmp_path / "run")
    assert entry["ensemble"] == 2
    label = ModelChoice(tmp_path / "run", entry["name"], "demo", 0.8123, entry["ensemble"]).label
    assert label == "dem-r1 (demo: run, 2 networks, val AUC 0.81)"
    assert ModelChoice(tmp_path / "run", "dem-r1", "demo", None).label == "dem-r1 (demo: run)"
