"""Test fixture: assemble a dashboard data directory from an existing scene and chip store.

``landslide-app demo`` is the normal way to get one; this links already built artifacts into the
same layout (:class:`~landslide_app.experiments.workspace_layout.WorkspaceLayout`: ``scene/``,
``chips/``, ``ablation/``) without copying them, and optionally computes the default configuration.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from landslide_app.demo import DEFAULT_INPUTS, DEFAULT_REVISITS
from landslide_app.errors import InputError
from landslide_app.experiments.workspace_layout import WorkspaceLayout

log = logging.getLogger(__name__)


def link_data_dir(
    root: str | Path,
    scene: str | Path,
    chips: str | Path,
    *,
    train_default: bool = True,
    epochs: int = 1,
    seed: int = 0,
    train_kwargs: dict[str, Any] | None = None,
) -> WorkspaceLayout:
    """``root/scene`` -> ``scene``, ``root/chips`` -> ``chips`` (symbolic links), then run the
    default configuration (fused, 3 revisits) into ``root/ablation`` when ``train_default``.
    Idempotent: existing links and computed configurations are reused."""
    from landslide_app.chips.store import ChipStore
    from landslide_app.experiments.ablation import AblationSettings, RunSpec, run_one

    paths = WorkspaceLayout(Path(root))
    paths.root.mkdir(parents=True, exist_ok=True)
    for link, target in ((paths.scene, Path(scene)), (paths.chips, Path(chips))):
        if not target.exists():
            raise InputError(f"{target} does not exist")
        if link.is_symlink() or link.exists():
            if link.resolve() != target.resolve():
                raise InputError(f"{link} already exists and is not a link to {target}")
            continue
        link.symlink_to(target.resolve(), target_is_directory=True)
    if train_default:
        run_one(
            ChipStore.open(paths.chips),
            RunSpec(DEFAULT_INPUTS, DEFAULT_REVISITS),
            paths.ablation,
            AblationSettings(epochs=epochs, seed=seed, train_kwargs=dict(train_kwargs or {})),
            progress=False,
        )
    return paths
