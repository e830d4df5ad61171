"""The network's learning rate: one default (1e-3, issue 13's paired 5-seed study), one validator, an
``--lr`` option on ``train`` and ``ablate``, recorded in ``run.json`` / ``results.json``, and part of
every ablation cache key, resolved, so a change of the default never reuses runs trained at the former one."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from landslide_app.core.vocabulary import DEFAULT_LR, MAX_LR, check_learning_rate
from landslide_app.errors import ConfigError


def test_default_is_the_studied_rate():
    assert DEFAULT_LR == 1e-3 and MAX_LR == 1.0


@pytest.mark.parametrize("good", [1e-3, 1, 1.0, np.float32(0.5), 1e-9])
def test_check_learning_rate_accepts_numbers_in_range(good):
    v = check_learning_rate(good)
    assert isinstance(v, float) and v == pytest.approx(float(good))


@pytest.mark.parametrize("bad", [0, -1e-3, 1.5, math.nan, math.inf, "0.1", True, None, [1e-3]])
def test_check_learning_rate_refuses_the_rest(bad):
    with pytest.raises(ConfigError, match=r"learning rate .* must be a number in \(0, 1\] \(default 0.001\)"):
        check_learning_rate(bad)


def test_cache_key_holds_the_resolved_rate(monkeypatch):
    import landslide_app.experiments.ablation_settings as ablation_settings
    from landslide_app.experiments.ablation import AblationSettings, _run_fingerprint

    store = SimpleNamespace(meta=SimpleNamespace(fingerprint="abc"))
    spec = AblationSettings().specs()[0]
    default = _run_fingerprint(store, spec, AblationSettings())
    # the default and the same rate given explicitly are the same computation: one cache entry
    assert default == _run_fingerprint(store, spec, AblationSettings(train_kwargs={"lr": DEFAULT_LR}))
    assert default != _run_fingerprint(store, spec, AblationSettings(train_kwargs={"lr": 3e-3}))
    assert AblationSettings(train_kwargs={"lr": 2e-3}).lr == 2e-3 and AblationSettings().lr == DEFAULT_LR
    # a later change of the default changes the default's key: runs made at the former default are not reused
    monkeypatch.setattr(ablation_settings, "DEFAULT_LR", 3e-3)
    assert _run_fingerprint(store, spec, AblationSettings()) != default


def test_fit_refuses_an_impossible_rate():
    from landslide_app.model.inputs import ModelConfig
    from landslide_app.model.train import fit_embedding_model

    chips = np.zeros((2, 17, 8, 8), np.float32)
    with pytest.raises(ConfigError, match="learning rate 0 must be"):
        fit_embedding_model(chips, None, ModelConfig("dem", 1), epochs=1, progress=False, lr=0)


def test_cli_lr_trains_differently_and_is_recorded(tiny_store, tmp_path):
    import torch

    from landslide_app.cli import main
    from landslide_app.model.trained import read_checkpoint

    base = ["-q", "train", "--chips", str(tiny_store), "--inputs", "dem", "--revisits", "1", "--epochs", "1"]
    weights = {}
    for name, extra in {"default": [], "fast": ["--lr", "0.01"]}.items():
        run = tmp_path / name
        assert main([*base, *extra, "--out", str(run)]) == 0
        meta = json.loads((run / "run.json").read_text())
        assert meta["lr"] == (DEFAULT_LR if name == "default" else 0.01)
        weights[name] = read_checkpoint(run / "model.pt")["state_dict"]
    changed = [
        k for k, v in weights["default"].items() if v.is_floating_point() and not torch.equal(v, weights["fast"][k])
    ]
    assert changed, "the rate reached the optimiser: the same seed trains to other weights"

    out = tmp_path / "abl"
    argv = ["-q", "ablate", "--chips", str(tiny_store), "--inputs", "dem", "--revisits", "1", "--epochs", "1",
            "--no-baselines", "--lr", "0.01", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["lr"] == 0.01
