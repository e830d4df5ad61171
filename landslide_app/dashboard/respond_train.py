"""The responder panel's Train tab: train a model on this workspace's labelled chips in the background
(a ``train`` stage run into ``models/<name>``), then find it under Respond (Model) of this and every
other workspace of the folder.

The kind offered first is the SAR chip-statistics forest where the chips have SAR (the demo's
responder model: seconds to train, and on the demo scene the only map that beats "class 1
everywhere"; README "Which model"), else a network on the DEM.

:meth:`TrainMixin._build_train` makes the widgets (named on the view: ``train_kind``,
``train_inputs``, ``train_revisits``, ``train_epochs``, ``train_seed``, ``train_name``,
``train_button``, ``train_note``) and the tab (``train_box``). What is trained and checked is
:mod:`~landslide_app.dashboard.train_request`; the run itself is the CLI's ``train``.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import ipywidgets as W

from landslide_app.core.vocabulary import MAX_EPOCHS
from landslide_app.dashboard.queue import StageRun
from landslide_app.dashboard.respond_base import RESPOND_TAB, RUNS_TAB, RespondBase
from landslide_app.dashboard.train_request import TrainRequest, check_train_request, train_run
from landslide_app.errors import InputError
from landslide_app.experiments.ablation_settings import DEFAULT_EPOCHS
from landslide_app.experiments.workspace import RUN_MARK
from landslide_app.experiments.workspace_layout import WorkspaceLayout

_LABEL = {"description_width": "80px"}


class TrainMixin(RespondBase):
    """The Train tab of the responder's panel (see module docstring)."""

    train_kind: W.ToggleButtons
    train_inputs: W.ToggleButtons
    train_revisits: W.IntSlider
    train_epochs: W.BoundedIntText
    train_seed: W.BoundedIntText
    train_name: W.Text
    train_button: W.Button
    train_note: W.HTML
    train_box: W.VBox

    def _build_train(self) -> None:
        """The form's widgets, wired, in ``train_box``; off (with the reason) without labelled chips."""
        store = self.area.ws.labelled_store()
        n_post = int((store or {}).get("n_post") or 0)
        self.train_kind = W.ToggleButtons(
            options=[("network (paper)", "cnn"), ("SAR statistics", "sar-stats")],
            value="sar-stats" if n_post else "cnn",  # as the demo's responder model; DEM-only chips: a network
            description="Model",
            style={"button_width": "140px", **_LABEL},
        )
        self.train_inputs = W.ToggleButtons(
            options=[("DEM only", "dem"), ("SAR only", "sar"), ("fused", "fused")],
            value="fused" if n_post else "dem",
            description="Inputs",
            style={"button_width": "92px", **_LABEL},
        )
        self.train_revisits = W.IntSlider(
            value=max(1, min(3, n_post)), min=1, max=max(1, min(3, n_post)), description="Revisits", style=_LABEL
        )
        self.train_epochs = W.BoundedIntText(
            value=DEFAULT_EPOCHS, min=1, max=MAX_EPOCHS, description="Epochs", style=_LABEL
        )
        self.train_seed = W.BoundedIntText(value=0, min=0, max=2**31 - 1, description="Seed", style=_LABEL)
        self.train_name = W.Text(description="Name", placeholder="folder under models/", style=_LABEL)
        self.train_button = W.Button(
            description="Train", icon="graduation-cap", button_style="primary", layout=W.Layout(width="160px")
        )
        self.train_button.on_click(self._guard("Training a model", lambda _b: self.train()))
        self.train_note = W.HTML()
        for w in (self.train_kind, self.train_inputs, self.train_revisits, self.train_epochs, self.train_seed):
            w.observe(self._guard("Updating the form", lambda _c: self._update_train_form()), "value")
        self.train_box = W.VBox(
            [
                W.HTML(
                    "<b>Train a model</b> on this workspace's labelled chips; it is then listed under "
                    "Respond (Model) here and in the other workspaces"
                ),
                self.train_kind,
                self.train_inputs,
                self.train_revisits,
                self.train_epochs,
                self.train_seed,
                self.train_name,
                self.train_button,
                self.train_note,
            ]
        )
        self._update_train_form()

    def train_request(self) -> TrainRequest:
        """The form as a request (not yet checked)."""
        return TrainRequest(
            str(self.train_kind.value),
            str(self.train_inputs.value),
            int(self.train_revisits.value),
            int(self.train_epochs.value),
            int(self.train_seed.value),
            str(self.train_name.value),
        )

    def _update_train_form(self) -> None:
        """Show the fields of the chosen kind, the default name as a hint, and why Train is off."""
        cnn = self.train_kind.value == "cnn"
        self.train_inputs.layout.display = None if cnn else "none"
        self.train_epochs.layout.display = None if cnn else "none"
        sar = not cnn or self.train_inputs.value != "dem"
        self.train_revisits.layout.display = None if sar else "none"
        req = self.train_request()
        self.train_name.placeholder = req.default_name()
        self._update_train_button()
        store = self.area.ws.labelled_store()
        if store is None:
            self.train_note.value = (
                "<span style='color:#555'>These chips have no labels (no inventory): train in a workspace "
                "whose chips were built with an inventory, then apply its model here.</span>"
            )
            return
        cost = (
            "minutes (it trains a network)"
            if cnn
            else "seconds (no network; on the demo scene its map is the only one that beats “class 1 everywhere”)"
        )
        self.train_note.value = (
            f"<span style='color:#555'>{int(store.get('n_chips') or 0)} labelled chips: 80 % to train on, 20 % "
            f"to validate (model selection, the map's decision rule). Takes {cost}.</span>"
        )

    def _update_train_button(self) -> None:
        """Train is off while a run goes and where the chips have no labels (the queue calls it too)."""
        self.train_button.disabled = self.queue.busy or self.area.ws.labelled_store() is None

    def train(self) -> StageRun:
        """Check the form, then train the model in the background (a ``train`` stage run)."""
        if self.queue.busy:
            raise InputError("a run is in progress: wait for it or cancel it (Runs tab)")
        ws = self.area.ws
        models = WorkspaceLayout(ws.root).models
        store = ws.labelled_store()
        req = check_train_request(self.train_request(), store, models)
        assert store is not None  # check_train_request refuses a workspace without labels
        out = models / req.run_name

        def done(_run: StageRun) -> None:
            ws.add_run(out)
            ws.save()
            self._after_train(out)

        run = train_run(req, ws.path(store), out, on_done=done)
        self.show(f"Training {html.escape(req.describe())} as models/{req.run_name} in the background…", "info")
        self.tabs.selected_index = RUNS_TAB
        return self._submit(run)

    def _after_train(self, out: Path) -> None:
        """List the new model under Respond, pick it, and say what it scored on its validation chips."""
        self.refresh_models(select=out.resolve())
        meta = json.loads((out / RUN_MARK).read_text())
        auc, n_val = meta.get("auc_val"), meta.get("n_val")
        if isinstance(auc, float):
            score = f"validation AUC {auc:.2f} on {n_val} chips"
        else:  # every validation chip of one class: nothing to rank
            score = f"no validation AUC: its {n_val} validation chips are all of one class"
        self.tabs.selected_index = RESPOND_TAB
        self.show(
            f"Trained models/{out.name} in {meta.get('seconds', 0):.0f} s ({score}): apply it with "
            "“Apply model to this area”.",
            "ok",
        )
