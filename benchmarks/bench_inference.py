"""Inference: chips/s and peak memory of ``predict`` (predict_run) on the demo chip store.

Usage: ``python benchmarks/bench_inference.py [--store DIR] [--run RUN_DIR] [--repeats 3] [--distributed]``
(without ``--store`` the demo scene is generated and chipped; without ``--run`` a fused / 3-revisit
model is trained for 1 epoch first: the weights do not change the speed). Each prediction is the
CLI ``landslide-app predict`` in its own process; its peak RSS comes from ``wait4``
(``predict_run_chips_per_s``: the same call timed inside a process, without start-up and imports). Writes the
``"inference"`` section of ``benchmarks/results.json`` with the machine load of each repeat.
``--distributed`` adds ``predict --scheduler local`` (a LocalCluster of one single-threaded
worker per core, started inside the measured process: its start-up is included).

Runtimes (``"runtimes"`` in the section; issue 16): ``predict_run`` in its own process with
``LANDSLIDE_APP_RUNTIME=eager`` (today's path) and with the default runtime, interleaved in each
repeat; and, inside one process on the store's chips held in memory, the embedding + percentile
features of every chip with: ``today`` (the embed_batch code before the runtimes: NumPy preparation,
``no_grad``, channels_last, the model's precision), ``eager`` (the eager runtime), ``openvino``
(the runtime: one single-threaded stream per thread), ``openvino_1request`` (one request with all
threads, the runtime before), ``openvino_int8`` (NNCF post-training int8 of the same graph, when
``nncf`` is importable; measured, not adopted),
``onnxruntime`` (the network exported with ``torch.onnx``, NumPy preparation), ``eager_bf16``
(autocast bf16, emulated where the CPU has no bf16 units), ``torch_compile`` (with ``--compile``:
its first call compiles for a minute or more). Variants alternate their order every repeat; the
CPU model, its ISA flags and the load are recorded with the figures. Children run with
``OMP_WAIT_POLICY=PASSIVE`` as the CLI does. ``openvino_profile``: the OpenVINO graph's per-layer
counters per operation type and its convolutions' GFLOP/s beside a one-thread fp32 GEMM.
``--int8-agreement RUNS_DIR``: int8 against fp32 on the forest's classes and AUC (inference_profile.py).
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
from common import cli, cpu_facts, load_average, report, run_measured
from inference_profile import child_runtimes, int8_agreement

log = logging.getLogger("bench_inference")


def child_predict(run: str, store: str, out: str) -> dict:
    """predict_run alone, timed inside the process (no interpreter start-up or imports)."""
    import resource
    import time

    from landslide_app.experiments.production import predict_run

    t0 = time.perf_counter()
    s = predict_run(run, store, out, progress=False)
    return {
        "seconds": time.perf_counter() - t0,
        "n_chips": s["n_chips"],
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure_runtimes(
    run: Path, store: Path, repeats: int, compile_: bool, predict: bool = True, max_chips: int = 192
) -> dict:
    """predict_run per runtime (own processes, interleaved; ``predict=False`` skips it) and the
    in-process runtime comparison with torch's threads (2 here) and with one thread."""
    rows = []
    work = Path(tempfile.mkdtemp(prefix="bench_runtimes_"))
    try:
        for k in range(repeats if predict else 0):
            row = {"load": load_average()}
            for rt in ("eager", "auto") if k % 2 == 0 else ("auto", "eager"):
                r = run_measured(
                    [
                        sys.executable,
                        str(Path(__file__).resolve()),
                        "--child",
                        json.dumps({"run": str(run), "store": str(store), "out": str(work / f"{rt}-{k}")}),
                    ],
                    env={"LANDSLIDE_APP_RUNTIME": rt},
                )
                res = json.loads(r["stdout"].strip().splitlines()[-1])
                row[rt] = res["n_chips"] / res["seconds"]
            log.info(
                "repeat %d (load %s): predict_run eager %.1f chips/s, default runtime %.1f chips/s (x%.2f)",
                k,
                row["load"],
                row["eager"],
                row["auto"],
                row["auto"] / row["eager"],
            )
            rows.append(row)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    inproc = {}
    for label, threads in (("threads_default", None), ("threads_1", 1)):
        r = run_measured(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--runtimes-child",
                json.dumps(
                    {
                        "run": str(run),
                        "store": str(store),
                        "repeats": repeats,
                        "compile_": compile_ and threads is None,
                        "threads": threads,
                        "max_chips": max_chips,
                    }
                ),
            ],
            env={"OMP_WAIT_POLICY": "PASSIVE"},  # as the landslide-app CLI sets it
        )
        res = inproc[label] = json.loads(r["stdout"].strip().splitlines()[-1])
        for k, v in res["features_chips_per_s"].items():
            log.info(
                "%s %-14s embedding+features %6.1f chips/s (x%.2f of today; CPU time x%.2f), embedding alone "
                "x%.2f, max |diff| %.1e",
                label,
                k,
                v,
                res["speedup_vs_today"][k],
                res["cpu_time_speedup_vs_today"][k],
                res["embedding_speedup_vs_today"][k],
                res["max_abs_diff_vs_eager"][k],
            )
    out = {**cpu_facts(), "in_process": inproc, "target_speedup": 3.0}
    if rows:
        out.update(
            {
                "predict_run_chips_per_s": {
                    rt: round(statistics.median(r[rt] for r in rows), 2) for rt in ("eager", "auto")
                },
                "predict_run_speedup": round(statistics.median(r["auto"] / r["eager"] for r in rows), 2),
                "predict_run_speedups": [round(r["auto"] / r["eager"], 2) for r in rows],
                "predict_run_load_average": [r["load"] for r in rows],
            }
        )
    return out


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        sys.stdout.write(json.dumps(child_predict(**json.loads(sys.argv[2]))) + "\n")
        return
    if len(sys.argv) > 2 and sys.argv[1] == "--runtimes-child":
        sys.stdout.write(json.dumps(child_runtimes(**json.loads(sys.argv[2]))) + "\n")
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, default=None)
    ap.add_argument("--run", type=Path, default=None, help="trained run directory (default: train one)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--distributed", action="store_true")
    ap.add_argument(
        "--runtimes-only",
        action="store_true",
        help="only the runtime comparison (updates the section's 'runtimes' entry)",
    )
    ap.add_argument("--compile", action="store_true", help="add torch.compile to the runtime comparison")
    ap.add_argument("--max-chips", type=int, default=192, help="chips of the in-process runtime comparison")
    ap.add_argument(
        "--no-predict-runtimes",
        action="store_true",
        help="runtime comparison in one process only (not predict_run per runtime)",
    )
    ap.add_argument(
        "--int8-agreement",
        type=Path,
        default=None,
        help="ablation run directory (model_fold*.pt + forest_fold*.npz or .skops): int8 vs fp32 on --store, then stop",
    )
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if a.int8_agreement is not None:
        res = int8_agreement(str(a.int8_agreement), str(a.store))
        log.info("int8 agreement: %s", json.dumps(res))
        report("inference", {"int8_agreement": res}, keep=True)
        return
    store, cleanup = ensure_store(a.workdir, a.store)
    work = Path(tempfile.mkdtemp(prefix="bench_inference_"))
    try:
        run = a.run
        if run is None:
            run = work / "run"
            r = run_measured(
                cli(
                    "-q",
                    "train",
                    "--chips",
                    str(store),
                    "--inputs",
                    "fused",
                    "--revisits",
                    "3",
                    "--epochs",
                    "1",
                    "--out",
                    str(run),
                )
            )
            log.info("trained a fused-r3 model for 1 epoch in %.0f s", r["seconds"])
        meta = json.loads((run / "run.json").read_text())
        runtimes = measure_runtimes(
            run, store, a.repeats, a.compile, predict=not a.no_predict_runtimes, max_chips=a.max_chips
        )
        if a.runtimes_only:
            report("inference", {"runtimes": runtimes}, keep=True)
            return
        variants = ["local", "in_process"] + (["distributed"] if a.distributed else [])
        rows = []
        for k in range(a.repeats):
            row = {"load": load_average()}
            for v in variants:
                out = work / f"pred-{v}-{k}"
                if v == "in_process":
                    r = run_measured(
                        [
                            sys.executable,
                            str(Path(__file__).resolve()),
                            "--child",
                            json.dumps({"run": str(run), "store": str(store), "out": str(out)}),
                        ]
                    )
                    res = json.loads(r["stdout"].strip().splitlines()[-1])
                    row[v] = {
                        "seconds": round(res["seconds"], 2),
                        "chips_per_s": round(res["n_chips"] / res["seconds"], 2),
                        "max_rss_mib": r["max_rss_mib"],
                        "n_chips": res["n_chips"],
                    }
                    log.info("repeat %d predict_run alone: %.1f chips/s", k, row[v]["chips_per_s"])
                    continue
                extra = ["--scheduler", "local"] if v == "distributed" else []
                r = run_measured(
                    cli("-q", "predict", "--model", str(run), "--chips", str(store), "--out", str(out), *extra)
                )
                n = json.loads((out / "summary.json").read_text())["n_chips"]
                row[v] = {
                    "seconds": r["seconds"],
                    "chips_per_s": round(n / r["seconds"], 2),
                    "max_rss_mib": r["max_rss_mib"],
                    "n_chips": n,
                }
                log.info(
                    "repeat %d %s (load %s): %d chips in %.1f s = %.1f chips/s, peak RSS %.0f MiB",
                    k,
                    v,
                    row["load"],
                    n,
                    r["seconds"],
                    n / r["seconds"],
                    r["max_rss_mib"],
                )
            rows.append(row)

        def med(v: str, key: str) -> float:
            return statistics.median(r[v][key] for r in rows)

        figures = {
            "store": str(store),
            "config": meta.get("name"),
            "precision": meta.get("precision"),
            "n_chips": rows[0]["local"]["n_chips"],
            "repeats": a.repeats,
            "chips_per_s": med("local", "chips_per_s"),
            "seconds": med("local", "seconds"),
            "peak_rss_mib": max(r["local"]["max_rss_mib"] for r in rows),
            "predict_run_chips_per_s": med("in_process", "chips_per_s"),
            "predict_run_seconds": med("in_process", "seconds"),
            "load_average": [r["load"] for r in rows],
            "runtimes": runtimes,
            "note": "whole `landslide-app predict` process: start-up, model load, store reads, CNN, features, "
            "forest, GeoTIFF + GeoPackage export",
        }
        if a.distributed:
            figures["distributed_local_cluster"] = {
                "chips_per_s": med("distributed", "chips_per_s"),
                "seconds": med("distributed", "seconds"),
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
