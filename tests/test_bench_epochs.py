"""benchmarks/bench_epochs.py: how often the model selection keeps the last epoch trained."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_epochs import last_epoch_selected  # noqa: E402


def _run(key: str, best: list[int], epochs: int, **kw) -> dict:
    folds = [{"best_epoch": b, "history": [{"epoch": e + 1} for e in range(epochs)]} for b in best]
    return {"key": key, "folds": folds, **kw}


def test_last_epoch_share_counts_computed_runs_of_the_compared_configurations():
    results = {
        "seeds": [0, 1],
        "repeats": [
            {"seed": 0, "runs": [_run("sar-r3-random", [5, 4], 5), _run("dem-r1-random", [5, 5], 5)]},
            {"seed": 1, "runs": [_run("sar-r3-random", [5, 5], 5),
                                 _run("dem-r2-random", [5, 5], 5, shared_with="dem-r1-random")]},
        ],
    }  # fmt: skip
    assert last_epoch_selected(results, {"sar-r3-random"}) == {"last": 3, "folds": 4, "share": 0.75}
    # a DEM-only run shared by another revisit column counts once
    assert last_epoch_selected(results, {"dem-r1-random", "dem-r2-random"}) == {"last": 2, "folds": 2, "share": 1.0}
    # a 20-epoch fold that kept epoch 5 did not run to its end
    longer = {"seeds": [0], "repeats": [{"seed": 0, "runs": [_run("sar-r3-random", [5, 20], 20)]}]}
    assert last_epoch_selected(longer, {"sar-r3-random"}) == {"last": 1, "folds": 2, "share": 0.5}
    assert last_epoch_selected(longer, set())["share"] is None
