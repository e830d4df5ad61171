"""The analyst dashboard's controls column: configuration, density classes, training, runs, map options.

:meth:`ControlsMixin._build_controls` makes the widgets (named on the dashboard: ``inputs``,
``revisits``, ``t0``, ``t1``, ``epochs``, ``seeds``, ``run_button`` ...) and
:meth:`ControlsMixin._controls_box` lays them out; what they do is wired by
:class:`~landslide_app.dashboard.app.Dashboard` (selection, map options) and
:mod:`~.analyst_runs` (runs).
"""

from __future__ import annotations

import ipywidgets as W

from landslide_app.dashboard.analyst_base import AnalystBase
from landslide_app.demo import DEFAULT_INPUTS, DEFAULT_REVISITS

_WIDE_LABEL = {"description_width": "100px"}


def _class_threshold(value: float, density_class: int) -> W.BoundedFloatText:
    """The lower bound (heads / km²) of ``density_class``."""
    return W.BoundedFloatText(
        value=value,
        min=0,
        max=10_000,
        step=1,
        description=f"Class {density_class} above",
        style=_WIDE_LABEL,
        layout=W.Layout(width="200px"),
    )


class ControlsMixin(AnalystBase):
    """The controls column of the analyst's dashboard (see module docstring)."""

    def _build_controls(self, thresholds: tuple[float, float], epochs: int) -> None:
        """The configuration, density-class and training widgets, then the run and map widgets."""
        self.inputs = W.ToggleButtons(
            options=[("DEM only", "dem"), ("SAR only", "sar"), ("fused", "fused")],
            value=DEFAULT_INPUTS,
            description="Inputs",
            style={"button_width": "94px", "description_width": "50px"},
        )
        self.revisits = W.IntSlider(
            value=DEFAULT_REVISITS,
            min=1,
            max=3,
            step=1,
            description="Post revisits",
            continuous_update=False,
            style=_WIDE_LABEL,
        )
        self.t0, self.t1 = _class_threshold(thresholds[0], 1), _class_threshold(thresholds[1], 2)
        self.epochs = W.BoundedIntText(
            value=epochs, min=1, max=1000, description="Epochs", style=_WIDE_LABEL, layout=W.Layout(width="200px")
        )
        self.seeds = W.IntSlider(
            value=1,
            min=1,
            max=10,
            description="Seeds",
            continuous_update=False,
            style=_WIDE_LABEL,
            layout=W.Layout(width="330px"),
            tooltip="Run whole table: repeats with seeds seed..seed+N-1 (ablate --seeds)",
        )
        self._build_run_controls()
        self._build_map_options()

    def _build_run_controls(self) -> None:
        """Run, Run whole table, the progress bar, the cancel button and the run list."""
        self.runs_list = W.HTML()
        self.cancel_button = W.Button(
            description="Cancel run",
            icon="stop",
            button_style="warning",
            disabled=True,
            layout=W.Layout(width="120px", display=None if self.queue else "none"),
        )
        self.run_button = W.Button(
            description="Run",
            button_style="primary",
            icon="play",
            layout=W.Layout(width="180px"),
            tooltip="train and evaluate the selected configuration (background)",
        )
        self.run_all_button = W.Button(
            description="Run whole table",
            icon="table",
            layout=W.Layout(width="150px"),
            tooltip="every configuration of paper Table 2 (cached ones are skipped)",
        )
        self.progress = W.FloatProgress(
            value=0, min=0, max=1, description="", bar_style="info", layout=W.Layout(width="98%")
        )
        self.progress_text = W.HTML("<span style='color:#555'>idle</span>")

    def _build_map_options(self) -> None:
        """Chip colouring, embedding opacity, the heads heatmap and the online basemap."""
        self.colour_by = W.ToggleButtons(
            options=[("predicted", "pred"), ("true", "true")],
            value="pred",
            description="Chips",
            style={"button_width": "90px", "description_width": "50px"},
        )
        self.opacity = W.FloatSlider(
            value=0.7,
            min=0,
            max=1,
            step=0.05,
            description="Embedding opacity",
            readout_format=".2f",
            style={"description_width": "120px"},
        )
        self.basemap = W.Checkbox(value=False, description="online basemap (needs internet)", indent=False)
        self.show_heads = W.Checkbox(
            value=False, description="landslide heads heatmap (hides the classes)", indent=False
        )
        self.show_heads.add_class("ls-show-heads")

    def _controls_box(self) -> W.VBox:
        """The controls column, top to bottom."""
        return W.VBox(
            [
                W.HTML("<b>Configuration</b>"),
                self.inputs,
                self.revisits,
                W.HTML("<b>Density classes</b> (heads / km²)"),
                self.t0,
                self.t1,
                W.HTML("<b>Training</b>"),
                self.epochs,
                self.seeds,
                W.HBox([self.run_button, self.run_all_button]),
                self.progress,
                self.progress_text,
                self.cancel_button,
                self.runs_list,
                W.HTML("<b>Map</b>"),
                self.colour_by,
                self.opacity,
                self.show_heads,
                self.basemap,
            ],
            layout=W.Layout(width="360px", min_width="360px", padding="0 8px 0 0"),
        )
