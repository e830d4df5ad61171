"""Safety: no pickle from a file is ever executed, outputs go only where asked, temporary files
are cleaned up, and the output lock serialises writers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from landslide_app.atomic import atomic_path, find_temps, output_lock, remove_stale_temps
from landslide_app.errors import OutputError, UntrustedFileError
from landslide_app.testing.malicious import write_pickle_payload, write_skops_payload


def test_malicious_checkpoint_is_refused_and_never_runs(tmp_path):
    import torch

    from landslide_app.model.trained import TrainedModel

    marker = tmp_path / "payload-ran"
    evil = write_pickle_payload(tmp_path / "model.pt", marker)
    # the payload is live: an unsafe load runs it
    torch.load(evil, weights_only=False)
    assert marker.exists()
    marker.unlink()
    with pytest.raises(UntrustedFileError, match=r"refused.*GLOBAL (io|builtins)\.open.*nothing from it was run"):
        TrainedModel.load(evil, device="cpu")
    assert not marker.exists()
    # a plain pickle (no torch zip container) is refused the same way
    import pickle

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (tmp_path / "plain.pt").write_bytes(pickle.dumps({"x": Payload()}))
    with pytest.raises(UntrustedFileError):
        TrainedModel.load(tmp_path / "plain.pt", device="cpu")
    assert not marker.exists()


def test_malicious_forest_is_refused_and_never_runs(tmp_path):
    import skops.io as sio

    from landslide_app.model.forest import DensityForest
    from landslide_app.testing.malicious import PAYLOAD_MODULE

    marker = tmp_path / "payload-ran"
    evil = write_skops_payload(tmp_path / "forest.skops", marker, tmp_path)
    # the payload is live: trusting its type runs it
    sys.path.insert(0, str(tmp_path))
    try:
        sio.load(evil, trusted=sio.get_untrusted_types(file=evil))
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(PAYLOAD_MODULE, None)
    assert marker.exists()
    marker.unlink()
    sys.path.insert(0, str(tmp_path))  # even with the payload importable, it is refused
    try:
        with pytest.raises(UntrustedFileError, match=rf"refused.*{PAYLOAD_MODULE}\.Payload"):
            DensityForest.load(evil)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(PAYLOAD_MODULE, None)
    assert not marker.exists()


def test_malicious_run_directory_through_the_cli(dem_run, tiny_store, tmp_path):
    """A run directory whose model.pt carries a payload (and whose run.json checksum was fixed to
    match) is refused by a real `predict` process: exit code != 0, one message, no payload run."""
    import shutil

    from landslide_app.atomic import file_digest

    run = tmp_path / "run"
    shutil.copytree(dem_run, run)
    marker = tmp_path / "payload-ran"
    write_pickle_payload(run / "model.pt", marker)
    meta = json.loads((run / "run.json").read_text())
    meta["files"]["model.pt"] = file_digest(run / "model.pt")
    (run / "run.json").write_text(json.dumps(meta))
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "landslide_app.cli",
            "-q",
            "predict",
            "--model",
            str(run),
            "--chips",
            str(tiny_store),
            "--out",
            str(tmp_path / "pred"),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "was refused" in r.stderr and "Traceback" not in r.stderr
    assert not marker.exists() and not (tmp_path / "pred").exists()


def test_outputs_are_written_only_where_asked(dem_run, tiny_store, tmp_path):
    from landslide_app.cli import main

    root = tmp_path / "work"
    root.mkdir()
    before = set(p.relative_to(root) for p in root.rglob("*"))
    assert (
        main(["-q", "predict", "--model", str(dem_run), "--chips", str(tiny_store), "--out", str(root / "pred")]) == 0
    )
    assert (
        main(["-q", "embed", "--model", str(dem_run), "--chips", str(tiny_store), "--out", str(root / "emb" / "e.tif")])
        == 0
    )
    new = set(p.relative_to(root) for p in root.rglob("*")) - before
    assert new == {
        Path("pred"),
        Path("pred/density.tif"),
        Path("pred/chips.gpkg"),
        Path("pred/summary.json"),
        Path("pred/map.png"),
        Path("pred/.lock"),
        Path("emb"),
        Path("emb/e.tif"),
    }
    assert not find_temps(tmp_path) and not find_temps(tiny_store) and not find_temps(dem_run)


def test_stale_temporaries_of_a_killed_writer_are_removed_on_rerun(dem_run, tiny_store, tmp_path):
    from landslide_app.experiments.production import predict_run

    out = tmp_path / "pred"
    predict_run(dem_run, tiny_store, out, progress=False)
    # what a SIGKILL mid-write leaves: atomic_path temporaries (GDAL/OGR/JSON)
    for name in (".density.tif.tmp-abc123.tif", ".summary.json.tmp-xyz.json"):
        (out / name).write_bytes(b"half")
    assert len(find_temps(out)) == 2
    predict_run(dem_run, tiny_store, out, progress=False)
    assert not find_temps(out)


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "a.json") as tmp:
        tmp.write_text("partial")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_overwrite_deletes_only_a_chip_store(scene_dir, tmp_path):
    """--overwrite removes the store's own entries; a folder holding anything else is refused."""
    from landslide_app.chips.build import build_chips
    from landslide_app.chips.store import ChipStore
    from landslide_app.sources.stac import dem_only_source

    src = dem_only_source(scene_dir / "dem" / "elevation.tif")
    out = tmp_path / "store"
    build_chips(src, scene_dir / "inventory.gpkg", out, progress=False, max_chips=2)
    (out / "done" / ".7.json.tmp-dead.json").write_text("{")  # left by a killed writer
    rep = build_chips(src, scene_dir / "inventory.gpkg", out, progress=False, overwrite=True)
    assert rep.n_skipped == 0 and ChipStore.open(out).info()["n_chips"] > 0 and not find_temps(out)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not part of a chip store"):
        build_chips(src, scene_dir / "inventory.gpkg", out, progress=False, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine" and (out / "store.json").exists()


def test_output_lock_serialises_threads_and_processes(tmp_path):
    order: list[str] = []

    def worker(name: str) -> None:
        with output_lock(tmp_path / "d"):
            order.append(f"{name}+")
            time.sleep(0.2)
            order.append(f"{name}-")

    threads = [threading.Thread(target=worker, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert order in (["a+", "a-", "b+", "b-"], ["b+", "b-", "a+", "a-"])
    # another process waits while we hold the lock, and gets it when we let go (or die)
    code = (
        "import sys, time; from landslide_app.atomic import output_lock\n"
        "t = time.perf_counter()\nwith output_lock(sys.argv[1]): print(time.perf_counter() - t)"
    )
    with output_lock(tmp_path / "d"):
        p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "d")], stdout=subprocess.PIPE, text=True)
        time.sleep(1.5)
        assert p.poll() is None  # still waiting
    waited = float(p.communicate(timeout=60)[0])
    assert waited > 0.5
    # a lock holder killed with SIGKILL does not leave the lock held
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from landslide_app.atomic import output_lock\n"
            "with output_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)",
            str(tmp_path / "d"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait()
    t0 = time.perf_counter()
    with output_lock(tmp_path / "d"):
        pass
    assert time.perf_counter() - t0 < 5
    assert remove_stale_temps(tmp_path) == 0 and os.listdir(tmp_path / "d") == [".lock"]
