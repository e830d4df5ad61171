"""What produced a result: the CPU, its instruction sets, the precision and the library versions.

Same command, same data and same machine give identical AUCs (tested in two processes); across CPUs
the bf16 kernels differ (AMX, AVX-512 BF16, none), and so can the numbers. ``results.json`` records
:func:`environment` so that a table says which machine made it.
"""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

#: CPU flags that decide which float kernels run (bf16 units, vector width).
ISA_FLAGS = ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2", "fma")
#: Libraries whose versions change numbers.
LIBRARIES = ("torch", "scikit-learn", "numpy", "scipy", "openvino")


def cpu_info(cpuinfo_text: str | None = None) -> dict[str, Any]:
    """``{"model": ..., "isa": {flag: bool}, "logical_cpus": n}`` (from ``/proc/cpuinfo`` on Linux)."""
    import os

    text = cpuinfo_text
    if text is None:
        try:
            with open("/proc/cpuinfo") as fh:
                text = fh.read()
        except OSError:
            text = ""
    model, flags = platform.processor() or platform.machine(), set[str]()
    for line in text.splitlines():
        name, _, value = line.partition(":")
        name = name.strip()
        if name == "model name" and value.strip():
            model = value.strip()
        elif name in ("flags", "Features") and not flags:
            flags = set(value.split())
    return {"model": model, "isa": {f: f in flags for f in ISA_FLAGS}, "logical_cpus": os.cpu_count()}


def library_versions() -> dict[str, str | None]:
    """Installed versions of :data:`LIBRARIES` (None: not installed)."""
    out: dict[str, str | None] = {}
    for lib in LIBRARIES:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = None
    return out


def environment(
    precision: str | None = None, device: str | None = None, train_conv: str | None = None
) -> dict[str, Any]:
    """The record results.json keeps (CPU, ISA flags, precision, device, how the dilated convolutions
    trained (:mod:`landslide_app.model.dilated`), torch threads, versions)."""
    import torch

    from landslide_app import __version__

    return {
        "cpu": cpu_info(),
        "precision": precision,
        "device": device,
        "train_conv": train_conv,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": library_versions(),
        "landslide_app": __version__,
    }
