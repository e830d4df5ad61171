"""Several seeds' networks trained as one batched network, against one after the other.

Usage: ``python benchmarks/bench_batched_seeds.py [--k 5] [--batch 8] [--threads 1 2] [--repeats 4]
[--inputs fused] [--revisits 3] [--no-write]``.

Issue 13 suggested training the seeds of a multi-seed ablation "as one batched network" to bring
5 seeds within twice the single-seed time. The work (FLOPs) is the same either way; what could change
is how well the CPU runs it. This measures one training step (forward and backward, fp32, 128 x 128
chips, ``--batch`` chips per network) of K independent networks of the configuration, each on its
own batch, four ways taking turns in one process:

* ``seq_phase``: the K networks one after the other, as the ablation runs them (the default
  phase-split weight gradient of the dilated convolutions, :mod:`landslide_app.model.dilated`);
* ``seq_direct``: the same with the dilated kernel's weight gradient;
* ``vmap``: one call over the K networks' stacked parameters (``torch.func.stack_module_state`` +
  ``torch.vmap``, PyTorch's documented way to batch an ensemble; its convolutions become grouped ones);
* ``grouped``: the K networks written out as one network of K-times wider layers with
  ``groups=K`` convolutions (the same weights; its output equals the K networks' to float rounding,
  checked before timing).

CPU time per step of all K networks, median over ``--repeats``, and each way's speed against
``seq_phase`` (above 1: faster). The loss is a mean squared error (its cost is negligible next to
the convolutions). Writes the ``batched_seeds`` section of ``benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from common import cpu_facts, load_average, report
from torch import nn

from landslide_app.model.inputs import ModelConfig
from landslide_app.model.network import EmbeddingNet

log = logging.getLogger("bench_batched_seeds")
WAYS = ("seq_phase", "seq_direct", "vmap", "grouped")


class GroupedNets:
    """K :class:`EmbeddingNet` s of one configuration as one network with ``groups=K`` convolutions."""

    def __init__(self, nets: list[EmbeddingNet]) -> None:
        self.k, first = len(nets), nets[0]
        self.n_dem, self.n_sar, self.width = first.n_dem, first.n_sar, first.width
        self.weights = {
            name: torch.cat([dict(n.named_parameters())[name].detach() for n in nets]).requires_grad_(True)
            for name, _ in first.named_parameters()
        }
        self.conv = {name: (m.dilation, m.padding) for name, m in first.named_modules() if isinstance(m, nn.Conv2d)}

    def _conv(self, h: torch.Tensor, name: str) -> torch.Tensor:
        dilation, padding = self.conv[name]
        w, b = self.weights[f"{name}.weight"], self.weights[f"{name}.bias"]
        return F.conv2d(h, w, b, padding=padding, dilation=dilation, groups=self.k)

    def _stack(self, h: torch.Tensor, prefix: str) -> torch.Tensor:
        for name in sorted(n for n in self.conv if n.startswith(prefix)):
            h = F.relu(self._conv(h, name))
        return h

    def forward(self, xs: torch.Tensor) -> torch.Tensor:
        """``xs`` ``(K, B, C, H, W)`` (network k's batch at k) -> ``(K, B, H, W)`` embeddings."""
        k, b, _, h, w = xs.shape
        x = xs.transpose(0, 1)  # (B, K, C, H, W): network k's channels side by side
        parts = []
        if self.n_dem:
            parts.append(self._stack(x[:, :, : self.n_dem].reshape(b, k * self.n_dem, h, w), "dem_branch."))
        if self.n_sar:
            parts.append(self._stack(x[:, :, self.n_dem :].reshape(b, k * self.n_sar, h, w), "sar_branch."))
        per_net = [p.view(b, k, self.width, h, w) for p in parts]
        fused = torch.cat(per_net, 2).view(b, k * self.width * len(parts), h, w)
        out = torch.sigmoid(self._conv(self._stack(fused, "fusion."), "head"))
        return out.transpose(0, 1)

    def zero_grad(self) -> None:
        for v in self.weights.values():
            v.grad = None


def _timed(fn: Callable[[], Any]) -> tuple[float, float]:
    c, w = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - c, time.perf_counter() - w


def make_ways(cfg: ModelConfig, k: int, batch: int, size: int = 128, seed: int = 0) -> dict[str, Callable[[], Any]]:
    """The four ways of one training step of ``k`` networks (module docstring), as callables."""
    torch.manual_seed(seed)
    nets = [EmbeddingNet.for_config(cfg) for _ in range(k)]
    xs = torch.randn(k, batch, cfg.n_dem + cfg.n_sar, size, size)
    ys = (torch.rand(k, batch, size, size) < 0.01).float()
    grouped = GroupedNets(nets)
    base = EmbeddingNet.for_config(cfg).to("meta")
    params, buffers = torch.func.stack_module_state(nets)  # type: ignore[arg-type]

    def sequential(conv: str) -> Callable[[], None]:
        def step() -> None:
            for j, n in enumerate(nets):
                n.set_train_conv(conv)  # type: ignore[arg-type]
                n.zero_grad()
                F.mse_loss(n(xs[j])[:, 0], ys[j]).backward()

        return step

    def vmapped() -> None:
        for v in params.values():
            v.grad = None
        out = torch.vmap(lambda p, b, x: torch.func.functional_call(base, (p, b), (x,)))(params, buffers, xs)
        F.mse_loss(out[:, :, 0], ys).backward()

    def grouped_step() -> None:
        grouped.zero_grad()
        F.mse_loss(grouped.forward(xs), ys).backward()

    return {
        "seq_phase": sequential("phase"),
        "seq_direct": sequential("direct"),
        "vmap": vmapped,
        "grouped": grouped_step,
    }


def measure(cfg: ModelConfig, k: int, batch: int, threads: int, repeats: int, size: int = 128) -> dict[str, Any]:
    """Median CPU and wall seconds per step of all ``k`` networks, each way, taking turns."""
    torch.set_num_threads(threads)
    ways = make_ways(cfg, k, batch, size)
    for fn in ways.values():
        fn()  # warm-up: first-call allocations and kernel selection
    cpu: dict[str, list[float]] = {w: [] for w in WAYS}
    wall: dict[str, list[float]] = {w: [] for w in WAYS}
    for _ in range(repeats):
        for w in WAYS:
            c, t = _timed(ways[w])
            cpu[w].append(c)
            wall[w].append(t)
    med = {w: statistics.median(cpu[w]) for w in WAYS}
    return {
        "cpu_s": {w: round(med[w], 6) for w in WAYS},
        "wall_s": {w: round(statistics.median(wall[w]), 6) for w in WAYS},
        "speed_vs_seq_phase": {w: round(med["seq_phase"] / med[w], 3) for w in WAYS},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--k", type=int, default=5, help="networks (seeds) per step")
    ap.add_argument("--batch", type=int, default=8, help="chips per network per step (training's batch)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--inputs", default="fused", choices=["dem", "sar", "fused"])
    ap.add_argument("--revisits", type=int, default=3, choices=[1, 2, 3])
    ap.add_argument("--no-write", action="store_true", help="print only; leave results.json alone")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = ModelConfig(a.inputs, a.revisits)
    load0 = load_average()
    runs = {}
    for t in a.threads:
        runs[f"threads_{t}"] = r = measure(cfg, a.k, a.batch, t, a.repeats)
        speed = r["speed_vs_seq_phase"]
        log.info("%d thread(s): CPU-s per step of %d networks %s; speed vs sequential %s", t, a.k, r["cpu_s"], speed)
    figures = {
        "config": cfg.name,
        "k": a.k,
        "batch": a.batch,
        "precision": "fp32",
        "repeats": a.repeats,
        "runs": runs,
        "cpu": cpu_facts(),
        "torch": torch.__version__,
        "load_average": load0,
    }
    if not a.no_write:
        report("batched_seeds", figures)


if __name__ == "__main__":
    main()
