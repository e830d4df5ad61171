"""The responder panel's New area tab: a box (drawn on the map or typed W S E N), an event date,
orbit, pre/post passes, a source and an optional inventory upload, then "Fetch chips": the limits
are checked (:func:`~landslide_app.dashboard.fetch.check_request`) and the chips are built by a
``chips`` stage run into this workspace, or a new one when this one has chips already.

:meth:`NewAreaMixin._build_fetch` makes the widgets (named on the view: ``bbox_fields``,
``event_date``, ``orbit``, ``pre``, ``post``, ``source_kind``, ``source``, ``inventory``,
``new_name``, ``fetch_button``, ``fit_button``) and the tab (``fetch_box``).
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import ipywidgets as W

from landslide_app.dashboard import layers
from landslide_app.dashboard.fetch import SOURCE_KINDS, FetchRequest, check_request, chips_run, save_inventory
from landslide_app.dashboard.queue import StageRun
from landslide_app.dashboard.respond_base import RUNS_TAB, RespondBase
from landslide_app.errors import ConfigError, InputError
from landslide_app.experiments.workspace_layout import WorkspaceLayout

_LABEL = {"description_width": "80px"}


class NewAreaMixin(RespondBase):
    """The New area tab of the responder's panel (see module docstring)."""

    event_date: W.Text
    orbit: W.Text
    pre: W.IntSlider
    post: W.Dropdown
    source_kind: W.ToggleButtons
    source: W.Text
    inventory: W.FileUpload
    inventory_note: W.HTML
    new_name: W.Text
    fit_button: W.Button
    fetch_box: W.VBox

    def _build_fetch(self) -> None:
        """The form's widgets, wired, in ``fetch_box``."""
        self._build_area_fields()
        self._build_source_fields()
        self.new_name = W.Text(value=f"area-{time.strftime('%Y%m%d-%H%M')}", description="Workspace", style=_LABEL)
        self.fetch_button = W.Button(
            description="Fetch chips", icon="cloud-download", button_style="primary", layout=W.Layout(width="160px")
        )
        self.fetch_button.on_click(self._guard("Fetching the area", lambda _b: self.fetch()))
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

    def _build_area_fields(self) -> None:
        """W S E N (the workspace's box, else zeros), event date, orbit and the pre/post passes."""
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
            style=_LABEL,
        )
        self.orbit = W.Text(
            value="auto",
            description="Orbit",
            placeholder="auto or 1-175",
            style=_LABEL,
            layout=W.Layout(width="200px"),
        )
        self.pre = W.IntSlider(value=3, min=1, max=3, description="Pre", style=_LABEL)
        self.post = W.Dropdown(
            options=[("as many as exist (≤ 3)", 0), ("1", 1), ("2", 2), ("3", 3)],
            value=0,
            description="Post",
            style=_LABEL,
        )

    def _build_source_fields(self) -> None:
        """The source (Planetary Computer, a STAC API or a catalog) and the inventory upload."""
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
        self.inventory.add_class("ls-inventory")
        self.inventory_note = W.HTML(
            "<span style='color:#555'>GeoPackage, GeoJSON, zipped shapefile or CSV "
            "lon/lat; without one the store is unlabelled</span>"
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
        out = WorkspaceLayout(ws.root).chips

        def done(run: StageRun) -> None:
            ws.add_store(out)
            ws.save()
            if self.on_new_store is not None:
                self.on_new_store(ws.root)

        def on_chips(feats: list[dict]) -> None:
            self.building_layer.data = {"type": "FeatureCollection", "features": feats}

        run = chips_run(req, out, on_done=done, on_chips=on_chips)
        self.show(f"Building the chips of {ws.name} in the background ({req.describe()}).", "info")
        self.tabs.selected_index = RUNS_TAB
        return self._submit(run)


def _upload(value: Any) -> tuple[str, bytes] | None:
    """(name, bytes) of the FileUpload's file (ipywidgets 8: a tuple of dicts; 7: a dict)."""
    if not value:
        return None
    item = value[0] if isinstance(value, (tuple, list)) else next(iter(value.values()))
    content = item["content"]
    return str(item["name"] if "name" in item else item.get("metadata", {}).get("name")), bytes(content)
