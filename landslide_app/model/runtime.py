"""Runtime settings of the CNN: precision, allocator tuning, in-memory budgets, FLOP counts.

* :func:`resolve_precision`: ``"auto"`` becomes ``"bf16"`` where the device computes bfloat16
  natively (CPUs with AVX512-BF16 or AMX, CUDA devices with bf16 support), else ``"fp32"``.
  On a CPU without bf16 units autocast would *emulate* bfloat16 and run slower than fp32.
* :func:`tune_malloc`: glibc returns every freed block above 128 KiB to the kernel by default,
  so each training step page-faults its ~8 MB activation tensors back in (measured: ~10,000
  minor faults and ~20 % of the step time on a 2-core CPU). Raising the mmap and trim
  thresholds keeps those blocks in the heap for reuse. Process-wide, idempotent, Linux/glibc
  only (a no-op elsewhere); ``LANDSLIDE_APP_NO_MALLOPT=1`` switches it off.
* :func:`conv_flops`: the convolution FLOPs of a network per chip, counted from the layer shapes
  (forward, and a training step = forward + gradient of the weights + gradient of the inputs,
  the latter skipped for convolutions whose input needs no gradient).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
from typing import Any, Literal

import torch
from torch import nn

from landslide_app.core.vocabulary import PRECISIONS
from landslide_app.errors import ConfigError

logger = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 32 << 20  # glibc's maximum on 64-bit
_TRIM_THRESHOLD = 256 << 20
_malloc_lock = threading.Lock()
_malloc_tuned: bool | None = None


def tune_malloc() -> bool:
    """Keep freed large blocks in the glibc heap (see the module docstring). Returns whether applied."""
    global _malloc_tuned
    with _malloc_lock:
        if _malloc_tuned is not None:
            return _malloc_tuned
        _malloc_tuned = False
        if os.environ.get("LANDSLIDE_APP_NO_MALLOPT") or os.uname().sysname != "Linux":
            return False
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            mallopt = libc.mallopt
        except (OSError, AttributeError):  # musl or no libc: nothing to tune
            return False
        mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        ok = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
        _malloc_tuned = ok
        logger.debug("glibc malloc thresholds %s", "raised" if ok else "unchanged (mallopt refused)")
        return ok


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 convolutions natively (fast)."""
    if device.type == "cuda":
        try:
            return bool(torch.cuda.is_bf16_supported())
        except Exception:  # noqa: BLE001 - old drivers
            return False
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except Exception:  # noqa: BLE001 - private API: fall back to the CPU flags
            try:
                with open("/proc/cpuinfo") as fh:
                    flags = fh.read()
            except OSError:
                return False
            return "avx512_bf16" in flags or "amx_bf16" in flags
    return False


def resolve_precision(precision: str, device: torch.device) -> Literal["fp32", "bf16"]:
    """``"fp32"`` / ``"bf16"`` as given; ``"auto"``: bf16 where :func:`bf16_supported`, else fp32."""
    if precision == "auto":
        return "bf16" if bf16_supported(device) else "fp32"
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}.")
    return precision  # type: ignore[return-value]


def conv_flops(net: nn.Module, in_channels: int, height: int, width: int) -> dict[str, Any]:
    """Convolution FLOPs (multiply + add = 2) of ``net`` per chip of ``height x width``.

    Counted from the shapes seen by each ``Conv2d`` in one forward pass of a dummy chip.

    Returns:
        ``{"forward": F, "training": T, "layers": [...]}``: ``T`` = forward + weight gradient
        + input gradient (the last only where the convolution's input requires a gradient).
    """
    layers: list[dict[str, Any]] = []

    def hook(mod: nn.Conv2d, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        kh, kw = mod.kernel_size
        macs = out.shape[1] * out.shape[2] * out.shape[3] * (mod.in_channels // mod.groups) * kh * kw
        layers.append(
            {
                "in": mod.in_channels,
                "out": mod.out_channels,
                "kernel": (kh, kw),
                "macs": int(macs),
                "input_grad": bool(inputs[0].requires_grad),
            }
        )

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.Conv2d)]
    p = next(net.parameters())
    try:
        with torch.enable_grad():
            net(torch.zeros(1, in_channels, height, width, device=p.device, dtype=p.dtype))
    finally:
        for h in handles:
            h.remove()
    fwd = sum(2 * lay["macs"] for lay in layers)
    train = sum(2 * lay["macs"] * (3 if lay["input_grad"] else 2) for lay in layers)
    return {"forward": fwd, "training": train, "layers": layers}
