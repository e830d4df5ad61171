"""benchmarks/bench_training.py: the interleaved training steps compare the phase-split weight gradient
with the dilated kernel's, and the figures it writes are consistent."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_training import AUC_COMPARISONS, run_child  # noqa: E402


def test_child_steps_measures_both_ways_against_the_gemm():
    # in its own interpreter, as the benchmark runs it (it sets torch's threads and deterministic mode)
    res = run_child("steps", steps=1, threads=1, n=128)
    assert res["precision"] == "fp32" and res["threads"] == 1
    for name in ("step", "step_direct"):
        fig = res[name]
        assert fig["cpu_s_per_step"] > 0 and fig["wall_s_per_step"] > 0
        # the fraction of the GEMM rate is the FLOP rate of the step over the GEMM's
        assert fig["peak_fraction"] == pytest.approx(fig["conv_cpu_gflops"] / res["gemm_cpu_gflops"])
        assert fig["chip_steps_per_cpu_s"] == pytest.approx(8 / fig["cpu_s_per_step"])
    ratio = res["step_direct"]["cpu_s_per_step"] / res["step"]["cpu_s_per_step"]
    assert res["phase_speedup_vs_direct"] == pytest.approx(ratio)
    assert res["train_gflop_per_step"] == pytest.approx(13.98, abs=0.01)  # fused r3, batch 8, 128 x 128


def test_auc_comparisons_name_their_variants():
    base, other, key = AUC_COMPARISONS["conv"]
    assert (base[2], other[2]) == ("direct", "phase") and base[1] == other[1] == "fp32"
    assert key == "auc_delta_phase_vs_direct"
    assert AUC_COMPARISONS["precision"][2] == "auc_delta_vs_fp32"
