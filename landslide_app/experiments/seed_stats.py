"""Repeats over seeds summarised: means with 95 % intervals, and the paper's claims as paired differences.

An ablation run with ``--seeds N`` repeats every configuration N times, each repeat with its own
split and initialisation (seed ``s``: the split is drawn with ``s``, fold ``k``'s network and forest
with ``s + k``). This module turns the repeats into the two parts ``results.json`` adds:

* ``summary``: per configuration (and baseline) and split, the mean over seeds of the held-out
  (``test``), ``val`` and ``train`` AUC and of the map metrics, each with a **two-sided 95 % Student
  t interval over seeds**, ``mean ± t(0.975, n-1) · s / sqrt(n)`` (``s`` the sample standard
  deviation, ``n`` the seeds). The seeds are the replicates; the interval describes the spread of
  the whole procedure (split + training) on this scene, not a population of scenes.
* ``paired``: the paper's claims as **paired differences over the same seeds** (hence the same
  splits: both configurations of a pair share the split drawn with seed ``s``): fused − DEM and
  fused − SAR per revisit count, r3 − r1 per input, CNN − slope model, CNN − change ratio, CNN − SAR
  chip statistics, and the map's accuracy − the majority-class baseline's (CNN configurations first,
  then the baselines). The interval is the paired t interval (a t
  interval on the per-seed differences); ``n`` is the number of seeds both sides have.

With one seed the mean is the value and every interval is ``None`` (a spread needs two repeats).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats as _st

#: The interval the summary and the paired claims state (written into results.json).
INTERVAL_METHOD = (
    "two-sided 95 % Student t interval over seeds: mean ± t(0.975, n-1)·s/√n; paired claims: "
    "the same interval on the per-seed differences of two results on the same split (paired t)"
)
LEVEL = 0.95
SETS = ("train", "val", "test")
#: Map metrics summarised over seeds (scalars of ``result["map"]``).
MAP_KEYS = ("accuracy", "balanced_accuracy", "macro_f1", "majority_accuracy", "brier", "missed_landslide_chips")


def t_interval(values: Iterable[float | None], level: float = LEVEL) -> dict[str, Any]:
    """``{"mean", "ci95": [lo, hi] | None, "sd", "n"}`` of the finite ``values`` (None/NaN left out).

    ``ci95`` needs n >= 2; with n == 0 the mean is None.
    """
    v = np.array([float(x) for x in values if x is not None and math.isfinite(float(x))], dtype=np.float64)
    n = int(v.size)
    if n == 0:
        return {"mean": None, "ci95": None, "sd": None, "n": 0}
    mean = float(v.mean())
    if n < 2:
        return {"mean": mean, "ci95": None, "sd": None, "n": n}
    sd = float(v.std(ddof=1))
    half = float(_st.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return {"mean": mean, "ci95": [mean - half, mean + half], "sd": sd, "n": n}


def result_key(r: Mapping[str, Any]) -> str:
    """The configuration's key without the seed (``fused-r3-random``, ``slope-r3-random`` for baselines)."""
    if r.get("name"):
        return f"{r['name']}-r{int(r.get('revisits') or 3)}-{r.get('split', 'random')}"
    return str(r.get("key") or f"{r['inputs']}-r{int(r['revisits'])}-{r.get('split', 'random')}")


def metric_value(r: Mapping[str, Any], metric: str) -> float | None:
    """``auc_<set>`` (e.g. ``auc_test``) or ``map_<key>`` (e.g. ``map_accuracy``) of one result."""
    if metric.startswith("auc_"):
        return (r.get("auc") or {}).get(metric[4:])
    if metric.startswith("map_"):
        v = (r.get("map") or {}).get(metric[4:])
        return None if v is None else float(v)
    raise KeyError(metric)


