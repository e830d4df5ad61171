"""Inference runtimes of the embedding network: raw chips -> per-pixel embedding and validity mask.

Two runtimes compute :meth:`landslide_app.model.train.TrainedModel.embed_batch` (and so ``predict``,
``respond``, the ablation's features and the dashboard's embeddings):

* ``"eager"``: :func:`~landslide_app.model.inputs.prepare_inputs` in NumPy, then the PyTorch
  network under ``torch.inference_mode`` in ``channels_last``. It is the reference and the fallback.
* ``"openvino"``: one OpenVINO graph built from the network's weights that also holds the input
  preparation (channel selection, standardisation, aspect sin/cos, SAR dB, masking) and the
  output masking, so a batch of raw chips goes in and the masked embedding comes out. OpenVINO
  fuses each convolution with its bias and ReLU and keeps the activations in its own blocked
  layout; the batch is split over one single-threaded stream per thread. Needs the optional extra
  ``landslide_app[fast]`` (PyPI ``openvino``). Measured on a 2-core AVX2 CPU
  (``benchmarks/bench_inference.py``): 1.6-1.7x the eager CPU time per chip with one thread, and
  with two threads on a loaded machine 2-3x its chips/s. Its convolutions run near the CPU's fp32
  GEMM rate and take about three quarters of its time, so fp32 cannot reach much more; int8 (NNCF)
  was measured and not adopted (README, issue 16).

``"auto"`` (the default; the environment variable ``LANDSLIDE_APP_RUNTIME`` overrides it) picks
OpenVINO for CPU models when the package is installed and the graph builds, else eager (logged
once). Both give the same validity mask and NaN positions; the embeddings agree within
:data:`FP32_TOLERANCE` in fp32 (tested on random chips in ``tests/test_model_inference.py``).

Precision: a model trained in bf16 runs in bf16 only where the CPU (or GPU) computes bf16 natively
(:func:`~landslide_app.model.runtime.bf16_supported`); elsewhere it runs in fp32, because emulated
bf16 is about 9x *slower* than fp32 on an AVX2 CPU and no more accurate. The OpenVINO graph is
compiled with the same precision (``INFERENCE_PRECISION_HINT``) and the threads of
``torch.get_num_threads()``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import math
import os
import threading
from typing import Any, Literal, Protocol

import numpy as np
import torch
from torch import nn

from landslide_app.core.sar import SAR_DB_FLOOR
from landslide_app.errors import ConfigError
from landslide_app.model.inputs import (
    ASPECT_INDEX,
    CLIP_SIGMA,
    DEM_STANDARDISED,
    ModelConfig,
    NormStats,
    check_chips,
    prepare_inputs,
    sar_chip_indices,
)
from landslide_app.model.network import EmbeddingNet
from landslide_app.model.runtime import bf16_supported

logger = logging.getLogger(__name__)

RuntimeArg = Literal["auto", "eager", "openvino"]
RUNTIMES: tuple[str, ...] = ("auto", "eager", "openvino")
#: Environment variable that overrides the ``"auto"`` choice (``eager`` / ``openvino``).
RUNTIME_ENV: str = "LANDSLIDE_APP_RUNTIME"
#: Largest absolute difference between the OpenVINO and eager fp32 embeddings (values in [0, 1]);
#: measured: a few 1e-7 (different summation order of the convolutions).
FP32_TOLERANCE: float = 1e-5
_INSTALL_HINT = "pip install 'landslide_app[fast]' (or pip install openvino)"
_fallback_logged = False


class EmbeddingRuntime(Protocol):
    """Computes the masked embedding of a batch of raw chips."""

    name: str

    def embed(self, chips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(embedding, valid)``: float32 ``(n, H, W)`` with NaN on masked pixels, bool ``(n, H, W)``."""
        ...


