"""The chip store: a chunked zarr array of chips plus a GeoPackage index.

Layout of ``STORE/``::

    store.json     metadata: format, channels, chip size, grid, CRS, thresholds, fingerprint, complete
    chips.zarr/    float32 (n_rows, n_cols, C, S, S), one chip per chunk (only kept chips written)
    done/ID.json   records of a batch of finished chips (a chip row; ID: its first chip id),
                   written atomically after all their chunks (resume marker)
    index.gpkg     kept chips: chip_id, row, col, head_count, density_class, land_fraction,
                   density_per_km2, transform, polygon geometry in the grid CRS

Reads are lazy: :meth:`ChipStore.read` loads only the chunks asked for.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from landslide_app import __version__
from landslide_app.atomic import ZARR_TEMP_SUFFIX, atomic_path, is_temp_name, write_json_atomic
from landslide_app.core.grid import ChipGrid
from landslide_app.errors import ChipStoreError, ConfigError

log = logging.getLogger(__name__)

FORMAT = "landslide-app-chips/1"
META_FILE = "store.json"
ARRAY_DIR = "chips.zarr"
INDEX_FILE = "index.gpkg"
DONE_DIR = "done"


def CHUNK_CODEC() -> Any:  # noqa: N802 - a codec factory
    """Chunk compressor: Blosc LZ4 with byte shuffle. Measured on demo chips against zarr's default
    (zstd): writes 1.7x and reads 3x faster, and 5 % smaller (float32 speckle barely compresses)."""
    from zarr.codecs import BloscCodec

    return BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")


class DirectChunkWriter:
    """Encodes and writes whole chunks of a local zarr v3 array whose codecs are
    ``bytes`` (little endian) + ``blosc``, without zarr's async write path (see
    :meth:`ChipStore.write_chip_data`). Only whole chunks, so no read-modify-write is needed."""

    _SHUFFLE = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}

    def __init__(self, root: Path, encode_key: Callable[[tuple[int, ...]], str], blosc: Any, dtype: np.dtype) -> None:
        self.root = root
        self._encode_key = encode_key
        self._blosc = blosc
        self.dtype = dtype
        self._dirs: set[Path] = set()  # chunk folders known to exist (one mkdir each, not per chunk)

    @classmethod
    def maybe(cls, array: zarr.Array) -> "DirectChunkWriter | None":
        """A writer for ``array``, or None when its layout is not the one handled here."""
        import numcodecs
        from zarr.codecs import BloscCodec, BytesCodec
        from zarr.storage import LocalStore

        md = array.metadata
        codecs = getattr(md, "codecs", ())
        if (getattr(md, "zarr_format", None) != 3 or not isinstance(array.store, LocalStore)
                or len(codecs) != 2 or not isinstance(codecs[0], BytesCodec)
                or getattr(codecs[0].endian, "value", None) != "little" or not isinstance(codecs[1], BloscCodec)):
            return None
        cfg = codecs[1].to_dict()["configuration"]
        try:
            blosc = numcodecs.Blosc(cname=cfg["cname"], clevel=cfg["clevel"], shuffle=cls._SHUFFLE[cfg["shuffle"]],
                                    blocksize=cfg["blocksize"], typesize=cfg["typesize"])
        except (KeyError, TypeError, ValueError):
            return None
        root = Path(array.store.root) / array.path if array.path else Path(array.store.root)
        return cls(root, md.encode_chunk_key, blosc, np.dtype(md.data_type.to_native_dtype()).newbyteorder("<"))

    def write(self, chunk_coords: tuple[int, ...], chunk: np.ndarray) -> None:
        """Write one whole chunk (its exact chunk shape) atomically."""
        import os
        import threading

        path = self.root / self._encode_key(chunk_coords)
        payload = self._blosc.encode(np.ascontiguousarray(chunk, dtype=self.dtype))
        if path.parent not in self._dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(path.parent)
        tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}{ZARR_TEMP_SUFFIX}")
        try:
            with open(tmp, "wb") as fh:
                fh.write(payload)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


class ChipStore:
    """A chip store on disk. Create with :meth:`create`, open with :meth:`open`."""

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        self.path = Path(path)
        self.meta = meta
        try:
            self.grid = ChipGrid.from_dict(meta["grid"])
        except ConfigError as exc:
            raise ChipStoreError(f"{self.path / META_FILE} is damaged: {exc}; rebuild the store") from None
        self.channels: tuple[str, ...] = tuple(meta["channels"])
        self._array: zarr.Array | None = None
        self._chunk_writer: DirectChunkWriter | bool | None = None
        self._index = None

    # ---- creation / opening -------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, grid: ChipGrid, channels: Sequence[str], extra: dict[str, Any]) -> "ChipStore":
        """Create an empty store (or return the existing one when its fingerprint matches)."""
        path = Path(path)
        meta = {
            "format": FORMAT, "code_version": __version__, "grid": grid.to_dict(),
            "channels": list(channels), "chip_size": grid.chip_size, "crs": grid.crs,
            "complete": False, **extra,
        }
        if (path / META_FILE).exists():
            old = cls._read_meta(path)
            if old.get("fingerprint") != meta.get("fingerprint"):
                raise ChipStoreError(
                    f"{path} holds chips built from other inputs or settings "
                    f"(fingerprint {old.get('fingerprint')} != {meta.get('fingerprint')}); "
                    "pass another --out, or --overwrite to rebuild it"
                )
            return cls(path, old)
        path.mkdir(parents=True, exist_ok=True)
        zarr.create_array(
            store=str(path / ARRAY_DIR), shape=(grid.n_rows, grid.n_cols, len(channels), grid.chip_size, grid.chip_size),
            chunks=(1, 1, len(channels), grid.chip_size, grid.chip_size), dtype="float32",
            fill_value=np.nan, overwrite=True, compressors=[CHUNK_CODEC()],
        )
        (path / DONE_DIR).mkdir(exist_ok=True)
        write_json_atomic(path / META_FILE, meta)  # last: its presence marks a usable store
        return cls(path, meta)

    @staticmethod
    def _read_meta(path: Path) -> dict[str, Any]:
        f = path / META_FILE
        if not f.exists():
            raise ChipStoreError(f"{path} is not a chip store (no {META_FILE}); build one with `landslide-app chips`")
        try:
            meta = json.loads(f.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ChipStoreError(f"{f} is unreadable ({exc}); rebuild the store with `landslide-app chips`") from exc
        if meta.get("format") != FORMAT:
            raise ChipStoreError(f"{path} has format {meta.get('format')!r}, expected {FORMAT!r}; rebuild it")
        for key in ("grid", "channels"):
            if key not in meta:
                raise ChipStoreError(f"{f} lacks '{key}'; the store is damaged, rebuild it")
        return meta

    @classmethod
    def open(cls, path: str | Path, require_complete: bool = True) -> "ChipStore":
        """Open an existing store; by default it must be complete (all chips built, index written)."""
        path = Path(path)
        if not path.exists():
            raise ChipStoreError(f"no chip store at {path}; build one with `landslide-app chips --out {path}`")
        store = cls(path, cls._read_meta(path))
        if require_complete:
            if not store.meta.get("complete") or not (path / INDEX_FILE).exists():
                raise ChipStoreError(
                    f"{path} is incomplete (the build was interrupted); rerun the same "
                    "`landslide-app chips` command to finish it"
                )
            if not (path / ARRAY_DIR).exists():
                raise ChipStoreError(f"{path} lacks {ARRAY_DIR}; the store is truncated, rebuild it")
        return store

    # ---- writing ------------------------------------------------------------------------
    @property
    def array(self) -> zarr.Array:
        if self._array is None:
            try:
                self._array = zarr.open_array(str(self.path / ARRAY_DIR), mode="r+" if not self.meta.get("complete") else "r")
            except Exception as exc:  # noqa: BLE001
                raise ChipStoreError(f"cannot open {self.path / ARRAY_DIR} ({exc}); the store is damaged, "
                                     "rebuild it (`landslide-app chips ... --overwrite`)") from exc
        return self._array

    def done_records(self) -> dict[int, dict[str, Any]]:
        """Records of chips already finished (kept or dropped), by chip id."""
        out = {}
        for f in (self.path / DONE_DIR).glob("*.json"):
            if is_temp_name(f.name):  # a marker being written (or left by a killed writer)
                continue
            try:
                recs = json.loads(f.read_text())["chips"]
                out.update({int(r["chip_id"]): r for r in recs})
            except (OSError, ValueError, KeyError, TypeError):
                log.warning("ignoring damaged marker %s (its chips will be rebuilt)", f)
        return out

    def write_chip_data(self, chip_id: int, data: np.ndarray) -> None:
        """Write one chip's chunk, atomically (a temporary file renamed into place, as zarr does).

        When the array is the usual local zarr v3 array of this store (bytes + Blosc codecs), the
        chunk is encoded with that Blosc configuration and written straight to its chunk file:
        the same bytes zarr writes (tested), at about half the CPU time per chip (measured
        0.9 vs 1.8 ms on demo chips: zarr's write path hops through its event-loop thread and a
        worker thread per chunk). Any other array goes through zarr.
        """
        row, col = self.grid.chip_rc(chip_id)
        expect = (len(self.channels), self.grid.chip_size, self.grid.chip_size)
        if data.shape != expect:
            raise ChipStoreError(f"chip {chip_id} has shape {data.shape}, expected {expect}")
        data = np.ascontiguousarray(data, dtype="<f4")
        if self._chunk_writer is None:
            self._chunk_writer = DirectChunkWriter.maybe(self.array) or False
        # an all-NaN chunk is zarr's fill value, which zarr does not store: leave it to zarr (the
        # first value decides for nearly every chip without scanning the whole chunk)
        if self._chunk_writer and not (np.isnan(data.flat[0]) and np.isnan(data).all()):
            self._chunk_writer.write((row, col, 0, 0, 0), data)
        else:
            self.array[row, col] = data

    def write_markers(self, records: Sequence[dict[str, Any]]) -> None:
        """Mark chips finished: one marker file for the batch, written atomically (and fsync'd).

        Call it only after the chunks of every kept chip in ``records`` are written; each record
        holds ``chip_id``. One file per batch (a chip row) instead of one per chip: measured on the
        demo scene, per-chip markers were about a fifth of the build's write time.
        """
        if not records:
            return
        first = min(int(r["chip_id"]) for r in records)
        write_json_atomic(self.path / DONE_DIR / f"{first}.json", {"chips": [dict(r) for r in records]})

    def write_chip(self, chip_id: int, data: np.ndarray | None, record: dict[str, Any]) -> None:
        """Write one chip's data (``None`` for a dropped chip) then its own done-marker."""
        if data is not None:
            self.write_chip_data(chip_id, data)
        self.write_markers([{"chip_id": int(chip_id), **record}])

    def finalize(self, extra: dict[str, Any] | None = None) -> None:
        """Write the GeoPackage index of kept chips and mark the store complete."""
        import geopandas as gpd
        from shapely.geometry import box

        recs = [r for r in self.done_records().values() if r.get("kept")]
        recs.sort(key=lambda r: r["chip_id"])
        rows = []
        for r in recs:
            t = self.grid.chip_transform(r["chip_id"])
            rows.append({**{k: v for k, v in r.items() if k != "kept"},
                         "transform": json.dumps(list(t)[:6])})
        geoms = [box(*self.grid.chip_bounds(r["chip_id"])) for r in recs]
        gdf = gpd.GeoDataFrame(rows, geometry=geoms, crs=self.grid.crs)
        if gdf.empty:
            gdf = gpd.GeoDataFrame({"chip_id": []}, geometry=[], crs=self.grid.crs)
        with atomic_path(self.path / INDEX_FILE) as tmp:
            gdf.to_file(tmp, driver="GPKG", layer="chips")
        self.meta.update(extra or {})
        self.meta["complete"] = True
        self.meta["n_chips"] = len(gdf)
        write_json_atomic(self.path / META_FILE, self.meta)
        self._index, self._array, self._chunk_writer = None, None, None

    # ---- reading ------------------------------------------------------------------------
    @property
    def index(self):
        """GeoDataFrame of kept chips (sorted by chip id)."""
        if self._index is None:
            import geopandas as gpd

            try:
                self._index = gpd.read_file(self.path / INDEX_FILE, layer="chips").sort_values("chip_id").reset_index(drop=True)
            except Exception as exc:  # noqa: BLE001
                raise ChipStoreError(f"cannot read {self.path / INDEX_FILE} ({exc}); rerun `landslide-app chips`") from exc
        return self._index

    @property
    def ids(self) -> np.ndarray:
        return self.index["chip_id"].to_numpy(dtype=np.int64)

    @property
    def classes(self) -> np.ndarray:
        return self.index["density_class"].to_numpy(dtype=np.int64)

    def channel(self, name: str) -> int:
        try:
            return self.channels.index(name)
        except ValueError:
            raise ChipStoreError(f"store has no channel {name!r}; channels: {', '.join(self.channels)}") from None

    def read(self, chip_id: int) -> np.ndarray:
        """One chip, float32 ``(C, S, S)``."""
        row, col = self.grid.chip_rc(chip_id)
        if not (0 <= row < self.grid.n_rows):
            raise ChipStoreError(f"chip id {chip_id} is outside the grid")
        try:
            chip = np.asarray(self.array[row, col])
        except ChipStoreError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise ChipStoreError(f"chip {chip_id} of {self.path} is unreadable ({exc}); rebuild the store "
                                 "(`landslide-app chips ... --overwrite`)") from exc
        label = self.channels.index("label") if "label" in self.channels else None
        if (label is not None and self.meta.get("complete") and np.isnan(chip[label]).all()
                and int(chip_id) in set(self.ids.tolist())):
            # a kept chip always has a label (head counts); all-NaN is zarr's fill: no chunk on disk
            raise ChipStoreError(
                f"chip {chip_id} of {self.path} has no data on disk although the index lists it: the "
                "store is truncated; rebuild it (`landslide-app chips ... --overwrite`)"
            )
        return chip

    def read_many(self, chip_ids: Sequence[int], channels: Sequence[int] | None = None) -> np.ndarray:
        """Chips ``(n, C, S, S)`` (optionally only ``channels``), read one chunk each."""
        out = [self.read(i) for i in chip_ids]
        arr = np.stack(out) if out else np.empty((0, len(self.channels), self.grid.chip_size, self.grid.chip_size), np.float32)
        return arr[:, list(channels)] if channels is not None else arr

    def info(self) -> dict[str, Any]:
        """The summary printed by ``landslide-app info``."""
        idx = self.index
        counts = {str(c): int((idx["density_class"] == c).sum()) for c in range(3)} if len(idx) else {"0": 0, "1": 0, "2": 0}
        return {
            "path": str(self.path), "n_chips": int(len(idx)), "channels": list(self.channels),
            "chip_size": int(self.grid.chip_size), "crs": self.grid.crs,
            "resolution_m": self.grid.resolution, "grid": {"n_rows": self.grid.n_rows, "n_cols": self.grid.n_cols},
            "class_counts": counts, "n_heads": int(idx["head_count"].sum()) if len(idx) else 0,
            "density_thresholds": self.meta.get("density_thresholds"),
            "has_sar": self.meta.get("has_sar"), "dates": self.meta.get("dates"),
            "inventory": self.meta.get("inventory"), "fingerprint": self.meta.get("fingerprint"),
            "code_version": self.meta.get("code_version"),
        }
