"""Writing the public products of a simulated scene (and nothing hidden).

:func:`write_products` writes into a directory (normally a fresh temporary one):
``dem/elevation.tif``, ``sar/<S1X>_<datetime>_{vv,vh}.tif`` (12 COGs), ``catalog.json`` plus
``stac/**`` (the local STAC catalog), ``inventory.gpkg`` (head points, EPSG:4326) and
``scene.json`` (size, seed, grid, counts and the generator's public parameters).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

import landslide_app
from landslide_app import config
from landslide_app.scene import catalog, landslides, sar
from landslide_app.scene.cog import SAR_NODATA, write_cog
from landslide_app.scene.heads import INVENTORY_LAYER, write_inventory
from landslide_app.scene.simulate import GENERATOR_VERSION, SceneFields

log = logging.getLogger(__name__)

GENERATOR: str = "landslide_app.scene"
DEM_PATH: str = "dem/elevation.tif"
INVENTORY_PATH: str = "inventory.gpkg"
SCENE_JSON: str = "scene.json"
CATALOG_JSON: str = "catalog.json"


def public_parameters() -> dict[str, Any]:
    """Generator parameters that are safe to publish (no hidden field, no cause of landslides)."""
    return {
        "sar": {
            "enl": sar.ENL,
            "incidence_deg": sar.INCIDENCE_DEG,
            "look_direction": sar.LOOK_DIRECTION,
            "orbit_state": config.ORBIT_STATE,
            "relative_orbit": config.RELATIVE_ORBIT,
            "quantity": "gamma0 linear power",
            "nodata": SAR_NODATA,
            "speckle": "multiplicative gamma, independent per date and polarisation",
        },
        "landslides": {
            "target_mean_density_per_km2": landslides.TARGET_DENSITY_PER_KM2,
            "length_m": {
                "distribution": "lognormal",
                "median": landslides.LENGTH_MEDIAN_M,
                "log_std": landslides.LENGTH_LOG_STD,
                "clip": list(landslides.LENGTH_RANGE_M),
            },
            "width_m": {
                "distribution": "lognormal",
                "median": landslides.WIDTH_MEDIAN_M,
                "log_std": landslides.WIDTH_LOG_STD,
                "clip": list(landslides.WIDTH_RANGE_M),
            },
        },
        "dem": {"sea_elevation_m": 0.0, "units": "m"},
    }


def scene_metadata(fields: SceneFields, files: list[str]) -> dict[str, Any]:
    """The content of ``scene.json`` (deterministic: no timestamps)."""
    g = fields.grid
    return {
        "generator": GENERATOR,
        "generator_version": GENERATOR_VERSION,
        "package_version": landslide_app.__version__,
        "size": fields.size.name,
        "n_cols": fields.size.n_cols,
        "n_rows": fields.size.n_rows,
        "seed": fields.seed,
        "chip_size": config.CHIP_SIZE,
        "grid": {
            "crs": g.crs,
            "epsg": g.epsg,
            "transform": list(g.transform_tuple),
            "width": g.width,
            "height": g.height,
            "pixel_size_m": g.pixel_m,
            "bounds": list(g.bounds),
        },
        "dates": [d.isoformat().replace("+00:00", "Z") for d in config.S1_DATES],
        "platforms": list(config.S1_PLATFORMS),
        "event_date": config.EVENT_DATE.isoformat().replace("+00:00", "Z"),
        "n_heads": fields.n_heads,
        "land_area_km2": round(fields.land_area_km2, 6),
        "mean_density_per_km2": round(fields.mean_density_per_km2, 6),
        "inventory_layer": INVENTORY_LAYER,
        "files": sorted(files),
        "parameters": public_parameters(),
    }


def _sar_blocks(fields: SceneFields, date_index: int, pol: sar.Polarisation) -> Iterator[tuple[slice, np.ndarray]]:
    for r0 in range(0, fields.grid.height, sar.BLOCK_ROWS):
        rows = slice(r0, min(r0 + sar.BLOCK_ROWS, fields.grid.height))
        yield rows, fields.sar(date_index, pol, rows)


def write_products(fields: SceneFields, root: str | Path, progress: bool = True) -> dict[str, Any]:
    """Write every public product of ``fields`` under ``root``; return the ``scene.json`` content."""
    root = Path(root)
    (root / "dem").mkdir(parents=True, exist_ok=True)
    (root / "sar").mkdir(parents=True, exist_ok=True)
    acqs = catalog.acquisitions()
    n_tasks = 1 + 2 * len(acqs) + 3
    bar = tqdm(total=n_tasks, desc=f"write {fields.size.name}", disable=not progress, unit="file")
    g = fields.grid
    bar.set_postfix_str("dem")
    write_cog(root / DEM_PATH, g, [(slice(0, g.height), fields.elevation)], nodata=None, description="elevation (m)")
    bar.update(1)
    for t, acq in enumerate(acqs):
        pol_paths: tuple[tuple[sar.Polarisation, str], ...] = (("vv", acq.vv), ("vh", acq.vh))
        for pol, rel in pol_paths:
            bar.set_postfix_str(Path(rel).name)
            write_cog(
                root / rel,
                g,
                _sar_blocks(fields, t, pol),
                nodata=SAR_NODATA,
                description=f"{pol.upper()} gamma0 (linear power)",
            )
            bar.update(1)
    bar.set_postfix_str("inventory")
    x, y = fields.heads_xy()
    write_inventory(root / INVENTORY_PATH, g, x, y)
    bar.update(1)
    bar.set_postfix_str("catalog")
    description = (
        f"Simulated landslide demo scene '{fields.size.name}' (seed {fields.seed}): "
        f"{fields.size.n_cols}x{fields.size.n_rows} chips of {config.CHIP_SIZE} px at {g.pixel_m:g} m, {g.crs}."
    )
    catalog.write_catalog(root, g, DEM_PATH, description)
    bar.update(1)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) + [SCENE_JSON]
    meta = scene_metadata(fields, files)
    (root / SCENE_JSON).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    bar.update(1)
    bar.close()
    log.info("Wrote scene %s (seed %d) to %s", fields.size.name, fields.seed, root)
    return meta
