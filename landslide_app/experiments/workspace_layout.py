"""The folder layout of a labelled workspace: the scene, the chip store and the ablation outputs.

``landslide-app demo`` makes this layout (:func:`~landslide_app.demo.prepare_demo`), the analyst's
dashboard reads it (:class:`~landslide_app.dashboard.state.DashboardState`), and the page shows the
analyst's view for a workspace whose labelled store sits at :data:`CHIPS_DIR`. A "New area" fetch
builds its chips at :data:`CHIPS_DIR` too. Under a workspace folder ``ROOT``::

    ROOT/scene/catalog.json        the local STAC catalog (``landslide-app scene``)
    ROOT/scene/inventory.gpkg      landslide heads
    ROOT/scene/dem/elevation.tif   the DEM (the map's hillshade)
    ROOT/chips/                    the chip store
    ROOT/ablation/                 ``runs/<key>/`` per configuration, results.json, table.md
    ROOT/models/<name>/            trained runs a responder can apply elsewhere (the demo: ``sar-stats-r3``)

The scene's file names are those :mod:`landslide_app.scene.write` writes. ``workspace.json``, which
describes any workspace folder, is :mod:`landslide_app.experiments.workspace`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SCENE_DIR = "scene"
CHIPS_DIR = "chips"
ABLATION_DIR = "ablation"
MODELS_DIR = "models"


@dataclass(frozen=True)
class WorkspaceLayout:
    """Where the scene, the chip store and the ablation outputs live under a workspace folder."""

    root: Path

    @property
    def scene(self) -> Path:
        return self.root / SCENE_DIR

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
        return self.root / CHIPS_DIR

    @property
    def ablation(self) -> Path:
        """Ablation outputs (``runs/<key>/`` per configuration, results.json, table.md)."""
        return self.root / ABLATION_DIR

    @property
    def models(self) -> Path:
        """Trained runs (``train`` outputs) kept with the workspace, one folder each."""
        return self.root / MODELS_DIR
