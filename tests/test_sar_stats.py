"""The SAR chip-statistics baseline: its features by hand, its fit under the CNN's protocol, and its
place in the paired claims and the map table."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from test_baselines import SLOPE, VH, VV, FakeStore, base_chips
from test_seed_stats import _repeats

from landslide_app.baselines import run_baseline
from landslide_app.baselines.sar_stats import DROP_DB, feature_names, sar_stats_features
from landslide_app.errors import ConfigError, InputError
from landslide_app.experiments.report_stats import map_markdown
from landslide_app.experiments.seed_stats import paired_claims, summarise


def db(x: float) -> float:
    return 10 ** (x / 10)


def test_feature_names_follow_the_revisits():
    assert feature_names(1) == (
        "slope_mean",
        "slope_p90",
        "vv_change_t3",
        "vh_change_t3",
        "vh_drop_steep",
        "vh_change_p10",
    )
    assert feature_names(3)[2:8] == (
        "vv_change_t3",
        "vv_change_t4",
        "vv_change_t5",
        "vh_change_t3",
        "vh_change_t4",
        "vh_change_t5",
    )
    for bad in (0, 4):
        with pytest.raises(ConfigError):
            feature_names(bad)
    with pytest.raises(InputError):
        sar_stats_features(np.zeros((2, 5, 4, 4), np.float32))


def test_features_by_hand():
    ch = base_chips(2, size=4, speckle=False)  # slope 30 everywhere, VV -10 dB, VH -13.01 dB
    c = ch[0]
    c[SLOPE, 0] = 10.0  # the first row is not steep (4 pixels)
    c[VV[3]] *= db(2.0)  # the first post date: VV +2 dB everywhere
    c[VV[4]] *= db(1.0)  # the second: +1 dB
    c[VH[3], 1:3] *= db(-6.0)  # 8 steep pixels: VH -6 dB on the first post date only
    c[VH[3], 0, 0:2] *= db(-6.0)  # 2 gentle pixels: the same drop, not counted as steep
    c[VV[0], 3, 3] = np.nan  # one pixel without data: out of every statistic
    ch[1, SLOPE] = np.nan  # a chip without a valid pixel
    f1 = sar_stats_features(ch, revisits=1)
    f2 = sar_stats_features(ch, revisits=2)
    n_valid = 15
    slopes = np.array([10.0] * 4 + [30.0] * 11)
    vh1 = np.zeros((4, 4))
    vh1[1:3] = -6.0
    vh1[0, 0:2] = -6.0
    ok = np.ones((4, 4), bool)
    ok[3, 3] = False
    # revisits 1: the post mean is t3 alone
    assert f1[0, 0] == pytest.approx(slopes.mean())
    assert f1[0, 1] == pytest.approx(np.percentile(slopes, 90))
    assert f1[0, 2] == pytest.approx(2.0, abs=1e-5)  # VV change of t3
    assert f1[0, 3] == pytest.approx(vh1[ok].sum() / n_valid, abs=1e-5)  # -60 / 15 = -4 dB
    assert f1[0, 4] == pytest.approx(8 / 11)  # 8 of 11 valid steep pixels dropped by <= -3 dB
    assert f1[0, 5] == pytest.approx(np.percentile(vh1[ok], 10), abs=1e-5)
    # revisits 2: one change per post date; the drop share and p10 use the mean of t3 and t4 (-3 dB)
    assert f2.shape == (2, len(feature_names(2)))
    assert f2[0, 2:6] == pytest.approx([2.0, 1.0, -4.0, 0.0], abs=1e-5)
    assert -6.0 / 2 <= DROP_DB and f2[0, 6] == pytest.approx(8 / 11)
    assert np.isnan(f1[1]).all() and np.isnan(f2[1]).all()


def stats_scene(n: int, seed: int = 0, size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Chips whose post-event VV brightening grows with the class (a rainfall-like chip-wide change)."""
    rng = np.random.default_rng(seed)
    chips = base_chips(n, size=size, seed=seed)
    classes = np.arange(n) % 3
    gain = 0.8 * classes + rng.normal(0, 0.2, n)
    for t in (3, 4, 5):
        chips[:, VV[t]] *= (10 ** (gain / 10))[:, None, None]
    chips[:, VV] *= rng.gamma(8.0, 1 / 8.0, chips[:, VV].shape).astype(np.float32)
    return chips, classes


