"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def one_torch_thread():
    """Tiny tensors gain nothing from several threads, and on a busy machine spinning OpenMP
    threads make them many times slower: tests that train run single-threaded."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def scene_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated ``tiny`` demo scene (8 x 6 chips, seed 7), written once per session.

    Holds all three density classes at chip level (chips more than half land:
    7 of class 0, 33 of class 1, 4 of class 2; 510 heads).
    """
    from landslide_app.scene import generate_scene

    out = tmp_path_factory.mktemp("scene") / "tiny-seed7"
    generate_scene(out, size="tiny", seed=7, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_store(scene_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The chip store of the tiny scene (44 land chips, all three classes), built once per session."""
    from landslide_app.chips.build import build_chips
    from landslide_app.sources.stac import open_local_catalog

    out = tmp_path_factory.mktemp("store") / "chips"
    build_chips(open_local_catalog(scene_dir / "catalog.json"), scene_dir / "inventory.gpkg", out, progress=False)
    return out


@pytest.fixture(scope="session")
def dem_run(tiny_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DEM-only run (1 epoch, single-threaded) trained on the tiny store, built once per session.

    Shared by several test modules: read it, never write into it (copy it first to damage it).
    """
    import torch

    from landslide_app.experiments.production import train_run
    from landslide_app.model.inputs import ModelConfig

    out = tmp_path_factory.mktemp("dem-run") / "run"
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_run(tiny_store, ModelConfig("dem", 1), out, epochs=1, progress=False)
    finally:
        torch.set_num_threads(before)
    return out
