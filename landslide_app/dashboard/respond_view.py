"""The responder's panel of a workspace: the area's map, "Respond" (apply a trained model), "New area"
(fetch chips in the background), "Train" (a model on the area's labelled chips), the SAR before/after
split map and the run list.

Widgets only: what is shown comes from :class:`~landslide_app.dashboard.area.AreaState`, the limits
of a fetch from :mod:`~landslide_app.dashboard.fetch`, and every stage (``chips``, ``predict``,
``train``) is a CLI run in the page's :class:`~landslide_app.dashboard.queue.RunQueue` (progress, cancel).

:class:`RespondView` assembles parts with one job each: :mod:`~.respond_map` (the map: the area's
chips, the selected prediction with its legend, the chips being built, the selected chip, the new
area's box), :mod:`~.respond_predictions` (Respond), :mod:`~.respond_new_area` (New area),
:mod:`~.respond_train` (Train) and :mod:`~.respond_sar` (SAR change: the pre- and post-event VH images
under a split control, off by default since they would hide the classes); this module lays them out
with the Runs tab.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as W

from landslide_app.dashboard.area import AreaState
from landslide_app.dashboard.queue import DONE, FAILED, RunQueue, StageRun, runs_html
from landslide_app.dashboard.respond_base import TAB_TITLES
from landslide_app.dashboard.respond_map import RespondMapMixin
from landslide_app.dashboard.respond_new_area import NewAreaMixin
from landslide_app.dashboard.respond_predictions import PredictionsMixin
from landslide_app.dashboard.respond_sar import SarChangeMixin
from landslide_app.dashboard.respond_train import TrainMixin

log = logging.getLogger(__name__)

#: CSS classes the page's tests and styles find the widgets by.
_CSS_CLASSES = (
    ("apply_button", "ls-apply"),
    ("fetch_button", "ls-fetch"),
    ("train_button", "ls-train"),
    ("cancel_button", "ls-cancel"),
    ("progress_text", "ls-run-status"),
    ("runs_html", "ls-run-list"),
    ("km2", "ls-km2"),
    ("top_list", "ls-top-list"),
    ("shift", "ls-shift"),
    ("files", "ls-files"),
    ("split_toggle", "ls-split-toggle"),
    ("inspect_title", "ls-chip-title"),
)


#: The five tab titles fit the 430 px panel whole (JupyterLab's tabs are 144 px wide, shrinking to an
#: ellipsis: "SAR chang…").
_TAB_CSS = (
    "<style>.ls-respond-view .lm-TabBar-tab, .ls-respond-view .p-TabBar-tab"
    "{flex:0 1 auto !important;min-width:0 !important;padding:0 8px !important}</style>"
)


class RespondView(RespondMapMixin, PredictionsMixin, NewAreaMixin, TrainMixin, SarChangeMixin):
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
        self.pred = None
        self.selected_chip = None
        self._split = None
        self._build_map()
        self._build_respond()
        self._build_fetch()
        self._build_train()
        self._build_sar()
        runs = self._build_runs()
        self.tabs = W.Tab(
            children=[self.respond_box, self.fetch_box, self.train_box, self.sar_box, runs],
            layout=W.Layout(width="430px", min_width="430px"),
        )
        for i, t in enumerate(TAB_TITLES):
            self.tabs.set_title(i, t)
        self.inspect_title = W.HTML("<i>Click a chip (map or list) to inspect it.</i>")
        self.widget = W.VBox(
            [
                W.HTML(_TAB_CSS),
                W.HBox([self.tabs, W.VBox([self.map], layout=W.Layout(flex="1"))]),
                W.HBox([W.VBox([self.inspect_title, self.chip_image]), self.chip_slider_box]),
            ]
        )
        self.widget.add_class("ls-respond-view")
        for name, cls in _CSS_CLASSES:
            getattr(self, name).add_class(cls)
        self.refresh_predictions()
        self.update_runs()

    # ---- runs ------------------------------------------------------------------------------
    def _build_runs(self) -> W.VBox:
        """The Runs tab: progress bar and line, cancel button, the run list."""
        self.runs_html = W.HTML(runs_html([]))
        self.progress = W.FloatProgress(value=0, min=0, max=1, bar_style="info", layout=W.Layout(width="98%"))
        self.progress_text = W.HTML("<span style='color:#555'>idle</span>")
        self.cancel_button = W.Button(
            description="Cancel run", icon="stop", button_style="warning", disabled=True, layout=W.Layout(width="140px")
        )
        self.cancel_button.on_click(self._guard("Cancelling the run", lambda _b: self.queue.cancel()))
        return W.VBox([self.progress, self.progress_text, self.cancel_button, W.HTML("<b>Runs</b>"), self.runs_html])

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
        self._update_apply_button()
        self.fetch_button.disabled = self.queue.busy
        self._update_train_button()
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