def test_sar_stats_separates_classes_and_shuffled_is_chance():
    chips, classes = stats_scene(90, seed=1)
    store = FakeStore(chips, classes)
    res = run_baseline(store, "sar_stats", seed=0, revisits=2, progress=False, batch_size=16)
    assert res["auc"]["test"] > 0.9
    assert res["name"] == "sar_stats" and res["inputs"] == "fused" and res["revisits"] == 2
    assert res["method"]["features"] == list(feature_names(2))
    assert [r[0] for r in res["test_proba"]] == store.ids.tolist() and max(store.batches) <= 16
    assert res["map"]["accuracy"] > res["map"]["majority_accuracy"]
    json.dumps(res, allow_nan=False)
    shuffled = np.random.default_rng(0).permutation(classes)
    aucs = [
        run_baseline(FakeStore(chips, shuffled), "sar_stats", seed=s, progress=False)["auc"]["test"] for s in range(3)
    ]
    assert abs(np.mean(aucs) - 0.5) < 0.12


def test_sar_stats_refuses_a_store_without_sar():
    chips, classes = stats_scene(12)
    chips[:, VV + VH] = np.nan
    with pytest.raises(InputError, match="needs SAR values"):
        run_baseline(FakeStore(chips, classes), "sar_stats", progress=False)


def _with_sar_stats():
    reps = _repeats()
    for rep, auc, acc in zip(reps, (0.78, 0.80, 0.79), (0.70, 0.68, 0.71)):
        rep["baselines"].append(
            {
                "name": "sar_stats",
                "inputs": "fused",
                "revisits": 3,
                "split": "random",
                "seed": rep["seed"],
                "auc": {"train": 0.9, "val": 0.8, "test": auc},
                "map": {
                    "accuracy": acc,
                    "majority_accuracy": 0.65,
                    "balanced_accuracy": 0.5,
                    "macro_f1": 0.4,
                    "brier": 0.5,
                    "missed_landslide_chips": 1,
                    "pred_counts": [5, 90, 5],
                    "true_counts": [30, 60, 10],
                },
            }
        )
    return reps


def test_paired_claims_and_map_table_hold_the_baseline():
    reps = _with_sar_stats()
    claims = {c["claim"]: c for c in paired_claims(reps)}
    c = claims["CNN fused r3 − SAR chip statistics r3"]
    assert (c["a"], c["b"]) == ("fused-r3-random", "sar_stats-r3-random")
    assert c["differences"] == pytest.approx([0.02, 0.05, 0.11])
    m = claims["sar_stats-r3-random: map accuracy − majority-class baseline"]
    assert m["differences"] == pytest.approx([0.05, 0.03, 0.06]) and m["n"] == 3
    half = 4.302653 * float(np.std([0.05, 0.03, 0.06], ddof=1)) / math.sqrt(3)
    assert m["ci95"] == pytest.approx([0.046667 - half, 0.046667 + half], abs=1e-5)
    # the CNN's map claims come before the baselines'
    order = [k for k in claims if "map accuracy" in k]
    assert order.index("fused-r3-random: map accuracy − majority-class baseline") < order.index(
        "sar_stats-r3-random: map accuracy − majority-class baseline"
    )
    results = {
        "seeds": [0, 1, 2],
        "seed": 0,
        "decision": "cost",
        "runs": [],
        "baselines": reps[0]["baselines"],
        "repeats": reps,
        "summary": summarise(reps),
    }
    md = map_markdown(results, "random")
    row = next(line for line in md.splitlines() if line.startswith("| sar_stats-r3-random"))
    assert "0.790 ± " in row and "0.697 ± " in row and "5/90/5 vs 30/60/10" in row
