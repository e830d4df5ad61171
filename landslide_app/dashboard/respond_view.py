"""The responder's panel of a workspace: the area's map, "Respond" (apply a trained model), "New area"
(fetch chips in the background), the SAR before/after split map and the run list.

Widgets only: what is shown comes from :class:`~landslide_app.dashboard.area.AreaState`, the limits
of a fetch from :mod:`~landslide_app.dashboard.fetch`, and every stage (``chips``, ``predict``) is
a CLI run in the page's :class:`~landslide_app.dashboard.queue.RunQueue` (progress, cancel).

Layers of the map: the area's chips (outlined), the selected prediction (by predicted class or as
a class-2 probability choropleth, with its legend), the chips being built, the selected chip, and on
request the pre- and post-event VH (dB) images under a split control. The split images are off by
default: they would hide the classes.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import ipyleaflet
import ipywidgets as W

from landslide_app.dashboard import layers
from landslide_app.dashboard.area import AreaState, PredictionView, p2_legend
from landslide_app.dashboard.fetch import SOURCE_KINDS, FetchRequest, check_request, chips_run, save_inventory
from landslide_app.dashboard.queue import DONE, FAILED, RunQueue, StageRun, runs_html
from landslide_app.dashboard.rendering import EMPTY_PNG_URL
from landslide_app.dashboard.style import CLASS_COLOURS
from landslide_app.errors import ConfigError, InputError

log = logging.getLogger(__name__)

#: Panes of the split map (one per side: the split control clips a pane).
SPLIT_PANES = {"sar_pre": {"zIndex": 250}, "sar_post": {"zIndex": 251}}
DEFAULT_BOUNDS = ((17.9, -67.3), (18.55, -65.6))  # Puerto Rico, when the workspace has no area yet
BUILDING_STYLE = {"color": "#1565c0", "weight": 1, "fillColor": "#90caf9", "fillOpacity": 0.35}


def _empty() -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": []}


class RespondView:
    """The responder's panel of one workspace (see module docstring).

    Args:
        area: the workspace's view model.
        queue: the page's run queue (shared with the analyst's runs).
        show: ``show(text, kind)`` puts a message in the page.
        guard: wraps a callback so that an exception becomes a message.
        on_new_store: called with the folder of a workspace whose chips were just built.
        new_workspace: ``new_workspace(name) -> Workspace`` for "New area" in a workspace that already
            has chips.
    """

    def __init__(
        self,
        area: AreaState,
        queue: RunQueue,
        show: Callable[[str, str], None],
        guard: Callable[[str, Callable[..., Any]], Callable[..., Any]],
        on_new_store: Callable[[Path], Any] | None = None,
        new_workspace: Callable[[str], Any] | None = None,
    ) -> None:
        self.area, self.queue, self.show, self._guard = area, queue, show, guard
        self.on_new_store, self.new_workspace = on_new_store, new_workspace
        self.pred: PredictionView | None = None
        self.selected_chip: int | None = None
        self._split: ipyleaflet.SplitMapControl | None = None
        self._build_map()
        self._build_respond()
        self._build_fetch()
        self._build_sar()
        self.runs_html = W.HTML(runs_html([]))
        self.progress = W.FloatProgress(value=0, min=0, max=1, bar_style="info", layout=W.Layout(width="98%"))
        self.progress_text = W.HTML("<span style='color:#555'>idle</span>")
        self.cancel_button = W.Button(
            description="Cancel run", icon="stop", button_style="warning", disabled=True, layout=W.Layout(width="140px")
        )
        self.cancel_button.on_click(self._guard("Cancelling the run", lambda _b: self.queue.cancel()))
        runs = W.VBox([self.progress, self.progress_text, self.cancel_button, W.HTML("<b>Runs</b>"), self.runs_html])
        self.tabs = W.Tab(
            children=[self.respond_box, self.fetch_box, self.sar_box, runs],
            layout=W.Layout(width="430px", min_width="430px"),
        )
        for i, t in enumerate(["Respond", "New area", "SAR change", "Runs"]):
            self.tabs.set_title(i, t)
        self.inspect_title = W.HTML("<i>Click a chip (map or list) to inspect it.</i>")
        self.widget = W.VBox(
            [
                W.HBox([self.tabs, W.VBox([self.map], layout=W.Layout(flex="1"))]),
                W.HBox([W.VBox([self.inspect_title, self.chip_image]), self.chip_slider_box]),
            ]
        )
        self.widget.add_class("ls-respond-view")
        for w, cls in (
            (self.apply_button, "ls-apply"),
            (self.fetch_button, "ls-fetch"),
            (self.cancel_button, "ls-cancel"),
            (self.progress_text, "ls-run-status"),
            (self.runs_html, "ls-run-list"),
            (self.km2, "ls-km2"),
            (self.top_list, "ls-top-list"),
            (self.shift, "ls-shift"),
            (self.files, "ls-files"),
            (self.split_toggle, "ls-split-toggle"),
            (self.inspect_title, "ls-chip-title"),
        ):
            w.add_class(cls)
        self.refresh_predictions()
        self.update_runs()

    # ---- map -------------------------------------------------------------------------------
    def _build_map(self) -> None:
        a = self.area
        bounds = a.bounds() or DEFAULT_BOUNDS
        self.map = layers.map_widget(bounds)
        self.map.panes = SPLIT_PANES
        self.sar_pre = ipyleaflet.ImageOverlay(
            url=EMPTY_PNG_URL, bounds=((0, 0), (0, 0)), name="VH before (dB)", pane="sar_pre"
        )
        self.sar_post = ipyleaflet.ImageOverlay(
            url=EMPTY_PNG_URL, bounds=((0, 0), (0, 0)), name="VH after (dB)", pane="sar_post"
        )
        self.chip_layer = layers.chip_layer(a.chips_geojson(), name="area chips")
        self.pred_layer = ipyleaflet.GeoJSON(data=_empty(), name="prediction", hover_style={"weight": 2})
        self.building_layer = ipyleaflet.GeoJSON(data=_empty(), name="chips being built", style=BUILDING_STYLE)
        self.selected_layer = layers.selected_chip_layer()
        self.area_box = ipyleaflet.GeoJSON(
            data=_empty(), name="new area", style={"color": "#6a1b9a", "weight": 2, "fillOpacity": 0.05}
        )
        for layer in (self.chip_layer, self.pred_layer, self.building_layer, self.selected_layer, self.area_box):
            self.map.add(layer)
        self.legend = ipyleaflet.LegendControl({}, title="Prediction", position="bottomright")
        self.map.add(self.legend)
        self.draw = ipyleaflet.DrawControl(
            rectangle={"shapeOptions": {"color": "#6a1b9a", "weight": 2, "fillOpacity": 0.05}},
            polygon={},
            polyline={},
            circlemarker={},
            circle={},
            marker={},
            edit=False,
            remove=False,
        )
        self.draw.on_draw(self._guard("Drawing the area", self._on_draw))
        self.map.add(self.draw)
        self.map.add(ipyleaflet.LayersControl(position="topright"))
        self.map.add(ipyleaflet.ScaleControl(position="bottomleft", imperial=False))
        self.pred_layer.on_click(self._guard("Inspecting the chip", self._on_chip_click))
        self.chip_layer.on_click(self._guard("Inspecting the chip", self._on_chip_click))

    def _on_draw(self, target: Any = None, action: str = "", geo_json: dict | None = None) -> None:
        if action != "created" or not geo_json:
            return
        ring = geo_json["geometry"]["coordinates"][0]
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        self.set_area((min(xs), min(ys), max(xs), max(ys)))
        self.draw.clear()
        self.tabs.selected_index = 1

    def fit(self) -> None:
        """Centre the map on the workspace's area."""
        (s, w), (n, e) = self.area.bounds() or DEFAULT_BOUNDS
        self.map.fit_bounds([[s, w], [n, e]])  # in the page (the map is drawn by then)

    def set_area(self, bbox: tuple[float, float, float, float]) -> None:
        """Fill W S E N (from a drawn rectangle or code) and outline the box on the map."""
        for box, v in zip(self.bbox_fields, bbox):
            box.value = round(float(v), 5)
        w, s, e, n = bbox
        self.area_box.data = {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {},
                    "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
                }
            ],
        }

    # ---- respond ---------------------------------------------------------------------------
    def _build_respond(self) -> None:
        models = self.area.models()
        self.model = W.Dropdown(
            options=[(m.label, str(m.path)) for m in models] or [("no trained model found", "")],
            description="Model",
            layout=W.Layout(width="410px"),
            style={"description_width": "60px"},
        )
        self.normalise = W.ToggleButtons(
            options=[("training stats", "training"), ("scene stats", "scene")],
            value="training",
            description="Normalise",
            style={"button_width": "110px", "description_width": "60px"},
        )
        self.apply_button = W.Button(
            description="Apply model to this area",
            icon="play",
            button_style="primary",
            layout=W.Layout(width="220px"),
            disabled=not models or self.area.store_path is None,
        )
        self.apply_button.on_click(self._guard("Applying the model", lambda _b: self.apply_model()))
        self.prediction_pick = W.Dropdown(
            options=[], description="Map", layout=W.Layout(width="410px"), style={"description_width": "60px"}
        )
        self.colour_by = W.ToggleButtons(
            options=[("predicted class", "class"), ("p(class 2)", "p2")],
            value="class",
            description="Colour",
            style={"button_width": "110px", "description_width": "60px"},
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

    def apply_model(self) -> StageRun:
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
        path = self.prediction_pick.value
        if not path:
            self.pred = None
            self.pred_layer.data = _empty()
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

    def _on_chip_click(self, **kwargs: Any) -> None:
        props = (kwargs.get("feature") or {}).get("properties") or kwargs.get("properties") or {}
        if "chip_id" in props:
            self.inspect(int(props["chip_id"]))

    def inspect(self, chip_id: int, zoom: bool = False) -> None:
        """Select a chip: highlight (and zoom to) it, show its probabilities and its SAR dates."""
        data = self.pred_layer.data if self.pred is not None else self.chip_layer.data
        feat = next((f for f in data.get("features", []) if f["properties"]["chip_id"] == chip_id), None)
        if feat is None:
            raise InputError(f"chip {chip_id} is not on the map")
        self.selected_chip = chip_id
        self.selected_layer.data = {"type": "FeatureCollection", "features": [feat]}
        if zoom:
            ring = feat["geometry"]["coordinates"][0]
            self.map.center = (sum(p[1] for p in ring) / len(ring), sum(p[0] for p in ring) / len(ring))
            self.map.zoom = max(self.map.zoom, 13)
        p = feat["properties"].get("proba")
        proba = "" if p is None else " · p = " + " / ".join(f"{v:.2f}" for v in p)
        cls = "" if "class" not in feat["properties"] else f" · predicted class {feat['properties']['class']}"
        self.inspect_title.value = f"<b>Chip {chip_id}</b>{cls}{proba}"
        self._show_chip_sar()

    # ---- new area --------------------------------------------------------------------------
    def _build_fetch(self) -> None:
        ws = self.area.ws
        bbox = ws.area.get("bbox_lonlat") or (None, None, None, None)
        self.bbox_fields = [
            W.FloatText(
                value=v if v is not None else 0.0,
                description=d,
                layout=W.Layout(width="200px"),
                style={"description_width": "20px"},
            )
            for v, d in zip(bbox, "WSEN")
        ]
        self.event_date = W.Text(
            value=ws.event_date or date.today().isoformat(),
            description="Event date",
            placeholder="YYYY-MM-DD",
            style={"description_width": "80px"},
        )
        self.orbit = W.Text(
            value="auto",
            description="Orbit",
            placeholder="auto or 1-175",
            style={"description_width": "80px"},
            layout=W.Layout(width="200px"),
        )
        self.pre = W.IntSlider(value=3, min=1, max=3, description="Pre", style={"description_width": "80px"})
        self.post = W.Dropdown(
            options=[("as many as exist (≤ 3)", 0), ("1", 1), ("2", 2), ("3", 3)],
            value=0,
            description="Post",
            style={"description_width": "80px"},
        )
        self.source_kind = W.ToggleButtons(
            options=list(SOURCE_KINDS),
            value="pc",
            description="Source",
            style={"button_width": "128px", "description_width": "50px"},
        )
        self.source = W.Text(
            value="",
            placeholder="STAC API URL, or catalog.json path / URL",
            description="",
            layout=W.Layout(width="410px", display="none"),
        )
        self.source_kind.observe(
            lambda c: setattr(self.source.layout, "display", None if c["new"] != "pc" else "none"), "value"
        )
        self.inventory = W.FileUpload(
            accept=".gpkg,.geojson,.json,.zip,.csv",
            multiple=False,
            description="Inventory (optional)",
            layout=W.Layout(width="230px"),
        )
        self.inventory_note = W.HTML(
            "<span style='color:#555'>GeoPackage, GeoJSON, zipped shapefile or CSV "
            "lon/lat; without one the store is unlabelled</span>"
        )
        self.new_name = W.Text(
            value=f"area-{time.strftime('%Y%m%d-%H%M')}", description="Workspace", style={"description_width": "80px"}
        )
        self.fetch_button = W.Button(
            description="Fetch chips", icon="cloud-download", button_style="primary", layout=W.Layout(width="160px")
        )
        self.fetch_button.on_click(self._guard("Fetching the area", lambda _b: self.fetch()))
        self.inventory.add_class("ls-inventory")
        self.fit_button = W.Button(description="Zoom to the area", icon="crosshairs", layout=W.Layout(width="160px"))
        self.fit_button.on_click(self._guard("Zooming", lambda _b: self.fit()))
        self.fit_button.add_class("ls-fit")
        self.fetch_box = W.VBox(
            [
                W.HTML("<b>New area</b>: draw a rectangle on the map (▭ tool) or type W S E N"),
                self.fit_button,
                W.HBox(self.bbox_fields[:2]),
                W.HBox(self.bbox_fields[2:]),
                self.event_date,
                self.orbit,
                self.pre,
                self.post,
                self.source_kind,
                self.source,
                W.HBox([self.inventory]),
                self.inventory_note,
                W.HTML(
                    "<span style='color:#555'>The chips go to this workspace when it has none, else to a new "
                    "workspace:</span>"
                ),
                self.new_name,
                self.fetch_button,
            ]
        )

    def request(self) -> FetchRequest:
        """The form as a request (not yet checked)."""
        return FetchRequest(
            tuple(float(b.value) for b in self.bbox_fields),  # type: ignore[arg-type]
            self.event_date.value.strip(),
            self.source_kind.value,
            self.source.value.strip(),
            self.orbit.value.strip() or "auto",
            int(self.pre.value),
            int(self.post.value) or None,
        )

    def fetch(self) -> StageRun | None:
        """Check the form, then build the area's chips in the background (chips appear as built)."""
        if self.queue.busy:
            raise InputError("a run is in progress: wait for it or cancel it (Runs tab)")
        req = check_request(self.request())  # limits and the network, before anything is downloaded
        ws = self.area.ws
        if ws.stores:
            if self.new_workspace is None:
                raise ConfigError("this workspace already has chips: open the workspace list to make a new one")
            ws = self.new_workspace(self.new_name.value)
        upload = _upload(self.inventory.value)
        inventory = save_inventory(ws.root / "inventory", *upload) if upload else None
        req = FetchRequest(
            req.bbox, req.event_date, req.source_kind, req.source, req.orbit, req.pre, req.post, inventory
        )
        ws.set_area(req.bbox, req.event_date, req.source_arg, orbit=req.orbit)
        ws.save()
        self.set_area(req.bbox)
        w, s, e, n = req.bbox
        self.map.center, self.map.zoom = ((s + n) / 2, (w + e) / 2), layers.fit_zoom(((s, w), (n, e)))
        out = ws.root / "chips"

        def done(run: StageRun) -> None:
            ws.add_store(out)
            ws.save()
            if self.on_new_store is not None:
                self.on_new_store(ws.root)

        def on_chips(feats: list[dict]) -> None:
            self.building_layer.data = {"type": "FeatureCollection", "features": feats}

        run = chips_run(req, out, on_done=done, on_chips=on_chips)
        self.show(f"Building the chips of {ws.name} in the background ({req.describe()}).", "info")
        self.tabs.selected_index = 3
        return self._submit(run)

    # ---- SAR change ------------------------------------------------------------------------
    def _build_sar(self) -> None:
        dates = self.area.sar_dates()
        self.split_toggle = W.Checkbox(
            value=False, indent=False, description="before/after VH split map (hides the classes)", disabled=not dates
        )
        self.split_toggle.observe(self._guard("The split map", lambda c: self.set_split(c["new"])), "value")
        self.split_note = W.HTML("" if dates else "<i>This store has no SAR (DEM only).</i>")
        self.chip_slider = W.SelectionSlider(
            options=[(f"{d} ({r})", c) for c, d, r in dates] or [("-", "")],
            description="Date",
            continuous_update=False,
            layout=W.Layout(width="420px"),
            disabled=not dates,
        )
        self.chip_image = W.Image(format="png", layout=W.Layout(width="256px", height="256px", display="none"))
        self.chip_slider.observe(self._guard("The chip's date", lambda _c: self._show_chip_sar()), "value")
        self.chip_slider_box = W.VBox([W.HTML("<b>Selected chip: VH (dB) by acquisition</b>"), self.chip_slider])
        self.chip_slider.add_class("ls-date-slider")
        self.sar_box = W.VBox(
            [
                W.HTML("<b>SAR change</b>: latest pre-event vs first post-event VH (dB); drag the divider on the map"),
                self.split_toggle,
                self.split_note,
            ]
        )

    def set_split(self, on: bool) -> None:
        """Show (or hide) the before/after VH images under a split control."""
        if on and self._split is None:
            pair = self.area.sar_pair()
            if pair is None:
                raise InputError("this store has no pre- and post-event SAR to compare")
            pre, post = pair
            for layer, d in ((self.sar_pre, pre), (self.sar_post, post)):
                with layer.hold_trait_notifications():
                    layer.bounds, layer.url = d["bounds"], d["url"]
                    layer.name = f"VH {d['role']} {d['date']} (dB)"
            self._split = ipyleaflet.SplitMapControl(left_layer=self.sar_pre, right_layer=self.sar_post)
            self.map.add(self._split)
            lo, hi = pre["range_db"]
            self.split_note.value = (
                f"left: {pre['date']} (pre) · right: {post['date']} (post) · grey {lo:.0f} … {hi:.0f} dB"
            )
            self.pred_layer.style = {"fillOpacity": 0.0}
        elif not on and self._split is not None:
            self.map.remove(self._split)  # and with it, its two layers
            self._split = None
            self.split_note.value = ""
            self.pred_layer.style = {}  # the classes' fill back

    def _show_chip_sar(self) -> None:
        if self.selected_chip is None or not self.chip_slider.value:
            return
        self.chip_image.value = self.area.chip_sar_png(self.selected_chip, self.chip_slider.value)
        self.chip_image.layout.display = None

    # ---- runs ------------------------------------------------------------------------------
    def _submit(self, run: StageRun) -> StageRun:
        self.queue.submit(run)
        self.update_runs()
        return run

    def update_runs(self) -> None:
        """Redraw the run list, the progress bar and the cancel button (the queue calls it)."""
        runs = self.queue.runs
        self.runs_html.value = runs_html(runs)
        cur = self.queue.current
        last = runs[-1] if runs else None
        self.cancel_button.disabled = cur is None
        self.apply_button.disabled = self.queue.busy or not self.model.value or self.area.store_path is None
        self.fetch_button.disabled = self.queue.busy
        show = cur or last
        if show is None:
            return
        self.progress.value = show.fraction
        self.progress.bar_style = {DONE: "success", FAILED: "danger"}.get(show.state, "info")
        self.progress_text.value = (
            f"<span style='color:#0d47a1'>{html.escape(show.label)}: {show.state} — "
            f"{html.escape(show.text[:200])}</span>"
        )
        if show.state == FAILED and getattr(show, "_reported", False) is False:
            show._reported = True  # type: ignore[attr-defined]
            self.show(show.error or f"{show.label} failed", "error")


def _upload(value: Any) -> tuple[str, bytes] | None:
    """(name, bytes) of the FileUpload's file (ipywidgets 8: a tuple of dicts; 7: a dict)."""
    if not value:
        return None
    item = value[0] if isinstance(value, (tuple, list)) else next(iter(value.values()))
    content = item["content"]
    return str(item["name"] if "name" in item else item.get("metadata", {}).get("name")), bytes(content)
