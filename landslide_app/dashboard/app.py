"""The dashboard: widgets, layout and wiring over :class:`~landslide_app.dashboard.state.DashboardState`.

Layout: a title and a message area; the controls (inputs, revisits, density thresholds, epochs,
Run, progress, map options) beside the ipyleaflet map (hillshade, chips coloured by predicted
or true class, landslide-heads heatmap, embedding mosaic, legend, layer control); below, tabs
with the results (paper Table 2, baselines, ROC, confusion), the chip inspector and the exports.

Every callback goes through :meth:`Dashboard._guard`: an exception becomes a message in the page
(never a traceback) and the app stays usable. Training runs in a background thread
(:class:`~landslide_app.dashboard.jobs.BackgroundJob`) that updates the progress bar.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipyleaflet
import ipywidgets as W

from landslide_app.core.density import CLASS_NAMES, class_names
from landslide_app.dashboard import exports, layers
from landslide_app.dashboard.jobs import BackgroundJob
from landslide_app.dashboard.queue import RunQueue
from landslide_app.dashboard.state import DashboardState, MapView
from landslide_app.dashboard.style import fmt_auc
from landslide_app.dashboard.tables import baselines_html, table2_html
from landslide_app.demo import DEFAULT_INPUTS, DEFAULT_REVISITS
from landslide_app.errors import LandslideAppError
from landslide_app.experiments.ablation import DEFAULT_EPOCHS, AblationSettings, RunSpec

if TYPE_CHECKING:
    from landslide_app.dashboard.views import ChipInspection
    from landslide_app.dashboard.workspace_view import WorkspaceApp

log = logging.getLogger(__name__)

TITLE = "<h2 style='margin:4px 0'>Landslide density — SAR + DEM (Hurricane María demo scene)</h2>"
_COLOURS = {"error": "#b71c1c", "info": "#0d47a1", "ok": "#1b5e20", "warn": "#e65100"}


def message(text: str, kind: str = "error") -> W.HTML:
    """A message box for the page (errors never appear as tracebacks)."""
    return W.HTML(_message_html(text, kind))


def _message_html(text: str, kind: str) -> str:
    if not text:
        return ""
    c = _COLOURS[kind]
    return (
        f'<div class="ls-message ls-{kind}" style="padding:6px 10px;border-left:4px solid {c};color:{c};'
        f'background:#fafafa">{html.escape(text)}</div>'
    )


def _user_text(exc: BaseException, what: str) -> str:
    if isinstance(exc, LandslideAppError):
        return str(exc)
    return f"{what} failed: {type(exc).__name__}: {exc}"


class Dashboard:
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
        self.state: DashboardState | None = None
        self.view: MapView | None = None
        self.inspection: ChipInspection | None = None
        self.inspector_bytes: bytes | None = None
        self.timings: dict[str, float] = {}
        self._running_key: tuple[str, int] | None = None
        self._busy = False  # a run is going (set before the thread starts, cleared in its callbacks)
        self.msg = W.HTML(layout=W.Layout(min_height="0px"))
        self.title = W.HTML(TITLE if title is None else title)
        try:
            self.state = DashboardState(data_dir, epochs=epochs or DEFAULT_EPOCHS, seed=seed, train_kwargs=train_kwargs)
            self._build()
        except Exception as exc:  # noqa: BLE001 - the page shows a message, never a traceback
            if not isinstance(exc, LandslideAppError):
                log.exception("dashboard failed to start")
            text = _user_text(exc, "The dashboard")
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
        default = RunSpec(DEFAULT_INPUTS, DEFAULT_REVISITS)
        if autostart and not self.state.is_computed(default) and (self.state.has_sar or default.inputs == "dem"):
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

    # ---- messages and guards --------------------------------------------------------------
    def show(self, text: str, kind: str = "error") -> None:
        self.msg.value = _message_html(text, kind)

    def _guard(self, what: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a callback: exceptions become a message in the page."""

        def wrapped(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001
                if not isinstance(exc, LandslideAppError):
                    log.exception("%s failed", what)
                self.show(_user_text(exc, what))
                return None

        return wrapped

    # ---- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        st = self.state
        assert st is not None
        t0, t1 = st.store_thresholds
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
            style={"description_width": "100px"},
        )
        self.t0 = W.BoundedFloatText(
            value=t0,
            min=0,
            max=10_000,
            step=1,
            description="Class 1 above",
            style={"description_width": "100px"},
            layout=W.Layout(width="200px"),
        )
        self.t1 = W.BoundedFloatText(
            value=t1,
            min=0,
            max=10_000,
            step=1,
            description="Class 2 above",
            style={"description_width": "100px"},
            layout=W.Layout(width="200px"),
        )
        self.epochs = W.BoundedIntText(
            value=st.epochs,
            min=1,
            max=1000,
            description="Epochs",
            style={"description_width": "100px"},
            layout=W.Layout(width="200px"),
        )
        self.seeds = W.IntSlider(
            value=1,
            min=1,
            max=10,
            description="Seeds",
            continuous_update=False,
            style={"description_width": "100px"},
            layout=W.Layout(width="330px"),
            tooltip="Run whole table: repeats with seeds seed..seed+N-1 (ablate --seeds)",
        )
        self.runs_list = W.HTML()
        self.cancel_button = W.Button(
            description="Cancel run",
            icon="stop",
            button_style="warning",
            disabled=True,
            layout=W.Layout(width="120px", display=None if self.queue else "none"),
        )
        self.cancel_button.on_click(self._guard("Cancelling the run", lambda _b: self._cancel_run()))
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
        self.summary = W.HTML()

        # map
        w, s, e, n = st.index.to_crs("EPSG:4326").total_bounds  # fit the chips, not the sea around
        self.map = layers.map_widget(((s, w), (n, e)))
        try:
            self.map.add(layers.hillshade_layer(st.paths.dem)[0])
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

        # results, inspector, exports
        self.table = W.HTML()
        self.baselines = W.HTML()
        self.roc = W.Image(format="png", layout=W.Layout(width="420px"))
        self.confusion = W.Image(format="png", layout=W.Layout(width="340px"))
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
        results = W.VBox(
            [
                W.HTML("<b>Paper Table 2</b> — AUC (multi-class one-vs-rest, macro); test = held-out half"),
                self.table,
                W.HTML("<b>Baselines beside the CNN</b>"),
                self.baselines,
                W.HBox([self.roc, self.confusion]),
            ]
        )
        inspector = W.VBox([W.HBox([self.inspector_title, self.save_inspector]), self.inspector])
        export_box = W.VBox(
            [
                W.HTML(
                    f"Files are written to <code>{html.escape(str(exports.exports_dir(st.paths.root)))}</code> "
                    "(names from the configuration and chip id)."
                ),
                W.HBox([self.export_button, self.save_inspector]),
                self.export_out,
            ]
        )
        self.tabs = W.Tab(children=[results, inspector, export_box])
        for i, name in enumerate(["Results (Table 2)", "Chip inspector", "Exports"]):
            self.tabs.set_title(i, name)

        controls = W.VBox(
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
        info = st.store.info()
        self.header = W.HTML(
            f"<span style='color:#444'>{info['n_chips']} chips of {info['chip_size']}×{info['chip_size']} px "
            f"({info['crs']}), {info['n_heads']} landslide heads, true classes {info['class_counts']}; "
            f"data: <code>{html.escape(str(st.paths.root))}</code></span>"
        )
        self.widget = W.VBox(
            [
                self.title,
                self.header,
                self.msg,
                W.HBox([controls, W.VBox([self.map, self.summary], layout=W.Layout(flex="1"))]),
                self.tabs,
            ],
            layout=W.Layout(width="100%"),
        )
        self.widget.add_class("landslide-dashboard")
        for w, cls in (
            (self.run_button, "ls-run"),
            (self.run_all_button, "ls-run-all"),
            (self.progress, "ls-progress"),
            (self.progress_text, "ls-progress-text"),
            (self.table, "ls-table"),
            (self.summary, "ls-summary"),
            (self.inspector, "ls-inspector"),
            (self.inspector_title, "ls-inspector-title"),
            (self.msg, "ls-messages"),
            (self.export_button, "ls-export"),
        ):
            w.add_class(cls)

        # wiring
        for w in (self.inputs, self.revisits, self.t0, self.t1):
            w.observe(self._guard("Switching the configuration", self._on_selection), "value")
        self.epochs.observe(self._guard("Setting epochs", lambda _c: self._update_run_button()), "value")
        self.colour_by.observe(self._guard("Colouring the chips", lambda _c: self._apply_chips()), "value")
        self.basemap.observe(self._guard("The basemap", self._on_basemap), "value")
        self.show_heads.observe(self._guard("The heads layer", self._on_heads), "value")
        self.run_button.on_click(self._guard("Starting the run", lambda _b: self._start_run([self.spec])))
        self.run_all_button.on_click(self._guard("Starting the runs", lambda _b: self._run_all()))
        self.chip_layer.on_click(self._guard("Inspecting the chip", self._on_chip_click))
        self.export_button.on_click(self._guard("Exporting the density map", lambda _b: self.export_density()))
        self.save_inspector.on_click(self._guard("Saving the inspector", lambda _b: self.export_inspector()))
        self._selection = st.selection(DEFAULT_INPUTS, DEFAULT_REVISITS)

    # ---- selection ----------------------------------------------------------------------
    @property
    def spec(self) -> RunSpec:
        return self._selection.spec

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
        spec = self.spec
        self.view = st.view(spec, plots=False)
        self._apply_chips()
        v = self.view
        with self.emb_layer.hold_trait_notifications():
            if v.embedding_bounds is not None:
                self.emb_layer.bounds = v.embedding_bounds
            self.emb_layer.url = v.embedding_url
        self.colourbar.value = layers.colourbar_html(v.embedding_range, f"embedding {spec.key}")
        self.legend.legend = {
            lab: layers.CLASS_COLOURS[c] for c, lab in class_names(st.effective_thresholds(spec.thresholds)).items()
        }
        self.timings["map_s"] = time.perf_counter() - t
        self._update_summary()
        self._update_run_button()
        self.refresh_results(plots)
        self.timings["refresh_s"] = time.perf_counter() - t

    def _apply_chips(self) -> None:
        v = self.view
        if v is None:
            return
        pred = self.colour_by.value == "pred" and v.chips_pred is not None
        data = v.chips_pred if pred else v.chips_true
        if self.chip_layer.data is not data:
            self.chip_layer.data = data
        self.chip_layer.name = f"chips ({'predicted' if pred else 'true'} class)"

    def _update_summary(self) -> None:
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

    def _update_run_button(self) -> None:
        if self._busy:
            self.run_button.disabled = self.run_all_button.disabled = True
            return
        self.run_button.disabled = self.run_all_button.disabled = False
        res = self.view.result if self.view is not None and self.view.computed else None
        if res is None:
            self.run_button.description = "Run"
        elif res.epochs == int(self.epochs.value):
            self.run_button.description = "Computed ✓"
        else:
            self.run_button.description = f"Rerun ({self.epochs.value} epochs)"

    def refresh_results(self, plots: bool = True) -> None:
        """Table 2 (cached results), baselines, ROC and confusion of the selected configuration."""
        st, spec = self.state, self.spec
        assert st is not None
        cells = st.table(spec.thresholds, spec.split)
        running = getattr(self, "_running_key", None)
        t0, t1 = st.effective_thresholds(spec.thresholds)
        self.table.value = table2_html(
            cells,
            (spec.inputs, spec.revisits),
            running,
            f"{spec.split} split, classes at {t0:g} / {t1:g} heads/km²",
            summary=st.seed_summary(spec.thresholds, spec.split),
        )
        self.baselines.value = baselines_html(
            st.baselines(spec.thresholds, spec.split),
            self.view.result if self.view and self.view.computed else None,
            spec.key,
        )
        v = st.view(spec, plots=plots) if self.view is not None and self.view.computed else self.view
        for img, data in ((self.roc, v.roc_png if v else None), (self.confusion, v.confusion_png if v else None)):
            img.value = data or b""
            img.layout.display = None if data else "none"

    # ---- runs ---------------------------------------------------------------------------
    def _start_run(self, specs: list[RunSpec] | None) -> None:
        """Run ``specs`` (None: the whole Table 2 with ``run_ablation``) in the background."""
        st = self.state
        assert st is not None
        if self._busy or self.job.running:
            self.show("A run is in progress; wait for it to finish.", "warn")
            return
        epochs = int(self.epochs.value) if hasattr(self, "epochs") else st.epochs
        sel = self._selection if hasattr(self, "_selection") else None
        thresholds = sel.thresholds if sel else None
        if specs is not None and specs[0].inputs != "dem" and not st.has_sar:
            self.show(f"{specs[0].key} needs SAR but this chip store is DEM-only: choose DEM only.")
            return

        def step(frac: float, text: str) -> None:
            if hasattr(self, "progress"):
                self.progress.value = max(0.0, min(1.0, frac))
                self.progress_text.value = f"<span style='color:#0d47a1'>{html.escape(text)}</span>"

        def work() -> dict[str, Any]:
            if specs is not None:
                self._running_key = (specs[0].inputs, specs[0].revisits)
                return st.run(specs[0], epochs, on_step=step)
            return self._run_table(epochs, thresholds, step)

        def done(res: dict[str, Any]) -> None:
            self._running_key = None
            self._set_running(False)
            if hasattr(self, "progress"):
                self.progress.bar_style = "success"
                self.refresh()
            key = res.get("key", "") if isinstance(res, dict) else ""
            self.show(f"Finished {key or 'the runs'}.", "ok")

        def failed(exc: BaseException) -> None:
            self._running_key = None
            self._set_running(False)
            if hasattr(self, "progress"):
                self.progress.bar_style = "danger"
                self.progress_text.value = "<span style='color:#b71c1c'>failed</span>"
                self.refresh()
            self.show(_user_text(exc, "The run"))

        self._set_running(True)
        if hasattr(self, "progress"):
            self.progress.bar_style, self.progress.value = "info", 0.0
        if not self.job.start(work, done, failed):
            self._set_running(False)
            self.show("A run is in progress; wait for it to finish.", "warn")

    def _run_all(self) -> None:
        """The whole Table 2: with the page's queue, ``landslide-app ablate`` as a queued, cancellable
        run (store thresholds only); else in this process (:meth:`_start_run`)."""
        if self.queue is None or self._selection.thresholds is not None:
            self._start_run(None)
            return
        from landslide_app.dashboard.queue import StageRun, cli_command

        st = self.state
        assert st is not None
        args = [
            "ablate",
            "--chips",
            str(st.store.path),
            "--out",
            str(st.paths.ablation),
            "--epochs",
            str(int(self.epochs.value)),
            "--seed",
            str(st.seed),
            "--seeds",
            str(int(self.seeds.value)),
        ]
        if not st.has_sar:
            args += ["--inputs", "dem"]
        self.queue.submit(
            StageRun(
                f"Table 2, {int(self.seeds.value)} seed(s)",
                cli_command(*args),
                on_done=lambda _r: self._guard("Updating the table", self.refresh)(),
            )
        )
        self.show(f"Table 2 queued ({int(self.seeds.value)} seed(s), {int(self.epochs.value)} epochs).", "info")

    def _cancel_run(self) -> None:
        if self.queue is not None:
            self.queue.cancel()

    def update_runs(self) -> None:
        """The page's run list and cancel button (the queue calls it)."""
        if self.queue is None:
            return
        from landslide_app.dashboard.queue import runs_html

        self.runs_list.value = runs_html(self.queue.runs)
        self.cancel_button.disabled = self.queue.current is None

    def _run_table(self, epochs: int, thresholds, step) -> dict[str, Any]:
        """The whole Table 2 through ``run_ablation`` (the same code as ``landslide-app ablate``)."""
        from landslide_app.experiments.ablation import run_ablation

        st = self.state
        assert st is not None
        settings = AblationSettings(
            inputs=("dem", "sar", "fused") if st.has_sar else ("dem",),
            epochs=epochs,
            seed=st.seed,
            thresholds=thresholds,
            train_kwargs=st.train_kwargs,
            baselines=thresholds is None,
            seeds=int(self.seeds.value) if hasattr(self, "seeds") else 1,
        )
        total = len(settings.specs())
        state = {"done": 0}

        def on_fold(e) -> None:  # a FoldEvent of the configuration being computed
            step((state["done"] + e.fraction) / total, f"Table 2: {e.describe()}")

        def on_progress(done: int, n: int, key: str) -> None:
            state["done"] = done
            step(done / n, f"{done}/{n} configurations ({key} finished)")
            self._guard("Updating the table", self.refresh_results)()

        res = run_ablation(
            st.store.path, st.paths.ablation, settings, progress=False, on_progress=on_progress, on_fold=on_fold
        )
        return {"key": f"{total} configurations", **{k: v for k, v in res.items() if k == "seconds"}}

    def _set_running(self, running: bool) -> None:
        self._busy = running
        if hasattr(self, "run_button"):
            self.run_button.disabled = self.run_all_button.disabled = running
            if running:
                self.run_button.description = "Running…"
            else:
                self._update_run_button()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background run (tests, benchmarks)."""
        return self.job.wait(timeout)

    # ---- map options --------------------------------------------------------------------
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

    # ---- inspector ----------------------------------------------------------------------
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
        self.tabs.selected_index = 1
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

    # ---- exports ------------------------------------------------------------------------
    def export_density(self) -> list[Path]:
        st = self.state
        assert st is not None
        paths = exports.export_density(st, self.spec)
        self._report_exports(paths)
        return paths

    def export_inspector(self) -> Path:
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
        auto = bool(kwargs.get("autostart", True)) and (folder / "ablation").is_dir()
        return Dashboard(folder, title="", queue=queue, **{**kwargs, "autostart": auto})

    return WorkspaceApp(data_dir, root=root, analyst=analyst)
