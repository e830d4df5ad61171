"""What the panels of the analyst's dashboard share: its state, its widgets by name, messages and guards.

The analyst's :class:`~landslide_app.dashboard.app.Dashboard` is one object assembled from panels
with one job each (:mod:`~.analyst_controls`, :mod:`~.analyst_map`, :mod:`~.analyst_results`,
:mod:`~.analyst_runs`, :mod:`~.analyst_inspector`); each is a mixin over :class:`AnalystBase`, so
the widgets keep the one name the page, the tests and notebooks use (``dash.run_button``,
``dash.map`` ...). This class declares those names and types, shows messages and guards callbacks;
it builds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipyleaflet
import ipywidgets as W

from landslide_app.dashboard.messages import guarded, message_html

if TYPE_CHECKING:
    from landslide_app.dashboard.jobs import BackgroundJob
    from landslide_app.dashboard.queue import RunQueue
    from landslide_app.dashboard.state import DashboardState, MapView, Selection
    from landslide_app.dashboard.views import ChipInspection
    from landslide_app.experiments.ablation import RunSpec


class AnalystBase:
    """The analyst dashboard's shared attributes (set by :class:`~landslide_app.dashboard.app.Dashboard`
    and its panels) and its message area."""

    data_dir: Path
    state: DashboardState | None
    queue: RunQueue | None
    job: BackgroundJob
    view: MapView | None
    inspection: ChipInspection | None
    inspector_bytes: bytes | None
    timings: dict[str, float]
    msg: W.HTML
    _selection: Selection
    _running_key: tuple[str, int] | None
    _busy: bool
    # controls (analyst_controls)
    inputs: W.ToggleButtons
    revisits: W.IntSlider
    t0: W.BoundedFloatText
    t1: W.BoundedFloatText
    epochs: W.BoundedIntText
    seeds: W.IntSlider
    run_button: W.Button
    run_all_button: W.Button
    cancel_button: W.Button
    runs_list: W.HTML
    progress: W.FloatProgress
    progress_text: W.HTML
    colour_by: W.ToggleButtons
    opacity: W.FloatSlider
    basemap: W.Checkbox
    show_heads: W.Checkbox
    # map (analyst_map)
    map: ipyleaflet.Map
    chip_layer: ipyleaflet.GeoJSON
    selected_layer: ipyleaflet.GeoJSON
    summary: W.HTML
    # results and inspector (analyst_results, analyst_inspector)
    tabs: W.Tab
    export_out: W.HTML

    def show(self, text: str, kind: str = "error") -> None:
        """Put ``text`` in the page's message area (empty text clears it)."""
        self.msg.value = message_html(text, kind)

    def _guard(self, what: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a callback: exceptions become a message in the page."""
        return guarded(what, fn, self.show)

    @property
    def spec(self) -> RunSpec:
        """The selected configuration."""
        return self._selection.spec

    def refresh(self, plots: bool = True) -> None:
        """Show the selected configuration (:class:`~landslide_app.dashboard.app.Dashboard` defines it)."""
        raise NotImplementedError

    def refresh_results(self, plots: bool = True) -> None:
        """Redraw the result panels (:mod:`~.analyst_results` defines it)."""
        raise NotImplementedError
