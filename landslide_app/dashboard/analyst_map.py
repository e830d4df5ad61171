"""The analyst dashboard's map: hillshade, embedding mosaic, chips by class, the selected chip,
the landslide-heads heatmap, legend, colour bar, layer and scale controls.

:meth:`MapMixin._build_map` makes the map and its layers (named on the dashboard: ``map``,
``emb_layer``, ``chip_layer``, ``selected_layer``, ``heads_layer``, ``legend``, ``colourbar``);
:meth:`MapMixin._show_view` puts a configuration's :class:`~landslide_app.dashboard.state.MapView`
on it; the map options (chip colouring, heads, basemap) are handled here too.
"""

from __future__ import annotations

import logging
from typing import Any

import ipyleaflet
import ipywidgets as W

from landslide_app.core.density import CLASS_NAMES, class_names
from landslide_app.dashboard import layers
from landslide_app.dashboard.analyst_base import AnalystBase
from landslide_app.dashboard.state import DashboardState

log = logging.getLogger(__name__)


class MapMixin(AnalystBase):
    """The map of the analyst's dashboard (see module docstring)."""

    emb_layer: ipyleaflet.ImageOverlay
    heads_layer: ipyleaflet.Heatmap | None
    legend: ipyleaflet.LegendControl
    colourbar: W.HTML
    _osm: Any
    _opacity_link: Any

    def _build_map(self, st: DashboardState) -> None:
        """The map fitted to the chips, with every layer and control (the heads heatmap off)."""
        w, s, e, n = st.index.to_crs("EPSG:4326").total_bounds  # fit the chips, not the sea around
        self.map = layers.map_widget(((s, w), (n, e)))
        try:
            self.map.add(layers.hillshade_layer(st.paths.dem, cache=st.view_cache)[0])
        except Exception as exc:  # noqa: BLE001 - the map still works without the terrain
            log.warning("no hillshade: %s", exc)
            self.show(f"No DEM hillshade ({st.paths.dem} could not be read: {exc}); the rest of the map works.", "warn")
        self.emb_layer = layers.embedding_layer()
        self.map.add(self.emb_layer)
        self.chip_layer = layers.chip_layer(st.chips_true(None))
        self.map.add(self.chip_layer)
        self.selected_layer = layers.selected_chip_layer()
        self.map.add(self.selected_layer)
        try:
            # drawn above the chips, the heatmap would hide their classes: on the map when asked for
            self.heads_layer = layers.heads_layer(st.paths.inventory)
        except Exception as exc:  # noqa: BLE001 - the map is still useful without the heads
            log.warning("no heads layer: %s", exc)
            self.heads_layer = None
        self.legend = layers.legend_control(CLASS_NAMES)
        self.map.add(self.legend)
        self.colourbar = W.HTML(layers.colourbar_html(None))
        self.map.add(ipyleaflet.WidgetControl(widget=self.colourbar, position="bottomleft"))
        self.map.add(ipyleaflet.LayersControl(position="topright"))
        self.map.add(ipyleaflet.ScaleControl(position="bottomleft", imperial=False))
        self._osm = None
        self._opacity_link = W.jslink((self.opacity, "value"), (self.emb_layer, "opacity"))  # in the page

    def _show_view(self) -> None:
        """The selected configuration's chips, embedding mosaic, colour bar and legend."""
        st, v, spec = self.state, self.view, self.spec
        assert st is not None and v is not None
        self._apply_chips()
        with self.emb_layer.hold_trait_notifications():
            if v.embedding_bounds is not None:
                self.emb_layer.bounds = v.embedding_bounds
            self.emb_layer.url = v.embedding_url
        self.colourbar.value = layers.colourbar_html(v.embedding_range, f"embedding {spec.key}")
        self.legend.legend = {
            lab: layers.CLASS_COLOURS[c] for c, lab in class_names(st.effective_thresholds(spec.thresholds)).items()
        }

    def _apply_chips(self) -> None:
        """Colour the chips by predicted class (when computed) or true class, as ``colour_by`` says."""
        v = self.view
        if v is None:
            return
        pred = self.colour_by.value == "pred" and v.chips_pred is not None
        data = v.chips_pred if pred else v.chips_true
        if self.chip_layer.data is not data:
            self.chip_layer.data = data
        self.chip_layer.name = f"chips ({'predicted' if pred else 'true'} class)"

    def _on_heads(self, change) -> None:
        if self.heads_layer is None:
            return
        if change["new"] and self.heads_layer not in self.map.layers:
            self.map.add(self.heads_layer)
        elif not change["new"] and self.heads_layer in self.map.layers:
            self.map.remove(self.heads_layer)

    def _on_basemap(self, change) -> None:
        if change["new"] and self._osm is None:
            self._osm = layers.basemap_layer()
            self.map.add(self._osm, index=0)
        elif not change["new"] and self._osm is not None:
            self.map.remove(self._osm)
            self._osm = None
