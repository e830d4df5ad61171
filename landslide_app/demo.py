"""Prepare the offline demo: the generated scene and its chip store, once (later runs reuse them)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoPaths:
    """Where the demo artifacts live under a data directory."""

    root: Path

    @property
    def scene(self) -> Path:
        return self.root / "scene"

    @property
    def catalog(self) -> Path:
        return self.scene / "catalog.json"

    @property
    def inventory(self) -> Path:
        return self.scene / "inventory.gpkg"

    @property
    def dem(self) -> Path:
        return self.scene / "dem" / "elevation.tif"

    @property
    def chips(self) -> Path:
        return self.root / "chips"


def prepare_demo(data_dir: str | Path, size: str = "demo", seed: int = 0, progress: bool = True) -> DemoPaths:
    """Generate the demo scene and build its chip store under ``data_dir`` (idempotent, resumable)."""
    from landslide_app.chips.build import build_chips
    from landslide_app.scene import generate_scene
    from landslide_app.sources.stac import open_local_catalog

    paths = DemoPaths(Path(data_dir))
    summary = generate_scene(paths.scene, size=size, seed=seed, progress=progress)
    log.info("demo scene ready: %s heads in %d x %d chips", summary.n_heads, summary.n_cols, summary.n_rows)
    build_chips(open_local_catalog(paths.catalog), paths.inventory, paths.chips, progress=progress)
    return paths
