"""Shared helpers for the benchmark scripts: machine facts and merging into results.json."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results.json")


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    try:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:  # pragma: no cover
        gpu = None
    mem = None
    try:
        mem = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):  # pragma: no cover
        pass
    return {"cpu_count": os.cpu_count(), "memory_gib": mem, "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(), "gpu": gpu, "date": time.strftime("%Y-%m-%d")}


def merge_results(section: str, figures: dict[str, Any]) -> Path:
    """Write ``figures`` under ``section`` of ``benchmarks/results.json`` (other sections kept)."""
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data[section] = {**figures, "machine": machine()}
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, RESULTS)
    return RESULTS
