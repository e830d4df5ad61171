"""benchmarks/bench_pair_ablations.py: two multi-seed ablations paired configuration by configuration."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_pair_ablations import markdown, pair  # noqa: E402


def _results(aucs: dict[str, list[float]], acc: float = 0.7, store: str = "s1") -> dict:
    """An ablation results.json with the given held-out AUCs per configuration key and seed."""
    seeds = range(len(next(iter(aucs.values()))))
    repeats = []
    for s in seeds:
        runs = [
            {"key": k, "inputs": k.split("-")[0], "revisits": 3, "split": "blocked", "auc": {"test": v[s]},
             "map": {"accuracy": acc + 0.01 * s}}
            for k, v in aucs.items()
        ]  # fmt: skip
        baselines = [{"name": "slope", "revisits": 3, "split": "blocked", "auc": {"test": 0.6 + s / 100}}]
        repeats.append({"seed": s, "runs": runs, "baselines": baselines})
    return {"store_fingerprint": store, "decision": "cost", "repeats": repeats}


def test_pairs_each_configuration_over_its_seeds_and_pools_them():
    a = _results({"fused-r3-blocked": [0.70, 0.75, 0.72], "sar-r3-blocked": [0.74, 0.73, 0.71]})
    b = _results({"fused-r3-blocked": [0.68, 0.74, 0.72], "sar-r3-blocked": [0.74, 0.73, 0.71]}, acc=0.69)
    p = pair(a, b)
    fused = p["per_configuration"]["fused-r3-blocked"]["auc_test"]
    assert fused["differences"] == pytest.approx([0.02, 0.01, 0.0]) and fused["mean"] == pytest.approx(0.01)
    assert fused["ci95"][0] < 0.01 < fused["ci95"][1]
    acc = p["per_configuration"]["sar-r3-blocked"]["map_accuracy"]
    assert acc["differences"] == pytest.approx([0.01] * 3)
    assert p["identical"] == ["sar-r3-blocked", "slope-r3-blocked"]  # every seed the same AUC
    assert p["pooled"]["auc_test"]["n"] == 9 and p["max_abs_auc_difference"] == pytest.approx(0.02)
    assert "| fused-r3-blocked | +0.010 [" in markdown(p, "A − B")


def test_refuses_runs_of_another_store():
    with pytest.raises(SystemExit, match="differ in store"):
        pair(_results({"dem-r1-blocked": [0.6]}), _results({"dem-r1-blocked": [0.6]}, store="s2"))
