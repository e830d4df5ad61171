"""Prepare the offline demo: the generated scene and its chip store, once (later runs reuse them).

The demo folder has the labelled workspace layout
(:class:`~landslide_app.experiments.workspace_layout.WorkspaceLayout`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from landslide_app.experiments.workspace_layout import WorkspaceLayout

log = logging.getLogger(__name__)


#: How the demo workspace is named in the page's title (workspace.json).
DEMO_NAME = "Hurricane María demo scene (synthetic Puerto Rico)"

#: The configuration prepared on first launch so a new user lands on a complete map.
DEFAULT_INPUTS, DEFAULT_REVISITS = "fused", 3


#: The run trained on first launch for the responder's panel (**Respond** of another area's workspace):
#: the SAR chip-statistics model, 3 revisits (seconds to train; see README "Which model").
RESPONDER_RUN = "sar-stats-r3"


def prepare_demo(
    data_dir: str | Path,
    size: str = "demo",
    seed: int = 0,
    progress: bool = True,
    train_default: bool = True,
    train_responder: bool = True,
) -> WorkspaceLayout:
    """Generate the demo scene, build its chip store, run the default configuration (fused, 3 revisits)
    and train :data:`RESPONDER_RUN` into ``models/`` under ``data_dir``. Idempotent and resumable:
    finished steps are reused."""
    from landslide_app.chips.build import build_chips
    from landslide_app.scene import generate_scene
    from landslide_app.sources.stac import open_local_catalog

    paths = WorkspaceLayout(Path(data_dir))
    summary = generate_scene(paths.scene, size=size, seed=seed, progress=progress)
    log.info("demo scene ready: %s heads in %d x %d chips", summary.n_heads, summary.n_cols, summary.n_rows)
    report = build_chips(open_local_catalog(paths.catalog), paths.inventory, paths.chips, progress=progress)
    write_demo_workspace(paths, report.store.meta.event_date)
    if train_default:
        from landslide_app.chips.store import ChipStore
        from landslide_app.experiments.ablation import AblationSettings, RunSpec, run_one

        log.info("preparing the default configuration (%s, %d revisits)", DEFAULT_INPUTS, DEFAULT_REVISITS)
        run_one(
            ChipStore.open(paths.chips),
            RunSpec(DEFAULT_INPUTS, DEFAULT_REVISITS),
            paths.ablation,
            AblationSettings(),
            progress=progress,
        )
    responder = paths.models / RESPONDER_RUN
    if train_responder and not (responder / "run.json").exists():
        from landslide_app.experiments.stats_model import train_stats_run

        log.info("training %s for the responder's panel", RESPONDER_RUN)
        responder.mkdir(parents=True, exist_ok=True)
        train_stats_run(paths.chips, 3, responder, progress=progress)
    return paths


def write_demo_workspace(paths: WorkspaceLayout, event_date: str | None) -> None:
    """``workspace.json`` of the demo folder: its name, area (from the chip store), event and source."""
    from landslide_app.experiments.workspace import Workspace

    ws = Workspace.load(paths.root)
    ws.name = DEMO_NAME
    ws.set_area(ws.area.get("bbox_lonlat"), event_date, str(paths.catalog))
    ws.save()
