"""Dilated 3x3 convolutions whose weight gradient is computed on their phase sub-grids ("space to batch").

Why: on CPU, oneDNN has no fast kernel for the weight gradient of a *dilated* convolution; PyTorch
falls back to an im2col + GEMM path, which held 54 % of a training step of the embedding network
(five of its eight 3x3 convolutions are dilated; ``benchmarks/results.json`` ``training``
``profile``). The undilated weight gradient has a JIT kernel several times faster.

The identity: with "same" padding (``padding = dilation = d``), output pixel ``(i, j)`` reads only
inputs at ``(i + (k - 1) d, j + (l - 1) d)``, all of which share ``i mod d`` and ``j mod d``. So the
dilated convolution of an image equals an undilated 3x3 convolution (padding 1) of each of its
``d * d`` sub-grids ``x[:, :, p::d, q::d]``, and its weight gradient is the undilated weight gradient
over the sub-grids of the input and of the output gradient, batched together. Sizes that are not a
multiple of ``d`` are zero-padded at the bottom and right first: those zeros are the convolution's
own padding (in the input) and outputs that do not exist (in the gradient), so the result is the
same. Only the order of the sums differs (tested against ``F.conv2d`` in float64).

Only the weight gradient moves to the sub-grids: the forward pass and the input gradient stay the
dilated kernels' (fast on CPU), so a training step's forward is bit for bit the one inference runs,
and each dilated layer costs two extra copies per step (the sub-grids of its input and of its output
gradient, gathered in the NHWC order of the ``channels_last`` layout the network trains in).
Measured on a 2-core AMD EPYC (AVX2): a training step 1.17-1.42x faster than with the dilated kernel's
weight gradient (the CPU-time steps of ``benchmarks/bench_training.py``). Under bf16 autocast the split
works too (its inputs cast as autocast casts a convolution's), but ``"auto"`` keeps the dilated kernel
there: no CPU with bf16 units has measured it yet (``bench_training.py``'s bf16 steps can).

:data:`~landslide_app.core.vocabulary.TRAIN_CONVS`: ``"auto"`` (the split on CPU in fp32, the dilated
kernel on CUDA, whose cuDNN kernels handle dilation, and in bf16), ``"phase"`` or ``"direct"`` (the kernels every figure
before this module was measured with). Trained weights differ from ``"direct"``'s in the float
rounding of the gradients, which training amplifies as any change of summation order does.
"""

from __future__ import annotations

from typing import Any, Literal, cast

import torch
import torch.nn.functional as F
from torch import nn

from landslide_app.core.vocabulary import TRAIN_CONVS
from landslide_app.errors import ConfigError

#: A resolved :data:`~landslide_app.core.vocabulary.TrainConvArg`.
TrainConv = Literal["phase", "direct"]


def resolve_train_conv(conv: str, device: torch.device, precision: str = "fp32") -> TrainConv:
    """``"phase"`` or ``"direct"`` for ``conv`` on ``device`` at the resolved ``precision``
    (``"auto"``: phase on CPU in fp32, where it is measured to win; bf16 keeps the dilated kernel
    until it is measured on a CPU with bf16 units)."""
    if conv not in TRAIN_CONVS:
        raise ConfigError(f"train conv {conv!r}: use one of {', '.join(TRAIN_CONVS)}")
    if conv == "auto":
        return "phase" if device.type == "cpu" and precision == "fp32" else "direct"
    return cast(TrainConv, conv)


