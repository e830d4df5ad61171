"""Ablation report: ``table.md`` in the layout of paper Table 2, ROC curves and confusion matrices."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from landslide_app.atomic import atomic_path, write_bytes_atomic

log = logging.getLogger(__name__)

ROW_NAMES = {"dem": "DEM only", "sar": "SAR only", "fused": "DEM + SAR fused"}
BASELINE_NAMES = {"change_ratio": "SAR change ratio (Handwerger et al. 2022)", "slope": "DEM slope model"}


def _fmt(v: Any) -> str:
    return "–" if v is None else f"{v:.3f}"


def table_markdown(results: dict[str, Any], split: str = "random") -> str:
    """Paper Table 2 layout (rows: inputs; columns: revisits x train/val/test), macro one-vs-rest AUC."""
    runs = {(r["inputs"], r["revisits"]): r for r in results["runs"] if r["split"] == split}
    revisits = sorted({k for _, k in runs})
    inputs = [i for i in ("dem", "sar", "fused") if any(i == j for j, _ in runs)]
    head = "| post-event data | " + " | ".join(f"{k} revisit{'s' if k > 1 else ''} train | val | test" for k in revisits) + " |"
    sep = "|---|" + "---|---|---|" * len(revisits)
    lines = [f"AUC (multi-class one-vs-rest, macro), {split} split, held-out = test", "", head, sep]
    for i in inputs:
        cells = []
        for k in revisits:
            r = runs.get((i, k))
            cells += [_fmt(r["auc"]["train"]), _fmt(r["auc"]["val"]), f"**{_fmt(r['auc']['test'])}**"] if r else ["–"] * 3
        lines.append(f"| {ROW_NAMES[i]} | " + " | ".join(cells) + " |")
    bl = [b for b in results.get("baselines", []) if b.get("split") == split]
    if bl:
        lines += ["", "| baseline | revisits | train | val | test |", "|---|---|---|---|---|"]
        for b in bl:
            lines.append(f"| {BASELINE_NAMES.get(b['name'], b['name'])} | {b.get('revisits') or '–'} | "
                         f"{_fmt(b['auc']['train'])} | {_fmt(b['auc']['val'])} | **{_fmt(b['auc']['test'])}** |")
    return "\n".join(lines) + "\n"


def write_report(results: dict[str, Any], out: Path) -> None:
    """``table.md`` (every split), ``roc.png`` and ``confusion.png``."""
    splits = sorted({r["split"] for r in results["runs"]}, key=lambda s: s != "random")
    text = "\n".join(table_markdown(results, s) for s in splits)
    text += f"\nEpochs {results['epochs']}, seed {results['seed']}, {results['runs'][0]['n_chips'] if results['runs'] else 0} chips, " \
            f"{results['seconds']:.0f} s in all.\n"
    write_bytes_atomic(out / "table.md", text.encode())
    try:
        plot_roc(results, out / "roc.png")
        plot_confusion(results, out / "confusion.png")
    except Exception as exc:  # noqa: BLE001 - plots are a convenience, the table is the result
        log.warning("could not draw the plots: %s", exc)


def _roc_points(out: Path, run: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Macro-average ROC of a run's held-out predictions."""
    from sklearn.metrics import roc_curve

    from landslide_app.experiments.ablation import RunSpec, read_predictions

    try:
        p = read_predictions(out, RunSpec(run["inputs"], run["revisits"], run["split"]))
    except Exception:  # noqa: BLE001
        return None
    grid = np.linspace(0, 1, 101)
    tprs = []
    for c in range(3):
        y = p["true_class"] == c
        if y.all() or not y.any():
            continue
        fpr, tpr, _ = roc_curve(y, p["proba"][:, c])
        tprs.append(np.interp(grid, fpr, tpr))
    return (grid, np.mean(tprs, axis=0), run["auc"]["test"]) if tprs else None


def plot_roc(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = path.parent
    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    for r in results["runs"]:
        if r["split"] != "random":
            continue
        pts = _roc_points(out, r)
        if pts:
            ax.plot(pts[0], pts[1], label=f"{r['inputs']} r{r['revisits']} ({pts[2]:.3f})",
                    ls={"dem": ":", "sar": "--", "fused": "-"}[r["inputs"]])
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="Held-out ROC (macro one-vs-rest)")
    ax.legend(fontsize=7, loc="lower right")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)


def plot_confusion(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in results["runs"] if r["split"] == "random" and r["revisits"] == max(x["revisits"] for x in results["runs"])]
    if not runs:
        return
    fig, axes = plt.subplots(1, len(runs), figsize=(3.2 * len(runs), 3), dpi=110, squeeze=False)
    for ax, r in zip(axes[0], runs):
        m = np.array(r["confusion"])
        ax.imshow(m, cmap="Blues")
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, str(v), ha="center", va="center", color="black" if v < m.max() / 2 else "white")
        ax.set(title=f"{r['inputs']} r{r['revisits']}", xlabel="predicted", ylabel="true", xticks=range(3), yticks=range(3))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)
