"""Where and how the network computes: the device, seeded deterministic runs, autocast precision."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Literal

import torch

from landslide_app.errors import ConfigError

Precision = Literal["fp32", "bf16"]


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"Unknown device {device!r}; use 'cpu', 'cuda' or 'cuda:N'.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"Device {device!r} was requested but CUDA is not available; use device='cpu'.")
    return dev


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch and switch on deterministic algorithms; restore all global state afterwards.

    Deterministic mode would also fill every new tensor's memory with NaN
    (``torch.utils.deterministic.fill_uninitialized_memory``), a debugging aid that cost 11 % of
    the CPU training time (3,500 ``fill_`` calls per fit in the profile) and changes no result:
    every op here writes its whole output, so it is switched off while training.
    """
    det_utils: Any = torch.utils.deterministic
    prev_det = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    prev_fill = det_utils.fill_uninitialized_memory
    prev_bench = torch.backends.cudnn.benchmark
    prev_cudnn_det = torch.backends.cudnn.deterministic
    devices = [device.index or 0] if device.type == "cuda" else []
    try:
        torch.use_deterministic_algorithms(True, warn_only=True)
        det_utils.fill_uninitialized_memory = False
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield
    finally:
        torch.use_deterministic_algorithms(prev_det, warn_only=prev_warn)
        det_utils.fill_uninitialized_memory = prev_fill
        torch.backends.cudnn.benchmark = prev_bench
        torch.backends.cudnn.deterministic = prev_cudnn_det


def autocast(device: torch.device, precision: Precision) -> contextlib.AbstractContextManager[Any]:
    """bfloat16 autocast on ``device`` for ``"bf16"``, nothing for ``"fp32"``."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def check_precision(precision: str) -> Precision:
    """``precision`` as a :data:`Precision` (ConfigError unless ``"fp32"`` or ``"bf16"``)."""
    if precision not in ("fp32", "bf16"):
        raise ConfigError(f"precision must be 'fp32' or 'bf16', got {precision!r}.")
    return precision  # type: ignore[return-value]
