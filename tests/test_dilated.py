"""Dilated convolutions trained on their phase sub-grids (landslide_app.model.dilated): the same
function and gradients as the dilated kernel, the setting resolved, recorded and keyed."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from landslide_app.errors import ConfigError
from landslide_app.model.dilated import phase_split_conv2d, resolve_train_conv
from landslide_app.model.inputs import ModelConfig
from landslide_app.model.network import EmbeddingNet
from landslide_app.model.train import fit_embedding_model
from landslide_app.model.trained import TrainedModel

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("shape", [(2, 5, 37, 41), (1, 3, 3, 2), (2, 16, 32, 32), (1, 4, 9, 12)])
@pytest.mark.parametrize("d", [2, 4])
@pytest.mark.parametrize("bias", [True, False])
def test_same_output_and_gradients_as_the_dilated_kernel(shape, d, bias):
    """Sizes not a multiple of d (37 x 41, 9 x 12) and smaller than d (3 x 2) included; float64, so
    only the order of the sums can differ."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(*shape, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(7, shape[1], 3, 3, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(7, dtype=torch.float64, generator=g, requires_grad=True) if bias else None
    grad_out = torch.randn(shape[0], 7, *shape[2:], dtype=torch.float64, generator=g)
    inputs = (x, w, b) if bias else (x, w)

    ref = F.conv2d(x, w, b, padding=d, dilation=d)
    ref_grads = torch.autograd.grad(ref, inputs, grad_out)
    out = phase_split_conv2d(x, w, b, d)
    grads = torch.autograd.grad(out, inputs, grad_out)

    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, rtol=0, atol=0)  # the forward is the dilated kernel itself
    for got, want in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_the_network_trains_the_same_function_either_way():
    """One step's forward is identical and its gradients agree to float32 rounding; without autograd
    the dilated kernel runs whatever the setting."""
    cfg = ModelConfig("fused", 3)
    x = torch.randn(2, cfg.n_dem + cfg.n_sar, 24, 24).contiguous(memory_format=torch.channels_last)
    outs, grads = {}, {}
    for conv in ("phase", "direct"):
        torch.manual_seed(0)
        net = EmbeddingNet.for_config(cfg).to(memory_format=torch.channels_last)
        net.set_train_conv(conv)
        out = net(x)
        out.square().mean().backward()
        outs[conv] = out.detach()
        grads[conv] = {n: p.grad.clone() for n, p in net.named_parameters()}
        with torch.no_grad():
            torch.testing.assert_close(net(x), out.detach(), rtol=0, atol=0)
    torch.testing.assert_close(outs["phase"], outs["direct"], rtol=0, atol=0)
    assert grads["phase"].keys() == grads["direct"].keys()
    for name, g in grads["phase"].items():
        torch.testing.assert_close(g, grads["direct"][name], rtol=1e-4, atol=1e-7, msg=name)
    # a dilated layer's weight gradient really went through the phase split: not bit-identical
    assert not torch.equal(grads["phase"]["dem_branch.4.weight"], grads["direct"]["dem_branch.4.weight"])


def test_under_bf16_autocast_the_split_casts_as_autocast_does():
    """The same bf16 forward as autocast's convolution, gradients reaching the fp32 weights, close to the
    dilated kernel's (bf16 rounding)."""
    cfg = ModelConfig("dem", 1)
    x = torch.randn(2, cfg.n_dem, 16, 16)
    outs, grads = {}, {}
    for conv in ("phase", "direct"):
        torch.manual_seed(0)
        net = EmbeddingNet.for_config(cfg)
        net.set_train_conv(conv)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = net(x)
        out.square().mean().backward()
        outs[conv] = out.detach()
        grads[conv] = {n: p.grad for n, p in net.named_parameters()}
        assert all(g is not None and g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads[conv].values())
    torch.testing.assert_close(outs["phase"], outs["direct"], rtol=0, atol=0)
    for name, g in grads["phase"].items():
        torch.testing.assert_close(g, grads["direct"][name], rtol=0.05, atol=1e-4, msg=name)
    assert not torch.equal(grads["phase"]["dem_branch.4.weight"], grads["direct"]["dem_branch.4.weight"])


def test_resolution_and_bad_values():
    assert resolve_train_conv("auto", torch.device("cpu")) == "phase"
    assert resolve_train_conv("auto", torch.device("cpu"), "bf16") == "direct"  # not measured on bf16 units yet
    assert resolve_train_conv("phase", torch.device("cpu"), "bf16") == "phase"
    assert resolve_train_conv("auto", torch.device("cuda")) == "direct"  # cuDNN handles dilation
    assert resolve_train_conv("direct", torch.device("cpu")) == "direct"
    assert resolve_train_conv("phase", torch.device("cuda")) == "phase"
    with pytest.raises(ConfigError, match="train conv 'fast'.*auto, phase, direct"):
        resolve_train_conv("fast", torch.device("cpu"))


