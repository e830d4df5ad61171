"""The paired comparison of benchmarks/bench_learning_rate.py: two ablations over the same seeds."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_learning_rate import compare  # noqa: E402


def _run(inputs: str, auc: float, acc: float, *, collapsed: bool = False, **kw) -> dict:
    m = {"accuracy": acc, "majority_accuracy": 0.6, "missed_landslide_chips": 2}
    return {
        "inputs": inputs,
        "revisits": 1,
        "split": "random",
        "auc": {"test": auc},
        "map": m,
        "collapsed": collapsed,
        **kw,
    }


def _ablation(rows: dict[int, list[dict]]) -> dict:
    return {"seeds": sorted(rows), "repeats": [{"seed": s, "runs": r} for s, r in rows.items()]}


def test_paired_differences_per_configuration_and_pooled():
    shared = {"shared_with": "dem-r1-random", "revisits": 2}
    default = _ablation({
        0: [_run("dem", 0.60, 0.60), _run("dem", 0.60, 0.60, **shared), _run("sar", 0.50, 0.60, collapsed=True)],
        1: [_run("dem", 0.70, 0.62), _run("dem", 0.70, 0.62, **shared), _run("sar", 0.72, 0.64)],
    })  # fmt: skip
    other = _ablation({
        0: [_run("dem", 0.62, 0.61), _run("dem", 0.62, 0.61, **shared), _run("sar", 0.74, 0.66)],
        1: [_run("dem", 0.74, 0.62), _run("dem", 0.74, 0.62, **shared), _run("sar", 0.71, 0.63)],
    })  # fmt: skip
    c = compare(default, other)
    assert sorted(c["per_configuration"]) == ["dem-r1-random", "sar-r1-random"]  # the shared DEM column once
    dem = c["per_configuration"]["dem-r1-random"]
    assert dem["auc_test"]["default"] == pytest.approx(0.65) and dem["auc_test"]["other"] == pytest.approx(0.68)
    assert dem["auc_test"]["difference"]["mean"] == pytest.approx(0.03) and dem["auc_test"]["difference"]["n"] == 2
    lo, hi = dem["auc_test"]["difference"]["ci95"]
    assert lo < 0.03 < hi  # differences 0.02 and 0.04: a t interval around their mean
    assert dem["map_accuracy_gain"]["other"] == pytest.approx(0.015)  # (0.01 + 0.02) / 2 over the 0.6 baseline
    sar = c["per_configuration"]["sar-r1-random"]
    assert sar["collapsed"] == {"default": [0], "other": []}
    assert sar["auc_test"]["difference"]["mean"] == pytest.approx((0.24 - 0.01) / 2)
    assert c["collapsed_total"] == {"default": 1, "other": 0, "trainings_per_rate": 8}
    # pooled: every (configuration, seed) pair once: 4 pairs
    assert c["pooled"]["auc_test"]["n"] == 4
    assert c["pooled"]["auc_test"]["mean"] == pytest.approx((0.02 + 0.04 + 0.24 - 0.01) / 4)
