"""Loading the density forest: the ``.npz`` arrays file against the former ``skops`` file, same forest.

A forest with the default parameters (300 trees, ``min_samples_leaf=3``) is fitted on ``--chips``
seeded random features of 19 columns and 3 classes (the size of a demo-island fold: about 150
chips), or read from ``--forest FILE``, and written in both formats. Each load then runs in its own
fresh process (``landslide_app.model.forest`` imported first, outside the timing), as ``predict``,
``respond`` and a dashboard kernel load a run: the wall and CPU seconds of ``DensityForest.load``
(the format's imports included: ``skops.io`` walks every scikit-learn module at import), the
process's peak RSS after it, and the file sizes; formats alternate over ``--repeats``. The loaded
forests' probabilities are compared on random features (they must be identical). Writes the
``"forest_file"`` section of ``benchmarks/results.json``.

Usage: ``python benchmarks/bench_forest_file.py [--repeats 3] [--forest FILE] [--no-write]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import load_average, report, run_measured

log = logging.getLogger("bench_forest_file")
FORMATS = ("skops", "npz")


def child(path: str) -> dict:
    """Load one forest file in this fresh process: seconds and CPU seconds of the load itself."""
    import resource
    import time

    from landslide_app.model.forest import DensityForest

    t0, c0 = time.perf_counter(), time.process_time()
    forest = DensityForest.load(path)
    out = {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}
    x = np.random.default_rng(1).uniform(0, 1, (500, 19)).astype(np.float32)
    out["proba"] = forest.predict_proba(x).round(12).tolist()
    out["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        sys.stdout.write(json.dumps(child(sys.argv[2])) + "\n")
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--chips", type=int, default=150, help="training rows of the synthetic forest")
    ap.add_argument("--forest", type=Path, default=None, help="a saved forest (.npz or .skops) instead")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()

    from landslide_app.model.forest import DensityForest

    with tempfile.TemporaryDirectory(prefix="bench_forest_file_") as tmp:
        if a.forest is not None:
            forest = DensityForest.load(a.forest)
        else:
            rng = np.random.default_rng(0)
            y = rng.integers(0, 3, a.chips)
            x = (rng.normal(size=(a.chips, 19)) + y[:, None] * 0.3).astype(np.float32)
            forest = DensityForest(seed=0).fit(x, y)
        paths = {fmt: forest.save(Path(tmp) / f"forest.{fmt}") for fmt in FORMATS}
        runs: dict[str, list[dict]] = {fmt: [] for fmt in FORMATS}
        load = load_average()
        for k in range(a.repeats):
            for fmt in FORMATS if k % 2 == 0 else FORMATS[::-1]:
                r = run_measured([sys.executable, str(Path(__file__).resolve()), "--child", str(paths[fmt])])
                runs[fmt].append(json.loads(r["stdout"].strip().splitlines()[-1]))
        same = all(r["proba"] == runs["npz"][0]["proba"] for fmt in FORMATS for r in runs[fmt])
        trees = forest._fitted().estimators_
        figures = {
            "trees": len(trees),
            "nodes": int(sum(e.tree_.node_count for e in trees)),
            "file_bytes": {fmt: paths[fmt].stat().st_size for fmt in FORMATS},
            "load_seconds": {fmt: round(statistics.median(r["seconds"] for r in runs[fmt]), 3) for fmt in FORMATS},
            "load_cpu_seconds": {
                fmt: round(statistics.median(r["cpu_seconds"] for r in runs[fmt]), 3) for fmt in FORMATS
            },
            "load_seconds_each": {fmt: [round(r["seconds"], 3) for r in runs[fmt]] for fmt in FORMATS},
            "peak_rss_mib": {fmt: round(statistics.median(r["max_rss_mib"] for r in runs[fmt]), 1) for fmt in FORMATS},
            "identical_probabilities": same,
            "repeats": a.repeats,
            "load_before": load,
            "load_after": load_average(),
        }
        figures["speedup_wall"] = round(figures["load_seconds"]["skops"] / figures["load_seconds"]["npz"], 1)
        if not same:
            raise SystemExit("the two formats gave different probabilities")
        if a.no_write:
            log.info("%s", json.dumps(figures, indent=1))
        else:
            report("forest_file", figures)


if __name__ == "__main__":
    main()
