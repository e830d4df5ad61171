"""HTML of the results panel: paper Table 2 (inputs x revisits x train/val/test) and the baselines."""

from __future__ import annotations

import html

from landslide_app.core.vocabulary import INPUTS, REVISITS
from landslide_app.dashboard.style import BASELINE_TITLES, ROW_NAMES
from landslide_app.dashboard.style import fmt_auc as _fmt
from landslide_app.experiments.records import RunRecord
from landslide_app.experiments.seed_stats import fmt_mean_ci

_CSS = (
    "<style>.ls-t2{border-collapse:collapse;font-size:12px}"
    ".ls-t2 td,.ls-t2 th{border:1px solid #ccc;padding:2px 6px;text-align:center}"
    ".ls-t2 .sel{background:#fff3c4;outline:2px solid #e6a700}.ls-t2 .test{font-weight:bold}"
    ".ls-t2 th.row{text-align:left}</style>"
)


def _caption(inner_html: str) -> str:
    """A table caption above the table, left-aligned (``inner_html`` already escaped)."""
    return f"<caption style='caption-side:top;text-align:left'>{inner_html}</caption>"


def _auc_cells(r: RunRecord | None, m: dict | None, selected: bool = False) -> str:
    """Train / val / test cells: mean ± interval half-width over seeds (``m``, a summary row) when given,
    else the single run's AUCs; ``selected`` highlights them (Table 2's selected configuration)."""
    cls = " class='sel'" if selected else ""
    test_cls = " class='sel test'" if selected else " class='test'"
    if m is not None:
        values = [fmt_mean_ci(m[f"{part}_mean"], m[f"{part}_ci95"]) for part in ("train", "val", "test")]
    elif r is not None:
        values = [_fmt(r.auc.train), _fmt(r.auc.val), _fmt(r.auc.test)]
    else:
        values = ["–", "–", "–"]
    return f"<td{cls}>{values[0]}</td><td{cls}>{values[1]}</td><td{test_cls}>{values[2]}</td>"


def table2_html(
    cells: dict[tuple[str, int], RunRecord],
    selected: tuple[str, int] | None = None,
    running: tuple[str, int] | None = None,
    caption: str = "",
    summary: dict[tuple[str, int], dict] | None = None,
) -> str:
    """Paper Table 2: rows DEM only / SAR only / fused, columns 1-3 revisits x train/val/test AUC.

    ``cells`` maps ``(inputs, revisits)`` to a result; missing cells show "–" (or "running…").
    ``summary`` (``report_stats.summary_cells`` of a multi-seed ``ablate --seeds N``) maps cells to
    their means over seeds: those cells show mean ± half-width of the 95 % t interval.
    """
    summary = summary or {}
    head1 = "".join(f"<th colspan=3>{k} revisit{'s' if k > 1 else ''}</th>" for k in REVISITS)
    head2 = "<th>train</th><th>val</th><th>test</th>" * len(REVISITS)
    rows = []
    for i in INPUTS:
        tds = []
        for k in REVISITS:
            cls = " class='sel'" if selected == (i, k) else ""
            r = cells.get((i, k))
            m = summary.get((i, k))
            if m is None and r is None:
                txt = "running…" if running == (i, k) else "–"
                tds.append(f"<td{cls}>{txt}</td><td{cls}>–</td><td{cls}>–</td>")
            else:
                tds.append(_auc_cells(r, m, selected == (i, k)))
        rows.append(f"<tr><th class='row'>{ROW_NAMES[i]}</th>{''.join(tds)}</tr>")
    if summary:
        n = max(int(m.get("n_seeds", 1)) for m in summary.values())
        caption = f"{caption}; mean ± 95 % t interval over {n} seeds".lstrip("; ")
    cap = _caption(html.escape(caption)) if caption else ""
    return (
        f"{_CSS}<table class='ls-t2'>{cap}<tr><th rowspan=2>post-event data</th>{head1}</tr>"
        f"<tr>{head2}</tr>{''.join(rows)}</table>"
    )


