"""The report's parts over seeds and the map's classes: Table 2 as mean ± 95 % interval, the paired claims,
the map metrics beside AUC with the majority-class baseline, and the reliability figure.

Read by :mod:`landslide_app.experiments.report` (``table.md``, ``reliability.png``); the numbers come
from ``results.json``'s ``summary`` and ``paired`` (:mod:`landslide_app.experiments.seed_stats`) and
each run's ``map`` (:mod:`landslide_app.model.map_classes`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from landslide_app.atomic import atomic_path
from landslide_app.core.vocabulary import BASELINE_TITLES
from landslide_app.experiments.seed_stats import fmt_mean_ci, result_key

ROW_NAMES = {"dem": "DEM only", "sar": "SAR only", "fused": "DEM + SAR fused"}
RELIABILITY_FILE = "reliability.png"


def n_seeds(results: dict[str, Any]) -> int:
    """Seeds of an ablation's results (1 for a results.json without repeats)."""
    return len(results.get("seeds") or [results.get("seed", 0)])


def _rows(results: dict[str, Any], split: str) -> dict[str, dict[str, Any]]:
    return {r["key"]: r for r in results.get("summary", []) if r.get("split") == split}


def summary_cells(results: dict[str, Any], split: str = "random") -> dict[tuple[str, int], dict[str, Any]]:
    """``(inputs, revisits) -> summary row`` of the CNN configurations at the store's thresholds, when the
    results hold two seeds or more (else empty: a single seed has no interval)."""
    if n_seeds(results) < 2:
        return {}
    return {
        (r["inputs"], int(r["revisits"])): r
        for r in results.get("summary", [])
        if not r.get("name")
        and r.get("key") == f"{r['inputs']}-r{int(r['revisits'])}-{split}"
        and r.get("split") == split
    }


def summary_baselines(results: dict[str, Any], split: str = "random") -> dict[tuple[str, int | None], dict[str, Any]]:
    """``(baseline name, revisits) -> summary row`` of the baselines (revisits ``None`` for the slope model),
    when the results hold two seeds or more (else empty)."""
    if n_seeds(results) < 2:
        return {}
    return {
        (r["name"], None if r["name"] == "slope" else r.get("revisits")): r
        for r in results.get("summary", [])
        if r.get("name") and r.get("split") == split
    }


def table_markdown_ci(results: dict[str, Any], split: str = "random") -> str:
    """Paper Table 2 as mean ± half-width of the 95 % t interval over seeds (from ``summary``)."""
    rows = _rows(results, split)
    runs = {(r["inputs"], int(r["revisits"])): r for r in rows.values() if not r.get("name")}
    revisits = sorted({k for _, k in runs})
    inputs = [i for i in ("dem", "sar", "fused") if any(i == j for j, _ in runs)]
    n = n_seeds(results)
    cols = " | ".join(f"{k} revisit{'s' if k > 1 else ''} train | val | test" for k in revisits)
    lines = [
        f"AUC (multi-class one-vs-rest, macro), {split} split, held-out = test: mean ± 95 % t interval over {n} seeds",
        "",
        f"| post-event data | {cols} |",
        "|---|" + "---|---|---|" * len(revisits),
    ]
    for i in inputs:
        cells = []
        for k in revisits:
            r = runs.get((i, k))
            cells += (
                [
                    fmt_mean_ci(r["train_mean"], r["train_ci95"]),
                    fmt_mean_ci(r["val_mean"], r["val_ci95"]),
                    f"**{fmt_mean_ci(r['test_mean'], r['test_ci95'])}**",
                ]
                if r
                else ["–"] * 3
            )
        lines.append(f"| {ROW_NAMES[i]} | " + " | ".join(cells) + " |")
    bl = [r for r in rows.values() if r.get("name")]
    if bl:
        lines += ["", "| baseline | revisits | train | val | test |", "|---|---|---|---|---|"]
        for b in bl:
            lines.append(
                f"| {BASELINE_TITLES.get(b['name'], b['name'])} | {b['revisits'] or '–'} | "
                f"{fmt_mean_ci(b['train_mean'], b['train_ci95'])} | "
                f"{fmt_mean_ci(b['val_mean'], b['val_ci95'])} | "
                f"**{fmt_mean_ci(b['test_mean'], b['test_ci95'])}** |"
            )
    return "\n".join(lines) + "\n"


