"""The analyst dashboard's chip inspector and exports: click a chip on the map to see its figure
(:func:`~landslide_app.dashboard.plots.inspector_png`); save that figure or the density map of the
selected configuration under ``DATA/exports`` (:mod:`~landslide_app.dashboard.exports`).

:meth:`InspectorMixin._build_inspector` makes the widgets (named on the dashboard:
``inspector_title``, ``inspector``, ``save_inspector``, ``export_button``, ``export_out``) and
returns the Chip inspector and Exports tabs.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

import ipywidgets as W

from landslide_app.dashboard import exports
from landslide_app.dashboard.analyst_base import AnalystBase
from landslide_app.errors import LandslideAppError

#: The Chip inspector's place among the dashboard's tabs (opened by a click on a chip).
INSPECTOR_TAB = 1


class InspectorMixin(AnalystBase):
    """The chip inspector and the exports of the analyst's dashboard (see module docstring)."""

    inspector_title: W.HTML
    inspector: W.Image
    save_inspector: W.Button
    export_button: W.Button

    def _build_inspector(self, data_root: Path) -> tuple[W.VBox, W.VBox]:
        """The Chip inspector tab and the Exports tab (files go under ``data_root/exports``)."""
        self.inspector_title = W.HTML("<i>Click a chip on the map to inspect it.</i>")
        self.inspector = W.Image(format="png", layout=W.Layout(width="100%", max_width="1180px"))
        self.save_inspector = W.Button(
            description="Save inspector PNG", icon="image", disabled=True, layout=W.Layout(width="180px")
        )
        self.export_button = W.Button(
            description="Export density map",
            icon="download",
            layout=W.Layout(width="180px"),
            tooltip="GeoTIFF + GeoPackage of the selected configuration",
        )
        self.export_out = W.HTML()
        inspector = W.VBox([W.HBox([self.inspector_title, self.save_inspector]), self.inspector])
        export_box = W.VBox(
            [
                W.HTML(
                    f"Files are written to <code>{html.escape(str(exports.exports_dir(data_root)))}</code> "
                    "(names from the configuration and chip id)."
                ),
                W.HBox([self.export_button, self.save_inspector]),
                self.export_out,
            ]
        )
        return inspector, export_box

    def _on_chip_click(self, **kwargs) -> None:
        props = (kwargs.get("feature") or {}).get("properties") or kwargs.get("properties") or {}
        if "chip_id" not in props:
            return
        self.inspect(int(props["chip_id"]))

    def inspect(self, chip_id: int) -> None:
        """Open the inspector on ``chip_id`` under the selected configuration."""
        from landslide_app.dashboard.plots import inspector_png

        st = self.state
        assert st is not None
        t = time.perf_counter()
        self.inspector_title.value = f"<i>loading chip {chip_id}…</i>"
        self.tabs.selected_index = INSPECTOR_TAB
        insp = st.inspect(chip_id, self.spec)
        png = inspector_png(insp)
        self.inspection, self.inspector_bytes = insp, png
        self.inspector.value = png
        feat = next((f for f in self.chip_layer.data["features"] if f["properties"]["chip_id"] == chip_id), None)
        self.selected_layer.data = {"type": "FeatureCollection", "features": [feat] if feat else []}
        pred = "not computed" if insp.pred_class is None else str(insp.pred_class)
        proba = "" if insp.proba is None else " · p = " + " / ".join(f"{p:.2f}" for p in insp.proba)
        self.inspector_title.value = (
            f"<b>Chip {chip_id}</b> (row {insp.row}, col {insp.col}) · {insp.head_count} heads · true class "
            f"{insp.true_class} · predicted {pred}{proba} · {html.escape(insp.key)}"
        )
        self.save_inspector.disabled = False
        self.timings["inspect_s"] = time.perf_counter() - t

    def export_density(self) -> list[Path]:
        """The selected configuration's density map as GeoTIFF + GeoPackage under ``DATA/exports``."""
        st = self.state
        assert st is not None
        paths = exports.export_density(st, self.spec)
        self._report_exports(paths)
        return paths

    def export_inspector(self) -> Path:
        """The inspector's figure as a PNG under ``DATA/exports``."""
        st = self.state
        assert st is not None
        if self.inspection is None or self.inspector_bytes is None:
            raise LandslideAppError("click a chip first: there is no inspector figure to save")
        path = exports.export_png(st, self.inspector_bytes, self.inspection.chip_id, self.inspection.key)
        self._report_exports([path])
        return path

    def _report_exports(self, paths: list[Path]) -> None:
        items = "".join(f"<li><code>{html.escape(str(p))}</code></li>" for p in paths)
        self.export_out.value = f"Written:<ul>{items}</ul>"
        self.show("Exported " + ", ".join(p.name for p in paths), "ok")
