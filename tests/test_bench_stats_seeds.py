"""benchmarks/bench_stats_seeds.py: the SAR chip-statistics map against the majority baseline on fresh seeds."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_stats_seeds import markdown, run_seeds  # noqa: E402


def test_fresh_seeds_report_each_seed_and_their_interval(tiny_store: Path):
    from landslide_app.baselines.evaluate import run_baseline
    from landslide_app.chips.store import ChipStore

    configs = run_seeds(tiny_store, [3, 4, 5], ["random"], [1])
    assert list(configs) == ["sar_stats-r1-random"]
    c = configs["sar_stats-r1-random"]
    assert [r["seed"] for r in c["per_seed"]] == [3, 4, 5]
    direct = run_baseline(ChipStore.open(tiny_store), "sar_stats", "random", seed=4, revisits=1, progress=False)
    m = direct["map"]
    row = c["per_seed"][1]  # the same protocol as the ablation's baseline: the same figures for seed 4
    assert row["map_gain"] == pytest.approx(m["accuracy"] - m["majority_accuracy"])
    assert row["missed"] == m["missed_landslide_chips"] and row["shown_none"] == m["pred_counts"][0]
    gains = [r["map_gain"] for r in c["per_seed"]]
    g = c["map_gain"]
    assert g["n"] == 3 and g["mean"] == pytest.approx(sum(gains) / 3)
    lo, hi = g["ci95"]
    assert lo <= g["mean"] <= hi and c["interval_above_0"] == (lo > 0)
    assert c["missed_mean"] == pytest.approx(sum(r["missed"] for r in c["per_seed"]) / 3)
    table = markdown(configs)
    assert table.splitlines()[2].startswith("| sar_stats-r1-random | ") and f"{g['mean']:+.3f} [" in table
