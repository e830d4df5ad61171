"""The page: a workspace picker over a root folder, the open workspace's title, and its views.

``landslide-app app --data DIR`` opens ``DIR`` as a workspace (any folder the CLI made: a chip
store with or without labels, ``train``/``ablate`` runs, ``predict``/``respond`` outputs, or one
with ``workspace.json``); the picker lists the workspaces under the root (``--root``, default the
parent of ``DIR``) and "New workspace" makes an empty one there. The title names the workspace's
area and event.

Each workspace shows the responder's panel (:class:`~landslide_app.dashboard.respond_view.RespondView`:
map, respond, new area, SAR change, runs). A workspace holding a labelled chip store with the demo
layout (``chips/`` and ``ablation/``) shows the analyst's dashboard (Table 2, runs, inspector) first,
and the responder's panel in a section built when it is opened (one map, one kernel's memory, until
then). All stage runs of the page go through one queue (queued / running / done, cancel).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as W

from landslide_app.dashboard.area import AreaState
from landslide_app.dashboard.messages import guarded, message_html
from landslide_app.dashboard.queue import RunQueue
from landslide_app.dashboard.respond_view import RespondView
from landslide_app.experiments.workspace import Workspace, list_workspaces, new_workspace
from landslide_app.experiments.workspace_layout import CHIPS_DIR

log = logging.getLogger(__name__)

APP_NAME = "Landslide density — SAR + DEM"


def title_html(ws: Workspace | None) -> str:
    what = html.escape(ws.title) if ws is not None else "no workspace open"
    return f"<h2 class='ls-title' style='margin:4px 0'>{APP_NAME}: {what}</h2>"


def is_analyst_workspace(ws: Workspace) -> bool:
    """A labelled, complete chip store at ``chips/`` (the analyst dashboard's layout,
    :class:`~landslide_app.experiments.workspace_layout.WorkspaceLayout`)."""
    e = next((s for s in ws.stores if ws.path(s) == (ws.root / CHIPS_DIR).resolve()), None)
    return bool(e and e.get("labelled") and e.get("complete", True))


class WorkspaceApp:
    """The page (see module docstring). ``WorkspaceApp(...).widget`` is what Voila shows.

    Args:
        data_dir: the workspace to open first (or a root of workspaces: the first one is opened).
        root: the folder the picker lists (default: ``data_dir``'s parent, or ``data_dir`` itself
            when it holds workspaces).
        analyst: ``analyst(workspace_root, title, queue)`` builds the analyst's dashboard of an
            analyst workspace (an object with ``.widget``; None: never).
    """

    def __init__(
        self,
        data_dir: str | Path,
        root: str | Path | None = None,
        analyst: Callable[[Path, str, RunQueue], Any] | None = None,
    ) -> None:
        data = Path(data_dir).resolve()
        self.analyst_factory = analyst
        self.queue = RunQueue(on_change=self._on_queue)
        self.ws: Workspace | None = None
        self.area: AreaState | None = None
        self.respond: RespondView | None = None
        self.analyst: Any = None
        self.opened = 0  # workspaces opened so far (tests wait on it)
        self.msg = W.HTML()
        self.msg.add_class("ls-messages")
        self.title = W.HTML(title_html(None))
        self.header = W.HTML()
        self.body = W.VBox(layout=W.Layout(width="100%"))
        listed = list_workspaces(data) if data.is_dir() else []
        holds = bool(listed) and data not in listed
        self.root = Path(root).resolve() if root is not None else (data if holds else data.parent)
        self.picker = W.Dropdown(
            description="Workspace", layout=W.Layout(width="360px"), style={"description_width": "80px"}
        )
        self.open_button = W.Button(description="Open", icon="folder-open", layout=W.Layout(width="90px"))
        self.new_name = W.Text(placeholder="name of a new workspace", layout=W.Layout(width="220px"))
        self.new_button = W.Button(description="New workspace", icon="plus", layout=W.Layout(width="150px"))
        self.open_button.on_click(self.guard("Opening the workspace", lambda _b: self.open(Path(self.picker.value))))
        self.new_button.on_click(self.guard("Creating the workspace", lambda _b: self.create(self.new_name.value)))
        for w, cls in (
            (self.picker, "ls-picker"),
            (self.open_button, "ls-open"),
            (self.new_name, "ls-new-name"),
            (self.new_button, "ls-new-workspace"),
            (self.header, "ls-header"),
        ):
            w.add_class(cls)
        bar = W.HBox([self.picker, self.open_button, self.new_name, self.new_button])
        self.widget = W.VBox([self.title, bar, self.header, self.msg, self.body], layout=W.Layout(width="100%"))
        self.widget.add_class("landslide-dashboard")
        self.refresh_picker()
        first = listed[0] if holds else data
        self.guard("Opening the workspace", self.open)(first)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # ---- messages ----------------------------------------------------------------------------
    def show(self, text: str, kind: str = "error") -> None:
        self.msg.value = message_html(text, kind)

    def guard(self, what: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a callback: an exception becomes one message in the page (never a traceback)."""
        return guarded(what, fn, self.show)

    # ---- workspaces --------------------------------------------------------------------------
    def refresh_picker(self) -> None:
        paths = list_workspaces(self.root) if self.root.is_dir() else []
        if self.ws is not None and self.ws.root not in paths:
            paths.insert(0, self.ws.root)
        self.picker.options = [(p.name, str(p)) for p in paths]
        if self.ws is not None:
            self.picker.value = str(self.ws.root)

    def open(self, path: Path, show_respond: bool = False) -> None:
        """Open the workspace at ``path`` (rebuilds the page body); ``show_respond``: with the
        responder's panel open (after a fetch)."""
        if self.queue.busy:
            self.show(
                "A run is in progress: its results go to the workspace it started in; open another "
                "workspace when it has finished (or cancel it in Runs).",
                "warn",
            )
            return
        ws = Workspace.load(path)
        self.ws = ws
        self.area = AreaState(ws, root=self.root)
        self.title.value = title_html(ws)
        self.respond = None
        self.analyst = None
        if self.analyst_factory is not None and is_analyst_workspace(ws):
            self.analyst = self.analyst_factory(ws.root, ws.title, self.queue)
            section = W.Accordion(children=[W.VBox()], selected_index=None)
            section.set_title(0, "Respond, new area, train, SAR change (opens the responder's map)")
            section.add_class("ls-respond-section")
            section.observe(
                self.guard("Opening the responder's panel", lambda c: self._fill_section(section, c)), "selected_index"
            )
            self.body.children = [self.analyst.widget, section]
            if show_respond:
                section.selected_index = 0
        else:
            self.respond = self._respond_view()
            self.body.children = [self.respond.widget]
        store = self.area.header()
        runs = f"{len(ws.runs)} trained run(s), {len(ws.predictions)} prediction(s)"
        self.header.value = (
            f"<span style='color:#444'>{html.escape(store)}; {runs}; folder "
            f"<code>{html.escape(str(ws.root))}</code></span>"
        )
        self.refresh_picker()
        self.show("")
        self.opened += 1

    def _respond_view(self) -> RespondView:
        assert self.area is not None
        return RespondView(
            self.area,
            self.queue,
            self.show,
            self.guard,
            on_new_store=self._on_new_store,
            new_workspace=self._new_for_fetch,
        )

    def _fill_section(self, section: W.Accordion, change: dict) -> None:
        if change.get("new") is None or self.respond is not None:
            return
        self.respond = self._respond_view()
        section.children = [self.respond.widget]

    def create(self, name: str) -> Workspace:
        """ "New workspace": an empty folder under the root, opened (then use New area)."""
        ws = new_workspace(self.root, name)
        self.open(ws.root)
        if self.respond is not None:
            self.respond.tabs.selected_index = 1
        self.show(f"Workspace {ws.name} created: draw its area (or type W S E N) and press Fetch chips.", "ok")
        return ws

    def _new_for_fetch(self, name: str) -> Workspace:
        return new_workspace(self.root, name)

    def _on_new_store(self, folder: Path) -> None:
        self.open_when_idle(folder)

    def open_when_idle(self, folder: Path) -> None:
        """Open ``folder`` once the queue is idle (called from the finishing run's thread)."""
        import threading

        def later() -> None:
            self.queue.wait(600)
            self.guard("Opening the new workspace", self.open)(folder, show_respond=True)
            self.show(f"Chips of {folder.name} built: pick a model and press Apply.", "ok")

        threading.Thread(target=later, daemon=True).start()

    def _on_queue(self) -> None:
        for view in (self.respond, self.analyst):
            if view is not None and hasattr(view, "update_runs"):
                view.update_runs()
