""" "New area" from the page: the request, its limits, and the chip build as a stage run.

:class:`FetchRequest` is what the form holds (area, event, orbit, pre/post, source, inventory).
:func:`check_request` applies the limits *before anything is downloaded* and says what to change:

* the area: at most :data:`MAX_AREA_KM2` (geodesic area of the W S E N box);
* the network: a Planetary Computer or STAC API request first opens a TCP connection to the
  service with a :data:`CONNECT_TIMEOUT_S` limit, so an offline machine gets one message at once
  instead of the HTTP client's minute of retries;

and the chip build itself (``landslide-app chips``, the same command as the CLI) refuses an event
with no acquisition after it, before reading any raster, with the date of the next expected pass.
:func:`chips_run` makes the :class:`~landslide_app.dashboard.queue.StageRun`; while it goes,
:func:`built_chips` reads the chips already finished from the store's done-markers (the map shows
them as they are built). No widget here.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from landslide_app.dashboard.queue import StageRun, cli_command
from landslide_app.errors import ConfigError, InputError, SourceError

log = logging.getLogger(__name__)

#: Largest area fetched from the page (km²): larger areas take hours and tens of GB; use the CLI.
MAX_AREA_KM2 = 10_000.0
#: Seconds to wait for a TCP connection to a STAC API before calling it unreachable.
CONNECT_TIMEOUT_S = 4.0
PLANETARY_COMPUTER = "planetary-computer"
SOURCE_KINDS = (("Planetary Computer", "pc"), ("STAC API URL", "api"), ("STAC catalog (path or URL)", "catalog"))
INVENTORY_SUFFIXES = (".gpkg", ".geojson", ".json", ".zip", ".csv")


@dataclass(frozen=True)
class FetchRequest:
    """The "New area" form. ``bbox``: lon/lat (W, S, E, N); ``source_kind``: pc, api or catalog."""

    bbox: tuple[float, float, float, float]
    event_date: str
    source_kind: str = "pc"
    source: str = ""
    orbit: str = "auto"
    pre: int = 3
    post: int | None = None
    inventory: Path | None = None

    @property
    def source_arg(self) -> str:
        return PLANETARY_COMPUTER if self.source_kind == "pc" else self.source.strip()

    def describe(self) -> str:
        w, s, e, n = self.bbox
        return (
            f"{self.source_arg} over ({w:.3f}, {s:.3f}, {e:.3f}, {n:.3f}), event {self.event_date}, "
            f"orbit {self.orbit}, {self.pre} pre / {self.post or 'up to 3'} post"
        )


def bbox_area_km2(bbox: tuple[float, float, float, float]) -> float:
    """Geodesic area (WGS 84) of a lon/lat box in km²."""
    from pyproj import Geod

    w, s, e, n = bbox
    area, _ = Geod(ellps="WGS84").polygon_area_perimeter([w, e, e, w], [s, s, n, n])
    return abs(area) / 1e6


def check_bbox(bbox: Any) -> tuple[float, float, float, float]:
    """Four finite numbers W < E, S < N within lon/lat ranges, and at most :data:`MAX_AREA_KM2`."""
    try:
        w, s, e, n = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise ConfigError(
            "the area needs four numbers W S E N (lon/lat degrees), e.g. -66.3 18.1 -66.0 18.3; "
            "or draw a rectangle on the map"
        ) from None
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise ConfigError(
            f"area ({w}, {s}, {e}, {n}): need -180 <= W < E <= 180 and -90 <= S < N <= 90 "
            "(lon/lat degrees, west south east north)"
        )
    km2 = bbox_area_km2((w, s, e, n))
    if km2 > MAX_AREA_KM2:
        raise ConfigError(
            f"the area is {km2:,.0f} km², over the page's limit of {MAX_AREA_KM2:,.0f} km²: draw a "
            "smaller rectangle, or build it with `landslide-app chips --bbox ...` (hours, tens of GB)"
        )
    return (w, s, e, n)


def service_url(req: FetchRequest) -> str | None:
    """The http(s) URL a request will contact first (None: a local catalog)."""
    if req.source_kind == "pc":
        from landslide_app.sources.planetary import pc_stac_url

        return pc_stac_url()
    src = req.source_arg
    return src if src.startswith(("http://", "https://")) else None


def check_reachable(url: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Open (and close) a TCP connection to ``url``'s host, or raise :class:`SourceError` at once."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    result: dict[str, BaseException | None] = {"error": None}

    def connect() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                pass
        except OSError as exc:
            result["error"] = exc

    t = threading.Thread(target=connect, daemon=True)  # name resolution has no timeout of its own
    t.start()
    t.join(timeout + 0.5)
    err = result["error"] if not t.is_alive() else TimeoutError(f"no answer within {timeout:g} s")
    if err is not None:
        what = "the Planetary Computer" if "planetarycomputer" in host or url == _pc_url() else host
        raise SourceError(
            f"cannot reach {what} ({host}:{port}: {getattr(err, 'strerror', None) or err}): this "
            "machine looks offline. Connect it to the internet, or choose a STAC catalog on disk "
            "(e.g. the demo's data/demo/scene/catalog.json)"
        )


def _pc_url() -> str:
    from landslide_app.sources.planetary import pc_stac_url

    return pc_stac_url()


def check_request(req: FetchRequest) -> FetchRequest:
    """All the limits the page checks before starting the build (see module docstring)."""
    from landslide_app.sources.selection import parse_event_date, parse_orbit

    bbox = check_bbox(req.bbox)
    parse_event_date(req.event_date)
    parse_orbit(req.orbit)
    if not 1 <= int(req.pre) <= 3 or (req.post is not None and not 1 <= int(req.post) <= 3):
        raise ConfigError("pre and post: 1 to 3 acquisitions each")
    if req.source_kind not in ("pc", "api", "catalog"):
        raise ConfigError(f"source kind {req.source_kind!r}: use pc, api or catalog")
    if req.source_kind != "pc" and not req.source.strip():
        raise ConfigError("give the STAC API URL or the catalog path/URL (e.g. data/demo/scene/catalog.json)")
    if req.source_kind == "api" and not req.source.startswith(("http://", "https://")):
        raise ConfigError(f"{req.source!r} is not a STAC API URL (http:// or https://)")
    if (
        req.source_kind == "catalog"
        and not req.source.startswith(("http://", "https://"))
        and not Path(req.source).exists()
    ):
        raise InputError(f"no STAC catalog at {req.source}: give the path of a catalog.json (or its folder)")
    url = service_url(req)
    if url is not None:
        check_reachable(url)
    return FetchRequest(bbox, req.event_date, req.source_kind, req.source, req.orbit, req.pre, req.post, req.inventory)


def save_inventory(folder: Path, name: str, content: bytes) -> Path:
    """Write an uploaded inventory under ``folder`` (a zipped shapefile is unpacked; its ``.shp``
    is returned). The file is read by the chip build, which reports what it cannot use."""
    name = Path(name).name
    suffix = Path(name).suffix.lower()
    if suffix not in INVENTORY_SUFFIXES:
        raise InputError(
            f"inventory {name}: upload a GeoPackage (.gpkg), GeoJSON (.geojson/.json), a zipped "
            "shapefile (.zip) or a CSV with lon/lat columns"
        )
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    target.write_bytes(content)
    if suffix != ".zip":
        return target
    out = folder / target.stem
    try:
        with zipfile.ZipFile(target) as z:
            for member in z.namelist():  # no absolute paths or '..' (zip slip)
                if member.startswith("/") or ".." in Path(member).parts:
                    raise InputError(f"{name} holds an unsafe path {member!r}; zip the shapefile's files only")
            z.extractall(out)
    except zipfile.BadZipFile as exc:
        raise InputError(f"{name} is not a readable zip file ({exc}); zip the shapefile's .shp/.shx/.dbf/.prj") from exc
    shps = sorted(out.rglob("*.shp"))
    if not shps:
        raise InputError(f"{name} holds no .shp file: zip the shapefile's .shp, .shx, .dbf and .prj together")
    return shps[0]


def chips_args(req: FetchRequest, out: Path) -> list[str]:
    """The ``landslide-app chips`` arguments of a request."""
    w, s, e, n = req.bbox
    args = [
        "chips",
        "--source",
        req.source_arg,
        "--bbox",
        str(w),
        str(s),
        str(e),
        str(n),
        "--event-date",
        req.event_date,
        "--orbit",
        str(req.orbit),
        "--pre",
        str(req.pre),
        "--out",
        str(out),
    ]
    if req.post is not None:
        args += ["--post", str(req.post)]
    if req.inventory is not None:
        args += ["--inventory", str(req.inventory)]
    return args


def chips_run(req: FetchRequest, out: Path, on_done=None, on_chips=None) -> StageRun:
    """The chip build of ``req`` into ``out`` as a stage run; ``on_chips(features)`` gets the lon/lat
    GeoJSON features of the chips built so far, whenever more are done."""
    seen = {"n": -1}

    def poll(run: StageRun) -> None:
        if on_chips is None or not (out / "store.json").exists():
            return
        feats, total = built_chips(out)
        if total:
            run.fraction = max(run.fraction, min(1.0, len(feats) / total))
        if len(feats) != seen["n"]:
            seen["n"] = len(feats)
            on_chips(feats)

    env_hint = os.environ.get("LANDSLIDE_APP_PC_STAC_URL")
    log.info("new area: %s%s", req.describe(), f" (PC at {env_hint})" if env_hint else "")
    return StageRun(f"chips {out.parent.name}", cli_command(*chips_args(req, out)), on_done=on_done, poll=poll)


def built_chips(store: Path) -> tuple[list[dict[str, Any]], int]:
    """Lon/lat GeoJSON features of the kept chips finished so far in a (possibly incomplete) store,
    and the number of chips of its grid."""
    from pyproj import Transformer

    from landslide_app.chips.store import ChipStore

    st = ChipStore.open(store, require_complete=False, verify=False)
    g = st.meta.grid
    tr = Transformer.from_crs(g.crs, "EPSG:4326", always_xy=True)
    feats = []
    for cid, rec in sorted(st.done_records().items()):
        if not rec.get("kept"):
            continue
        x0, y0, x1, y1 = g.chip_bounds(cid)
        xs, ys = tr.transform([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0])
        feats.append(
            {
                "type": "Feature",
                "id": int(cid),
                "properties": {"chip_id": int(cid)},
                "geometry": {"type": "Polygon", "coordinates": [[[round(x, 6), round(y, 6)] for x, y in zip(xs, ys)]]},
            }
        )
    return feats, g.n_chips
