"""Public entry point: :func:`generate_scene` simulates a scene and writes it atomically.

The scene is written into a temporary directory beside ``out_dir`` and renamed into place at
the end, so ``out_dir`` is either absent, a previous complete scene, or the new complete scene.
Rerunning over a complete scene of the same size, seed and generator version does nothing and
returns its summary.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from landslide_app.errors import ConfigError
from landslide_app.scene.simulate import GENERATOR_VERSION, simulate_scene
from landslide_app.scene.sizes import SceneSize, check_scene_memory, check_seed, parse_scene_size
from landslide_app.scene.write import GENERATOR, SCENE_JSON, write_products

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SceneSummary:
    """What :func:`generate_scene` produced (or found).

    Attributes:
        out_dir: Scene directory.
        size: Size name (preset or ``"COLSxROWS"``).
        seed: Seed.
        n_rows: Chips north-south.
        n_cols: Chips west-east.
        width: Pixels west-east.
        height: Pixels north-south.
        crs: ``"EPSG:32619"``.
        transform: GDAL-order affine coefficients ``(a, b, c, d, e, f)``.
        n_heads: Landslide heads in the inventory.
        land_area_km2: Land area.
        mean_density_per_km2: Heads per km² of land.
        seconds: Wall time of this call.
        reused: True when an existing complete scene was returned unchanged.
    """

    out_dir: Path
    size: str
    seed: int
    n_rows: int
    n_cols: int
    width: int
    height: int
    crs: str
    transform: tuple[float, float, float, float, float, float]
    n_heads: int
    land_area_km2: float
    mean_density_per_km2: float
    seconds: float
    reused: bool = False


def _summary(out_dir: Path, meta: dict[str, Any], seconds: float, reused: bool) -> SceneSummary:
    grid = meta["grid"]
    return SceneSummary(
        out_dir=out_dir,
        size=meta["size"],
        seed=int(meta["seed"]),
        n_rows=int(meta["n_rows"]),
        n_cols=int(meta["n_cols"]),
        width=int(grid["width"]),
        height=int(grid["height"]),
        crs=grid["crs"],
        transform=tuple(float(v) for v in grid["transform"]),  # type: ignore[arg-type]
        n_heads=int(meta["n_heads"]),
        land_area_km2=float(meta["land_area_km2"]),
        mean_density_per_km2=float(meta["mean_density_per_km2"]),
        seconds=seconds,
        reused=reused,
    )


def read_scene_metadata(out_dir: str | Path) -> dict[str, Any] | None:
    """The ``scene.json`` of a scene written by this generator, or None."""
    path = Path(out_dir) / SCENE_JSON
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("generator") != GENERATOR:
        return None
    return meta


def _complete_match(out_dir: Path, size: SceneSize, seed: int) -> dict[str, Any] | None:
    meta = read_scene_metadata(out_dir)
    if meta is None:
        return None
    same = (
        meta.get("generator_version") == GENERATOR_VERSION
        and meta.get("seed") == seed
        and meta.get("n_cols") == size.n_cols
        and meta.get("n_rows") == size.n_rows
        and meta.get("size") == size.name
    )
    if not same:
        return None
    files = meta.get("files") or []
    if not files or not all((out_dir / f).is_file() for f in files):
        return None
    return meta


def _check_replaceable(out_dir: Path) -> None:
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise ConfigError(f"Scene output {out_dir} exists and is not a directory: choose another path.")
    if read_scene_metadata(out_dir) is None and any(out_dir.iterdir()):
        raise ConfigError(
            f"Scene output {out_dir} is a non-empty directory that holds no demo scene: "
            "choose a new or empty directory (it is never overwritten)."
        )


def generate_scene(out_dir: str | Path, size: str = "demo", seed: int = 0, progress: bool = True) -> SceneSummary:
    """Simulate the offline demo scene and write its public products under ``out_dir``.

    Args:
        out_dir: Scene directory (created; an older scene there is replaced atomically).
        size: ``"tiny"`` (8x6 chips), ``"demo"`` (26x17), ``"pr"`` (140x48) or ``"COLSxROWS"``.
        seed: Non-negative integer; the scene is a deterministic function of size and seed.
        progress: Show tqdm progress bars.

    Returns:
        The scene's :class:`SceneSummary`.

    Raises:
        ConfigError: for a bad size or seed, or an ``out_dir`` that is not a scene directory.
    """
    start = time.perf_counter()
    scene_size = check_scene_memory(parse_scene_size(size))  # refused up front when it cannot fit
    seed = check_seed(seed)
    out = Path(out_dir).expanduser().absolute()
    meta = _complete_match(out, scene_size, seed)
    if meta is not None:
        log.info("Scene %s (seed %d) already complete in %s: reused", scene_size.name, seed, out)
        return _summary(out, meta, time.perf_counter() - start, reused=True)
    _check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        fields = simulate_scene(scene_size, seed, progress=progress)
        meta = write_products(fields, tmp, progress=progress)
        del fields
        if out.exists():
            old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            try:
                tmp.rename(out)
            except OSError:
                # Another process finished the same scene first: keep theirs if it matches.
                other = _complete_match(out, scene_size, seed)
                if other is None:
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
                return _summary(out, other, time.perf_counter() - start, reused=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    seconds = time.perf_counter() - start
    log.info("Generated scene %s (seed %d) in %s in %.1f s", scene_size.name, seed, out, seconds)
    return _summary(out, meta, seconds, reused=False)
