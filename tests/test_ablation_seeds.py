"""Multi-seed ablation on the tiny store: resume after an interruption, two processes give the same
AUCs whatever the free memory, and a 2-worker Dask cluster gives the single-process results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_argv import ablate_dem_argv

from landslide_app.experiments import ablation
from landslide_app.experiments.ablation import AblationSettings, run_ablation

pytestmark = pytest.mark.slow

SETTINGS = {"inputs": ["dem"], "revisits": [1], "epochs": 1, "baselines": False, "seeds": 2}


def _aucs(results: dict[str, Any]) -> list[tuple[int, str, Any, Any, Any]]:
    """(seed, key, pooled AUCs, per-fold AUCs, map accuracy) of every repeat."""
    return [
        (rep["seed"], r["key"], r["auc"], [f["auc"] for f in r["folds"]], r["map"]["accuracy"])
        for rep in results["repeats"]
        for r in rep["runs"]
    ]


class SimulatedKillError(Exception):
    pass


@pytest.fixture(scope="module")
def two_seeds(tiny_store: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], list[str]]:
    """A 2-seed DEM ablation interrupted after its first configuration, then resumed; returns
    (out, results, the keys computed by the resumed run)."""
    import torch

    out = tmp_path_factory.mktemp("abl") / "out"
    real = ablation._compute
    computed: list[str] = []

    def failing_second(store, base, out_, settings, *a, **k):
        if computed:
            raise SimulatedKillError("killed")
        computed.append(f"{base.key}@{settings.seed}")
        return real(store, base, out_, settings, *a, **k)

    def counting(store, base, out_, settings, *a, **k):
        computed.append(f"{base.key}@{settings.seed}")
        return real(store, base, out_, settings, *a, **k)

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ablation._compute = failing_second
        with pytest.raises(SimulatedKillError):
            run_ablation(tiny_store, out, AblationSettings(**SETTINGS), progress=False)
        assert computed == ["dem-r1-random@0"]
        computed.clear()
        ablation._compute = counting
        res = run_ablation(tiny_store, out, AblationSettings(**SETTINGS), progress=False)
    finally:
        ablation._compute = real
        torch.set_num_threads(before)
    return out, res, computed


def test_resume_computes_only_the_missing_seed(two_seeds):
    out, res, computed = two_seeds
    assert computed == ["dem-r1-random@1"]  # seed 0 came from the cache
    assert res["seeds"] == [0, 1] and [r["seed"] for r in res["repeats"]] == [0, 1]
    assert (out / "runs" / "seed1" / "runs" / "dem-r1-random" / "result.json").exists()
    # the first seed keeps embeddings and fold models (the dashboard reads them), the repeats do not
    assert (out / "runs" / "dem-r1-random" / "model_fold0.pt").exists()
    assert (out / "runs" / "dem-r1-random" / "embeddings.npy").exists()
    assert not (out / "runs" / "seed1" / "runs" / "dem-r1-random" / "model_fold0.pt").exists()
    assert not (out / "runs" / "seed1" / "runs" / "dem-r1-random" / "embeddings.npy").exists()
    # every repeat has its own split: the held-out folds differ
    import pandas as pd

    folds = [
        pd.read_csv(out / rep["dir"] / "runs" / "dem-r1-random" / "predictions.csv")["fold"].tolist()
        for rep in res["repeats"]
    ]
    assert folds[0] != folds[1]
    runs = res["runs"]
    assert runs == res["repeats"][0]["runs"]
    # the map's classes beside AUC, decided on validation chips
    m = runs[0]["map"]
    assert sum(m["true_counts"]) == sum(m["pred_counts"]) == runs[0]["n_chips"]
    assert 0.0 <= m["accuracy"] <= 1.0 and m["brier"] is not None and "reliability" in m
    assert runs[0]["decision"]["rule"] == "cost" and len(runs[0]["decision"]["folds"]) == 2
    # summary: mean of the two seeds, a t interval around it
    row = next(r for r in res["summary"] if r["key"] == "dem-r1-random")
    tests = [rep["runs"][0]["auc"]["test"] for rep in res["repeats"]]
    assert row["n_seeds"] == 2 and row["test_mean"] == pytest.approx(sum(tests) / 2)
    assert row["test_ci95"][0] <= row["test_mean"] <= row["test_ci95"][1]
    claim = next(c for c in res["paired"] if c["metric"] == "map_accuracy")
    assert claim["n"] == 2
    env = res["environment"]
    assert set(env["cpu"]["isa"]) >= {"amx_bf16", "avx512_bf16", "avx2"} and env["libraries"]["torch"]
    assert env["precision"] in ("fp32", "bf16")
    table = (out / "table.md").read_text()
    assert "±" in table and "over 2 seeds" in table and "map accuracy − majority-class baseline" in table
    # a rerun computes nothing and gives the same numbers
    again = run_ablation(Path(res["store"]), out, AblationSettings(**SETTINGS), progress=False)
    assert _aucs(again) == _aucs(res)


_LOW_MEMORY = (
    "import landslide_app.core.memory as m, sys; m.available_memory = lambda: 4 << 20; "
    "from landslide_app.cli import main; sys.exit(main(sys.argv[1:]))"
)


def test_two_processes_give_identical_aucs(tiny_store, tmp_path):
    """Two separate processes at the same time (one with 4 MiB 'available': a 1 MiB budget, so neither
    the store cache nor the prepared-chip cache holds anything, every chip streamed) give exactly the
    same AUCs and map metrics."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "landslide_app.cli", "--quiet", *ablate_dem_argv(tiny_store, tmp_path / "a")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ),
        subprocess.Popen(
            [sys.executable, "-c", _LOW_MEMORY, "--quiet", *ablate_dem_argv(tiny_store, tmp_path / "b")],
            env={**env, "PYTHONHASHSEED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ),
    ]
    for p in procs:
        _, err = p.communicate(timeout=900)
        assert p.returncode == 0, err.decode()[-2000:]
    a, b = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("a", "b"))
    assert _aucs(a) == _aucs(b)
    assert a["runs"][0]["map"] == b["runs"][0]["map"]


def test_dask_cluster_equals_one_process(two_seeds, tiny_store, tmp_path):
    distributed = pytest.importorskip("distributed")
    from landslide_app.experiments.ablation_dask import run_ablation_distributed

    _, local, _ = two_seeds
    computed: list[str] = []
    real = ablation._compute

    def counting(store, base, out_, settings, *a, **k):
        computed.append(base.key)
        return real(store, base, out_, settings, *a, **k)

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        ablation._compute = counting  # the local process must not compute: the workers did
        try:
            res = run_ablation_distributed(
                tiny_store, tmp_path / "dist", AblationSettings(**SETTINGS), scheduler=client, progress=False, threads=1
            )
        finally:
            ablation._compute = real
    assert computed == []
    assert _aucs(res) == _aucs(local)
