"""The responder's view of a workspace, free of widgets: the area's chips, its predictions, the
models that can be applied to it, and the SAR before/after images.

:class:`AreaState` reads only artifacts (the chip store, ``predict``/``respond`` outputs,
``run.json`` of trained runs) and makes the stage runs that create them (``landslide-app predict``
through :mod:`landslide_app.dashboard.queue`); it never computes a prediction itself.

What the map shows of a prediction is a :class:`~landslide_app.dashboard.prediction_view.PredictionView`
(read by :func:`~landslide_app.dashboard.prediction_view.read_prediction`).

Views are cached in a process-wide read-only cache keyed by file path and modification time
(:data:`CACHE`): every page of the same kernel process shares them.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from landslide_app.dashboard.prediction_view import PredictionView, chip_feature, read_prediction
from landslide_app.dashboard.queue import StageRun, cli_command
from landslide_app.dashboard.viewcache import shared_overlays
from landslide_app.errors import InputError
from landslide_app.experiments.workspace import RUN_MARK, Workspace, list_workspaces

log = logging.getLogger(__name__)

PREDICTIONS_DIR = "predictions"
NO_CLASS_STYLE = {"fillColor": "#607d8b", "color": "#37474f", "weight": 0.6, "fillOpacity": 0.08}


class ViewCache:
    """A small LRU cache of read-only views, keyed by (kind, path, mtime); thread-safe."""

    def __init__(self, max_items: int = 64) -> None:
        self.max_items = max_items
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, kind: str, path: Path, build: Callable[[], Any], *extra: Any) -> Any:
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            stamp = None
        key = (kind, str(path), stamp, *extra)
        with self._lock:
            if key in self._items:
                self.hits += 1
                self._items.move_to_end(key)
                return self._items[key]
        value = build()
        with self._lock:
            self.misses += 1
            self._items[key] = value
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return value


#: The process-wide cache every page shares.
CACHE = ViewCache()


@dataclass(frozen=True)
class ModelChoice:
    """A trained run that can be applied: where it is and how the list names it."""

    path: Path
    name: str
    workspace: str
    auc_val: float | None = None
    #: networks of the run (``train --ensemble K``)
    ensemble: int = 1

    @property
    def label(self) -> str:
        nets = f", {self.ensemble} networks" if self.ensemble > 1 else ""
        auc = "" if self.auc_val is None else f", val AUC {self.auc_val:.2f}"
        return f"{self.name} ({self.workspace}: {self.path.name}{nets}{auc})"


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "model"


class AreaState:
    """The responder's view of one workspace (see module docstring).

    Args:
        workspace: the open workspace.
        root: the folder whose workspaces' models are offered too (default: the workspace's parent).
    """

    def __init__(self, workspace: Workspace, root: Path | None = None, cache: ViewCache = CACHE) -> None:
        self.ws = workspace
        self.root = Path(root) if root is not None else workspace.root.parent
        self.cache = cache
        entry = workspace.main_store()
        self.store_path: Path | None = workspace.path(entry) if entry else None
        self.labelled = bool(entry and entry.get("labelled"))
        self._store: Any = None

    # ---- the area's chips -------------------------------------------------------------------
    @property
    def store(self) -> Any:
        if self._store is None and self.store_path is not None:
            from landslide_app.chips.store import ChipStore

            self._store = ChipStore.open(self.store_path)
        return self._store

    def chips_geojson(self) -> dict[str, Any]:
        """The store's kept chips (lon/lat), outlined, without classes."""
        if self.store_path is None:
            return {"type": "FeatureCollection", "features": []}

        def build() -> dict[str, Any]:
            gdf = self.store.index.to_crs("EPSG:4326")
            feats = [chip_feature(g, {"chip_id": int(c)}, NO_CLASS_STYLE) for c, g in zip(gdf["chip_id"], gdf.geometry)]
            return {"type": "FeatureCollection", "features": feats}

        return self.cache.get("chips", self.store_path / "store.json", build)

    def bounds(self) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """``((south, west), (north, east))`` of the area (the store's grid, else the workspace's box)."""
        bbox = None
        if self.store_path is not None:
            e = self.ws.main_store() or {}
            bbox = e.get("bbox_lonlat")
        bbox = bbox or self.ws.area.get("bbox_lonlat")
        if not bbox:
            return None
        w, s, e_, n = bbox
        return ((s, w), (n, e_))

    def header(self) -> str:
        e = self.ws.main_store()
        if e is None:
            return "no chip store yet: use New area to fetch one"
        labels = "labelled" if e.get("labelled") else "unlabelled (no inventory)"
        post = f", {e.get('n_post')} post-event date(s)" if e.get("has_sar") else ", DEM only"
        orbit = f", orbit {e['relative_orbit']}" if e.get("relative_orbit") else ""
        return f"{e.get('n_chips')} chips, {labels}{post}{orbit}"

    # ---- predictions ------------------------------------------------------------------------
    def predictions(self) -> list[dict[str, Any]]:
        """Prediction entries of the workspace whose folders exist, newest last."""
        return [p for p in self.ws.predictions if (self.ws.path(p) / "summary.json").exists()]

    def prediction(self, entry: dict[str, Any] | Path) -> PredictionView:
        path = self.ws.path(entry) if isinstance(entry, dict) else Path(entry)
        return self.cache.get("prediction", path / "summary.json", lambda: read_prediction(path))

    # ---- models -----------------------------------------------------------------------------
    def models(self) -> list[ModelChoice]:
        """Trained runs of this workspace first, then of the other workspaces under :attr:`root`."""
        out: list[ModelChoice] = []
        seen: set[Path] = set()
        others = [p for p in list_workspaces(self.root) if p != self.ws.root] if self.root.is_dir() else []
        for ws in [self.ws, *(_load_quiet(p) for p in others)]:
            if ws is None:
                continue
            for r in ws.runs:
                p = ws.path(r)
                if p in seen or not (p / RUN_MARK).exists():
                    continue
                seen.add(p)
                k = r.get("ensemble")
                k = k if isinstance(k, int) and k >= 1 else 1
                out.append(ModelChoice(p, str(r.get("name") or p.name), ws.name, r.get("auc_val"), k))
        return out

    def respond_run(
        self,
        model: Path,
        normalise: str = "training",
        on_done: Callable[[StageRun], Any] | None = None,
    ) -> StageRun:
        """``landslide-app predict`` of ``model`` on the area's store into ``predictions/<model>``."""
        if self.store_path is None:
            raise InputError("this workspace has no chip store yet: fetch the area first (New area)")
        out = self.ws.root / PREDICTIONS_DIR / _safe_name(f"{Path(model).parent.name}-{Path(model).name}-{normalise}")

        def record(run: StageRun) -> None:
            self.ws.add_prediction(out, run_path=str(Path(model).resolve()))
            self.ws.save()
            if on_done is not None:
                on_done(run)

        return StageRun(
            f"predict {Path(model).name}",
            cli_command(
                "predict",
                "--model",
                str(model),
                "--chips",
                str(self.store_path),
                "--out",
                str(out),
                "--normalise",
                normalise,
            ),
            on_done=record,
        )

    # ---- SAR before/after -------------------------------------------------------------------
    def sar_dates(self) -> list[tuple[str, str, str]]:
        """``(channel, date, role)`` of the store's VH acquisitions, in time order."""
        if self.store is None or not self.store.meta.has_sar:
            return []
        out = []
        for a in self.store.meta.acquisitions:
            name = f"vh_t{a.slot}"
            if name in self.store.channels:
                out.append((name, str(a.date), str(a.role)))
        return out

    def sar_pair(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The latest pre-event and the first post-event VH (dB) mosaics as overlays
        ``{"url", "bounds", "date"}``, on one colour scale; None without SAR."""
        dates = self.sar_dates()
        pre = [d for d in dates if d[2] == "pre"]
        post = [d for d in dates if d[2] == "post"]
        if not pre or not post:
            return None
        assert self.store_path is not None
        src = [self.store_path / "store.json"]  # computed once for every session (shared on-disk cache)
        build = lambda: shared_overlays(self.ws.root, "sar-pair", src, lambda: self._sar_overlays([pre[-1], post[0]]))  # noqa: E731
        return self.cache.get("sar-pair", src[0], build)

    def _sar_overlays(self, picks: list[tuple[str, str, str]]) -> tuple[dict[str, Any], dict[str, Any]]:
        from landslide_app.core.sar import to_db
        from landslide_app.dashboard.rendering import (
            block_mean,
            colour_rgba,
            data_url,
            mosaic,
            mosaic_px,
            png_bytes,
            to_web_mercator,
        )

        st = self.store
        g = st.grid
        ids = st.ids
        px = mosaic_px(g.n_rows, g.n_cols, g.chip_size, preferred=32)
        chans = [st.channel(c) for c, _, _ in picks]
        imgs = []
        for k in range(len(picks)):
            tiles = []
            for i in range(0, len(ids), 64):
                block = st.read_many(ids[i : i + 64], [chans[k]])[:, 0]
                tiles.append(block_mean(to_db(block, floor_db=None), px))
            rc = np.column_stack(np.divmod(ids.astype(np.int64), g.n_cols))
            imgs.append(mosaic(g.n_rows, g.n_cols, rc, np.concatenate(tiles) if tiles else np.empty((0, px, px))))
        fin = np.concatenate([i[np.isfinite(i)] for i in imgs])
        lo, hi = np.percentile(fin, [2, 98]) if fin.size else (-25.0, 0.0)
        tr = g.transform @ g.transform.scale(g.chip_size / px, g.chip_size / px)
        out = []
        for img, (_, day, role) in zip(imgs, picks):
            warped, bounds = to_web_mercator(colour_rgba(img, "gray", float(lo), float(max(hi, lo + 1))), tr, g.crs)
            out.append(
                {
                    "url": data_url(png_bytes(warped)),
                    "bounds": bounds,
                    "date": day,
                    "role": role,
                    "range_db": (float(lo), float(hi)),
                }
            )
        return out[0], out[1]

    def chip_sar_png(self, chip_id: int, channel: str) -> bytes:
        """One chip's VH (dB) at one acquisition as a grey PNG (the date slider's image)."""
        from landslide_app.core.sar import to_db
        from landslide_app.dashboard.rendering import colour_rgba, png_bytes

        chip = self.store.read(int(chip_id))
        v = to_db(chip[self.store.channel(channel)], floor_db=None)
        return png_bytes(colour_rgba(v, "gray", -25.0, 0.0))


def _load_quiet(path: Path) -> Workspace | None:
    try:
        return Workspace.load(path)
    except Exception as exc:  # noqa: BLE001 - one unreadable folder must not hide the others' models
        log.warning("skipping workspace %s: %s", path, exc)
        return None
