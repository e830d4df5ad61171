"""benchmarks/bench_ensemble.py: the single network against the ensemble, paired over seeds."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_ensemble import SIDES, paired_reference, run_seconds  # noqa: E402
from bench_learning_rate import compare  # noqa: E402


def _run(auc: float, acc: float, seconds: float, **kw) -> dict:
    m = {"accuracy": acc, "majority_accuracy": 0.6, "missed_landslide_chips": 3}
    return {"inputs": "sar", "revisits": 3, "split": "random", "key": "sar-r3-random", "auc": {"test": auc},
            "map": m, "wall_seconds": seconds, **kw}  # fmt: skip


def _ablation(rows: dict[int, list[dict]]) -> dict:
    return {"seeds": sorted(rows), "repeats": [{"seed": s, "runs": r} for s, r in rows.items()]}


def test_named_sides_gain_intervals_and_run_seconds():
    other = {"inputs": "dem", "revisits": 1, "key": "dem-r1-random"}
    single = _ablation({0: [_run(0.70, 0.60, 50), _run(0.6, 0.6, 40, **other)], 1: [_run(0.72, 0.62, 60)],
                        2: [_run(0.74, 0.61, 55)]})  # fmt: skip
    ens = _ablation({0: [_run(0.75, 0.63, 150)], 1: [_run(0.76, 0.64, 170)], 2: [_run(0.77, 0.65, 160)]})
    c = compare(single, ens, SIDES)
    row = c["per_configuration"]["sar-r3-random"]
    assert set(c["per_configuration"]) == {"sar-r3-random"}  # only the configurations both ran
    assert row["auc_test"]["single"] == pytest.approx(0.72) and row["auc_test"]["ensemble"] == pytest.approx(0.76)
    assert row["map_accuracy_gain"]["ensemble"] == pytest.approx(0.04)
    lo, hi = row["map_accuracy_gain_ci95"]["ensemble"]  # gains 0.03, 0.04, 0.05: an interval above 0
    assert 0 < lo < 0.04 < hi
    lo, hi = row["map_accuracy_gain_ci95"]["single"]  # gains 0.00, 0.02, 0.01: an interval across 0
    assert lo < 0 < hi
    assert row["auc_test"]["difference"]["mean"] == pytest.approx(0.04) and c["collapsed_total"]["ensemble"] == 0
    assert run_seconds(single, {"sar-r3-random"}) == 165 and run_seconds(ens, {"sar-r3-random"}) == 480


def test_paired_reference_keeps_the_other_runs_seeds_and_refuses_what_does_not_pair():
    ref = {
        **_ablation({0: [_run(0.70, 0.6, 1)], 1: [_run(0.72, 0.6, 1)], 2: [_run(0.9, 0.6, 1)]}),
        "epochs": 5,
        "lr": 1e-3,
    }
    other = {**_ablation({0: [_run(0.75, 0.6, 1)], 1: [_run(0.76, 0.6, 1)]}), "epochs": 20, "lr": 1e-3}
    cut = paired_reference(ref, other, 5, "longer")
    assert [rep["seed"] for rep in cut["repeats"]] == [0, 1] and len(ref["repeats"]) == 3
    # the reference's mean is over the paired seeds only (0.71), not over its third seed too (0.773)
    assert compare(cut, other)["per_configuration"]["sar-r3-random"]["auc_test"]["default"] == pytest.approx(0.71)
    with pytest.raises(SystemExit, match="not trained 20 epochs"):
        paired_reference(ref, other, 20, "longer")
    with pytest.raises(SystemExit, match="not trained 5 epochs"):
        paired_reference({**ref, "lr": 3e-3}, other, 5, "longer")
    with pytest.raises(SystemExit, match=r"the longer run \[0, 1, 3\]: not paired"):
        paired_reference(ref, {**other, "repeats": [*other["repeats"], {"seed": 3, "runs": []}]}, 5, "longer")
