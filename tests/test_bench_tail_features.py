"""benchmarks/bench_tail_features.py: the forest on the embedding's tail and on the SAR statistics, paired."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_tail_features import VARIANTS, run_one, summarise, tail_features  # noqa: E402


def test_tail_features_read_valid_pixels_only():
    emb = np.zeros((3, 10, 100), np.float32)
    emb[0] = np.arange(1000, dtype=np.float32).reshape(10, 100) / 1000.0
    emb[1] = 0.25
    emb[1, 0, 0] = 0.9  # one bright pixel: only the maximum sees it
    valid = np.ones(emb.shape, bool)
    valid[1, 0, 1] = False
    emb[1, 0, 1] = 5.0  # masked: ignored
    valid[2] = False  # no valid pixel: NaN
    f = tail_features(emb, valid)
    assert f.shape == (3, 3) and f.dtype == np.float32
    np.testing.assert_allclose(f[0], [np.percentile(emb[0], 99), np.percentile(emb[0], 99.9), 0.999], rtol=1e-6)
    vals = np.delete(emb[1].ravel(), 1)  # the 999 valid pixels
    np.testing.assert_allclose(f[1], [*np.percentile(vals, [99, 99.9]), 0.9], rtol=1e-6)
    assert f[1, 0] == 0.25 and f[1, 2] == pytest.approx(0.9)  # the masked 5.0 is not the maximum
    assert np.isnan(f[2]).all()


@pytest.mark.slow
def test_variants_share_the_networks_and_reproduce_the_ablation_and_baseline(tiny_store: Path):
    from landslide_app.baselines.evaluate import run_baseline
    from landslide_app.chips.store import ChipStore
    from landslide_app.model.inputs import ModelConfig

    store = ChipStore.open(tiny_store)
    r = run_one(store, ModelConfig("sar", 1), "random", 3, 1, "cost", None)
    assert set(VARIANTS) <= set(r)
    # the refitted "paper" forest is the ablation's run itself (run_one refuses otherwise)
    assert r["paper"]["auc_test"] == r["paper_as_ablate"]["auc_test"]
    assert r["paper"]["pred_counts"] == r["paper_as_ablate"]["pred_counts"]
    assert sum(r["tail"]["pred_counts"]) == len(store.ids)
    # the "stats" variant is Table 2's SAR chip-statistics baseline on the same split
    base = run_baseline(store, "sar_stats", "random", seed=3, revisits=1, progress=False)
    assert r["stats"]["auc_test"] == pytest.approx(base["auc"]["test"])
    assert r["stats"]["map_accuracy"] == pytest.approx(base["map"]["accuracy"])


def test_summary_pairs_each_variant_with_the_paper_features():
    def row(auc: float, gain: float) -> dict:
        return {"auc_test": auc, "map_gain": gain, "map_accuracy": 0.6 + gain, "map_macro_f1": 0.3,
                "map_missed_landslide_chips": 2, "map_shown_none": 5}  # fmt: skip

    runs = {
        str(s): {
            "paper": row(0.70 + a, -0.01),
            "tail": row(0.71 + a, -0.01 + g),
            "stats": row(0.8, 0.02),
            "paper+stats": row(0.79 + a, 0.02),
        }
        for s, a, g in ((0, 0.00, 0.010), (1, 0.02, 0.020), (2, -0.01, 0.030))
    }
    s = summarise(runs)
    assert list(s) == ["paper", "tail", "stats", "paper+stats"]  # variants every seed has, in VARIANTS order
    assert "minus_paper" not in s["paper"]["auc_test"]
    d = s["tail"]["map_gain"]["minus_paper"]
    assert d["n"] == 3 and d["mean"] == pytest.approx(0.02)
    lo, hi = d["ci95"]
    assert lo == pytest.approx(0.02 - 4.302653 * 0.01 / np.sqrt(3), abs=1e-6) and hi > 0.02
    assert s["tail"]["auc_test"]["minus_paper"]["mean"] == pytest.approx(0.01)
    assert s["tail"]["auc_test"]["minus_paper"]["ci95"] == pytest.approx([0.01, 0.01])
    assert s["stats"]["auc_test"]["mean"] == pytest.approx(0.8)
    # the CNN + statistics variants are also paired with the statistics alone; the others are not
    hybrid = s["paper+stats"]["auc_test"]["minus_stats"]
    assert hybrid["n"] == 3 and hybrid["mean"] == pytest.approx(-0.01 + 0.01 / 3)
    assert "minus_stats" not in s["tail"]["auc_test"] and "minus_stats" not in s["stats"]["auc_test"]
