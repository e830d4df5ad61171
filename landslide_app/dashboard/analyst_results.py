"""The analyst dashboard's results: paper Table 2, the baselines beside the CNN, the map's classes
against the majority-class baseline, the ROC, confusion and calibration plots of the selected
configuration, and the summary line under the map.

:meth:`ResultsMixin._build_results` makes the widgets (named on the dashboard: ``table``,
``baselines``, ``map_quality``, ``roc``, ``confusion``, ``reliability``) and returns the Results tab;
:meth:`ResultsMixin.refresh_results` fills them from
:class:`~landslide_app.dashboard.state.DashboardState` (cached results only).
"""

from __future__ import annotations

import html

import ipywidgets as W

from landslide_app.dashboard.analyst_base import AnalystBase
from landslide_app.dashboard.style import fmt_auc
from landslide_app.dashboard.tables import baselines_html, map_quality_html, table2_html
from landslide_app.experiments.records import RunRecord


class ResultsMixin(AnalystBase):
    """The result panels of the analyst's dashboard (see module docstring)."""

    table: W.HTML
    baselines: W.HTML
    map_quality: W.HTML
    roc: W.Image
    confusion: W.Image
    reliability: W.Image

    def _build_results(self) -> W.VBox:
        """The Results tab (Table 2, baselines, ROC and confusion side by side) and the summary line."""
        self.summary = W.HTML()
        self.table = W.HTML()
        self.baselines = W.HTML()
        self.map_quality = W.HTML()
        self.roc = W.Image(format="png", layout=W.Layout(width="420px"))
        self.confusion = W.Image(format="png", layout=W.Layout(width="340px"))
        self.reliability = W.Image(format="png", layout=W.Layout(width="320px"))
        return W.VBox(
            [
                W.HTML("<b>Paper Table 2</b> — AUC (multi-class one-vs-rest, macro); test = held-out half"),
                self.table,
                W.HTML("<b>Baselines beside the CNN</b>"),
                self.baselines,
                W.HTML("<b>The map's classes</b> (held-out chips) against showing the most frequent class everywhere"),
                self.map_quality,
                W.HBox([self.roc, self.confusion, self.reliability]),
            ]
        )

    def _update_summary(self) -> None:
        """The line under the map: the configuration, computed or not, and its AUCs."""
        v, spec = self.view, self.spec
        if v is None:
            return
        if v.computed and v.result is not None:
            r, f = v.result, fmt_auc
            text = (
                f"<b>{spec.key}</b>: computed ({r.epochs or '?'} epochs, {r.n_chips} chips); "
                f"AUC train {f(r.auc.train)} / val {f(r.auc.val)} / <b>held-out {f(r.auc.test)}</b>"
            )
            if self.colour_by.value == "true":
                text += " — chips show the <b>true</b> classes"
        else:
            text = f"<b>{spec.key}</b>: not computed — chips show the true classes; press <b>Run</b>"
        if v.note and v.computed:
            text += f"<br><span style='color:#555'>{html.escape(v.note)}</span>"
        self.summary.value = text

    def refresh_results(self, plots: bool = True) -> None:
        """Table 2 (cached results), baselines, ROC and confusion of the selected configuration."""
        st, spec = self.state, self.spec
        assert st is not None
        cells = st.table(spec.thresholds, spec.split)
        running = getattr(self, "_running_key", None)
        t0, t1 = st.effective_thresholds(spec.thresholds)
        summary, baseline_summary = st.seed_summaries(spec.thresholds, spec.split)
        self.table.value = table2_html(
            cells,
            (spec.inputs, spec.revisits),
            running,
            f"{spec.split} split, classes at {t0:g} / {t1:g} heads/km²",
            summary=summary,
        )
        self.baselines.value = baselines_html(
            st.baselines(spec.thresholds, spec.split),
            self.view.result if self.view and self.view.computed else None,
            spec.key,
            summary=baseline_summary,
            cnn_summary=summary.get((spec.inputs, spec.revisits)),
        )
        v = st.view(spec, plots=plots) if self.view is not None and self.view.computed else self.view
        self._show_map_quality(
            v.result if v is not None and v.computed else None, summary.get((spec.inputs, spec.revisits))
        )
        for img, data in (
            (self.roc, v.roc_png if v else None),
            (self.confusion, v.confusion_png if v else None),
            (self.reliability, v.reliability_png if v else None),
        ):
            img.value = data or b""
            img.layout.display = None if data else "none"

    def _show_map_quality(self, result: RunRecord | None, summary_row: dict | None) -> None:
        """The map metrics of the selected configuration (over seeds where an ablation has them)."""
        if result is None:
            self.map_quality.value = "<i>not computed</i>"
            return
        rule = (result.extra.get("decision") or {}).get("rule")
        self.map_quality.value = map_quality_html(result.map_metrics, (summary_row or {}).get("map"), rule)
