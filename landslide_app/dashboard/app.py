"""The analyst's dashboard: the page layout and wiring over :class:`~landslide_app.dashboard.state.DashboardState`.

Layout: a title and a message area; the controls (inputs, revisits, density thresholds, epochs,
Run, progress, map options) beside the ipyleaflet map (hillshade, chips coloured by predicted
or true class, landslide-heads heatmap, embedding mosaic, legend, layer control); below, tabs
with the results (paper Table 2, baselines, ROC, confusion), the chip inspector and the exports.

:class:`Dashboard` assembles panels with one job each: :mod:`~.analyst_controls` (the controls
column), :mod:`~.analyst_map` (the map), :mod:`~.analyst_results` (Table 2, baselines, plots),
:mod:`~.analyst_runs` (Run, Run whole table, cancel) and :mod:`~.analyst_inspector` (inspector,
exports); this module lays them out, wires them and shows the selected configuration.

Every callback goes through :meth:`Dashboard._guard`: an exception becomes a message in the page
(never a traceback) and the app stays usable. Training runs in a background thread
(:class:`~landslide_app.dashboard.jobs.BackgroundJob`) that updates the progress bar.
"""

from __future__ import annotations

import html
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from landslide_app.dashboard.analyst_controls import ControlsMixin
from landslide_app.dashboard.analyst_inspector import InspectorMixin
from landslide_app.dashboard.analyst_map import MapMixin
from landslide_app.dashboard.analyst_results import ResultsMixin
from landslide_app.dashboard.analyst_runs import RunsMixin
from landslide_app.dashboard.jobs import BackgroundJob
from landslide_app.dashboard.messages import user_text
from landslide_app.dashboard.queue import RunQueue
from landslide_app.dashboard.state import DashboardState
from landslide_app.demo import DEFAULT_INPUTS, DEFAULT_REVISITS
from landslide_app.errors import LandslideAppError
from landslide_app.experiments.ablation import DEFAULT_EPOCHS, RunSpec
from landslide_app.experiments.workspace_layout import WorkspaceLayout

if TYPE_CHECKING:
    from landslide_app.dashboard.workspace_view import WorkspaceApp

log = logging.getLogger(__name__)

TITLE = "<h2 style='margin:4px 0'>Landslide density — SAR + DEM (Hurricane María demo scene)</h2>"
#: CSS classes the page's tests and styles find the widgets by.
_CSS_CLASSES = (
    ("run_button", "ls-run"),
    ("run_all_button", "ls-run-all"),
    ("progress", "ls-progress"),
    ("progress_text", "ls-progress-text"),
    ("table", "ls-table"),
    ("summary", "ls-summary"),
    ("inspector", "ls-inspector"),
    ("inspector_title", "ls-inspector-title"),
    ("msg", "ls-messages"),
    ("export_button", "ls-export"),
)