def native_precision(precision: str, device: torch.device) -> Literal["fp32", "bf16"]:
    """The precision to *run* a model in: its training precision where the device computes it
    natively, else fp32 (emulated bf16 is slower than fp32 and no more accurate)."""
    return "bf16" if precision == "bf16" and bf16_supported(device) else "fp32"


def openvino_available() -> bool:
    """Whether the ``openvino`` package is importable."""
    return importlib.util.find_spec("openvino") is not None


class EagerRuntime:
    """The PyTorch reference: NumPy input preparation + the network, ``inference_mode``, channels_last."""

    name = "eager"

    def __init__(
        self, net: EmbeddingNet, config: ModelConfig, stats: NormStats, device: torch.device, precision: str = "fp32"
    ) -> None:
        self.net, self.config, self.stats, self.device = net, config, stats, device
        self.precision = native_precision(precision, device)

    def embed(self, chips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        prep = prepare_inputs(chips, self.config, self.stats)
        x = torch.from_numpy(prep.x).to(self.device).contiguous(memory_format=torch.channels_last)
        self.net.eval()
        cast = (
            torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
            if self.precision == "bf16"
            else contextlib.nullcontext()
        )
        with torch.inference_mode(), cast:
            emb = self.net(x)
        out = emb.float()[:, 0].cpu().numpy()
        out[~prep.valid] = np.nan
        return out, prep.valid


class OpenVINORuntime:
    """Input preparation + network + output masking as one compiled OpenVINO graph (CPU).

    Raises:
        ConfigError: OpenVINO is not installed.
        NotImplementedError: the network holds a layer this builder does not translate.
    """

    name = "openvino"

    def __init__(
        self,
        net: EmbeddingNet,
        config: ModelConfig,
        stats: NormStats,
        precision: str = "fp32",
        threads: int | None = None,
    ) -> None:
        try:
            import openvino as ov
        except ImportError:
            raise ConfigError(f"The OpenVINO runtime needs the openvino package: {_INSTALL_HINT}.") from None
        self.config, self.stats = config, stats
        self.precision = native_precision(precision, torch.device("cpu"))
        self.threads = int(threads or torch.get_num_threads())
        model = build_openvino_model(net, config, stats)
        props = {
            "PERFORMANCE_HINT": "THROUGHPUT",
            "NUM_STREAMS": self.threads,  # one single-threaded stream per thread (see embed)
            "INFERENCE_NUM_THREADS": self.threads,
            "INFERENCE_PRECISION_HINT": "bf16" if self.precision == "bf16" else "f32",
        }
        self._compiled = ov.Core().compile_model(model, "CPU", props)
        self._requests = [self._compiled.create_infer_request() for _ in range(self.threads)]
        self._lock = threading.Lock()  # the infer requests serve one call at a time

    def embed(self, chips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A batch is split into one part per stream, computed in parallel without synchronising
        threads inside a layer (measured 1.1-1.3x one 2-thread request on a loaded 2-core machine,
        ``benchmarks/bench_inference.py``); a chip's result does not depend on the split (tested)."""
        arr = np.ascontiguousarray(check_chips(chips))
        self.stats.check_usable(self.config)
        parts = [p for p in np.array_split(arr, min(len(self._requests), max(len(arr), 1))) if len(p)] or [arr]
        with self._lock:
            for request, part in zip(self._requests, parts):
                request.start_async({0: part}, share_inputs=True)
            outs = []
            for request in self._requests[: len(parts)]:
                request.wait()  # copies below: a request reuses its buffers
                outs.append([np.array(request.get_output_tensor(k).data) for k in range(2)])
        emb, valid = (np.concatenate([o[k] for o in outs]) for k in range(2))
        return emb, valid


def build_openvino_model(net: EmbeddingNet, config: ModelConfig, stats: NormStats) -> Any:
    """The OpenVINO model of ``prepare_inputs`` + ``net`` + masking, for raw chips ``(n, 16|17, H, W)``.

    Outputs: the embedding ``(n, H, W)`` (NaN where invalid) and the validity mask ``(n, H, W)``.
    """
    import openvino as ov

    ops = _opset()
    if (net.n_dem, net.n_sar) != (config.n_dem, config.n_sar):
        raise ConfigError(
            f"The network has {net.n_dem} DEM + {net.n_sar} SAR inputs; {config.name} needs "
            f"{config.n_dem} + {config.n_sar}."
        )
    chips = ops.parameter(ov.PartialShape([-1, -1, -1, -1]), ov.Type.f32, name="chips")
    valid, dem, sar = _prepared_inputs(chips, config, stats)
    feats = [_sequential(x, branch) for x, branch in ((dem, net.dem_branch), (sar, net.sar_branch)) if x is not None]
    h = feats[0] if len(feats) == 1 else ops.concat(feats, 1)
    h = _sequential(h, net.fusion)
    emb = ops.sigmoid(_conv(h, net.head))
    emb = ops.select(valid, emb, ops.constant(np.float32(np.nan)))
    axis = ops.constant(np.int64(1))
    emb_out, valid_out = ops.squeeze(emb, axis), ops.squeeze(valid, axis)
    emb_out.output(0).get_tensor().set_names({"embedding"})
    valid_out.output(0).get_tensor().set_names({"valid"})
    return ov.Model([emb_out, valid_out], [chips], "landslide_embedding")


def _prepared_inputs(chips: Any, config: ModelConfig, stats: NormStats) -> tuple[Any, Any, Any]:
    """:func:`~landslide_app.model.inputs.prepare_inputs` as graph nodes: ``(valid, dem, sar)``
    (``dem`` / ``sar``: the branch inputs, None for an unused branch). Channels are selected with
    Slice (they are contiguous ranges; Gather is a slower reference kernel), and masked pixels are
    zeroed once per branch (a valid pixel's prepared values are finite, so no IsFinite is needed)."""
    ops = _opset()

    def f32(v: Any) -> Any:
        return ops.constant(np.asarray(v, dtype=np.float32))

    def channels(node: Any, idx: list[int]) -> Any:
        if idx != list(range(idx[0], idx[-1] + 1)):
            raise NotImplementedError(f"chip channels {idx} are not a contiguous range")
        return ops.slice(node, *(ops.constant(np.asarray([v], dtype=np.int64)) for v in (idx[0], idx[-1] + 1, 1, 1)))

    def standardise(node: Any, mean: Any, std: Any) -> Any:
        per_channel = (f32(np.asarray(v, dtype=np.float32).reshape(1, -1, 1, 1)) for v in (mean, std))
        out = ops.divide(ops.subtract(node, next(per_channel)), next(per_channel))
        return ops.clamp(out, -CLIP_SIGMA, CLIP_SIGMA)

    valid = ops.reduce_logical_and(
        ops.is_finite(channels(chips, list(config.chip_channels))), ops.constant(np.int64(1)), keep_dims=True
    )
    zero = f32(0.0)
    dem = sar = None
    if config.uses_dem:
        elev = standardise(channels(chips, list(DEM_STANDARDISED)), stats.dem_mean, stats.dem_std)
        aspect = channels(chips, [ASPECT_INDEX])
        rad = ops.multiply(aspect, f32(np.deg2rad(np.float32(1.0))))
        flat = ops.less(aspect, zero)
        sin, cos = (ops.select(flat, zero, fn(rad)) for fn in (ops.sin, ops.cos))
        dem = ops.select(valid, ops.concat([elev, sin, cos], 1), zero)
    if config.uses_sar:
        idx = sar_chip_indices(config.revisits)
        n_pol = len(stats.sar_mean)
        db = ops.maximum(channels(chips, list(idx)), f32(10.0 ** (SAR_DB_FLOOR / 10.0)))
        db = ops.multiply(ops.log(db), f32(10.0 / math.log(10.0)))
        mean = [stats.sar_mean[j % n_pol] for j in range(len(idx))]
        std = [stats.sar_std[j % n_pol] for j in range(len(idx))]
        sar = ops.select(valid, standardise(db, mean, std), zero)
    return valid, dem, sar


def _opset() -> Any:
    """OpenVINO's opset 13 builders (``openvino.opset13``; ``openvino.runtime.opset13`` before 2025)."""
    try:
        import openvino.opset13 as ops
    except ImportError:  # pragma: no cover - older OpenVINO
        import openvino.runtime.opset13 as ops
    return ops


def _conv(node: Any, conv: nn.Module) -> Any:
    ops = _opset()

    if (
        not isinstance(conv, nn.Conv2d)
        or conv.groups != 1
        or tuple(conv.stride) != (1, 1)
        or not isinstance(conv.padding, tuple)
    ):
        raise NotImplementedError(f"no OpenVINO translation for {conv!r}")
    w = conv.weight.detach().float().cpu().contiguous().numpy()
    pad = [int(p) for p in conv.padding]
    out = ops.convolution(node, ops.constant(w), [1, 1], pad, pad, [int(d) for d in conv.dilation])
    if conv.bias is not None:
        out = ops.add(out, ops.constant(conv.bias.detach().float().cpu().numpy().reshape(1, -1, 1, 1)))
    return out


def _sequential(node: Any, seq: nn.Module | None) -> Any:
    ops = _opset()

    if seq is None:
        raise NotImplementedError("missing network branch")
    for layer in seq.children():
        if isinstance(layer, nn.ReLU):
            node = ops.relu(node)
        else:
            node = _conv(node, layer)
    return node


def requested_runtime(runtime: str = "auto") -> str:
    """``runtime``, with ``"auto"`` replaced by ``$LANDSLIDE_APP_RUNTIME`` when that is set."""
    if runtime == "auto":
        runtime = os.environ.get(RUNTIME_ENV, "").strip().lower() or "auto"
    if runtime not in RUNTIMES:
        raise ConfigError(
            f"Inference runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r} (check ${RUNTIME_ENV})."
        )
    return runtime


def make_runtime(
    net: EmbeddingNet,
    config: ModelConfig,
    stats: NormStats,
    device: torch.device,
    precision: str = "fp32",
    runtime: str = "auto",
) -> EmbeddingRuntime:
    """The runtime for a model: see the module docstring for what ``"auto"`` picks.

    Raises:
        ConfigError: ``runtime="openvino"`` was asked for but is not installed, or the device is not a CPU.
    """
    global _fallback_logged
    want = requested_runtime(runtime)
    if want == "eager":
        return EagerRuntime(net, config, stats, device, precision)
    if device.type != "cpu":
        if want == "openvino":
            raise ConfigError(
                f"The OpenVINO runtime runs on the CPU; the model is on {device}. Load it with "
                "device='cpu' or use runtime='eager'."
            )
        return EagerRuntime(net, config, stats, device, precision)
    if want == "auto" and not openvino_available():
        if not _fallback_logged:
            logger.info(
                "OpenVINO is not installed: embedding with eager PyTorch (1.6x the CPU time per chip or more); %s.",
                _INSTALL_HINT,
            )
            _fallback_logged = True
        return EagerRuntime(net, config, stats, device, precision)
    try:
        return OpenVINORuntime(net, config, stats, precision)
    except (NotImplementedError, RuntimeError) as err:  # an untranslatable layer, a compile failure
        if want == "openvino":
            raise ConfigError(
                f"The OpenVINO runtime could not compile this network ({err}); use runtime='eager'."
            ) from err
        logger.warning("OpenVINO could not compile the network (%s); embedding with eager PyTorch.", err)
        return EagerRuntime(net, config, stats, device, precision)


def weights_signature(net: nn.Module) -> tuple[tuple[int, int], ...]:
    """Changes whenever a parameter of ``net`` is modified in place or replaced (for cache keys)."""
    return tuple((p.data_ptr(), p._version) for p in net.parameters())
