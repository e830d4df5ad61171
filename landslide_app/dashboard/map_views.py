"""The analyst map's view of each configuration (:class:`MapView`), built once and shared.

:class:`MapViews` answers "what does the map show for this configuration": chips coloured by
true and predicted class, the embedding mosaic overlay, the ROC and confusion figures. A view is
kept per configuration and result in the process (switching back costs a dictionary lookup), and
its costly parts are kept on disk in the workspace's :class:`~.viewcache.SharedViewCache`, so
every other browser session's kernel reads them instead of computing them: the predictions in
chip order (read-only memory-mapped arrays), the embedding mosaic (PNG and its bounds) and the
two figures (PNG). A new run of a configuration writes new files, which makes new cache keys.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from landslide_app.chips.store import ChipStore
from landslide_app.dashboard.style import BASELINE_ORDER, CLASS_COLOURS, FILL_OPACITY
from landslide_app.dashboard.viewcache import CachedView, SharedViewCache
from landslide_app.dashboard.views import MapView
from landslide_app.errors import InputError
from landslide_app.experiments import artifacts
from landslide_app.experiments.artifacts import RunSpec, read_embeddings, read_predictions
from landslide_app.experiments.records import RunRecord

log = logging.getLogger(__name__)

Thresholds = tuple[float, float] | None
AGAIN = "press Run to compute it again"


def _round_coords(coords: Any, nd: int = 6) -> Any:
    if isinstance(coords, (list, tuple)) and coords and isinstance(coords[0], (int, float)):
        return [round(float(c), nd) for c in coords]
    return [_round_coords(c, nd) for c in coords]


def base_features(store: ChipStore) -> list[dict[str, Any]]:
    """One GeoJSON feature (lon/lat) per chip of ``store``, with its id and head count."""
    gdf = store.index.to_crs("EPSG:4326")
    feats = []
    for cid, hc, geom in zip(gdf["chip_id"], gdf["head_count"], gdf.geometry):
        g = geom.__geo_interface__
        feats.append(
            {
                "type": "Feature",
                "id": int(cid),
                "geometry": {"type": g["type"], "coordinates": _round_coords(g["coordinates"])},
                "properties": {"chip_id": int(cid), "head_count": int(hc)},
            }
        )
    return feats


def class_geojson(
    features: list[dict[str, Any]], cls: np.ndarray, true_cls: np.ndarray, proba: np.ndarray | None = None
) -> dict[str, Any]:
    """``features`` coloured by ``cls`` (styles baked into ``properties.style``)."""
    feats = []
    for k, f in enumerate(features):
        c = int(cls[k])
        props = {
            **f["properties"],
            "class": c,
            "true_class": int(true_cls[k]),
            "style": {
                "fillColor": CLASS_COLOURS.get(c, "#000"),
                "color": "#333",
                "weight": 0.6,
                "fillOpacity": FILL_OPACITY.get(c, 0.4),
            },
        }
        if proba is not None:
            props["proba"] = [round(float(p), 3) for p in proba[k]]
        feats.append({**f, "properties": props})
    return {"type": "FeatureCollection", "features": feats}


def embedding_overlay(store: ChipStore, eids: np.ndarray, emb: np.ndarray) -> CachedView:
    """The embedding mosaic: chips downsampled by block means, coloured (magma, 2-98 %),
    warped to Web Mercator; blob ``overlay.png``, meta ``bounds`` and ``range``."""
    from landslide_app.dashboard.rendering import block_mean, colour_rgba, mosaic, mosaic_px, png_bytes, to_web_mercator

    g = store.grid
    px = mosaic_px(g.n_rows, g.n_cols, g.chip_size)
    tiles = (
        np.concatenate([block_mean(np.asarray(emb[i : i + 256], np.float32), px) for i in range(0, len(eids), 256)])
        if len(eids)
        else np.empty((0, px, px))
    )
    rc = np.column_stack(np.divmod(np.asarray(eids, np.int64), g.n_cols))
    img = mosaic(g.n_rows, g.n_cols, rc, tiles)
    fin = img[np.isfinite(img)]
    lo, hi = np.percentile(fin, [2, 98]) if fin.size else (0.0, 1.0)
    hi = max(hi, lo + 1e-3)
    rgba = colour_rgba(img, "magma", lo, hi)
    tr = g.transform @ g.transform.scale(g.chip_size / px, g.chip_size / px)
    warped, bounds = to_web_mercator(rgba, tr, g.crs)
    return CachedView(
        meta={"bounds": bounds, "range": [float(lo), float(hi)]}, blobs={"overlay.png": png_bytes(warped)}
    )


class MapViews:
    """The map views of one chip store's configurations (see the module docstring).

    Args:
        ablation: the ablation folder (``runs/<key>/``).
        store: the chip store.
        cache: the workspace's shared on-disk cache.
        result: the stored result of a configuration (None: not computed).
        true_classes: the store's classes at some thresholds.
        baselines: ``baselines(thresholds, split, revisits)``, the comparison curves of the ROC.
        class_labels: the class names at some thresholds.
    """

    def __init__(
        self,
        ablation: Any,
        store: ChipStore,
        cache: SharedViewCache,
        result: Callable[[RunSpec], RunRecord | None],
        true_classes: Callable[[Thresholds], np.ndarray],
        baselines: Callable[[Thresholds, str, int], list[RunRecord]],
        class_labels: Callable[[Thresholds], dict[int, str]],
    ) -> None:
        self.ablation, self.store, self.cache = ablation, store, cache
        self.ids = store.ids
        self._result, self._true, self._baselines, self._labels = result, true_classes, baselines, class_labels
        self._features = base_features(store)
        self._views: dict[tuple, MapView] = {}
        self._true_geojson: dict[tuple, dict] = {}
        self._locks: dict[tuple, threading.Lock] = {}
        self._lock = threading.Lock()

    def chips_true(self, thresholds: Thresholds) -> dict[str, Any]:
        key = thresholds or ()
        if key not in self._true_geojson:
            t = self._true(thresholds)
            self._true_geojson[key] = class_geojson(self._features, t, t)
        return self._true_geojson[key]

    def _key_lock(self, key: tuple) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(key, threading.Lock())

    def view(self, spec: RunSpec, plots: bool = True) -> MapView:
        """What the map shows for ``spec`` (built once per configuration and result, then cached)."""
        res = self._result(spec)
        ck = (spec.computes_as.key, res.fingerprint if res else None, res.wall_seconds if res else None)
        v = self._views.get(ck)
        if v is not None and (v.roc_png is not None or not plots or not v.computed):
            return v
        with self._key_lock(ck):
            v = self._views.get(ck)
            if v is None:
                v = self._build(spec, res)
                self._views[ck] = v
            if plots and v.computed and v.roc_png is None:
                self._add_plots(spec, v)
        return v

    def _missing(self, key: str, chips_true: dict[str, Any], note: str) -> MapView:
        from landslide_app.dashboard.rendering import EMPTY_PNG_URL

        return MapView(key, False, chips_true, embedding_url=EMPTY_PNG_URL, note=note)

    def _build(self, spec: RunSpec, res: RunRecord | None) -> MapView:
        from landslide_app.dashboard.rendering import EMPTY_PNG_URL, data_url

        t0 = time.perf_counter()
        true_cls = self._true(spec.thresholds)
        chips_true = self.chips_true(spec.thresholds)
        if res is None:
            note = f"{spec.computes_as.key} has not been computed yet: press Run to compute it"
            return self._missing(spec.computes_as.key, chips_true, note)
        try:
            pred = self._ordered_predictions(spec)
        except InputError:
            return self._missing(
                spec.key, chips_true, f"{spec.key} has no stored predictions: press Run to compute it again"
            )
        if "pred_class" not in pred.arrays:
            return self._missing(
                spec.key, chips_true, f"{spec.key} was computed on other chips: press Run to compute it again"
            )
        pred_cls, proba = pred.arrays["pred_class"], pred.arrays["proba"]
        url: str = EMPTY_PNG_URL
        bounds: tuple[tuple[float, float], tuple[float, float]] | None = None
        rng: tuple[float, float] | None = None
        try:
            emb = self._embedding(spec)
            (s, w), (n, e) = emb.meta["bounds"]
            lo, hi = emb.meta["range"]
            url, bounds, rng = data_url(emb.blobs["overlay.png"]), ((s, w), (n, e)), (float(lo), float(hi))
        except (OSError, ValueError) as exc:
            log.warning("no embedding mosaic for %s: %s", spec.key, exc)
        notes = []
        if res.shared_with or spec.computes_as != spec:
            notes.append(f"DEM only: the same result for every revisit count ({spec.computes_as.key})")
        if res.collapsed:
            notes.append("training collapsed (constant embeddings for every chip): rerun with another seed")
        note = "; ".join(notes)
        log.debug("view %s built in %.3f s", spec.key, time.perf_counter() - t0)
        return MapView(
            spec.computes_as.key,
            True,
            chips_true,
            class_geojson(self._features, pred_cls, true_cls, proba),
            url,
            bounds,
            rng,
            res,
            {"chip_id": self.ids, "true_class": true_cls, "pred_class": pred_cls, "proba": proba},
            note=note,
        )

    def _run_files(self, spec: RunSpec, *names: str) -> list[Any]:
        d = artifacts.run_dir(self.ablation, spec.computes_as)
        return [d / n for n in names] + [self.store.path / "store.json"]

    def _ordered_predictions(self, spec: RunSpec) -> CachedView:
        """The held-out predictions in the store's chip order (arrays ``pred_class``, ``proba``;
        none when the run covered other chips). Raises InputError without predictions."""

        def build() -> CachedView:
            pred = read_predictions(self.ablation, spec)
            pos = {int(c): k for k, c in enumerate(pred["chip_id"])}
            if set(pos) != set(int(i) for i in self.ids):
                return CachedView(meta={"other_chips": True})
            order = np.array([pos[int(i)] for i in self.ids], np.int64)
            return CachedView(arrays={"pred_class": pred["pred_class"][order], "proba": pred["proba"][order]})

        # result.json: its decisions give the map's classes (read_predictions); "map": 2 since they do
        files = self._run_files(spec, artifacts.PREDICTIONS_FILE, artifacts.RESULT_FILE)
        return self.cache.get("predictions", spec.computes_as.key, files, build, params={"map": 2})

    def _embedding(self, spec: RunSpec) -> CachedView:
        files = self._run_files(spec, artifacts.EMBEDDINGS_FILE, artifacts.EMBEDDING_IDS_FILE)
        return self.cache.get(
            "embedding",
            spec.computes_as.key,
            files,
            lambda: embedding_overlay(self.store, *read_embeddings(self.ablation, spec)),
        )

    def _add_plots(self, spec: RunSpec, v: MapView) -> None:
        assert v.result is not None and v.predictions is not None
        preds = v.predictions

        def build() -> CachedView:
            from landslide_app.dashboard.plots import confusion_png, reliability_png, roc_png

            assert v.result is not None
            bl = [b for b in self._baselines(spec.thresholds, spec.split, spec.revisits) if b.test_proba]
            roc = roc_png(preds, v.key, bl, self.ids)
            # the map's classes (the decision rule's), as the map shows them; older results: the argmax
            run_map = v.result.map_metrics
            conf = confusion_png(np.asarray(v.result.map_confusion), v.key, self._labels(spec.thresholds))
            blobs = {"roc.png": roc, "confusion.png": conf}
            if run_map.get("reliability"):
                blobs["reliability.png"] = reliability_png(run_map["reliability"], v.key, run_map.get("brier"))
            return CachedView(blobs=blobs)

        files = self._run_files(spec, artifacts.RESULT_FILE, artifacts.PREDICTIONS_FILE)
        for name in BASELINE_ORDER:
            files += artifacts.baseline_files(self.ablation, name, spec.split)
        # "figures": 2 since the confusion shows the map's classes and the calibration figure was added
        params = [spec.key, spec.thresholds, spec.revisits, {"figures": 2}]
        figs = self.cache.get("plots", spec.key, files, build, params=params)
        v.roc_png, v.confusion_png = figs.blobs["roc.png"], figs.blobs["confusion.png"]
        v.reliability_png = figs.blobs.get("reliability.png")