def _chips(n: int = 6, size: int = 16) -> np.ndarray:
    rng = np.random.default_rng(0)
    ch = rng.normal(0, 1, (n, 17, size, size)).astype(np.float32)
    ch[:, 1] = rng.uniform(0, 40, (n, size, size))
    ch[:, 3] = rng.uniform(0, 360, (n, size, size))
    ch[:, 4:16] = rng.gamma(4.0, 0.0125, (n, 12, size, size))
    ch[:, 16] = rng.poisson(0.1, (n, size, size))
    return ch


def test_training_is_deterministic_and_records_the_setting(tmp_path):
    chips = _chips()
    kw = dict(epochs=2, batch_size=2, seed=3, progress=False, precision="fp32")
    a = fit_embedding_model(chips[:4], chips[4:], ModelConfig("fused", 3), **kw)
    b = fit_embedding_model(chips[:4], chips[4:], ModelConfig("fused", 3), **kw)
    direct = fit_embedding_model(chips[:4], chips[4:], ModelConfig("fused", 3), conv="direct", **kw)
    assert a.train_conv == "phase" and direct.train_conv == "direct"
    for (name, p), q in zip(a.net.state_dict().items(), b.net.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    # the same start, other float sums: close after two epochs, not identical
    wa, wd = a.net.state_dict()["sar_branch.2.weight"], direct.net.state_dict()["sar_branch.2.weight"]
    assert not torch.equal(wa, wd)
    torch.testing.assert_close(wa, wd, rtol=1e-2, atol=1e-3)
    with pytest.raises(ConfigError, match="train conv"):
        fit_embedding_model(chips[:4], chips[4:], ModelConfig("dem", 1), conv="fast", **kw)

    path = a.save(tmp_path / "m.pt")
    assert TrainedModel.load(path).train_conv == "phase"
    ckpt = torch.load(path, weights_only=True)
    del ckpt["train_conv"]  # a checkpoint written before the setting existed
    torch.save(ckpt, tmp_path / "old.pt")
    assert TrainedModel.load(tmp_path / "old.pt").train_conv == "direct"


def test_ablation_settings_and_cache_keys(monkeypatch):
    import landslide_app.experiments.ablation as ablation
    from landslide_app.experiments.ablation import AblationSettings, _run_fingerprint

    with pytest.raises(ConfigError, match="train conv 'fast'"):
        AblationSettings(train_kwargs={"conv": "fast"})
    store = SimpleNamespace(meta=SimpleNamespace(fingerprint="abc"))
    spec = AblationSettings().specs()[0]
    convs = ("auto", "phase", "direct")
    key = {c: _run_fingerprint(store, spec, AblationSettings(train_kwargs={"conv": c})) for c in convs}
    assert key["auto"] == key["phase"] == _run_fingerprint(store, spec, AblationSettings())  # CPU: auto is phase
    assert key["direct"] != key["phase"]
    # the dilated kernel's key holds what every key before the setting held: those caches stay valid
    keyed: list[dict] = []
    monkeypatch.setattr(ablation, "fingerprint", lambda d: keyed.append(d) or "x")
    _run_fingerprint(store, spec, AblationSettings(train_kwargs={"conv": "direct"}))
    _run_fingerprint(store, spec, AblationSettings())
    assert "train_conv" not in keyed[0] and "conv" not in keyed[0]["train"]
    assert keyed[1]["train_conv"] == "phase" and {k: v for k, v in keyed[1].items() if k != "train_conv"} == keyed[0]


def test_cli_passes_the_setting():
    from landslide_app.cli import build_parser

    parser = build_parser()
    a = parser.parse_args(["ablate", "--chips", "c", "--out", "o", "--train-conv", "direct"])
    assert a.train_conv == "direct"
    assert parser.parse_args(["train", "--chips", "c", "--out", "o", "--inputs", "dem"]).train_conv == "auto"
    with pytest.raises(ConfigError, match="--train-conv"):  # the CLI's parser raises typed errors
        parser.parse_args(["ablate", "--chips", "c", "--out", "o", "--train-conv", "fast"])


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")
def test_a_trace_of_a_trained_network_uses_the_dilated_kernel():
    """A network fresh from training keeps its setting; tracing it (as an ONNX export does) must not
    record the custom gradient, which has no symbol there."""
    cfg = ModelConfig("dem", 1)
    net = EmbeddingNet.for_config(cfg)
    net.set_train_conv("phase")
    x = torch.randn(1, cfg.n_dem, 16, 16)
    traced = torch.jit.trace(net, x)
    assert "_PhaseGradConv" not in str(traced.graph)
    torch.testing.assert_close(traced(x), net(x), rtol=0, atol=0)