def repeats_of(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``repeats`` of an ablation's ``results.json``; a single-seed one (written without them) as
    one repeat of its ``seed`` and ``runs``."""
    return list(results.get("repeats") or [{"seed": results.get("seed"), "runs": results.get("runs", [])}])


def results_by_key(repeats: Sequence[Mapping[str, Any]], part: str) -> dict[str, dict[int, Mapping[str, Any]]]:
    """``{key: {seed: result}}`` over the repeats' ``runs`` or ``baselines``."""
    out: dict[str, dict[int, Mapping[str, Any]]] = {}
    for rep in repeats:
        for r in rep.get(part, []):
            out.setdefault(result_key(r), {})[int(rep["seed"])] = r
    return out


def summarise(repeats: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One summary row per configuration/baseline and split (see the module docstring).

    ``repeats``: ``[{"seed": s, "runs": [...], "baselines": [...]}, ...]``.
    """
    rows = []
    for part in ("runs", "baselines"):
        for key, by_seed in results_by_key(repeats, part).items():
            seeds = sorted(by_seed)
            first = by_seed[seeds[0]]
            row: dict[str, Any] = {
                "key": key,
                "inputs": first.get("inputs"),
                "revisits": first.get("revisits"),
                "split": first.get("split", "random"),
                "seeds": seeds,
                "n_seeds": len(seeds),
            }
            if part == "baselines":
                row["name"] = first.get("name")
            for s in SETS:
                t = t_interval(metric_value(by_seed[x], f"auc_{s}") for x in seeds)
                row[f"{s}_mean"], row[f"{s}_ci95"] = t["mean"], t["ci95"]
            if any("map" in by_seed[x] for x in seeds):
                row["map"] = {}
                for m in MAP_KEYS:
                    t = t_interval(metric_value(by_seed[x], f"map_{m}") for x in seeds)
                    row["map"][m] = {"mean": t["mean"], "ci95": t["ci95"], "n_seeds": t["n"]}
            rows.append(row)
    return rows


def paired_difference(
    a: Mapping[int, Mapping[str, Any]], b: Mapping[int, Mapping[str, Any]], metric: str, metric_b: str | None = None
) -> dict[str, Any]:
    """``a − b`` of ``metric`` (``metric_b`` on the b side, default the same) over the seeds both have."""
    seeds = sorted(set(a) & set(b))
    diffs, used = [], []
    for s in seeds:
        va, vb = metric_value(a[s], metric), metric_value(b[s], metric_b or metric)
        if va is not None and vb is not None:
            diffs.append(float(va) - float(vb))
            used.append(s)
    t = t_interval(diffs)
    return {"mean": t["mean"], "ci95": t["ci95"], "n": t["n"], "seeds": used, "differences": diffs}


def _claims(keys: set[str], split: str) -> list[tuple[str, str, str]]:
    """``(claim, a, b)`` of the paper's comparisons whose both sides are present."""
    out: list[tuple[str, str, str]] = []
    rev = sorted({int(k.split("-r")[1].split("-")[0]) for k in keys if k.startswith(("sar-", "fused-"))})

    def add(claim: str, a: str, b: str) -> None:
        if a in keys and b in keys:
            out.append((claim, a, b))

    for k in rev:
        add(f"fused − DEM, {k} revisit{'s' * (k > 1)}", f"fused-r{k}-{split}", f"dem-r{k}-{split}")
        add(f"fused − SAR, {k} revisit{'s' * (k > 1)}", f"fused-r{k}-{split}", f"sar-r{k}-{split}")
    if rev:
        lo, hi = rev[0], rev[-1]
        for i in ("sar", "fused"):
            if hi != lo:
                add(f"{i} r{hi} − r{lo}", f"{i}-r{hi}-{split}", f"{i}-r{lo}-{split}")
        add(f"CNN fused r{hi} − slope model", f"fused-r{hi}-{split}", f"slope-r3-{split}")
        for k in rev:
            add(f"CNN fused r{k} − change ratio r{k}", f"fused-r{k}-{split}", f"change_ratio-r{k}-{split}")
            add(f"CNN SAR r{k} − change ratio r{k}", f"sar-r{k}-{split}", f"change_ratio-r{k}-{split}")
        for k in rev:
            add(f"CNN fused r{k} − SAR chip statistics r{k}", f"fused-r{k}-{split}", f"sar_stats-r{k}-{split}")
            add(f"CNN SAR r{k} − SAR chip statistics r{k}", f"sar-r{k}-{split}", f"sar_stats-r{k}-{split}")
    add("CNN DEM − slope model", f"dem-r1-{split}", f"slope-r3-{split}")
    return out


def paired_claims(repeats: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The paper's claims as paired held-out AUC differences, and each configuration's map accuracy
    minus its majority-class baseline, over the same seeds (see the module docstring)."""
    runs = results_by_key(repeats, "runs")
    every = {**runs, **results_by_key(repeats, "baselines")}
    splits = sorted(
        {str(r.get("split", "random")) for d in every.values() for r in d.values()}, key=lambda s: s != "random"
    )
    out = []
    for split in splits:
        keys = {k for k in every if k.endswith(f"-{split}")}
        for claim, a, b in _claims(keys, split):
            out.append(
                {
                    "claim": claim,
                    "split": split,
                    "a": a,
                    "b": b,
                    "metric": "auc_test",
                    **paired_difference(every[a], every[b], "auc_test"),
                }
            )
        for key in sorted(k for k in keys if k in runs) + sorted(k for k in keys if k not in runs):
            if any("map" in r for r in every[key].values()):
                out.append(
                    {
                        "claim": f"{key}: map accuracy − majority-class baseline",
                        "split": split,
                        "a": key,
                        "b": "majority class",
                        "metric": "map_accuracy",
                        **paired_difference(every[key], every[key], "map_accuracy", "map_majority_accuracy"),
                    }
                )
    return out


def fmt_mean_ci(mean: float | None, ci: Sequence[float] | None, digits: int = 3) -> str:
    """``0.812 ± 0.021`` (half-width of the interval), the mean alone without an interval, "–" when missing."""
    if mean is None:
        return "–"
    if not ci:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {(ci[1] - ci[0]) / 2:.{digits}f}"
