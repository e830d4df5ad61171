"""The responder panel's map: the area's chips, the selected prediction with its legend, the chips
being built, the selected chip, the new area's box and its drawing tool, and the SAR split panes.

:meth:`RespondMapMixin._build_map` makes the map and its layers (named on the view: ``map``,
``chip_layer``, ``pred_layer``, ``building_layer``, ``selected_layer``, ``area_box``, ``legend``,
``draw``, ``sar_pre``, ``sar_post``); a click on a chip or a drawn rectangle lands here.
"""

from __future__ import annotations

from typing import Any

import ipyleaflet
import ipywidgets as W

from landslide_app.dashboard import layers
from landslide_app.dashboard.rendering import EMPTY_PNG_URL
from landslide_app.dashboard.respond_base import NEW_AREA_TAB, RespondBase, empty_collection
from landslide_app.errors import InputError

#: Panes of the split map (one per side: the split control clips a pane).
SPLIT_PANES = {"sar_pre": {"zIndex": 250}, "sar_post": {"zIndex": 251}}
DEFAULT_BOUNDS = ((17.9, -67.3), (18.55, -65.6))  # Puerto Rico, when the workspace has no area yet
BUILDING_STYLE = {"color": "#1565c0", "weight": 1, "fillColor": "#90caf9", "fillOpacity": 0.35}
AREA_STYLE = {"color": "#6a1b9a", "weight": 2, "fillOpacity": 0.05}


class RespondMapMixin(RespondBase):
    """The map of the responder's panel (see module docstring)."""

    selected_layer: ipyleaflet.GeoJSON
    area_box: ipyleaflet.GeoJSON
    draw: ipyleaflet.DrawControl
    inspect_title: W.HTML

    def _build_map(self) -> None:
        """The map over the area (or Puerto Rico), its layers, legend, drawing tool and controls."""
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
        self.pred_layer = ipyleaflet.GeoJSON(data=empty_collection(), name="prediction", hover_style={"weight": 2})
        self.building_layer = ipyleaflet.GeoJSON(
            data=empty_collection(), name="chips being built", style=BUILDING_STYLE
        )
        self.selected_layer = layers.selected_chip_layer()
        self.area_box = ipyleaflet.GeoJSON(data=empty_collection(), name="new area", style=AREA_STYLE)
        for layer in (self.chip_layer, self.pred_layer, self.building_layer, self.selected_layer, self.area_box):
            self.map.add(layer)
        self.legend = ipyleaflet.LegendControl({}, title="Prediction", position="bottomright")
        self.map.add(self.legend)
        self.draw = ipyleaflet.DrawControl(
            rectangle={"shapeOptions": dict(AREA_STYLE)},
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
        self.tabs.selected_index = NEW_AREA_TAB

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
