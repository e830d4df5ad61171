"""The typed metadata of a chip store (``STORE/store.json``): read, written and checked here only.

:class:`StoreMeta` holds every field with its one default; :meth:`StoreMeta.read` also opens
stores written by earlier versions (format ``landslide-app-chips/1``: labelled, no acquisitions,
no per-chip checksums). :func:`meta_problems` compares the metadata with the zarr array and the
GeoPackage index, so that an edited or truncated store is reported instead of trusted.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from landslide_app import __version__
from landslide_app.atomic import write_json_atomic
from landslide_app.config import CHANNELS, N_POST_DATES, N_PRE_DATES
from landslide_app.core.density import density_class
from landslide_app.core.grid import ChipGrid
from landslide_app.errors import ChipStoreError, ConfigError

log = logging.getLogger(__name__)

FORMAT = "landslide-app-chips/2"
#: Formats this version still opens (``/1``: before labels became optional and chips had checksums).
READABLE_FORMATS = (FORMAT, "landslide-app-chips/1")
META_FILE = "store.json"
#: What :attr:`StoreMeta.checksums` names when every kept chip's chunk has a recorded size and CRC-32.
CHECKSUM_KIND = "crc32"


@dataclass(frozen=True)
class StoreAcquisition:
    """One SAR acquisition day of a store, in the chip's SAR slot ``slot`` (``vv_t{slot}``, ``vh_t{slot}``).

    ``slot`` is None for a day the fixed chip layout has no room for (more than 3 pre or post days).
    """

    date: str
    datetime: str | None
    role: str  # "pre" or "post" (relative to the event date)
    slot: int | None
    platform: str | None = None
    relative_orbit: int | None = None
    orbit_state: str | None = None
    items: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StoreAcquisition:
        return cls(
            date=str(d["date"]),
            datetime=d.get("datetime"),
            role=str(d["role"]),
            slot=None if d.get("slot") is None else int(d["slot"]),
            platform=d.get("platform"),
            relative_orbit=None if d.get("relative_orbit") is None else int(d["relative_orbit"]),
            orbit_state=d.get("orbit_state"),
            items=tuple(d.get("items") or ()),
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "items": list(self.items)}


@dataclass
class StoreMeta:
    """Everything ``store.json`` records. ``grid`` and ``channels`` are required; every other field
    has its default here (the value an older store without it means)."""

    grid: ChipGrid
    channels: tuple[str, ...]
    format: str = FORMAT
    code_version: str = __version__
    complete: bool = False
    #: Identity of the whole store (data and labels): caches of experiments key on it.
    fingerprint: str | None = None
    #: Identity of the chip data alone (rasters, grid, land filter): a rerun of ``chips`` with
    #: other labels (an inventory for an unlabelled store) relabels it when this matches.
    data_fingerprint: str | None = None
    label_fingerprint: str | None = None
    source: str | None = None
    has_sar: bool = True
    dates: tuple[str, ...] = ()
    n_pre_dates: int = N_PRE_DATES
    event_date: str | None = None
    relative_orbit: int | None = None
    orbit_state: str | None = None
    acquisitions: tuple[StoreAcquisition, ...] = ()
    labelled: bool = True
    density_thresholds: tuple[float, float] | None = None
    min_land_fraction: float | None = None
    chip_area_km2: float | None = None
    label: str | None = None
    inventory: dict[str, Any] | None = None
    created: str | None = None
    build_seconds: float | None = None
    n_chips: int | None = None
    #: ``"crc32"`` when the index records every kept chip's chunk size and CRC-32 (None: an old store).
    checksums: str | None = CHECKSUM_KIND
    #: Keys of ``store.json`` this version does not know (kept on rewrite).
    extra: dict[str, Any] = field(default_factory=dict)

    # ---- derived ----------------------------------------------------------------------
    @property
    def chip_size(self) -> int:
        return self.grid.chip_size

    @property
    def crs(self) -> str:
        return self.grid.crs

    @property
    def n_post(self) -> int:
        """Post-event SAR dates in the store (0 for DEM-only)."""
        return max(len(self.dates) - self.n_pre_dates, 0) if self.has_sar else 0

    @property
    def post_dates(self) -> tuple[str, ...]:
        return self.dates[self.n_pre_dates :] if self.has_sar else ()

    def with_(self, **changes: Any) -> StoreMeta:
        """A copy with ``changes``."""
        return replace(self, **changes)

    # ---- JSON -------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        for f in fields(self):
            if f.name == "extra":
                continue
            v = getattr(self, f.name)
            if f.name == "grid":
                v = v.to_dict()
            elif f.name == "acquisitions":
                v = [a.to_dict() for a in v]
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        out["chip_size"], out["crs"], out["n_post"] = self.chip_size, self.crs, self.n_post  # for readers of the JSON
        return out

    @classmethod
    def from_json(cls, d: Any, where: str = META_FILE) -> StoreMeta:
        """Parse ``store.json`` content; ChipStoreError (saying what to do) when it is not a store's."""
        if not isinstance(d, dict):
            raise ChipStoreError(
                f"{where} is not a JSON object; the store is damaged, rebuild it "
                "(`landslide-app chips ... --overwrite`)"
            )
        fmt = d.get("format")
        if fmt not in READABLE_FORMATS:
            raise ChipStoreError(
                f"{where} has format {fmt!r}; this version reads {', '.join(READABLE_FORMATS)}: "
                "rebuild it with this version (`landslide-app chips ... --overwrite`)"
            )
        for key in ("grid", "channels"):
            if key not in d:
                raise ChipStoreError(
                    f"{where} lacks '{key}'; the store is damaged, rebuild it (`landslide-app chips ... --overwrite`)"
                )
        try:
            grid = ChipGrid.from_dict(d["grid"])
        except ConfigError as exc:
            raise ChipStoreError(f"{where} is damaged: {exc}; rebuild the store") from None
        known = {f.name for f in fields(cls)} - {"extra", "grid"}
        kw: dict[str, Any] = {
            "grid": grid,
            "extra": {k: v for k, v in d.items() if k not in known | {"grid", "chip_size", "crs", "n_post"}},
        }
        try:
            for k in known & set(d):
                kw[k] = d[k]
            kw["channels"] = tuple(str(c) for c in d["channels"])
            kw["dates"] = tuple(str(x) for x in d.get("dates") or ())
            kw["acquisitions"] = tuple(StoreAcquisition.from_dict(a) for a in d.get("acquisitions") or ())
            if d.get("density_thresholds") is not None:
                t0, t1 = d["density_thresholds"]
                kw["density_thresholds"] = (float(t0), float(t1))
            for k in ("n_pre_dates", "n_chips", "relative_orbit"):
                if d.get(k) is not None:
                    kw[k] = int(d[k])
            for k in ("complete", "has_sar", "labelled"):
                if k in d:
                    kw[k] = bool(d[k])
        except (TypeError, ValueError, KeyError) as exc:
            raise ChipStoreError(
                f"{where} has a malformed field ({type(exc).__name__}: {exc}); the store is "
                "damaged, rebuild it (`landslide-app chips ... --overwrite`)"
            ) from None
        if fmt != FORMAT:  # an older store: labelled, no checksums
            kw.setdefault("labelled", True)
            kw["checksums"] = d.get("checksums")
        meta = cls(**kw)
        if "chip_size" in d and d["chip_size"] != grid.chip_size:
            raise ChipStoreError(
                f"{where} says chip_size {d['chip_size']} but its grid has {grid.chip_size}-pixel "
                "chips: store.json was edited or damaged; rebuild the store (`landslide-app chips ... "
                "--overwrite`)"
            )
        return meta

    @classmethod
    def read(cls, path: Path) -> StoreMeta:
        """The metadata of the store at ``path`` (ChipStoreError when absent or unreadable)."""
        f = Path(path) / META_FILE
        if not f.exists():
            raise ChipStoreError(f"{path} is not a chip store (no {META_FILE}); build one with `landslide-app chips`")
        try:
            d = json.loads(f.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ChipStoreError(f"{f} is unreadable ({exc}); rebuild the store with `landslide-app chips`") from exc
        return cls.from_json(d, str(f))

    def write(self, path: Path) -> None:
        """Write ``store.json`` of the store at ``path`` atomically."""
        write_json_atomic(Path(path) / META_FILE, self.to_json())


def check_reusable(path: Path, old: StoreMeta, new: StoreMeta) -> None:
    """ChipStoreError unless the store at ``path`` (metadata ``old``) holds chip data built from the same
    inputs as ``new`` would (same :attr:`StoreMeta.data_fingerprint`; labels may differ) and its
    grid and channels are those its fingerprint stands for."""
    if old.data_fingerprint is None or old.data_fingerprint != new.data_fingerprint:
        built = (
            f"by an older version (format {old.format})" if old.format != FORMAT else "from other inputs or settings"
        )
        raise ChipStoreError(
            f"{path} holds chips built {built} (data fingerprint {old.data_fingerprint} != "
            f"{new.data_fingerprint}); pass another --out, or --overwrite to rebuild it"
        )
    if old.grid != new.grid or old.channels != new.channels:
        raise ChipStoreError(
            f"{path / META_FILE} was edited (its grid or channels differ from those its "
            "fingerprint stands for); rebuild the store with --overwrite"
        )


def meta_problems(
    meta: StoreMeta, array_shape: tuple[int, ...] | None, array_chunks: tuple[int, ...] | None, index: Any = None
) -> list[str]:
    """What in ``meta`` disagrees with the zarr array (shape, chunks) and the index (a GeoDataFrame of
    kept chips, or None when not written yet). Each entry is one sentence; empty: consistent."""
    g, c, s = meta.grid, len(meta.channels), meta.grid.chip_size
    out: list[str] = []
    if len(set(meta.channels)) != c:
        out.append(f"the channel names repeat ({', '.join(meta.channels)})")
    if meta.source is not None and meta.channels != CHANNELS:
        out.append(f"the channels are {', '.join(meta.channels)}, but built stores hold {', '.join(CHANNELS)}")
    expect = (g.n_rows, g.n_cols, c, s, s)
    if array_shape is not None and tuple(array_shape) != expect:
        out.append(
            f"the zarr array has shape {tuple(array_shape)} but store.json describes {expect} "
            f"({g.n_rows} x {g.n_cols} chips of {c} channels, {s} px)"
        )
    if array_chunks is not None and tuple(array_chunks) != (1, 1, c, s, s):
        out.append(f"the zarr array's chunks are {tuple(array_chunks)}, expected one chip per chunk {(1, 1, c, s, s)}")
    if meta.chip_area_km2 is not None and not np.isclose(meta.chip_area_km2, g.chip_area_km2):
        out.append(f"chip_area_km2 is {meta.chip_area_km2} but the grid's chips cover {g.chip_area_km2} km²")
    out += _date_problems(meta)
    if meta.labelled and meta.source is not None and meta.density_thresholds is None:
        out.append("the store is labelled but records no density thresholds")
    if index is not None:
        out += _index_problems(meta, index)
    return out


def _date_problems(meta: StoreMeta) -> list[str]:
    out: list[str] = []
    if meta.has_sar and not meta.dates and meta.source is not None:
        out.append("has_sar is true but no SAR date is recorded")
    if list(meta.dates) != sorted(meta.dates):
        out.append(f"the SAR dates are not in time order ({', '.join(meta.dates)})")
    if meta.dates and not 0 <= meta.n_pre_dates <= len(meta.dates):
        out.append(f"n_pre_dates {meta.n_pre_dates} does not fit the {len(meta.dates)} dates recorded")
    if meta.acquisitions:
        if [a.date for a in meta.acquisitions] != list(meta.dates):
            out.append(
                "the acquisitions do not match the dates ("
                f"{', '.join(a.date for a in meta.acquisitions)} vs {', '.join(meta.dates)})"
            )
        n_pre = sum(a.role == "pre" for a in meta.acquisitions)
        if n_pre != meta.n_pre_dates:
            out.append(f"{n_pre} acquisitions are marked pre-event but n_pre_dates is {meta.n_pre_dates}")
        slots = [a.slot for a in meta.acquisitions if a.slot is not None]
        n_slots = N_PRE_DATES + N_POST_DATES
        if len(set(slots)) != len(slots) or any(not 0 <= x < n_slots for x in slots):
            out.append(f"the acquisitions' SAR slots {slots} are not distinct slots of 0..{n_slots - 1}")
    if meta.event_date and meta.has_sar:
        ev = meta.event_date[:10]
        pre, post = meta.dates[: meta.n_pre_dates], meta.dates[meta.n_pre_dates :]
        if any(d >= ev for d in pre) or any(d <= ev for d in post):
            out.append(
                f"the pre/post-event dates ({', '.join(pre)} / {', '.join(post)}) do not lie either side "
                f"of the event date {ev}"
            )
    return out


def _index_problems(meta: StoreMeta, index: Any) -> list[str]:
    g = meta.grid
    out: list[str] = []
    n = len(index)
    if meta.n_chips is not None and n != meta.n_chips:
        out.append(f"index.gpkg lists {n} chips but store.json records {meta.n_chips} (a truncated or replaced index)")
    if n == 0:
        return out
    need = {"chip_id", "row", "col"} | ({"head_count", "density_class"} if meta.labelled else set())
    if meta.checksums:
        need |= {"chunk_bytes", "chunk_crc32"}
    missing = sorted(need - set(index.columns))
    if missing:
        return out + [f"index.gpkg lacks the column(s) {', '.join(missing)}"]
    ids = index["chip_id"].to_numpy(np.int64)
    if len(np.unique(ids)) != n:
        out.append("index.gpkg lists some chips twice")
    if ids.min() < 0 or ids.max() >= g.n_chips:
        out.append(f"index.gpkg holds chip ids outside the {g.n_rows} x {g.n_cols} grid")
    elif not (
        np.array_equal(index["row"].to_numpy(np.int64), ids // g.n_cols)
        and np.array_equal(index["col"].to_numpy(np.int64), ids % g.n_cols)
    ):
        out.append("index.gpkg's rows/columns do not match its chip ids on this grid")
    out += _georeference_problems(meta, index)
    if meta.labelled and meta.density_thresholds is not None:
        want = density_class(index["head_count"].to_numpy(np.int64), g.chip_area_km2, meta.density_thresholds)
        bad = int((np.asarray(want) != index["density_class"].to_numpy(np.int64)).sum())
        if bad:
            out.append(
                f"{bad} chips' density classes in index.gpkg disagree with the density thresholds "
                f"{list(meta.density_thresholds)} of store.json"
            )
    return out


def _georeference_problems(meta: StoreMeta, index: Any) -> list[str]:
    """The grid of store.json must place the chips where the index (written from it) has them: an
    edited origin, pixel size or CRS would move every map silently."""
    g = meta.grid
    out: list[str] = []
    crs = getattr(index, "crs", None)
    if crs is not None and crs.to_epsg() != g.epsg:
        out.append(f"index.gpkg is in EPSG:{crs.to_epsg()} but the grid of store.json in EPSG:{g.epsg}")
    if "transform" in index.columns:
        first = index.iloc[0]
        try:
            recorded = [float(v) for v in json.loads(first["transform"])]
        except (TypeError, ValueError):
            return out + ["index.gpkg's chip transforms are unreadable"]
        expect = list(g.chip_transform(int(first["chip_id"])))[:6]
        if len(recorded) != 6 or not np.allclose(recorded, expect, rtol=0, atol=1e-6 * max(1.0, g.resolution)):
            out.append(
                f"chip {int(first['chip_id'])} lies at {recorded} in index.gpkg but the grid of store.json "
                f"puts it at {[round(v, 6) for v in expect]} (origin or pixel size edited)"
            )
    return out