def baselines_html(
    baselines: list[RunRecord],
    cnn: RunRecord | None = None,
    cnn_key: str = "",
    summary: dict[tuple[str, int | None], dict] | None = None,
    cnn_summary: dict | None = None,
) -> str:
    """The baselines beside the selected CNN configuration (AUC train / val / test).

    ``summary`` (``report_stats.summary_baselines`` of a multi-seed ``ablate --seeds N``) maps
    ``(name, revisits)`` to the baseline's means over seeds and ``cnn_summary`` is the CNN cell's row
    (``report_stats.summary_cells``): rows with one show mean ± half-width of the 95 % t interval, as
    Table 2 above them does; the others show the single run.
    """
    summary = summary or {}
    rows = []
    if cnn is not None or cnn_summary is not None:
        rows.append(f"<tr><th class='row'>CNN {html.escape(cnn_key)}</th>{_auc_cells(cnn, cnn_summary)}</tr>")
    for b in baselines:
        name = BASELINE_TITLES.get(b.name or "", b.name or "?")
        if b.revisits:
            name += f", {b.revisits} revisit{'s' if b.revisits != 1 else ''}"
        m = summary.get((b.name or "", b.revisits))
        rows.append(f"<tr><th class='row'>{html.escape(name)}</th>{_auc_cells(b, m)}</tr>")
    if not baselines:
        rows.append(
            "<tr><td colspan=4><i>baselines not computed yet (they run with the store's density "
            "thresholds after a run, or with <code>landslide-app ablate</code>)</i></td></tr>"
        )
    seeds = {int(m.get("n_seeds", 1)) for m in [*summary.values(), *([cnn_summary] if cnn_summary else [])]}
    cap = _caption(f"mean ± 95 % t interval over {max(seeds)} seeds") if seeds else ""
    return (
        f"{_CSS}<table class='ls-t2'>{cap}<tr><th>model</th><th>train</th><th>val</th><th>test</th></tr>"
        f"{''.join(rows)}</table>"
    )


def map_quality_html(run_map: dict | None, summary_map: dict | None = None, rule: str | None = None) -> str:
    """The map's classes beside the majority-class baseline: accuracy, balanced accuracy, macro-F1,
    Brier score, chips with landslides shown as "none", shown vs true chips per class.

    ``run_map`` is a run's ``result.json`` ``map`` (seed 0); ``summary_map`` the summary row's ``map`` of
    a multi-seed ablation (each metric ``{"mean", "ci95"}``), shown instead where it has the metric.
    """
    if not run_map and not summary_map:
        return "<i>no map metrics for this run (computed by an older version: run it again)</i>"
    run_map, summary_map = run_map or {}, summary_map or {}
    names = (
        ("accuracy", "accuracy"),
        ("majority_accuracy", "majority baseline"),
        ("balanced_accuracy", "balanced acc."),
        ("macro_f1", "macro-F1"),
        ("brier", "Brier"),
        ("missed_landslide_chips", "landslide chips shown as none"),
    )
    cells = []
    for key, _ in names:
        s = summary_map.get(key)
        if isinstance(s, dict) and s.get("mean") is not None:
            txt = fmt_mean_ci(s["mean"], s.get("ci95"), digits=1 if key == "missed_landslide_chips" else 3)
        elif run_map.get(key) is not None:
            v = run_map[key]
            txt = str(int(v)) if key == "missed_landslide_chips" else f"{float(v):.3f}"
        else:
            txt = "–"
        cells.append(f"<td>{txt}</td>")
    shown, true = run_map.get("pred_counts"), run_map.get("true_counts")
    counts = "–" if not shown or not true else f"{'/'.join(map(str, shown))} vs {'/'.join(map(str, true))}"
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in names)
    head += "<th>shown vs true chips, classes 0/1/2</th>"
    seeds = {int(s["n_seeds"]) for s in summary_map.values() if isinstance(s, dict) and s.get("n_seeds")}
    note = f"mean ± 95 % t interval over {max(seeds)} seeds; counts of seed 0" if seeds else "one run"
    cap = f"decision rule <code>{html.escape(rule)}</code>; {note}" if rule else note
    return (
        f"{_CSS}<table class='ls-t2'>{_caption(cap)}<tr>{head}</tr><tr>{''.join(cells)}<td>{counts}</td></tr></table>"
    )
