"""Concurrency: two real processes building the same artifact at once (a chip store; an ablation
configuration) take turns on the artifact's lock: both finish, the artifact is built once and is
not corrupt."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from cli_argv import ablate_dem_argv, chips_argv

from landslide_app.atomic import find_temps
from landslide_app.chips.store import ChipStore

CLI = [sys.executable, "-m", "landslide_app.cli"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}


def run_together(argv: list[str], n: int = 2) -> list[tuple[str, str]]:
    procs = [
        subprocess.Popen(CLI + argv, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(n)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    return outs


@pytest.mark.slow
def test_two_processes_build_the_same_chip_store(scene_dir, tiny_store, tmp_path):
    out = tmp_path / "store"
    outs = run_together(chips_argv(scene_dir, out))
    built = sorted(int(re.search(r"\((\d+) built, (\d+) already done", o).group(1)) for o, _ in outs)
    ref = ChipStore.open(tiny_store)
    assert built == [0, len(ref.ids)]  # one built every chip, the other found them done
    st = ChipStore.open(out)
    assert st.ids.tolist() == ref.ids.tolist()
    np.testing.assert_array_equal(st.read_many(st.ids), ref.read_many(ref.ids))
    assert len(st.done_records()) == st.grid.n_chips and not find_temps(out)


@pytest.mark.slow
def test_two_processes_run_the_same_ablation_configuration(tiny_store, tmp_path):
    out = tmp_path / "abl"
    outs = run_together(ablate_dem_argv(tiny_store, out))
    # computed by one process only; the other waited on the configuration's lock, then loaded it
    assert sum(err.count("computing configuration dem-r1-random") for _, err in outs) == 1
    res = json.loads((out / "results.json").read_text())
    cached = json.loads((out / "runs" / "dem-r1-random" / "result.json").read_text())
    run = res["runs"][0]
    assert run["wall_seconds"] == cached["wall_seconds"] and run["auc"] == cached["auc"]
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["dem-r1-random"]
    assert not find_temps(out)