def paired_markdown(results: dict[str, Any], split: str = "random") -> str:
    """The paired claims of ``split`` (mean difference, 95 % interval, n); empty without claims."""
    claims = [c for c in results.get("paired", []) if c.get("split") == split]
    if not claims:
        return ""
    lines = [
        f"Paired differences over the same seeds ({split} split; 95 % paired t interval; "
        "an interval that excludes 0 supports the claim's sign)",
        "",
        "| claim | metric | mean difference | 95 % interval | n |",
        "|---|---|---|---|---|",
    ]
    for c in claims:
        ci = "–" if not c.get("ci95") else f"[{c['ci95'][0]:+.3f}, {c['ci95'][1]:+.3f}]"
        mean = "–" if c.get("mean") is None else f"{c['mean']:+.3f}"
        lines.append(f"| {c['claim']} | {c['metric']} | {mean} | {ci} | {c['n']} |")
    return "\n".join(lines) + "\n"


def map_markdown(results: dict[str, Any], split: str = "random") -> str:
    """The map's classes beside AUC per configuration, then per baseline (first seed's counts, means over
    seeds); a baseline's row is its key (``slope-r3-random``, ``sar_stats-r2-random``)."""
    runs = [
        r for part in ("runs", "baselines") for r in results.get(part, []) if r.get("split") == split and r.get("map")
    ]
    if not runs:
        return ""
    rows = _rows(results, split)
    rule = results.get("decision", "?")
    lines = [
        f"The map's classes ({split} split, decision rule '{rule}' fitted on validation chips; "
        f"mean ± 95 % interval over {n_seeds(results)} seed(s); counts of seed {results.get('seed', 0)})",
        "",
        "| configuration | test AUC | accuracy | majority baseline | balanced acc. | macro-F1 | Brier | "
        "shown vs true chips per class | missed landslide chips |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        key = result_key(r)
        s = rows.get(key, {})
        m = s.get("map", {})

        def cell(name: str, s: dict[str, Any] = s, m: dict[str, Any] = m, r: dict[str, Any] = r) -> str:
            if name in m:
                return fmt_mean_ci(m[name]["mean"], m[name]["ci95"])
            return fmt_mean_ci(r["map"].get(name), None)

        counts = f"{'/'.join(map(str, r['map']['pred_counts']))} vs {'/'.join(map(str, r['map']['true_counts']))}"
        lines.append(
            f"| {key} | {fmt_mean_ci(s.get('test_mean', r['auc']['test']), s.get('test_ci95'))} | "
            f"{cell('accuracy')} | {cell('majority_accuracy')} | {cell('balanced_accuracy')} | "
            f"{cell('macro_f1')} | {cell('brier')} | {counts} | {r['map']['missed_landslide_chips']} |"
        )
    return "\n".join(lines) + "\n"


def draw_reliability(ax: Any, reliability: dict[str, list[dict[str, Any]]], title: str) -> None:
    """One-vs-rest reliability curves on ``ax`` (a run's ``map`` ``reliability``: per class, bins with
    ``mean_predicted`` and ``observed``) with the diagonal of perfect calibration."""
    for k, pts in sorted(reliability.items()):
        if pts:
            ax.plot([p["mean_predicted"] for p in pts], [p["observed"] for p in pts], "o-", ms=3, label=f"class {k}")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="mean calibrated probability", ylabel="observed share", title=title)
    ax.legend(fontsize=7, loc="upper left")


def plot_reliability(results: dict[str, Any], path: Path) -> bool:
    """One-vs-rest reliability curves of the calibrated map probabilities (random-split runs with the
    most revisits, first seed); False when no run carries them."""
    runs = [
        r for r in results.get("runs", []) if r.get("split") == "random" and (r.get("map") or {}).get("reliability")
    ]
    if not runs:
        return False
    top = max(int(r.get("revisits") or 1) for r in runs)
    runs = [r for r in runs if int(r.get("revisits") or 1) == top]
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.2 * len(runs), 3.2), dpi=110)
    FigureCanvasAgg(fig)
    for n, r in enumerate(runs):
        brier = r["map"].get("brier")
        title = f"{r['inputs']} r{r['revisits']}" + ("" if brier is None else f" (Brier {brier:.3f})")
        draw_reliability(fig.add_subplot(1, len(runs), n + 1), r["map"]["reliability"], title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    return True
