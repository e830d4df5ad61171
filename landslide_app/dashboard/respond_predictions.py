"""The responder panel's Respond tab: apply a trained model to the area (a ``predict`` stage run),
then show a prediction on the map (by predicted class or as a class-2 probability choropleth), its
km² per class, the domain-shift warning, its files, and the chips most likely class 2.

:meth:`PredictionsMixin._build_respond` makes the widgets (named on the view: ``model``,
``normalise``, ``apply_button``, ``prediction_pick``, ``colour_by``, ``km2``, ``shift``, ``files``,
``sort``, ``top_list``) and the tab (``respond_box``).
"""

from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as W

from landslide_app.dashboard.area import ModelChoice
from landslide_app.dashboard.prediction_view import p2_legend
from landslide_app.dashboard.queue import StageRun
from landslide_app.dashboard.respond_base import RespondBase, empty_collection
from landslide_app.dashboard.style import CLASS_COLOURS
from landslide_app.errors import InputError

_LABEL = {"description_width": "60px"}


class PredictionsMixin(RespondBase):
    """The Respond tab of the responder's panel (see module docstring)."""

    normalise: W.ToggleButtons
    prediction_pick: W.Dropdown
    colour_by: W.ToggleButtons
    km2: W.HTML
    shift: W.HTML
    files: W.HTML
    sort: W.Dropdown
    top_list: W.Select
    respond_box: W.VBox

    def _build_respond(self) -> None:
        """The model picker and Apply, then the prediction's widgets, wired, in ``respond_box``."""
        models = self.area.models()
        self.model = W.Dropdown(
            options=_model_options(models),
            description="Model",
            layout=W.Layout(width="410px"),
            style=_LABEL,
        )
        self.normalise = W.ToggleButtons(
            options=[("training stats", "training"), ("scene stats", "scene")],
            value="training",
            description="Normalise",
            style={"button_width": "110px", **_LABEL},
        )
        self.apply_button = W.Button(
            description="Apply model to this area",
            icon="play",
            button_style="primary",
            layout=W.Layout(width="220px"),
            disabled=not models or self.area.store_path is None,
        )
        self.apply_button.on_click(self._guard("Applying the model", lambda _b: self.apply_model()))
        self._build_prediction_widgets()
        self.respond_box = W.VBox(
            [
                W.HTML("<b>Apply a trained model</b> (this or another workspace)"),
                self.model,
                self.normalise,
                self.apply_button,
                W.HTML("<b>Predicted map</b>"),
                self.prediction_pick,
                self.colour_by,
                self.shift,
                self.km2,
                W.HTML("<b>Chips most likely class 2</b> (click: zoom and inspect)"),
                self.sort,
                self.top_list,
                self.files,
            ]
        )

    def _build_prediction_widgets(self) -> None:
        """The prediction picker, colouring, class table, warning, files and top-chips list, wired."""
        self.prediction_pick = W.Dropdown(options=[], description="Map", layout=W.Layout(width="410px"), style=_LABEL)
        self.colour_by = W.ToggleButtons(
            options=[("predicted class", "class"), ("p(class 2)", "p2")],
            value="class",
            description="Colour",
            style={"button_width": "110px", **_LABEL},
        )
        self.km2 = W.HTML()
        self.shift = W.HTML()
        self.files = W.HTML()
        self.sort = W.Dropdown(
            options=[("p(class 2) ↓", "p2"), ("chip id", "chip_id"), ("predicted class", "pred_class")],
            value="p2",
            description="Sort",
            layout=W.Layout(width="220px"),
            style={"description_width": "40px"},
        )
        self.top_list = W.Select(options=[], rows=10, layout=W.Layout(width="410px"))
        self.prediction_pick.observe(self._guard("Showing the prediction", lambda _c: self.show_prediction()), "value")
        self.colour_by.observe(self._guard("Colouring the map", lambda _c: self._apply_colours()), "value")
        self.sort.observe(self._guard("Sorting", lambda _c: self._fill_top()), "value")
        self.top_list.observe(self._guard("Inspecting the chip", self._on_top_pick), "value")

    def refresh_models(self, select: Path | None = None) -> None:
        """Relist the trained models (this workspace's first); pick ``select`` if given, else keep the pick."""
        models = self.area.models()
        current = self.model.value
        self.model.options = _model_options(models)
        values = [str(m.path) for m in models]
        wanted = str(select) if select is not None else current
        self.model.value = wanted if wanted in values else (values[0] if values else "")
        self._update_apply_button()

    def _update_apply_button(self) -> None:
        """Apply is off while a run goes, without a model, or without chips to apply it to."""
        self.apply_button.disabled = self.queue.busy or not self.model.value or self.area.store_path is None

    def apply_model(self) -> StageRun:
        """Predict the area with the picked model in the background (a ``predict`` stage run)."""
        if not self.model.value:
            raise InputError(
                "no trained model to apply: train one (`landslide-app train`) or open a workspace that has one"
            )
        run = self.area.respond_run(
            Path(self.model.value), self.normalise.value, on_done=lambda r: self._after_predict()
        )
        self.show(f"Predicting this area with {Path(self.model.value).name} in the background…", "info")
        return self._submit(run)

    def _after_predict(self) -> None:
        self.refresh_predictions(select_last=True)
        self.show("Prediction finished: the map shows it.", "ok")

    def refresh_predictions(self, select_last: bool = False) -> None:
        """List the workspace's predictions (keep the picked one, or pick the last) and show it."""
        preds = self.area.predictions()
        opts = []
        for p in preds:
            label = f"{p.get('run') or 'model'} → {p['path']}"
            opts.append((label, str(self.area.ws.path(p))))
        current = self.prediction_pick.value
        self.prediction_pick.options = opts
        if opts:
            values = [v for _, v in opts]
            self.prediction_pick.value = values[-1] if select_last or current not in values else current
        self.show_prediction()

    def show_prediction(self) -> None:
        """The picked prediction on the map, with its class table, warning, files and top chips."""
        path = self.prediction_pick.value
        if not path:
            self.pred = None
            self.pred_layer.data = empty_collection()
            self.km2.value = "<i>No prediction yet: pick a model and press <b>Apply</b>.</i>"
            self.legend.legend = {}
            return
        self.pred = self.area.prediction(Path(path))
        self._apply_colours()
        self.km2.value = self.pred.class_table_html()
        warning = self.pred.shift_warning()
        self.shift.value = (
            ""
            if warning is None
            else f"<div style='padding:4px 8px;border-left:4px solid #e65100;color:#e65100'>"
            f"{html.escape(warning)}</div>"
        )
        items = "".join(f"<li>{k}: <code>{html.escape(str(p))}</code></li>" for k, p in self.pred.files.items())
        self.files.value = f"<b>Exports</b> (written by predict)<ul style='margin:2px'>{items}</ul>"
        self._fill_top()

    def _apply_colours(self) -> None:
        if self.pred is None:
            return
        if self.colour_by.value == "p2":
            self.pred_layer.data = self.pred.by_p2
            self.legend.legend = p2_legend()
            self.legend.title = "p(class 2)"
        else:
            self.pred_layer.data = self.pred.by_class
            names = {int(c): v.get("name", c) for c, v in (self.pred.summary.get("classes") or {}).items()}
            self.legend.legend = {str(names.get(c, c)): col for c, col in CLASS_COLOURS.items()}
            self.legend.title = "Predicted class"
        self.pred_layer.name = f"prediction ({self.pred.model_name}, {self.colour_by.label})"

    def _fill_top(self) -> None:
        if self.pred is None:
            self.top_list.options = []
            return
        rows = self.pred.top(20, self.sort.value)
        self.top_list.options = [
            (f"chip {r['chip_id']:>5}  p2 {r['p2']:.2f}  class {r['pred_class']}", r["chip_id"]) for r in rows
        ]

    def _on_top_pick(self, change: dict) -> None:
        if change.get("new") is not None:
            self.inspect(int(change["new"]), zoom=True)


def _model_options(models: list[ModelChoice]) -> list[tuple[str, str]]:
    """The Model list's ``(label, path)`` options; one empty option when no model is found."""
    return [(m.label, str(m.path)) for m in models] or [("no trained model found", "")]
