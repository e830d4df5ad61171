"""A collapsed training (constant embeddings for every chip) is detected, warned about and recorded:
``train``'s ``run.json``, the ablation's ``result.json`` / ``results.json`` / ``table.md``; a normal
tiny training is not flagged."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch

from landslide_app.cli import main
from landslide_app.experiments.ablation import AblationSettings, run_ablation
from landslide_app.experiments.production import load_run, train_run
from landslide_app.experiments.records import RunRecord
from landslide_app.experiments.report import collapse_note
from landslide_app.model.collapse import COLLAPSE_SPREAD, check_collapse, feature_spread
from landslide_app.model.inputs import ModelConfig
from landslide_app.model.network import EmbeddingNet

pytestmark = pytest.mark.usefixtures("one_torch_thread")

WARNING = "training collapsed"


def _saturated_init(self: EmbeddingNet) -> None:
    """The failure seen on the demo island, made certain: a head whose sigmoid is saturated at 0 for
    every pixel (zero weights, bias -100: sigmoid underflows to exactly 0 in float32), so no gradient
    reaches any weight and training cannot leave it."""
    for m in self.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            torch.nn.init.zeros_(m.bias)
    torch.nn.init.zeros_(self.head.weight)
    torch.nn.init.constant_(self.head.bias, -100.0)


@pytest.fixture
def collapsing(monkeypatch):
    monkeypatch.setattr(EmbeddingNet, "_init_weights", _saturated_init)


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and WARNING in r.getMessage()]


def test_rule_on_features():
    rng = np.random.default_rng(0)
    varied = rng.uniform(0, 1, (30, 19)).astype(np.float32)
    const = np.full((30, 19), 0.1224, np.float32)
    assert not check_collapse(varied).collapsed
    res = check_collapse(const)
    assert res.collapsed and res.spread == 0.0 and res.n_chips == 30
    # the threshold: spreads on either side of it, in one feature only
    for delta, expected in ((0.5 * COLLAPSE_SPREAD, True), (2 * COLLAPSE_SPREAD, False)):
        f = const.astype(np.float64)
        f[3, 18] += delta
        assert check_collapse(f).collapsed is expected, delta
    # NaN rows (chips without a valid pixel) are left out; fewer than 2 chips cannot be judged
    with_nan = np.vstack([const, np.full((1, 19), np.nan)])
    assert feature_spread(with_nan) == (0.0, 30)
    one = check_collapse(const[:1])
    assert not one.collapsed and np.isnan(one.spread)


def test_train_flags_a_collapsed_run(tiny_store, tmp_path, caplog, capsys, collapsing):
    out = tmp_path / "run"
    with caplog.at_level(logging.WARNING):
        assert main(["-q", "train", "--chips", str(tiny_store), "--inputs", "dem", "--revisits", "1", "--epochs", "1",
                     "--seed", "3", "--out", str(out)]) == 0  # fmt: skip
    msgs = _warnings(caplog)
    assert len(msgs) == 1 and "dem-r1" in msgs[0] and "seed 3" in msgs[0] and "another --seed" in msgs[0]
    meta = json.loads((out / "run.json").read_text())
    assert meta["collapsed"] is True and meta["auc_val"] == 0.5 and meta["seed"] == 3
    printed = capsys.readouterr().out
    assert "training collapsed" in printed and "--seed 4" in printed
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        load_run(out)
    assert any("training collapsed" in m for m in (r.getMessage() for r in caplog.records))


def test_normal_tiny_training_is_not_flagged(tiny_store, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        meta = train_run(tiny_store, ModelConfig("dem", 1), tmp_path / "run", epochs=1, progress=False)
    assert meta["collapsed"] is False and not _warnings(caplog)
    assert meta["auc_val"] != 0.5


def test_ablation_records_a_collapse(tiny_store, tmp_path, caplog, collapsing):
    s = AblationSettings(inputs=("dem",), revisits=(1, 2), epochs=1, baselines=False)
    with caplog.at_level(logging.WARNING):
        res = run_ablation(tiny_store, tmp_path / "abl", s, progress=False)
    assert len(_warnings(caplog)) == 2  # one per fold, the DEM-only run computed once
    run, shared = res["runs"]
    assert run["collapsed"] is True and [f["collapsed"] for f in run["folds"]] == [True, True]
    # each fold's forest predicts its class shares for every chip (pooled over folds they differ)
    assert [f["auc"][s] for f in run["folds"] for s in ("val", "test")] == [0.5] * 4
    assert shared["shared_with"] == run["key"] and shared["collapsed"] is True
    stored = json.loads((tmp_path / "abl" / "results.json").read_text())
    assert [r["collapsed"] for r in stored["runs"]] == [True, True]
    assert RunRecord.from_dict(stored["runs"][0]).collapsed is True
    table = (tmp_path / "abl" / "table.md").read_text()
    assert "Training collapsed" in table and "dem r1 random seed 0" in table and "dem r2" not in table


def test_collapse_note_names_each_seed_once():
    def run(inputs, revisits, collapsed, **kw):
        return {"inputs": inputs, "revisits": revisits, "split": "random", "auc": {}, "collapsed": collapsed, **kw}

    ok = {"seed": 0, "runs": [run("fused", 1, False), run("fused", 2, False)]}
    assert collapse_note({"repeats": [ok]}) == ""
    assert collapse_note({"runs": [run("sar", 3, False)], "seed": 0}) == ""
    bad = {"seed": 1, "runs": [run("fused", 2, True), run("dem", 2, True, shared_with="dem-r1-random")]}
    note = collapse_note({"repeats": [ok, bad]})
    assert "fused r2 random seed 1" in note and "dem" not in note and "seed 0" not in note
    # results without the key (written before it existed) read as not collapsed
    assert collapse_note({"runs": [{"inputs": "dem", "revisits": 1, "split": "random", "auc": {}}], "seed": 0}) == ""


def test_dashboard_summary_says_the_training_collapsed(scene_dir, tiny_store, tmp_path, collapsing):
    from landslide_app.dashboard.app import Dashboard
    from landslide_app.testing.datadir import link_data_dir

    root = link_data_dir(tmp_path / "data", scene_dir, tiny_store, epochs=1).root  # fused r3, collapsed
    d = Dashboard(root, epochs=1, warm=False, autostart=False)
    assert d.view is not None and d.view.computed and d.view.result.collapsed
    assert "fused-r3-random" in d.summary.value and "training collapsed" in d.summary.value