def _split(x: torch.Tensor, d: int) -> torch.Tensor:
    """``(n, c, h, w)`` -> its ``d * d`` phase sub-grids ``(n * d * d, c, h / d, w / d)``, batch order
    ``(n, p, q)`` for the sub-grid ``x[:, :, p::d, q::d]``: one copy into a new ``channels_last`` tensor
    (the layout the undilated oneDNN kernel takes without a reorder)."""
    n, c, h, w = x.shape
    out = torch.empty((n * d * d, c, h // d, w // d), dtype=x.dtype, device=x.device, memory_format=torch.channels_last)
    src = x.permute(0, 2, 3, 1).reshape(n, h // d, d, w // d, d, c).permute(0, 2, 4, 1, 3, 5)
    out.permute(0, 2, 3, 1).view(n, d, d, h // d, w // d, c).copy_(src)
    return out


def _pad_to_multiple(t: torch.Tensor, d: int) -> torch.Tensor:
    """``t`` zero-padded at the bottom and right to a multiple of ``d`` (itself when it is one)."""
    pad_h, pad_w = (-t.shape[-2]) % d, (-t.shape[-1]) % d
    return F.pad(t, (0, pad_w, 0, pad_h)) if (pad_h or pad_w) else t


def phase_split_weight_grad(
    x: torch.Tensor, grad_out: torch.Tensor, weight: torch.Tensor, d: int, with_bias: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The weight (and bias) gradient of ``F.conv2d(x, weight, bias, padding=d, dilation=d)`` for the
    output gradient ``grad_out``, computed with the undilated kernel on the phase sub-grids of both."""
    xs, gs = _split(_pad_to_multiple(x, d), d), _split(_pad_to_multiple(grad_out, d), d)
    bias_sizes = [weight.shape[0]] if with_bias else None
    _, gw, gb = torch.ops.aten.convolution_backward(
        gs, xs, weight, bias_sizes, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [False, True, with_bias]
    )
    return gw, gb


class _PhaseGradConv(torch.autograd.Function):
    """``F.conv2d(x, weight, bias, padding=d, dilation=d)`` whose forward and input gradient are the
    dilated kernels' and whose weight gradient is :func:`phase_split_weight_grad`: two copies per layer
    and step (the sub-grids of ``x`` and of the output gradient), the forward exactly the one
    inference runs."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, d: int) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.d, ctx.with_bias = d, bias is not None
        return F.conv2d(x, weight, bias, padding=d, dilation=d)

    @staticmethod
    def backward(
        ctx: Any, grad: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, None]:
        x, weight = ctx.saved_tensors
        d = ctx.d
        gi = gw = gb = None
        if ctx.needs_input_grad[0]:
            gi = torch.ops.aten.convolution_backward(
                grad, x, weight, None, [1, 1], [d, d], [d, d], False, [0, 0], 1, [True, False, False]
            )[0]
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            gw, gb = phase_split_weight_grad(x, grad, weight, d, ctx.with_bias)
        return gi, gw, gb, None


def phase_split_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, d: int) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, padding=d, dilation=d)`` for a 3x3 ``weight``, with the weight
    gradient computed on the ``d * d`` phase sub-grids by the undilated kernel (see the module
    docstring); the output and the input gradient are the dilated kernels'."""
    out: torch.Tensor = _PhaseGradConv.apply(x, weight, bias, d)
    return out


class DilatedConv2d(nn.Conv2d):
    """A 3x3, stride-1, "same"-padded ``nn.Conv2d`` that, when :attr:`phase_split` is on and autograd
    records, computes itself with :func:`phase_split_conv2d`. Parameters and state-dict keys are
    those of ``nn.Conv2d``, so checkpoints are unchanged."""

    def __init__(self, in_channels: int, out_channels: int, dilation: int) -> None:
        super().__init__(in_channels, out_channels, kernel_size=3, padding=dilation, dilation=dilation)
        #: compute with the phase split in training (set by the network, see ``EmbeddingNet.set_train_conv``)
        self.phase_split = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = int(self.dilation[0])
        # never in a trace: an ONNX or TorchScript export has no symbol for the custom gradient, nor needs one
        if not (self.phase_split and d > 1 and torch.is_grad_enabled() and not torch.jit.is_tracing()):
            return super().forward(x)
        dev = x.device.type
        if torch.is_autocast_enabled(dev):
            # what autocast does to a convolution (every input cast to its dtype), done here, so that the
            # custom gradient sees one dtype; the casts are differentiable: the fp32 weights get the gradient
            dt = torch.get_autocast_dtype(dev)
            bias = self.bias.to(dt) if self.bias is not None else None
            with torch.autocast(device_type=dev, enabled=False):
                return phase_split_conv2d(x.to(dt), self.weight.to(dt), bias, d)
        return phase_split_conv2d(x, self.weight, self.bias, d)
