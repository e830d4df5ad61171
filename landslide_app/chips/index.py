"""The GeoPackage index of a chip store, ``STORE/index.gpkg`` (layer ``chips``).

One row per kept chip: ``chip_id, row, col, land_fraction, chunk_bytes, chunk_crc32`` and, when
labelled, ``head_count, density_class, density_per_km2``; ``transform`` (the chip's affine, as
JSON) and the chip's polygon. Written from the done-markers when a build finishes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from landslide_app.atomic import atomic_path
from landslide_app.core.grid import ChipGrid
from landslide_app.errors import ChipStoreError

INDEX_FILE = "index.gpkg"


def write_index(store_path: Path, grid: ChipGrid, records: Iterable[dict[str, Any]]) -> int:
    """Write the index of the kept chips among ``records`` (done-marker records), atomically; returns
    the number of chips it lists."""
    import geopandas as gpd
    from shapely.geometry import box

    recs = [r for r in records if r.get("kept")]
    recs.sort(key=lambda r: r["chip_id"])
    rows = []
    for r in recs:
        t = grid.chip_transform(r["chip_id"])
        rows.append({**{k: v for k, v in r.items() if k != "kept"}, "transform": json.dumps(list(t)[:6])})
    geoms = [box(*grid.chip_bounds(r["chip_id"])) for r in recs]
    gdf = gpd.GeoDataFrame(rows, geometry=geoms, crs=grid.crs)
    if gdf.empty:
        gdf = gpd.GeoDataFrame({"chip_id": []}, geometry=[], crs=grid.crs)
    with atomic_path(store_path / INDEX_FILE) as tmp:
        gdf.to_file(tmp, driver="GPKG", layer="chips")
    return len(gdf)


def read_index(store_path: Path) -> Any:
    """The index as a GeoDataFrame sorted by chip id (ChipStoreError when it cannot be read)."""
    import geopandas as gpd

    try:
        index = gpd.read_file(store_path / INDEX_FILE, layer="chips")
        return index.sort_values("chip_id").reset_index(drop=True)
    except Exception as exc:  # noqa: BLE001
        raise ChipStoreError(f"cannot read {store_path / INDEX_FILE} ({exc}); rerun `landslide-app chips`") from exc


def recorded_digests(index: Any) -> Iterator[tuple[Any, Any, Any]]:
    """``(chip_id, chunk_bytes, chunk_crc32)`` of every chip in the index (none when the index records
    no chunk digests); values may be None or NaN where nothing was recorded."""
    if {"chunk_bytes", "chunk_crc32"} <= set(index.columns):
        yield from zip(index["chip_id"].tolist(), index["chunk_bytes"].tolist(), index["chunk_crc32"].tolist())
