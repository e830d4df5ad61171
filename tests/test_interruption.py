"""Interruption: `chips`, `ablate` and `predict` CLI processes are killed with SIGKILL at random
(seeded) moments, over and over; after each kill no artifact on disk is corrupt, and the rerun
finishes with results equal to those of an uninterrupted run.

The three commands are driven side by side (one thread each, one process at a time per command)
on the tiny scene with small settings. A run that finishes before its kill is checked against the
reference and its output deleted, so later kills hit fresh work again.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from cli_argv import ablate_dem_argv, chips_argv

from landslide_app.atomic import find_temps

CLI = [sys.executable, "-m", "landslide_app.cli", "-q"]
#: One thread per process: deterministic CPU training and three commands on two cores.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
KILLS = {"chips": 11, "ablate": 4, "predict": 6}


def run_cli(argv: list[str], timeout: float = 600) -> float:
    """Run the CLI to the end; its wall time."""
    t0 = time.perf_counter()
    r = subprocess.run(CLI + argv, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{argv[0]} failed ({r.returncode}):\n{r.stderr[-3000:]}"
    assert "Traceback" not in r.stderr
    return time.perf_counter() - t0


@dataclass
class KillLoop:
    """Start ``argv``, SIGKILL it after a random fraction of ``t_ref``, check, repeat."""

    name: str
    argv: list[str]
    out: Path
    t_ref: float
    check_partial: Callable[[Path], None]
    check_final: Callable[[Path], None]
    seed: int
    #: fraction of the work already kept on disk (a resumed run only does the rest) and the
    #: duration of a run with nothing left to do: the kill moment is drawn within the run at hand
    progress: Callable[[Path], float] = lambda out: 0.0
    t_fixed: float = 0.0
    kills: int = 0
    completions: int = 0
    delays: list[float] = field(default_factory=list)

    def run(self, n_kills: int) -> KillLoop:
        rng = random.Random(self.seed)
        while self.kills < n_kills:
            before = self.progress(self.out)
            expected = self.t_fixed + (self.t_ref - self.t_fixed) * (1.0 - before)
            delay = rng.uniform(0.1, 1.0) * expected
            with tempfile.TemporaryFile() as err:
                t0 = time.perf_counter()
                p = subprocess.Popen(CLI + self.argv, env=ENV, stdout=subprocess.DEVNULL, stderr=err)
                try:
                    p.wait(timeout=delay)
                except subprocess.TimeoutExpired:
                    p.kill()  # SIGKILL: no cleanup handler runs
                    p.wait()
                    self.kills += 1
                    self.delays.append(round(delay, 2))
                    self.check_partial(self.out)
                    continue
                err.seek(0)
                stderr = err.read().decode(errors="replace")
            # it finished before the kill: a complete, correct result; start over on fresh work
            assert p.returncode == 0, f"{self.name} rerun failed ({p.returncode}):\n{stderr[-3000:]}"
            if before == 0.0:  # a whole run took less than the reference: the machine got faster
                self.t_ref = min(self.t_ref, time.perf_counter() - t0)
            self.check_final(self.out)
            self.completions += 1
            shutil.rmtree(self.out)
        run_cli(self.argv)  # the rerun after the last kill finishes...
        self.check_final(self.out)  # ...with the uninterrupted result
        assert not find_temps(self.out), find_temps(self.out)
        return self


# ---- checks -----------------------------------------------------------------------------------------
def check_store_partial(ref: Path) -> Callable[[Path], None]:
    from landslide_app.chips.store import ChipStore

    reference = ChipStore.open(ref)

    def check(out: Path) -> None:
        if not (out / "store.json").exists():
            return
        st = ChipStore.open(out, require_complete=False)  # store.json parses
        assert st.meta.fingerprint == reference.meta.fingerprint
        for cid, rec in st.done_records().items():  # every finished chip is whole and right
            if rec.get("kept"):
                np.testing.assert_array_equal(st.read(cid), reference.read(cid))
        if st.meta.complete:
            check_store_final(reference)(out)

    return check


def check_store_final(reference) -> Callable[[Path], None]:
    from landslide_app.chips.store import ChipStore

    if isinstance(reference, Path):
        reference = ChipStore.open(reference)

    def check(out: Path) -> None:
        st = ChipStore.open(out)
        assert st.ids.tolist() == reference.ids.tolist()
        cols = ["chip_id", "head_count", "density_class", "land_fraction", "density_per_km2"]
        assert st.index[cols].equals(reference.index[cols])
        np.testing.assert_array_equal(st.read_many(st.ids), reference.read_many(reference.ids))

    return check


AUC_KEYS = ("auc", "auc_weighted", "auc_per_class", "confusion", "n_chips")


def ablation_summary(out: Path) -> list[dict]:
    res = json.loads((out / "results.json").read_text())
    return [{k: r.get(k) for k in ("key", *AUC_KEYS)} for r in res["runs"]]


def check_ablation_partial(out: Path) -> None:
    from landslide_app.model.forest import DensityForest
    from landslide_app.model.train import TrainedModel

    if (out / "results.json").exists():
        ablation_summary(out)
    for d in (out / "runs").glob("*") if (out / "runs").exists() else []:
        if (d / "result.json").exists():
            json.loads((d / "result.json").read_text())
            for f in ("embedding_ids.npy", "embeddings.npy", "predictions.csv", "model_fold0.pt", "forest_fold0.npz"):
                assert (d / f).exists(), f"{f} missing although result.json marks {d.name} finished"
        for f in d.glob("*.npy"):
            if not f.name.startswith("."):
                np.load(f, mmap_mode="r")
        for f in d.glob("model_fold*.pt"):
            TrainedModel.load(f, device="cpu")
        for f in d.glob("forest_fold*.npz"):
            DensityForest.load(f)


def check_ablation_final(ref: Path) -> Callable[[Path], None]:
    expected = ablation_summary(ref)

    def check(out: Path) -> None:
        assert ablation_summary(out) == expected
        assert (out / "table.md").exists() and (out / "roc.png").exists()

    return check


def prediction(out: Path) -> tuple[np.ndarray, object, dict]:
    import geopandas as gpd
    import rasterio

    with rasterio.open(out / "density.tif") as ds:
        arr = ds.read()
    gdf = gpd.read_file(out / "chips.gpkg")
    return arr, gdf, json.loads((out / "summary.json").read_text())


def check_predict_partial(out: Path) -> None:
    import geopandas as gpd
    import rasterio

    if (out / "density.tif").exists():
        with rasterio.open(out / "density.tif") as ds:
            ds.read()
    if (out / "chips.gpkg").exists():
        gpd.read_file(out / "chips.gpkg")
    if (out / "summary.json").exists():
        json.loads((out / "summary.json").read_text())


def check_predict_final(ref: Path) -> Callable[[Path], None]:
    arr0, gdf0, js0 = prediction(ref)

    def check(out: Path) -> None:
        arr, gdf, js = prediction(out)
        np.testing.assert_array_equal(arr, arr0)
        assert gdf.drop(columns="geometry").equals(gdf0.drop(columns="geometry"))
        assert gdf.geometry.equals(gdf0.geometry)
        assert js == js0

    return check


# ---- the test ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_sigkill_at_random_points_then_rerun_equals_uninterrupted(scene_dir, tiny_store, dem_run, tmp_path, capsys):
    model = dem_run  # only read: `predict` is the command killed

    def argv(cmd: str, out: Path) -> list[str]:
        if cmd == "chips":
            return chips_argv(scene_dir, out)
        if cmd == "ablate":
            return ablate_dem_argv(tiny_store, out)
        return ["predict", "--model", str(model), "--chips", str(tiny_store), "--out", str(out)]

    cmds = list(KILLS)
    with ThreadPoolExecutor(len(cmds)) as pool:  # uninterrupted reference runs (and their durations)
        t_ref = dict(zip(cmds, pool.map(lambda c: run_cli(argv(c, tmp_path / "ref" / c)), cmds)))
    ref = {c: tmp_path / "ref" / c for c in cmds}
    check_store_final(tiny_store)(ref["chips"])  # the CLI build equals the in-process one
    t_chips_fixed = run_cli(argv("chips", ref["chips"]))  # a rerun with every chip done

    def chips_done(out: Path) -> float:
        n = (
            len([f for f in (out / "done").glob("*.json") if not f.name.startswith(".")])
            if (out / "done").exists()
            else 0
        )
        return n / 48

    loops = [
        KillLoop(
            "chips",
            argv("chips", tmp_path / "k" / "chips"),
            tmp_path / "k" / "chips",
            t_ref["chips"],
            check_store_partial(ref["chips"]),
            check_store_final(ref["chips"]),
            seed=1,
            progress=chips_done,
            t_fixed=t_chips_fixed,
        ),
        KillLoop(
            "ablate",
            argv("ablate", tmp_path / "k" / "ablate"),
            tmp_path / "k" / "ablate",
            t_ref["ablate"],
            check_ablation_partial,
            check_ablation_final(ref["ablate"]),
            seed=2,
        ),
        KillLoop(
            "predict",
            argv("predict", tmp_path / "k" / "predict"),
            tmp_path / "k" / "predict",
            t_ref["predict"],
            check_predict_partial,
            check_predict_final(ref["predict"]),
            seed=3,
        ),
    ]
    with ThreadPoolExecutor(len(loops)) as pool:
        done = list(pool.map(lambda lp: lp.run(KILLS[lp.name]), loops))
    total = sum(lp.kills for lp in done)
    assert total >= 20
    with capsys.disabled():
        print(
            "\n[interruption] "
            + "; ".join(
                f"{lp.name}: {lp.kills} SIGKILLs (at {lp.delays} s, reference {t_ref[lp.name]:.1f} s), "
                f"{lp.completions} early completions"
                for lp in done
            )
            + f"; {total} kills in all"
        )
