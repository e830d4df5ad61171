"""The two-branch network: full-resolution activations, branch selection."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from landslide_app.errors import ConfigError
from landslide_app.model.inputs import ModelConfig, fit_norm_stats, prepare_inputs
from landslide_app.model.network import EmbeddingNet, count_parameters

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def random_chips(n=2, size=16, seed=0):
    rng = np.random.default_rng(seed)
    ch = np.empty((n, 17, size, size), np.float32)
    ch[:, 0] = rng.normal(300, 50, (n, size, size))
    ch[:, 1] = rng.uniform(0, 40, (n, size, size))
    ch[:, 2] = rng.normal(0, 1, (n, size, size))
    ch[:, 3] = rng.uniform(0, 360, (n, size, size))
    ch[:, 4:16] = rng.gamma(4.0, 0.0125, (n, 12, size, size))
    ch[:, 16] = rng.poisson(0.05, (n, size, size))
    return ch


def test_every_activation_is_128x128():
    torch.manual_seed(0)
    net = EmbeddingNet.for_config(ModelConfig("fused", 3)).eval()
    shapes: list[tuple[str, tuple[int, ...]]] = []
    hooks = [
        m.register_forward_hook(lambda mod, inp, out, name=name: shapes.append((name, tuple(out.shape))))
        for name, m in net.named_modules()
        if name  # every submodule (convs, ReLUs, stacks, head, sigmoid)
    ]
    with torch.no_grad():
        out = net(torch.randn(1, net.in_channels, 128, 128))
    for h in hooks:
        h.remove()
    assert len(shapes) >= 18
    for name, shape in shapes:
        assert shape[-2:] == (128, 128), f"{name} has shape {shape}"
    assert out.shape == (1, 1, 128, 128)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_any_chip_size():
    net = EmbeddingNet.for_config(ModelConfig("sar", 2))
    assert net(torch.randn(2, 10, 17, 23)).shape == (2, 1, 17, 23)


@pytest.mark.parametrize(
    "inputs,branches", [("dem", {"dem_branch"}), ("sar", {"sar_branch"}), ("fused", {"dem_branch", "sar_branch"})]
)
def test_only_the_needed_branches_exist(inputs, branches):
    net = EmbeddingNet.for_config(ModelConfig(inputs, 3))
    present = {n for n in ("dem_branch", "sar_branch") if getattr(net, n) is not None}
    assert present == branches
    assert count_parameters(net) < 30_000


def test_fused_uses_both_modalities():
    torch.manual_seed(0)
    net = EmbeddingNet.for_config(ModelConfig("fused", 1))
    x = torch.randn(1, net.in_channels, 16, 16, requires_grad=True)
    net(x).sum().backward()
    g = x.grad.abs().sum(dim=(0, 2, 3))
    assert (g[:5] > 0).all() and (g[5:] > 0).all()


def _embed(chips, cfg, stats, seed=0):
    torch.manual_seed(seed)
    net = EmbeddingNet.for_config(cfg).eval()
    prep = prepare_inputs(chips, cfg, stats)
    with torch.no_grad():
        return net(torch.from_numpy(prep.x)).numpy()


def test_branch_selection_end_to_end_uses_only_relevant_channels():
    chips = random_chips()
    stats = fit_norm_stats(chips)
    other = random_chips(seed=1)

    def swapped(channels):
        c = chips.copy()
        c[:, channels] = other[:, channels]
        return c

    dem = ModelConfig("dem", 3)
    base = _embed(chips, dem, stats)
    np.testing.assert_array_equal(_embed(swapped(list(range(4, 16))), dem, stats), base)  # SAR ignored
    nan_sar = chips.copy()
    nan_sar[:, 4:16] = np.nan  # missing SAR does not even mask the DEM-only model
    np.testing.assert_array_equal(_embed(nan_sar, dem, stats), base)
    assert not np.array_equal(_embed(swapped([1]), dem, stats), base)

    sar1 = ModelConfig("sar", 1)
    base = _embed(chips, sar1, stats)
    np.testing.assert_array_equal(_embed(swapped([0, 1, 2, 3]), sar1, stats), base)  # DEM ignored
    np.testing.assert_array_equal(_embed(swapped(list(range(12, 16))), sar1, stats), base)  # dates 5, 6
    assert not np.array_equal(_embed(swapped([10, 11]), sar1, stats), base)  # first post date used
    assert not np.array_equal(
        _embed(swapped([12]), ModelConfig("sar", 2), stats), _embed(chips, ModelConfig("sar", 2), stats)
    )


def test_wrong_input_channels_raise():
    net = EmbeddingNet.for_config(ModelConfig("dem", 1))
    with pytest.raises(ConfigError):
        net(torch.zeros(1, 17, 8, 8))
    with pytest.raises(ConfigError):
        EmbeddingNet(0, 0)


def test_bf16_autocast_keeps_float32_embedding():
    torch.manual_seed(0)
    net = EmbeddingNet.for_config(ModelConfig("fused", 3)).eval()
    x = torch.randn(1, net.in_channels, 16, 16)
    with torch.no_grad():
        ref = net(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = net(x)
    assert low.dtype == torch.float32
    assert torch.allclose(low, ref, atol=0.02)
