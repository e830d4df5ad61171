"""Inference: chips/s and peak memory of ``predict`` (predict_run) on the demo chip store.

Usage: ``python benchmarks/bench_inference.py [--store DIR] [--run RUN_DIR] [--repeats 3] [--distributed]``
(without ``--store`` the demo scene is generated and chipped; without ``--run`` a fused / 3-revisit
model is trained for 1 epoch first: the weights do not change the speed). Each prediction is the
CLI ``landslide-app predict`` in its own process; its peak RSS comes from ``wait4``
(``predict_run_chips_per_s``: the same call timed inside a process, without start-up and imports). Writes the
``"inference"`` section of ``benchmarks/results.json`` with the machine load of each repeat.
``--distributed`` adds ``predict --scheduler local`` (a LocalCluster of one single-threaded
worker per core, started inside the measured process: its start-up is included).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench_training import ensure_store
from common import cli, load_average, report, run_measured

log = logging.getLogger("bench_inference")


def child_predict(run: str, store: str, out: str) -> dict:
    """predict_run alone, timed inside the process (no interpreter start-up or imports)."""
    import resource
    import time

    from landslide_app.experiments.single import predict_run

    t0 = time.perf_counter()
    s = predict_run(run, store, out, progress=False)
    return {"seconds": time.perf_counter() - t0, "n_chips": s["n_chips"],
            "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        sys.stdout.write(json.dumps(child_predict(**json.loads(sys.argv[2]))) + "\n")
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, default=None)
    ap.add_argument("--run", type=Path, default=None, help="trained run directory (default: train one)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--distributed", action="store_true")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    store, cleanup = ensure_store(a.workdir, a.store)
    work = Path(tempfile.mkdtemp(prefix="bench_inference_"))
    try:
        run = a.run
        if run is None:
            run = work / "run"
            r = run_measured(cli("-q", "train", "--chips", str(store), "--inputs", "fused", "--revisits", "3",
                                 "--epochs", "1", "--out", str(run)))
            log.info("trained a fused-r3 model for 1 epoch in %.0f s", r["seconds"])
        meta = json.loads((run / "run.json").read_text())
        variants = ["local", "in_process"] + (["distributed"] if a.distributed else [])
        rows = []
        for k in range(a.repeats):
            row = {"load": load_average()}
            for v in variants:
                out = work / f"pred-{v}-{k}"
                if v == "in_process":
                    r = run_measured([sys.executable, str(Path(__file__).resolve()), "--child",
                                      json.dumps({"run": str(run), "store": str(store), "out": str(out)})])
                    res = json.loads(r["stdout"].strip().splitlines()[-1])
                    row[v] = {"seconds": round(res["seconds"], 2), "chips_per_s": round(res["n_chips"] / res["seconds"], 2),
                              "max_rss_mib": r["max_rss_mib"], "n_chips": res["n_chips"]}
                    log.info("repeat %d predict_run alone: %.1f chips/s", k, row[v]["chips_per_s"])
                    continue
                extra = ["--scheduler", "local"] if v == "distributed" else []
                r = run_measured(cli("-q", "predict", "--model", str(run), "--chips", str(store), "--out", str(out),
                                     *extra))
                n = json.loads((out / "summary.json").read_text())["n_chips"]
                row[v] = {"seconds": r["seconds"], "chips_per_s": round(n / r["seconds"], 2),
                          "max_rss_mib": r["max_rss_mib"], "n_chips": n}
                log.info("repeat %d %s (load %s): %d chips in %.1f s = %.1f chips/s, peak RSS %.0f MiB", k, v,
                         row["load"], n, r["seconds"], n / r["seconds"], r["max_rss_mib"])
            rows.append(row)

        def med(v: str, key: str) -> float:
            return statistics.median(r[v][key] for r in rows)

        figures = {
            "store": str(store), "config": meta.get("name"), "precision": meta.get("precision"),
            "n_chips": rows[0]["local"]["n_chips"], "repeats": a.repeats,
            "chips_per_s": med("local", "chips_per_s"), "seconds": med("local", "seconds"),
            "peak_rss_mib": max(r["local"]["max_rss_mib"] for r in rows),
            "predict_run_chips_per_s": med("in_process", "chips_per_s"),
            "predict_run_seconds": med("in_process", "seconds"),
            "load_average": [r["load"] for r in rows],
            "note": "whole `landslide-app predict` process: start-up, model load, store reads, CNN, features, "
                    "forest, GeoTIFF + GeoPackage export",
        }
        if a.distributed:
            figures["distributed_local_cluster"] = {
                "chips_per_s": med("distributed", "chips_per_s"), "seconds": med("distributed", "seconds"),
                "client_peak_rss_mib": max(r["distributed"]["max_rss_mib"] for r in rows),
                "note": "includes starting a LocalCluster; worker memory is not in the client's RSS",
            }
        report("inference", figures)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)


if __name__ == "__main__":
    main()
