"""The responder panel's "Train" request, free of widgets: what to train on a workspace's labelled
chips, its checks (each error says what to change), the run's folder name and the ``train`` stage run.

A model is trained by ``landslide-app train`` in a child process (:mod:`~landslide_app.dashboard.
queue`), never in the page, into ``WORKSPACE/models/<name>/`` (the folder the demo's
``sar-stats-r3`` is in), so that ``predict`` / ``respond`` and every workspace's **Respond** tab can
apply it. Two kinds, as ``train --model``: the paper's network + forest (``cnn``: inputs, revisits,
epochs) and the SAR chip-statistics forest (``sar-stats``: revisits; seconds to train). The other
``train`` options (ensemble, learning rate, decision rule, precision) keep their defaults here; the
CLI sets them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from landslide_app.core.vocabulary import INPUTS, MAX_EPOCHS, MODEL_KINDS, REVISITS
from landslide_app.dashboard.queue import StageRun, cli_command
from landslide_app.errors import ConfigError, InputError
from landslide_app.experiments.ablation_settings import DEFAULT_EPOCHS
from landslide_app.experiments.workspace import RUN_MARK, check_name


@dataclass(frozen=True)
class TrainRequest:
    """One model to train: ``kind`` (``cnn`` or ``sar-stats``), the network's ``inputs`` (``cnn``
    only), post-event ``revisits``, ``epochs`` (``cnn`` only), ``seed`` (split and initialisation) and
    the run folder's ``name`` (empty: :meth:`default_name`)."""

    kind: str = "cnn"
    inputs: str = "fused"
    revisits: int = 3
    epochs: int = DEFAULT_EPOCHS
    seed: int = 0
    name: str = ""

    @property
    def uses_sar(self) -> bool:
        return self.kind == "sar-stats" or self.inputs != "dem"

    def default_name(self) -> str:
        """``fused-r3``, ``dem``, ``sar-stats-r1``; ``-20ep`` / ``-seed2`` where not the defaults."""
        if self.kind == "sar-stats":
            base = f"sar-stats-r{self.revisits}"
        else:
            base = "dem" if self.inputs == "dem" else f"{self.inputs}-r{self.revisits}"
            if self.epochs != DEFAULT_EPOCHS:
                base += f"-{self.epochs}ep"
        return base + (f"-seed{self.seed}" if self.seed else "")

    @property
    def run_name(self) -> str:
        return self.name.strip() or self.default_name()

    def describe(self) -> str:
        if self.kind == "sar-stats":
            return f"the SAR chip-statistics forest ({self.revisits} post-event revisit(s), seed {self.seed})"
        sar = "" if self.inputs == "dem" else f", {self.revisits} revisit(s)"
        return f"a network on {self.inputs} inputs ({self.epochs} epochs{sar}, seed {self.seed})"


def check_train_request(req: TrainRequest, store: dict[str, Any] | None, models_dir: Path) -> TrainRequest:
    """``req`` checked against the workspace's labelled store entry (``workspace.json``) and its
    ``models/`` folder; raises :class:`~landslide_app.errors.InputError` / :class:`ConfigError` that
    say what to change. Returns the request with its name filled in."""
    if req.kind not in MODEL_KINDS:
        raise ConfigError(f"model kind {req.kind!r}: choose one of {', '.join(MODEL_KINDS)}")
    if req.kind == "cnn" and req.inputs not in INPUTS:
        raise ConfigError(f"inputs {req.inputs!r}: choose one of {', '.join(INPUTS)}")
    if store is None:
        raise InputError(
            "this workspace's chips have no labels (no inventory), so nothing can be trained on them: train "
            "in a workspace whose chips were built with an inventory (New area → Inventory), then apply its "
            "model here under Respond"
        )
    if req.uses_sar and not store.get("has_sar"):
        raise ConfigError("this workspace's chips have no SAR: train a network on DEM only")
    n_post = int(store.get("n_post") or 0)
    if req.uses_sar and req.revisits not in REVISITS:
        raise ConfigError(f"revisits {req.revisits}: choose 1, 2 or 3")
    if req.uses_sar and req.revisits > n_post:
        raise ConfigError(
            f"the chips have {n_post} post-event date(s) but {req.revisits} revisit(s) were asked: "
            f"choose at most {n_post}"
        )
    if req.kind == "cnn" and not 1 <= req.epochs <= MAX_EPOCHS:
        raise ConfigError(f"epochs {req.epochs}: choose 1 to {MAX_EPOCHS}")
    if req.seed < 0:
        raise ConfigError(f"seed {req.seed}: choose 0 or more")
    name = check_name(req.run_name, "model name")
    if (models_dir / name / RUN_MARK).exists():
        raise InputError(
            f"models/{name} already holds a trained model: pick it under Respond (Model), or give this one another name"
        )
    return TrainRequest(req.kind, req.inputs, req.revisits, req.epochs, req.seed, name)


def train_args(req: TrainRequest, chips: Path, out: Path) -> list[str]:
    """The ``landslide-app train`` arguments of a checked request."""
    args = ["train", "--chips", str(chips), "--out", str(out), "--model", req.kind, "--seed", str(req.seed)]
    if req.kind == "cnn":
        args += ["--inputs", req.inputs, "--epochs", str(req.epochs)]
    # a DEM network reads no post-event date: 1 names it dem-r1, as Table 2 does
    return args + ["--revisits", str(req.revisits if req.uses_sar else 1)]


def train_run(req: TrainRequest, chips: Path, out: Path, on_done: Callable[[StageRun], Any] | None = None) -> StageRun:
    """The ``train`` stage run of a checked request (the queue runs it; ``on_done`` records it)."""
    return StageRun(f"train {req.run_name}", cli_command(*train_args(req, chips, out)), on_done=on_done)
