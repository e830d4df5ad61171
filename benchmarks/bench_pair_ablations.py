"""Two ablation runs of the same store, seeds and splits, paired configuration by configuration.

Usage: ``python benchmarks/bench_pair_ablations.py --a DIR_A --b DIR_B [--label-a phase] [--label-b direct]
[--section NAME] [--no-write]``.

``DIR_A`` and ``DIR_B`` are ``landslide-app ablate --seeds N`` output folders (their
``results.json``) that differ in one setting, e.g. ``--train-conv phase`` against ``direct``. For every
configuration (network runs and baselines) present in both with the same seeds: held-out AUC and map
accuracy of A − B, mean and 95 % paired t interval over the seeds; then pooled over every
(configuration, seed) pair, and the largest single difference. ``identical``: the configurations
whose every seed has exactly the same held-out AUC on both sides (a reproduction).

Refuses runs of different chip stores (``store_fingerprint``) or decision rules. Writes the
``NAME`` section of ``benchmarks/results.json`` (default ``paired_ablations``).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from common import report

from landslide_app.experiments.seed_stats import metric_value, repeats_of, results_by_key, t_interval

log = logging.getLogger("bench_pair_ablations")
METRICS = ("auc_test", "map_accuracy")


def _by_key(results: dict[str, Any]) -> dict[str, dict[int, Any]]:
    reps = repeats_of(results)
    return {**results_by_key(reps, "runs"), **results_by_key(reps, "baselines")}


def _settings(results: dict[str, Any]) -> tuple[Any, Any]:
    return results.get("store_fingerprint"), results.get("decision")


def pair(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Per configuration and pooled: A − B of :data:`METRICS` over the seeds both have."""
    if _settings(a) != _settings(b):
        raise SystemExit(f"the two runs differ in store or decision rule: {_settings(a)} vs {_settings(b)}")
    ka, kb = _by_key(a), _by_key(b)
    per: dict[str, Any] = {}
    pooled: dict[str, list[float]] = {m: [] for m in METRICS}
    identical, worst = [], 0.0
    for key in sorted(set(ka) & set(kb)):
        seeds = sorted(set(ka[key]) & set(kb[key]))
        row: dict[str, Any] = {"seeds": seeds}
        for m in METRICS:
            diffs = []
            for s in seeds:
                va, vb = metric_value(ka[key][s], m), metric_value(kb[key][s], m)
                if va is not None and vb is not None:
                    diffs.append(float(va) - float(vb))
            t = t_interval(diffs)
            row[m] = {"mean": t["mean"], "ci95": t["ci95"], "n": t["n"], "differences": diffs}
            pooled[m] += diffs
            if m == "auc_test" and diffs:
                worst = max(worst, max(abs(d) for d in diffs))
                if all(d == 0.0 for d in diffs):
                    identical.append(key)
        per[key] = row
    return {
        "per_configuration": per,
        "pooled": {m: t_interval(v) for m, v in pooled.items()},
        "max_abs_auc_difference": round(worst, 4),
        "identical": identical,
    }


def markdown(p: dict[str, Any], label: str) -> str:
    lines = [
        f"| configuration | held-out AUC, {label} [95 %] | map accuracy, {label} [95 %] | seeds |",
        "|---|---|---|---|",
    ]

    def cell(x: dict[str, Any]) -> str:
        lo, hi = x["ci95"] or (float("nan"), float("nan"))
        return f"{x['mean']:+.3f} [{lo:+.3f}, {hi:+.3f}]" if x["mean"] is not None else "–"

    for key, row in p["per_configuration"].items():
        lines.append(f"| {key} | {cell(row['auc_test'])} | {cell(row['map_accuracy'])} | {len(row['seeds'])} |")
    pooled = p["pooled"]
    lines.append(f"| pooled | {cell(pooled['auc_test'])} | {cell(pooled['map_accuracy'])} | |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", type=Path, required=True, help="ablation output folder A")
    ap.add_argument("--b", type=Path, required=True, help="ablation output folder B")
    ap.add_argument("--label-a", default="A")
    ap.add_argument("--label-b", default="B")
    ap.add_argument("--section", default="paired_ablations")
    ap.add_argument("--no-write", action="store_true", help="print only; leave results.json alone")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ra, rb = (json.loads((d / "results.json").read_text()) for d in (a.a, a.b))
    p = pair(ra, rb)
    table = markdown(p, f"{a.label_a} − {a.label_b}")
    print(table)
    log.info("identical held-out AUCs at every seed: %s", p["identical"] or "none")
    if not a.no_write:
        report(a.section, {"a": f"{a.label_a}: {a.a}", "b": f"{a.label_b}: {a.b}", **p, "table_md": table})


if __name__ == "__main__":
    main()
