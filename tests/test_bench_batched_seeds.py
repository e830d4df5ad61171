"""benchmarks/bench_batched_seeds.py: K networks as one grouped network compute what the K networks do."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_batched_seeds import WAYS, GroupedNets, measure  # noqa: E402

from landslide_app.model.inputs import ModelConfig
from landslide_app.model.network import EmbeddingNet

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("inputs", ["dem", "fused"])
def test_grouped_network_equals_the_separate_networks(inputs: str):
    cfg = ModelConfig(inputs, 2)
    torch.manual_seed(3)
    nets = [EmbeddingNet.for_config(cfg) for _ in range(3)]
    xs = torch.randn(3, 2, cfg.n_dem + cfg.n_sar, 20, 20)
    ys = (torch.rand(3, 2, 20, 20) < 0.1).float()
    grouped = GroupedNets(nets)
    out = grouped.forward(xs)
    ref = torch.stack([n(xs[j])[:, 0] for j, n in enumerate(nets)])
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    (F.mse_loss(out, ys) * 3).backward()  # the mean over K networks: K x each network's own mean loss
    for j, n in enumerate(nets):
        n.set_train_conv("direct")
        F.mse_loss(n(xs[j])[:, 0], ys[j]).backward()
    for name, p in nets[0].named_parameters():
        rows = p.shape[0]
        for j, n in enumerate(nets):
            mine = grouped.weights[name].grad[j * rows : (j + 1) * rows]
            torch.testing.assert_close(mine, dict(n.named_parameters())[name].grad, rtol=1e-4, atol=1e-6)


def test_measure_reports_every_way_against_the_sequential_steps():
    r = measure(ModelConfig("fused", 1), k=2, batch=1, threads=1, repeats=1, size=16)
    assert set(r["cpu_s"]) == set(r["wall_s"]) == set(r["speed_vs_seq_phase"]) == set(WAYS)
    assert r["speed_vs_seq_phase"]["seq_phase"] == 1.0 and all(v > 0 for v in r["cpu_s"].values())
    for w in WAYS:
        assert r["speed_vs_seq_phase"][w] == pytest.approx(r["cpu_s"]["seq_phase"] / r["cpu_s"][w], rel=0.02)
