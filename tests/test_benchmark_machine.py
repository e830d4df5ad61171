"""Every benchmark section records the CPU that produced its figures (benchmarks/common.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from common import cpu_facts, machine  # noqa: E402


def test_machine_names_the_cpu_and_its_isa():
    m = machine()
    assert set(cpu_facts()) == {"cpu_model", "isa"} and {"cpu_model", "isa", "cpu_count"} <= set(m)
    if not Path("/proc/cpuinfo").exists():
        pytest.skip("no /proc/cpuinfo: the CPU model is unknown here")
    flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")).split()
    assert isinstance(m["cpu_model"], str) and m["cpu_model"]
    # the ISA list is what /proc/cpuinfo says about the flags that pick the fast paths
    assert ("avx2" in m["isa"]) == ("avx2" in flags) and ("amx_bf16" in m["isa"]) == ("amx_bf16" in flags)
    assert all(f in flags for f in m["isa"])
