"""Means over seeds with 95 % t intervals and the paired claims, against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from landslide_app.experiments.seed_stats import (
    fmt_mean_ci,
    paired_claims,
    paired_difference,
    summarise,
    t_interval,
)

# t(0.975, 2) = 4.302653 (tables); sd of (0.8, 0.9, 0.7) = 0.1; half-width 4.302653 * 0.1 / sqrt(3) = 0.248414
T_975_2 = 4.302653


def test_t_interval_by_hand():
    t = t_interval([0.8, 0.9, 0.7])
    assert t["n"] == 3 and t["mean"] == pytest.approx(0.8) and t["sd"] == pytest.approx(0.1)
    half = T_975_2 * 0.1 / math.sqrt(3)
    assert half == pytest.approx(0.248414, abs=1e-6)
    assert t["ci95"] == pytest.approx([0.8 - half, 0.8 + half], abs=1e-6)


def test_t_interval_missing_values_and_one_seed():
    assert t_interval([0.7, None, float("nan")]) == {"mean": 0.7, "ci95": None, "sd": None, "n": 1}
    assert t_interval([]) == {"mean": None, "ci95": None, "sd": None, "n": 0}
    # two equal values: zero spread, a zero-width interval
    assert t_interval([0.5, 0.5])["ci95"] == pytest.approx([0.5, 0.5])


def _run(inputs, k, seed, test, acc=None, maj=None, split="random"):
    r = {
        "inputs": inputs,
        "revisits": k,
        "split": split,
        "key": f"{inputs}-r{k}-{split}",
        "seed": seed,
        "auc": {"train": test + 0.1, "val": test - 0.01, "test": test},
    }
    if acc is not None:
        r["map"] = {
            "accuracy": acc,
            "majority_accuracy": maj,
            "balanced_accuracy": 0.5,
            "macro_f1": 0.4,
            "brier": 0.6,
            "missed_landslide_chips": 3,
        }
    return r


def _repeats():
    fused = [0.80, 0.85, 0.90]
    dem = [0.75, 0.84, 0.83]
    acc = [0.70, 0.66, 0.72]
    maj = [0.65, 0.65, 0.66]
    return [
        {
            "seed": s,
            "runs": [_run("fused", 3, s, fused[s], acc[s], maj[s]), _run("dem", 3, s, dem[s])],
            "baselines": [
                {
                    "name": "slope",
                    "inputs": "dem",
                    "revisits": None,
                    "split": "random",
                    "seed": s,
                    "auc": {"train": 0.9, "val": 0.7, "test": 0.70 + 0.01 * s},
                }
            ],
        }
        for s in range(3)
    ]


def test_paired_difference_by_hand():
    reps = _repeats()
    a = {r["seed"]: r["runs"][0] for r in reps}
    b = {r["seed"]: r["runs"][1] for r in reps}
    d = paired_difference(a, b, "auc_test")
    # differences 0.05, 0.01, 0.07: mean 0.043333, sd 0.030551, half-width 4.302653 * 0.030551 / sqrt(3) = 0.075892
    assert d["differences"] == pytest.approx([0.05, 0.01, 0.07])
    assert d["n"] == 3 and d["seeds"] == [0, 1, 2]
    assert d["mean"] == pytest.approx(0.043333, abs=1e-6)
    assert d["ci95"] == pytest.approx([0.043333 - 0.075892, 0.043333 + 0.075892], abs=1e-6)
    # only the seeds both sides have are paired
    del b[2]
    assert paired_difference(a, b, "auc_test")["n"] == 2


def test_summary_rows():
    rows = {r["key"]: r for r in summarise(_repeats())}
    f = rows["fused-r3-random"]
    assert f["n_seeds"] == 3 and f["seeds"] == [0, 1, 2]
    assert f["test_mean"] == pytest.approx(0.85)
    # (0.80, 0.85, 0.90): sd 0.05, half-width 4.302653 * 0.05 / sqrt(3) = 0.124207
    assert f["test_ci95"] == pytest.approx([0.85 - 0.124207, 0.85 + 0.124207], abs=1e-6)
    assert f["val_mean"] == pytest.approx(0.84) and f["train_mean"] == pytest.approx(0.95)
    assert f["map"]["accuracy"]["mean"] == pytest.approx(0.69333333)
    assert f["map"]["accuracy"]["n_seeds"] == 3
    assert "map" not in rows["dem-r3-random"]
    slope = rows["slope-r3-random"]
    assert slope["name"] == "slope" and slope["test_mean"] == pytest.approx(0.71)


def test_paired_claims_present_and_hand_values():
    claims = {c["claim"]: c for c in paired_claims(_repeats())}
    fd = claims["fused − DEM, 3 revisits"]
    assert (fd["a"], fd["b"], fd["metric"]) == ("fused-r3-random", "dem-r3-random", "auc_test")
    assert fd["mean"] == pytest.approx(0.043333, abs=1e-6)
    fs = claims["CNN fused r3 − slope model"]
    assert fs["differences"] == pytest.approx([0.10, 0.14, 0.18])
    m = claims["fused-r3-random: map accuracy − majority-class baseline"]
    # 0.70-0.65, 0.66-0.65, 0.72-0.66 = 0.05, 0.01, 0.06: mean 0.04, sd 0.026458, half 4.302653 * 0.026458 / sqrt(3)
    assert m["mean"] == pytest.approx(0.04) and m["n"] == 3
    assert m["ci95"][1] - m["mean"] == pytest.approx(T_975_2 * 0.0264575 / math.sqrt(3), abs=1e-5)
    # no SAR run: no fused − SAR claim; DEM has no map metrics: no map claim for it
    assert not any("SAR" in c for c in claims)
    assert not any(c.startswith("dem-r3-random: map") for c in claims)


def test_fmt_mean_ci():
    assert fmt_mean_ci(0.8, [0.75, 0.85]) == "0.800 ± 0.050"
    assert fmt_mean_ci(0.8, None) == "0.800"
    assert fmt_mean_ci(None, None) == "–"


def test_tables_show_mean_and_interval():
    from landslide_app.dashboard.tables import baselines_html, table2_html
    from landslide_app.experiments.report import table_markdown
    from landslide_app.experiments.report_stats import summary_baselines, summary_cells
    from landslide_app.experiments.seed_stats import paired_claims

    reps = _repeats()
    results = {
        "seeds": [0, 1, 2],
        "seed": 0,
        "runs": reps[0]["runs"],
        "baselines": reps[0]["baselines"],
        "repeats": reps,
        "summary": summarise(reps),
        "paired": paired_claims(reps),
    }
    md = table_markdown(results, "random")
    assert "over 3 seeds" in md and "**0.850 ± 0.124**" in md and "**0.710 ± 0.025**" in md
    cells = summary_cells(results, "random")
    assert set(cells) == {("fused", 3), ("dem", 3)}
    html = table2_html({}, summary=cells)
    assert "0.850 ± 0.124" in html and "over 3 seeds" in html
    # the baselines beside the CNN, over seeds too (slope: 0.70, 0.71, 0.72 -> 0.710 ± 0.025)
    bl = summary_baselines(results, "random")
    assert set(bl) == {("slope", None)}
    html = baselines_html([], summary=bl, cnn_summary=cells[("fused", 3)], cnn_key="fused-r3-random")
    assert "<td class='test'>0.850 ± 0.124</td>" in html and "over 3 seeds" in html
    assert summary_baselines(results, "blocked") == {}
    # one seed: no interval, the plain table
    assert summary_cells({**results, "seeds": [0]}, "random") == {}
    assert summary_baselines({**results, "seeds": [0]}, "random") == {}