class Dashboard(ControlsMixin, MapMixin, ResultsMixin, RunsMixin, InspectorMixin):
    """The dashboard of one data directory. ``Dashboard(...).widget`` is what the page shows."""

    def __init__(
        self,
        data_dir: str | Path,
        *,
        epochs: int | None = None,
        seed: int = 0,
        train_kwargs: dict[str, Any] | None = None,
        autostart: bool = True,
        warm: bool = True,
        title: str | None = None,
        queue: RunQueue | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.queue = queue  # the page's run queue: "Run whole table" goes there as `landslide-app ablate`
        self.job = BackgroundJob("run")
        self.state = None
        self.view = None
        self.inspection = None
        self.inspector_bytes = None
        self.timings = {}
        self._running_key = None
        self._busy = False  # a run is going (set before the thread starts, cleared in its callbacks)
        self.msg = W.HTML(layout=W.Layout(min_height="0px"))
        self.title = W.HTML(TITLE if title is None else title)
        try:
            self.state = DashboardState(data_dir, epochs=epochs or DEFAULT_EPOCHS, seed=seed, train_kwargs=train_kwargs)
            self._build()
        except Exception as exc:  # noqa: BLE001 - the page shows a message, never a traceback
            if not isinstance(exc, LandslideAppError):
                log.exception("dashboard failed to start")
            text = user_text(exc, "The dashboard")
            if not isinstance(exc, LandslideAppError):
                text += f". Run `landslide-app demo --data {data_dir}` to prepare the data."
            self.show(text)
            self.widget = W.VBox([self.title, self.msg], layout=W.Layout(width="100%"))
            return
        # with warm-up, the page shows the map at once and a background thread draws the plots
        # and prepares every computed configuration (switching to them is then a lookup)
        self.refresh(plots=not warm)
        if warm:
            import threading

            threading.Thread(target=self._warm, name="landslide-warm", daemon=True).start()
        if autostart:
            self._autostart()

    def _autostart(self) -> None:
        """First launch: compute the default configuration in the background when it is not cached."""
        st = self.state
        assert st is not None
        default = RunSpec(DEFAULT_INPUTS, DEFAULT_REVISITS)
        if not st.is_computed(default) and (st.has_sar or default.inputs == "dem"):
            self.show(
                f"First launch: computing the default configuration {default.key} in the background "
                "(the map fills in when it is done).",
                "info",
            )
            self._start_run([default])

    def _warm(self) -> None:
        st = self.state
        assert st is not None
        try:
            if self.view is not None and self.view.computed:
                st.view(self.spec)
                self.refresh_results()
        except Exception as exc:  # noqa: BLE001
            log.warning("could not draw the result plots: %s", exc)
        st.warm()

    def _repr_mimebundle_(self, **kwargs):  # the notebook cell shows the dashboard
        return self.widget._repr_mimebundle_(**kwargs)

    # ---- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        """The panels, the page around them, then the wiring and the default selection."""
        st = self.state
        assert st is not None
        self._build_controls(st.store_thresholds, st.epochs)
        self._build_map(st)
        results = self._build_results()
        inspector, export_box = self._build_inspector(st.paths.root)
        self.tabs = W.Tab(children=[results, inspector, export_box])
        for i, name in enumerate(["Results (Table 2)", "Chip inspector", "Exports"]):
            self.tabs.set_title(i, name)
        self.header = W.HTML(_header_html(st))
        self.widget = W.VBox(
            [
                self.title,
                self.header,
                self.msg,
                W.HBox([self._controls_box(), W.VBox([self.map, self.summary], layout=W.Layout(flex="1"))]),
                self.tabs,
            ],
            layout=W.Layout(width="100%"),
        )
        self.widget.add_class("landslide-dashboard")
        for name, cls in _CSS_CLASSES:
            getattr(self, name).add_class(cls)
        self._wire()
        self._selection = st.selection(DEFAULT_INPUTS, DEFAULT_REVISITS)

    def _wire(self) -> None:
        """Every widget's callback, each behind :meth:`_guard`."""
        g = self._guard
        for w in (self.inputs, self.revisits, self.t0, self.t1):
            w.observe(g("Switching the configuration", self._on_selection), "value")
        self.epochs.observe(g("Setting epochs", lambda _c: self._update_run_button()), "value")
        self.colour_by.observe(g("Colouring the chips", lambda _c: self._apply_chips()), "value")
        self.basemap.observe(g("The basemap", self._on_basemap), "value")
        self.show_heads.observe(g("The heads layer", self._on_heads), "value")
        self.run_button.on_click(g("Starting the run", lambda _b: self._start_run([self.spec])))
        self.run_all_button.on_click(g("Starting the runs", lambda _b: self._run_all()))
        self.cancel_button.on_click(g("Cancelling the run", lambda _b: self._cancel_run()))
        self.chip_layer.on_click(g("Inspecting the chip", self._on_chip_click))
        self.export_button.on_click(g("Exporting the density map", lambda _b: self.export_density()))
        self.save_inspector.on_click(g("Saving the inspector", lambda _b: self.export_inspector()))

    # ---- selection ----------------------------------------------------------------------
    def _on_selection(self, _change=None) -> None:
        assert self.state is not None
        try:
            sel = self.state.selection(self.inputs.value, self.revisits.value, self.t0.value, self.t1.value)
        except LandslideAppError as exc:
            self.show(str(exc))  # keep the previous valid selection
            return
        if sel != self._selection:
            self._selection = sel
            self.refresh()

    def refresh(self, plots: bool = True) -> None:
        """Show the selected configuration: map first (cached views), then the result panels
        (``plots`` False: the ROC and confusion only when already drawn)."""
        st = self.state
        assert st is not None
        t = time.perf_counter()
        self.view = st.view(self.spec, plots=False)
        self._show_view()
        self.timings["map_s"] = time.perf_counter() - t
        self._update_summary()
        self._update_run_button()
        self.refresh_results(plots)
        self.timings["refresh_s"] = time.perf_counter() - t


def _header_html(st: DashboardState) -> str:
    """The line under the title: the chip store and the data folder."""
    info = st.store.info()
    return (
        f"<span style='color:#444'>{info['n_chips']} chips of {info['chip_size']}×{info['chip_size']} px "
        f"({info['crs']}), {info['n_heads']} landslide heads, true classes {info['class_counts']}; "
        f"data: <code>{html.escape(str(st.paths.root))}</code></span>"
    )


def build_app(data_dir: str | Path = "data/demo", root: str | Path | None = None, **kwargs: Any) -> WorkspaceApp:
    """The page for the workspace ``data_dir`` (any folder the CLI made, see
    :class:`~landslide_app.dashboard.workspace_view.WorkspaceApp`), with the picker over ``root``;
    a labelled workspace with the demo layout adds the analyst's :class:`Dashboard` (``kwargs``).

    The returned object displays itself in a notebook cell (Voila, JupyterLab); ``.widget`` is the root widget.
    """
    from landslide_app.dashboard.workspace_view import WorkspaceApp

    def analyst(folder: Path, _title: str, queue: RunQueue) -> Dashboard:
        # first launch trains the default configuration only where an ablation folder exists (the demo);
        # a freshly fetched labelled area waits for Run
        auto = bool(kwargs.get("autostart", True)) and WorkspaceLayout(folder).ablation.is_dir()
        return Dashboard(folder, title="", queue=queue, **{**kwargs, "autostart": auto})

    return WorkspaceApp(data_dir, root=root, analyst=analyst)
