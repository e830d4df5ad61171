"""The inference runtimes: OpenVINO agrees with the eager reference, selection and fallback work."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from landslide_app.errors import ConfigError
from landslide_app.model import inference
from landslide_app.model.inference import FP32_TOLERANCE, EagerRuntime, make_runtime, native_precision
from landslide_app.model.inputs import ModelConfig, fit_norm_stats
from landslide_app.model.network import EmbeddingNet
from landslide_app.model.trained import TrainedModel

CPU = torch.device("cpu")


def _chips(rng: np.random.Generator, n: int, h: int = 40, w: int = 36) -> np.ndarray:
    """Random chips with the awkward values: NaN, flat aspect (-1), zero and negative SAR power."""
    c = rng.gamma(4.0, 0.0125, (n, 17, h, w)).astype(np.float32)
    c[:, 0] = rng.normal(500, 200, (n, h, w))
    c[:, 1] = rng.uniform(0, 60, (n, h, w))
    c[:, 2] = rng.normal(0, 1, (n, h, w))
    c[:, 3] = rng.uniform(0, 360, (n, h, w))
    c[:, 3][rng.random((n, h, w)) < 0.1] = -1.0
    sar = c[:, 4:16]
    sar[rng.random(sar.shape) < 0.02] = 0.0
    sar[rng.random(sar.shape) < 0.01] = -0.01
    c[rng.random(c.shape) < 0.01] = np.nan
    return c


def _trained_like(cfg: ModelConfig, seed: int = 0) -> tuple[EmbeddingNet, object, np.ndarray]:
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    net = EmbeddingNet.for_config(cfg).eval()
    with torch.no_grad():  # move the head away from its near-constant initial output
        net.head.weight.normal_(0.0, 0.5)
    stats = fit_norm_stats([_chips(rng, 6)])
    return net, stats, _chips(rng, 5)


@pytest.mark.parametrize("inputs,revisits", [("fused", 3), ("dem", 1), ("sar", 2)])
def test_openvino_agrees_with_eager(inputs, revisits):
    pytest.importorskip("openvino")
    from landslide_app.model.inference import OpenVINORuntime

    cfg = ModelConfig(inputs, revisits)
    net, stats, x = _trained_like(cfg)
    ref, ref_valid = EagerRuntime(net, cfg, stats, CPU).embed(x)
    fast = OpenVINORuntime(net, cfg, stats)
    emb, valid = fast.embed(x)
    assert emb.dtype == np.float32 and emb.shape == ref.shape and valid.dtype == bool
    np.testing.assert_array_equal(valid, ref_valid)
    np.testing.assert_array_equal(np.isnan(emb), np.isnan(ref))  # masked pixels are NaN in both
    assert 0.05 < valid.mean() < 0.99  # the chips do hold masked and valid pixels
    assert np.nanstd(ref) > 0.05  # a non-trivial embedding, so the comparison can fail
    np.testing.assert_allclose(emb, ref, atol=FP32_TOLERANCE, rtol=0)
    # 16-channel chips (no label) give the same; one thread, 3 streams (5 chips split 2/2/1) and
    # split batches give the same bits, in chip order
    np.testing.assert_array_equal(fast.embed(x[:, :16])[0], emb)
    np.testing.assert_array_equal(OpenVINORuntime(net, cfg, stats, threads=1).embed(x)[0], emb)
    three = OpenVINORuntime(net, cfg, stats, threads=3)
    for part in (x, x[:1]):
        e3, v3 = three.embed(part)
        np.testing.assert_array_equal(e3, emb[: len(part)])
        np.testing.assert_array_equal(v3, valid[: len(part)])
    np.testing.assert_array_equal(np.concatenate([fast.embed(x[:2])[0], fast.embed(x[2:])[0]]), emb)


def test_openvino_follows_weight_and_stats_changes():
    pytest.importorskip("openvino")
    cfg = ModelConfig("fused", 3)
    net, stats, x = _trained_like(cfg)
    model = TrainedModel(cfg, stats, net, best_epoch=1)
    assert model.inference_runtime().name == "openvino"
    before = model.embed_batch(x)[0]
    with torch.no_grad():
        net.head.bias.add_(1.0)  # an in-place change of the weights rebuilds the runtime
    after = model.embed_batch(x)[0]
    ref = EagerRuntime(net, cfg, stats, CPU).embed(x)[0]
    assert np.nanmax(np.abs(after - before)) > 0.01
    np.testing.assert_allclose(after, ref, atol=FP32_TOLERANCE)
    model.stats = fit_norm_stats([_chips(np.random.default_rng(9), 4)])  # e.g. predict --normalise scene
    np.testing.assert_allclose(
        model.embed_batch(x)[0], EagerRuntime(net, cfg, model.stats, CPU).embed(x)[0], atol=FP32_TOLERANCE
    )
    back = pickle.loads(pickle.dumps(model))  # the compiled graph is not pickled, it is rebuilt
    np.testing.assert_array_equal(back.embed_batch(x)[0], model.embed_batch(x)[0])


def test_runtime_selection_and_fallback(monkeypatch):
    cfg = ModelConfig("dem", 1)
    net, stats, x = _trained_like(cfg)
    assert make_runtime(net, cfg, stats, CPU, runtime="eager").name == "eager"
    monkeypatch.setenv(inference.RUNTIME_ENV, "eager")
    assert make_runtime(net, cfg, stats, CPU).name == "eager"  # the variable overrides "auto"
    monkeypatch.setenv(inference.RUNTIME_ENV, "tensorrt")
    with pytest.raises(ConfigError, match="LANDSLIDE_APP_RUNTIME"):
        make_runtime(net, cfg, stats, CPU)
    monkeypatch.delenv(inference.RUNTIME_ENV)
    monkeypatch.setattr(inference, "openvino_available", lambda: False)  # not installed: eager, no error
    rt = make_runtime(net, cfg, stats, CPU)
    assert rt.name == "eager"
    emb, valid = rt.embed(x)
    assert emb.shape == x[:, 0].shape and np.isnan(emb[~valid]).all()


def test_openvino_requested_but_missing(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_openvino(name, *args, **kwargs):
        if name == "openvino" or name.startswith("openvino."):
            raise ImportError("No module named 'openvino'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_openvino)
    cfg = ModelConfig("dem", 1)
    net, stats, _ = _trained_like(cfg)
    with pytest.raises(ConfigError, match="landslide_app\\[fast\\]"):
        make_runtime(net, cfg, stats, CPU, runtime="openvino")


def test_bf16_runs_natively_or_in_fp32():
    from landslide_app.model.runtime import bf16_supported

    assert native_precision("fp32", CPU) == "fp32"
    assert native_precision("bf16", CPU) == ("bf16" if bf16_supported(CPU) else "fp32")


def test_compiled_runtimes_kept_alive_are_capped():
    pytest.importorskip("openvino")
    from landslide_app.model import trained

    cfg = ModelConfig("dem", 1)
    net, stats, x = _trained_like(cfg)
    models = [
        TrainedModel(cfg, stats, EmbeddingNet.for_config(cfg).eval(), best_epoch=1)
        for _ in range(trained.MAX_LIVE_RUNTIMES + 1)
    ]
    first = [m.embed_batch(x)[0] for m in models]
    assert models[0]._runtime_cache is None  # the oldest compiled runtime was dropped (its memory freed)
    assert all(m._runtime_cache is not None for m in models[1:])
    np.testing.assert_array_equal(models[0].embed_batch(x)[0], first[0])  # and is rebuilt on use
    assert models[1]._runtime_cache is None
    # an ensemble's members used in turn: inside live_runtimes(n) none of the n drops another's runtime
    with trained.live_runtimes(len(models)):
        for _ in range(2):
            for m in models:
                m.embed_batch(x)
            assert all(m._runtime_cache is not None for m in models)
        kept = [m._runtime_cache for m in models]
        models[0].embed_batch(x)
        assert [m._runtime_cache for m in models] == kept  # not one compiled again
    models[1].embed_batch(x)  # after the block the usual cap applies again at the next use
    assert sum(m._runtime_cache is not None for m in models) == trained.MAX_LIVE_RUNTIMES
