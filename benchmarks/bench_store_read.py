"""Reading a chip store's chips: checked reads (CRC-32 of every chunk) against the read before checksums.

Usage: ``python benchmarks/bench_store_read.py [--store DIR] [--repeats 3] [--no-write]`` (without
``--store`` the demo scene and its chip store are built in a temporary directory). Writes the
``"store_read"`` section of ``benchmarks/results.json``.

In one process, each repeat reads every chip of the store once per variant, in alternating order
(the files are in the page cache after the first pass, so both variants read from memory):

* ``zarr``: the read before checksums (one ``array[row, col]`` per chip through zarr, then
  ``np.stack``), kept here verbatim;
* ``checked``: :meth:`ChipStore.read_many` as training, prediction, the ablation and the dashboard
  call it: each chunk file's bytes read once, size and CRC-32 compared with those recorded at build
  time, then decoded with the array's Blosc codec straight into the output.

``checked_vs_zarr`` is the checked read's wall time over the zarr read's in the same repeat
(median over repeats; ``checked_vs_zarr_cpu`` the same for the process's CPU time, all threads);
``crc_share`` is the part of the checked read spent in zlib's CRC-32. Both variants return
bit-identical arrays (asserted).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from common import load_average, report

log = logging.getLogger("bench_store_read")


def _read_many_zarr(store: Any, ids: list[int]) -> np.ndarray:
    """``ChipStore.read_many`` as it was before checked reads: zarr per chunk, then stacked."""
    out = []
    for i in ids:
        row, col = store.grid.chip_rc(i)
        out.append(np.asarray(store.array[row, col]))
    return np.stack(out)


def read_zarr(store: Any, ids: list[int], batch: int = 64) -> np.ndarray:
    """The read of every chip before checked reads, in batches as the readers of chips call it."""
    return np.concatenate([_read_many_zarr(store, ids[k : k + batch]) for k in range(0, len(ids), batch)])


def read_checked(store: Any, ids: list[int], batch: int = 64) -> np.ndarray:
    """The checked read (:meth:`ChipStore.read_many`, in batches as the readers of chips call it)."""
    return np.concatenate([store.read_many(ids[k : k + batch]) for k in range(0, len(ids), batch)])


def crc_seconds(store: Any, ids: list[int]) -> float:
    """zlib CRC-32 of every chip's chunk bytes (already in memory), the checked read's added work."""
    from landslide_app.chips.chunks import chunk_paths

    path_of = chunk_paths(store.array)
    payloads = []
    for i in ids:
        with open(path_of((*store.grid.chip_rc(i), 0, 0, 0)), "rb") as fh:
            payloads.append(fh.read())
    t0 = time.perf_counter()
    for p in payloads:
        zlib.crc32(p)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, default=None, help="chip store (default: build the demo one)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-write", action="store_true", help="log the figures without writing results.json")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from landslide_app.chips.store import ChipStore

    work = Path(tempfile.mkdtemp(prefix="bench_store_read_"))
    try:
        path = a.store
        if path is None:
            from landslide_app.chips.build import build_chips
            from landslide_app.scene import generate_scene
            from landslide_app.sources.stac import open_local_catalog

            generate_scene(work / "scene", size="demo", seed=0, progress=False)
            path = work / "chips"
            build_chips(
                open_local_catalog(work / "scene" / "catalog.json"),
                work / "scene" / "inventory.gpkg",
                path,
                progress=False,
            )
        store = ChipStore.open(path)
        ids = [int(i) for i in store.ids]
        reference = read_zarr(store, ids)  # also warms the page cache
        assert np.array_equal(read_checked(store, ids).view(np.uint32), reference.view(np.uint32))
        size = sum(store._chunk_digests()[i][0] for i in ids)
        rows = []
        for k in range(a.repeats):
            row: dict[str, Any] = {"load": load_average()}
            for name in ("zarr", "checked") if k % 2 == 0 else ("checked", "zarr"):
                fn = read_zarr if name == "zarr" else read_checked
                t0, c0 = time.perf_counter(), time.process_time()
                fn(store, ids)
                row[name], row[f"{name}_cpu"] = time.perf_counter() - t0, time.process_time() - c0
            row["crc"] = crc_seconds(store, ids)
            log.info(
                "repeat %d (load %s): zarr %.3f s (CPU %.3f s), checked %.3f s (CPU %.3f s, x%.2f), CRC-32 %.3f s",
                k,
                row["load"],
                row["zarr"],
                row["zarr_cpu"],
                row["checked"],
                row["checked_cpu"],
                row["checked"] / row["zarr"],
                row["crc"],
            )
            rows.append(row)

        def med(key: str) -> float:
            return round(statistics.median(r[key] for r in rows), 4)

        figures = {
            "store": "demo" if a.store is None else str(a.store),
            "repeats": a.repeats,
            "n_chips": len(ids),
            "chunk_mb": round(size / 2**20, 1),
            "decoded_mb": round(reference.nbytes / 2**20, 1),
            "zarr_seconds": med("zarr"),
            "checked_seconds": med("checked"),
            "crc_seconds": med("crc"),
            "zarr_cpu_seconds": med("zarr_cpu"),
            "checked_cpu_seconds": med("checked_cpu"),
            "checked_vs_zarr": round(statistics.median(r["checked"] / r["zarr"] for r in rows), 3),
            "checked_vs_zarr_cpu": round(statistics.median(r["checked_cpu"] / r["zarr_cpu"] for r in rows), 3),
            "crc_share": round(statistics.median(r["crc"] / r["checked"] for r in rows), 3),
            "crc_gb_per_s": round(size / 1e9 / med("crc"), 2),
            "bit_identical": True,
            "load_average": [r["load"] for r in rows],
        }
        if a.no_write:
            for key, val in figures.items():
                log.info("%s %s", key, val)
        else:
            report("store_read", figures)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
