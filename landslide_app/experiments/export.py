"""GIS exports of a prediction: the density map as GeoTIFF and the chips as GeoPackage.

Both carry provenance (configuration, data fingerprint, model fingerprint, code version): GeoTIFF
tags and GeoPackage dataset metadata. Both are written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from landslide_app.atomic import atomic_path
from landslide_app.core.grid import ChipGrid

DENSITY_BANDS = ("density_class", "p_class0", "p_class1", "p_class2")


def density_raster(grid: ChipGrid, chip_ids: np.ndarray, pred: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """``(4, n_rows, n_cols)`` float32: class and the 3 probabilities per chip, NaN where no chip."""
    arr = np.full((4, grid.n_rows, grid.n_cols), np.nan, np.float32)
    rows, cols = np.divmod(np.asarray(chip_ids, np.int64), grid.n_cols)
    arr[0, rows, cols] = pred
    arr[1:, rows, cols] = np.asarray(proba, np.float32).T
    return arr


def write_density_geotiff(path: str | Path, grid: ChipGrid, chip_ids, pred, proba, provenance: dict[str, Any]) -> Path:
    """The density map, one pixel per chip (1.28 km for 128 px of 10 m), 4 float32 bands."""
    import rasterio
    from rasterio.transform import Affine

    arr = density_raster(grid, chip_ids, pred, proba)
    ext = grid.chip_extent_m
    profile = dict(
        driver="GTiff",
        width=grid.n_cols,
        height=grid.n_rows,
        count=4,
        dtype="float32",
        crs=grid.crs,
        transform=Affine(ext, 0.0, grid.x0, 0.0, -ext, grid.y0),
        nodata=np.nan,
        compress="deflate",
    )
    path = Path(path)
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as ds:
        ds.write(arr)
        for i, name in enumerate(DENSITY_BANDS, start=1):
            ds.set_band_description(i, name)
        ds.update_tags(**{k: json.dumps(v) if not isinstance(v, str) else v for k, v in provenance.items()})
    return path


def write_chips_gpkg(
    path: str | Path, index, chip_ids, pred, proba, provenance: dict[str, Any], labelled: bool = True
) -> Path:
    """Chip polygons with ``chip_id``, ``row``, ``col``, ``pred_class`` and the class probabilities
    ``p0``, ``p1``, ``p2``; on a labelled store also the head count and the true class."""
    gdf = index.set_index("chip_id").loc[np.asarray(chip_ids)].reset_index()
    truth = [c for c in ("head_count", "density_class") if labelled and c in gdf.columns]
    gdf = gdf[["chip_id", "row", "col", *truth, "geometry"]].rename(columns={"density_class": "true_class"})
    gdf["pred_class"] = np.asarray(pred, np.int64)
    for c in range(3):
        gdf[f"p{c}"] = np.asarray(proba)[:, c].astype(float)
    gdf["config"] = str(provenance.get("config", ""))
    path = Path(path)
    meta = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in provenance.items()}
    with atomic_path(path) as tmp:
        gdf.to_file(tmp, driver="GPKG", layer="density", engine="pyogrio", dataset_metadata=meta)
    return path
