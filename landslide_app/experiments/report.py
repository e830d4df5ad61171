"""Ablation report: ``table.md`` in the layout of paper Table 2, ROC curves and confusion matrices.

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot state, no backend switch), so
a report can be written from the dashboard's background thread. The ROC curves read each run's
own held-out predictions (its run folder, custom density thresholds included) and use the one ROC
implementation of :mod:`landslide_app.model.roc`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from landslide_app.atomic import atomic_path, write_bytes_atomic
from landslide_app.core.vocabulary import BASELINE_TITLES
from landslide_app.experiments.artifacts import CONFUSION_FILE, ROC_FILE, TABLE_FILE, RunSpec, read_predictions
from landslide_app.experiments.records import RunRecord
from landslide_app.experiments.report_stats import (
    RELIABILITY_FILE,
    map_markdown,
    n_seeds,
    paired_markdown,
    plot_reliability,
    table_markdown_ci,
)
from landslide_app.experiments.seed_stats import repeats_of
from landslide_app.model.roc import macro_roc

log = logging.getLogger(__name__)

ROW_NAMES = {"dem": "DEM only", "sar": "SAR only", "fused": "DEM + SAR fused"}


def fmt_auc(v: float | None) -> str:
    """An AUC with three decimals, "–" when missing."""
    return "–" if v is None else f"{v:.3f}"


_fmt = fmt_auc


def records(results: dict[str, Any], part: str = "runs") -> list[RunRecord]:
    """The typed ``runs`` (or ``baselines``) of a ``results.json``."""
    return [r if isinstance(r, RunRecord) else RunRecord.from_dict(r) for r in results.get(part, [])]


def table_markdown(results: dict[str, Any], split: str = "random") -> str:
    """Paper Table 2 layout (rows: inputs; columns: revisits x train/val/test), macro one-vs-rest AUC
    (several seeds: mean ± 95 % interval, :func:`~landslide_app.experiments.report_stats.table_markdown_ci`)."""
    if n_seeds(results) > 1 and results.get("summary"):
        return table_markdown_ci(results, split)
    runs = {(r.inputs, int(r.revisits or 1)): r for r in records(results) if r.split == split}
    revisits = sorted({k for _, k in runs})
    inputs = [i for i in ("dem", "sar", "fused") if any(i == j for j, _ in runs)]
    cols = " | ".join(f"{k} revisit{'s' if k > 1 else ''} train | val | test" for k in revisits)
    head = f"| post-event data | {cols} |"
    sep = "|---|" + "---|---|---|" * len(revisits)
    lines = [f"AUC (multi-class one-vs-rest, macro), {split} split, held-out = test", "", head, sep]
    for i in inputs:
        cells = []
        for k in revisits:
            r = runs.get((i, k))
            cells += [_fmt(r.auc.train), _fmt(r.auc.val), f"**{_fmt(r.auc.test)}**"] if r else ["–"] * 3
        lines.append(f"| {ROW_NAMES[i]} | " + " | ".join(cells) + " |")
    bl = [b for b in records(results, "baselines") if b.split == split]
    if bl:
        lines += ["", "| baseline | revisits | train | val | test |", "|---|---|---|---|---|"]
        for b in bl:
            lines.append(
                f"| {BASELINE_TITLES.get(b.name or '', b.name)} | {b.revisits or '–'} | "
                f"{_fmt(b.auc.train)} | {_fmt(b.auc.val)} | **{_fmt(b.auc.test)}** |"
            )
    return "\n".join(lines) + "\n"


def collapse_note(results: dict[str, Any]) -> str:
    """One line naming the runs (configuration, split, seed) whose training collapsed (``collapsed`` in
    their result: :mod:`landslide_app.model.collapse`), "" when none did. Their AUCs stay in the tables
    and the means over seeds: a collapse is something the method does, not a missing value."""
    hit = [
        f"{r.inputs} r{r.revisits} {r.split} seed {rep.get('seed', r.seed)}"
        for rep in repeats_of(results)
        for r in records(rep)
        if r.collapsed and not r.shared_with  # a DEM-only result shared by other revisit columns: once
    ]
    if not hit:
        return ""
    return (
        f"**Training collapsed** (constant embeddings for every chip: the forest sees no signal, AUC at chance): "
        f"{', '.join(hit)}. Rerun with another --seed (more epochs do not help).\n"
    )


def write_report(results: dict[str, Any], out: Path) -> None:
    """``table.md`` (every split), ``roc.png`` and ``confusion.png``."""
    runs = records(results)
    splits = sorted({r.split for r in runs}, key=lambda s: s != "random")
    text = "\n".join(table_markdown(results, s) for s in splits)
    for s in splits:
        text += "".join("\n" + part for part in (paired_markdown(results, s), map_markdown(results, s)) if part)
    note = collapse_note(results)
    text += f"\n{note}" if note else ""
    seeds = results.get("seeds") or [results["seed"]]
    seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}–{seeds[-1]}"
    text += (
        f"\nEpochs {results['epochs']}, {seed_text}, {runs[0].n_chips if runs else 0} chips, "
        f"{results['seconds']:.0f} s in all.\n"
    )
    write_bytes_atomic(out / TABLE_FILE, text.encode())
    try:
        plot_roc(results, out / ROC_FILE)
        plot_confusion(results, out / CONFUSION_FILE)
        plot_reliability(results, out / RELIABILITY_FILE)
    except Exception as exc:  # noqa: BLE001 - plots are a convenience, the table is the result
        log.warning("could not draw the plots: %s", exc)


def _figure(w: float, h: float, dpi: int = 110, ncols: int = 1) -> tuple[Any, list[Any]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig, [fig.add_subplot(1, ncols, k + 1) for k in range(ncols)]


def _save(fig: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")


def _roc_points(out: Path, run: RunRecord | dict[str, Any]) -> tuple[np.ndarray, np.ndarray, float | None] | None:
    """Macro-average ROC of a run's own held-out predictions (its thresholds' run folder)."""
    rec = run if isinstance(run, RunRecord) else RunRecord.from_dict(run)
    try:
        p = read_predictions(out, RunSpec.of_result(rec.to_dict()))
    except Exception:  # noqa: BLE001
        return None
    m = macro_roc(p["true_class"], p["proba"])
    return (m[0], m[1], rec.auc.test) if m else None


def plot_roc(results: dict[str, Any], path: Path) -> None:
    """Held-out macro ROC of every random-split run."""
    out = path.parent
    fig, (ax,) = _figure(6, 5)
    for r in records(results):
        if r.split != "random":
            continue
        pts = _roc_points(out, r)
        if pts:
            ax.plot(
                pts[0],
                pts[1],
                label=f"{r.inputs} r{r.revisits} ({fmt_auc(pts[2])})",
                ls={"dem": ":", "sar": "--", "fused": "-"}[r.inputs],
            )
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="Held-out ROC (macro one-vs-rest)")
    ax.legend(fontsize=7, loc="lower right")
    _save(fig, path)


def plot_confusion(results: dict[str, Any], path: Path) -> None:
    """Held-out confusion matrices of the map's classes (the decision rule's; results without them:
    the forest's most probable class) of the random-split runs with the most revisits."""
    every = records(results)
    runs = [r for r in every if r.split == "random" and r.revisits == max(x.revisits or 0 for x in every)]
    if not runs:
        return
    fig, axes = _figure(3.2 * len(runs), 3, ncols=len(runs))
    for ax, r in zip(axes, runs):
        m = np.array(r.map_confusion)
        ax.imshow(m, cmap="Blues")
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, str(v), ha="center", va="center", color="black" if v < m.max() / 2 else "white")
        ax.set(title=f"{r.inputs} r{r.revisits}", xlabel="map class", ylabel="true", xticks=range(3), yticks=range(3))
    _save(fig, path)
