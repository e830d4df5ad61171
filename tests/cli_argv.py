"""Command lines several tests run (``test_concurrency``, ``test_interruption``, ``test_chips``,
``test_store_check``, ``test_ablation_seeds``, ``test_reliability_inputs``): a labelled chip build of a
scene and a one-configuration DEM ablation, each into ``out``."""

from __future__ import annotations

from pathlib import Path


def chips_argv(scene_dir: Path, out: Path) -> list[str]:
    """``chips`` over the scene's catalog, labelled by its inventory."""
    return [
        "chips",
        "--source",
        str(scene_dir / "catalog.json"),
        "--inventory",
        str(scene_dir / "inventory.gpkg"),
        "--out",
        str(out),
    ]


def ablate_dem_argv(chips: Path, out: Path) -> list[str]:
    """``ablate`` of the one DEM configuration (1 revisit, 1 epoch, no baselines)."""
    return [
        "ablate",
        "--chips",
        str(chips),
        "--out",
        str(out),
        "--inputs",
        "dem",
        "--revisits",
        "1",
        "--epochs",
        "1",
        "--no-baselines",
    ]
