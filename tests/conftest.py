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
