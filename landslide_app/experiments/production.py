"""One configuration outside the ablation: ``train`` on a store, ``predict`` a store, ``embed`` a raster.

A run directory holds ``model.pt`` (checkpoint, loaded with ``weights_only=True``),
``forest.skops`` (the random forest, no pickle) and ``run.json`` (configuration, data fingerprint,
validation AUC, code version, and the SHA-256 of both model files: a modified file, or one copied
from another run, is refused on loading).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from landslide_app import __version__
from landslide_app.atomic import (
    atomic_path,
    check_output_dir,
    file_digest,
    fingerprint,
    output_lock,
    remove_stale_temps,
    write_json_atomic,
)
from landslide_app.chips.store import ChipStore
from landslide_app.config import CHANNELS
from landslide_app.core.vocabulary import DEFAULT_FOREST_FIT, DEFAULT_NORMALISE, N_FEATURES, NORMALISE_MODES
from landslide_app.errors import ConfigError, InputError, ModelFileError, OutputError
from landslide_app.model.crossval import FoldData
from landslide_app.model.decision import DEFAULT_DECISION
from landslide_app.model.embedding_forest import EmbeddingForest
from landslide_app.model.features import percentile_features
from landslide_app.model.forest import DensityForest
from landslide_app.model.inputs import ModelConfig
from landslide_app.model.map_classes import decision_proba, fit_run_decisions, run_decision
from landslide_app.model.metrics import multiclass_auc, nan_to_none
from landslide_app.model.protocol import Fold
from landslide_app.model.train import ChipSubset, TrainedModel, as_batch_getter

log = logging.getLogger(__name__)

RUN_FILE, MODEL_FILE, FOREST_FILE = "run.json", "model.pt", "forest.skops"


@dataclass
class LoadedRun:
    """A trained configuration read back from a run directory."""

    path: Path
    meta: dict[str, Any]
    model: TrainedModel
    forest: DensityForest

    @property
    def config(self) -> ModelConfig:
        return self.model.config

    def provenance(self, store: ChipStore | None = None) -> dict[str, Any]:
        """What made an output: configuration, model and data fingerprints (the data one only when
        the output comes from a chip store), code version."""
        prov = {
            "config": self.config.name,
            "model_fingerprint": self.meta.get("fingerprint"),
            "trained_on": self.meta.get("store_fingerprint"),
            "data_fingerprint": store.meta.fingerprint if store else None,
            "code_version": __version__,
            "software": "landslide_app",
        }
        return {k: v for k, v in prov.items() if v is not None}


def _check_out_file(path: str | Path) -> None:
    p = Path(path)
    if p.is_dir():
        raise OutputError(
            f"--out {p} is a directory; give the path of the GeoTIFF to write, e.g. {p / 'embedding.tif'}"
        )
    check_output_dir(p.parent, "output folder", create=False)


#: Chips per embedding batch of feature extraction (distributed prediction splits on multiples of it).
FEATURE_BATCH = 16


def _features(model: TrainedModel, get_batch, ids: np.ndarray, progress: bool, desc: str) -> np.ndarray:
    rows = [
        percentile_features(emb, valid)
        for _, emb, valid in model.iter_embeddings(
            ChipSubset(get_batch, ids), batch_size=FEATURE_BATCH, progress=progress, desc=desc
        )
    ]
    return np.concatenate(rows) if rows else np.empty((0, N_FEATURES), np.float32)


def train_run(
    store_path: str | Path,
    config: ModelConfig,
    out: str | Path,
    epochs: int = 5,
    seed: int = 0,
    val_fraction: float = 0.2,
    device: str | None = None,
    precision: str = "auto",
    progress: bool = True,
    decision: str = DEFAULT_DECISION,
    forest_fit: str = DEFAULT_FOREST_FIT,
) -> dict[str, Any]:
    """Train one configuration on a store: random train / validation split (model selection on
    validation), forest on the training chips' features (``forest_fit="validation"``: on the
    validation chips'); writes the run directory.

    The map's decision rules are fitted on the validation chips (``run.json`` ``decision``:
    every rule, ``decision`` the default ``predict`` applies; :mod:`landslide_app.model.map_classes`),
    with the forest's out-of-bag probabilities when it was fitted on them (so is ``auc_val``)."""
    store = ChipStore.open(store_path)
    store.require_labels("`train`")
    if config.uses_sar and not store.meta.has_sar:
        raise ConfigError(f"{store.path} is a DEM-only store: train with --inputs dem")
    if config.uses_sar:
        store.check_revisits(config.revisits)  # e.g. a store with 1 post-event date: --revisits 1
    ids, y = store.ids, store.classes
    if len(ids) < 4:
        raise InputError(f"{store.path} has {len(ids)} chips; training needs at least 4")
    out = check_output_dir(out, "run directory", create=False)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(ids))
    n_val = max(1, int(round(val_fraction * len(ids))))
    val_pos, train_pos = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    t0 = time.perf_counter()
    # the cross-prediction's fold model on one train/validation "fold" (no test chips)
    fold = Fold("single", ids[train_pos], ids[val_pos], np.empty(0, np.int64))
    fitted = EmbeddingForest(
        as_batch_getter(store),
        config,
        epochs=epochs,
        seed=seed,
        device=device,
        progress=progress,
        train_kwargs={"precision": precision},
        feature_batch=FEATURE_BATCH,
        forest_fit=forest_fit,
    ).fit(FoldData(0, fold, y[train_pos], y[val_pos]))
    model, forest = fitted.model, fitted.forest
    assert model is not None and forest is not None
    val_proba = decision_proba(fitted, fold.val)
    auc_val = multiclass_auc(y[val_pos], val_proba)
    decisions = fit_run_decisions(val_proba, y[val_pos], fitted, decision)
    with output_lock(out, f"run {out}"):
        remove_stale_temps(out, recursive=False)
        (out / RUN_FILE).unlink(missing_ok=True)  # the run is unfinished until run.json is back
        model.save(out / MODEL_FILE)
        forest.save(out / FOREST_FILE)
        meta = _run_meta(config, epochs, seed, model.precision, model, store, train_pos, val_pos, auc_val, t0)
        meta.update(bundle_meta(store, ids[train_pos], model))
        meta["decision"] = decisions
        meta["forest_fit"] = fitted.forest_fit
        meta["files"] = {MODEL_FILE: file_digest(out / MODEL_FILE), FOREST_FILE: file_digest(out / FOREST_FILE)}
        meta["fingerprint"] = fingerprint(meta)
        write_json_atomic(out / RUN_FILE, meta)  # last: marks the run finished
    return meta


def _run_meta(config, epochs, seed, precision, model, store, train_pos, val_pos, auc_val, t0) -> dict[str, Any]:
    return {
        "format": "landslide-app-run/1",
        "config": config.to_dict(),
        "name": config.name,
        "epochs": epochs,
        "seed": seed,
        "precision": precision,
        "best_epoch": model.best_epoch,
        "store": str(store.path),
        "store_fingerprint": store.meta.fingerprint,
        "chip_size": store.grid.chip_size,
        "resolution_m": store.grid.resolution,
        "channels": list(store.channels),
        "n_train": int(len(train_pos)),
        "n_val": int(len(val_pos)),
        "auc_val": nan_to_none(auc_val.macro),
        "auc_val_weighted": nan_to_none(auc_val.weighted),
        "auc_val_per_class": [nan_to_none(v) for v in auc_val.per_class],
        "seconds": round(time.perf_counter() - t0, 2),
        "code_version": __version__,
    }


def bundle_meta(store: ChipStore, train_ids: np.ndarray, model: TrainedModel) -> dict[str, Any]:
    """What a prediction elsewhere needs besides the model files, for ``run.json``: the
    normalisation statistics, per-channel statistics of the training chips (domain-shift check),
    the density thresholds and where and when the training data come from."""
    from landslide_app.experiments.domain_shift import channel_stats

    return {
        "norm_stats": model.stats.to_dict(),
        "channel_stats": channel_stats(store, train_ids),
        "density_thresholds": store.meta.density_thresholds,
        "training_data": store_provenance(store),
    }


def store_provenance(store: ChipStore) -> dict[str, Any]:
    """Area, event and acquisitions of a chip store (what ``run.json`` and ``summary.json`` record)."""
    from pyproj import Transformer

    left, bottom, right, top = store.grid.bounds
    tr = Transformer.from_crs(store.grid.crs, "EPSG:4326", always_xy=True)
    xs, ys = tr.transform([left, right, left, right], [bottom, bottom, top, top])
    keys = (
        "event_date",
        "orbit",
        "relative_orbit",
        "orbit_state",
        "dates",
        "acquisitions",
        "source",
        "inventory",
        "has_sar",
        "labelled",
    )
    meta = store.meta.to_json()
    out = {
        "store": str(store.path),
        "fingerprint": store.meta.fingerprint,
        "crs": store.grid.crs,
        "bbox_lonlat": [round(min(xs), 5), round(min(ys), 5), round(max(xs), 5), round(max(ys), 5)],
        "n_chips": int(store.meta.n_chips if store.meta.n_chips is not None else len(store.ids)),
        **{k: meta[k] for k in keys if meta.get(k) is not None},
    }
    return out


def load_run(path: str | Path, device: str | None = None) -> LoadedRun:
    """Read a run directory written by :func:`train_run` (or one ablation fold)."""
    path = Path(path)
    f = path / RUN_FILE
    if not f.exists():
        raise ModelFileError(f"{path} is not a trained run (no {RUN_FILE}); train one with `landslide-app train`")
    try:
        meta = json.loads(f.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{f} is damaged ({exc}); retrain the run") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise ModelFileError(f"{f} lacks the model configuration ('config'); it is damaged, retrain the run")
    expected = ModelConfig.from_dict(meta["config"])
    for name, digest in (meta.get("files") or {}).items():
        if name in (MODEL_FILE, FOREST_FILE) and (path / name).exists() and file_digest(path / name) != digest:
            raise ModelFileError(
                f"{path / name} does not match {RUN_FILE} (its checksum differs): it was modified after "
                "training or copied from another run. Use the run directory it came from, or retrain."
            )
    model = TrainedModel.load(path / MODEL_FILE, config=expected, device=device)
    forest = DensityForest.load(path / FOREST_FILE)
    return LoadedRun(path, meta, model, forest)


#: ``features(run, store, ids, progress) -> (len(ids), N_FEATURES)``: how ``predict_run`` computes features.
FeatureFn = Callable[[LoadedRun, ChipStore, np.ndarray, bool], np.ndarray]


def local_features(run: LoadedRun, store: ChipStore, ids: np.ndarray, progress: bool = False) -> np.ndarray:
    """Percentile features of ``ids`` computed here, batch by batch (streamed from the store)."""
    return _features(run.model, as_batch_getter(store), ids, progress, "predict")


#: Chips listed in ``summary.json`` as the most likely to be of class 2.
N_TOP_CHIPS = 20


def check_domain_shift(run: LoadedRun, store: ChipStore, sample: np.ndarray) -> list[Any]:
    """Compare the store's channels (those the model reads) with the training chips; warn once."""
    from landslide_app.experiments.domain_shift import compare, describe, stats_of_sample

    train = run.meta.get("channel_stats")
    if not train:
        log.info(
            "%s records no training channel statistics (trained before they were recorded): no domain-shift check",
            run.path,
        )
        return []
    used = [CHANNELS[i] for i in run.config.chip_channels]
    shifted = compare(train, stats_of_sample(sample, store.channels), used)
    if shifted:
        log.warning(describe(shifted, store.path, run.config.name))
    return shifted


def _check_normalise(normalise: str) -> None:
    if normalise not in NORMALISE_MODES:
        raise ConfigError(f"--normalise {normalise!r} is unknown; use one of {', '.join(NORMALISE_MODES)}")


def predict_run(
    run_path: str | Path,
    store_path: str | Path,
    out: str | Path,
    device: str | None = None,
    progress: bool = True,
    features: FeatureFn | None = None,
    normalise: str = DEFAULT_NORMALISE,
    decision: str | None = None,
) -> dict[str, Any]:
    """Predict every chip of a store (labelled or not); write ``density.tif``, ``chips.gpkg``,
    the quick-look ``map.png`` and ``summary.json``.

    The map's classes come from the run's decision (``decision``: a rule the run fitted on its
    validation chips, None: its default; a run without decisions shows the most probable class).

    Args:
        normalise: ``"training"``: the network's inputs are standardised with the training chips'
            statistics (recorded in the run); ``"scene"``: with this store's own (an even sample of
            its chips), which absorbs a global offset between areas or sensors.
        features: computes the chips' features elsewhere (e.g. on a Dask cluster,
            :mod:`landslide_app.experiments.distributed`); default: here, streamed from the store.

    Returns:
        The summary written to ``summary.json``.
    """
    from landslide_app.experiments.domain_shift import read_sample, scene_norm_stats
    from landslide_app.experiments.export import write_chips_gpkg, write_density_geotiff
    from landslide_app.experiments.quicklook import ElevationOverview, write_map_png

    _check_normalise(normalise)
    out = check_output_dir(out, "prediction directory", create=False)
    run = load_run(run_path, device)
    store = ChipStore.open(store_path)
    if run.config.uses_sar and not store.meta.has_sar:
        raise ConfigError(f"the model {run.config.name} needs SAR but {store.path} is DEM-only; use a DEM-only model")
    if run.config.uses_sar:
        store.check_revisits(run.config.revisits)  # one line naming the dates it has
    ids = store.ids
    sample = read_sample(store)
    shifted = check_domain_shift(run, store, sample)
    if normalise == "scene":
        if features is not None:
            raise ConfigError("--normalise scene is computed here only; drop --scheduler or use --normalise training")
        stats = scene_norm_stats(sample, store.channels)
        stats.check_usable(run.config)
        run.model.stats = stats
    overview = ElevationOverview(store.grid, store.channel("elevation"))
    if features is None:
        feats = _features(run.model, overview.tap(as_batch_getter(store)), ids, progress, "predict")
    else:
        feats = features(run, store, ids, progress)
        overview.fill_from(store.read_many, ids)
    proba = run.forest.predict_proba(feats)
    rule = run_decision(run.meta, decision)
    pred = proba.argmax(axis=1) if rule is None else rule.apply(proba)
    prov = run.provenance(store)
    summary = prediction_summary(run, store, ids, proba, prov, pred=pred)
    summary["decision"] = "most probable class" if rule is None else rule.rule
    summary["normalise"] = normalise
    summary["domain_shift"] = _shift_report(shifted)
    summary = json.loads(json.dumps(summary))  # exactly what summary.json holds (tuples -> lists)
    event = (store.meta.event_date or "")[:10] or "unknown date"
    title = f"Predicted landslide density, event {event} (model {run.config.name})"
    trained = (run.meta.get("training_data") or {}).get("event_date", "")[:10]
    subtitle = (
        f"{len(ids)} chips of {store.grid.chip_extent_m / 1000:g} km; SAR dates "
        f"{', '.join(store.meta.dates) or 'none'}; model trained on "
        f"{run.meta.get('n_train', '?')} chips" + (f" (event {trained})" if trained else "")
    )
    with output_lock(out, f"prediction {out}"):
        remove_stale_temps(out, recursive=False)
        write_density_geotiff(out / "density.tif", store.grid, ids, pred, proba, prov)
        write_chips_gpkg(out / "chips.gpkg", store.index, ids, pred, proba, prov, labelled=summary["labelled"])
        write_map_png(
            out / "map.png",
            overview,
            ids,
            pred,
            title,
            subtitle,
            thresholds=tuple(store.meta.density_thresholds or (0.0, 25.0)),  # type: ignore[arg-type]
        )
        write_json_atomic(out / SUMMARY_FILE, summary)  # last: marks the prediction finished
    return summary


#: The prediction's summary (written last).
SUMMARY_FILE = "summary.json"


def _shift_report(shifted: list[Any]) -> dict[str, Any]:
    from dataclasses import asdict

    from landslide_app.experiments.domain_shift import MEAN_SHIFT_SIGMA, NONPOSITIVE_SAR, STD_RATIO, VALID_RATIO

    return {
        "thresholds": {
            "mean_shift_sigma": MEAN_SHIFT_SIGMA,
            "std_ratio": STD_RATIO,
            "valid_ratio": VALID_RATIO,
            "nonpositive_sar": NONPOSITIVE_SAR,
        },
        "shifted": [asdict(s) for s in shifted],
    }


def is_labelled(store: ChipStore) -> bool:
    """Whether the store carries labels (an unlabelled store says ``labelled: false``)."""
    return store.meta.labelled and "density_class" in store.index.columns


def prediction_summary(
    run: LoadedRun,
    store: ChipStore,
    ids: np.ndarray,
    proba: np.ndarray,
    prov: dict[str, Any],
    pred: np.ndarray | None = None,
) -> dict[str, Any]:
    """Chips and km² per predicted class, the chips most likely of class 2, provenance, and the AUC
    against the store's labels when it has them (flagged in-sample on the training store)."""
    from pyproj import Transformer

    from landslide_app.core.density import class_names

    pred = proba.argmax(axis=1) if pred is None else np.asarray(pred)
    area = store.grid.chip_area_km2
    names = class_names(tuple(store.meta.density_thresholds or (0.0, 25.0)))  # type: ignore[arg-type]
    counts = {str(c): int((pred == c).sum()) for c in range(3)}
    top = np.argsort(-proba[:, 2], kind="stable")[:N_TOP_CHIPS]
    idx = store.index.set_index("chip_id").loc[ids[top]]
    cent = idx.geometry.centroid
    tr = Transformer.from_crs(store.grid.crs, "EPSG:4326", always_xy=True)
    lon, lat = tr.transform(cent.x.to_numpy(), cent.y.to_numpy())
    summary: dict[str, Any] = {
        **prov,
        "n_chips": int(len(ids)),
        "class_counts": counts,
        "classes": {
            str(c): {"name": names[c], "chips": counts[str(c)], "km2": round(counts[str(c)] * area, 3)}
            for c in range(3)
        },
        "chip_area_km2": area,
        "top_class2": [
            {
                "chip_id": int(ids[j]),
                "p2": round(float(proba[j, 2]), 4),
                "pred_class": int(pred[j]),
                "lon": round(float(x), 5),
                "lat": round(float(y), 5),
            }
            for j, x, y in zip(top, np.atleast_1d(lon), np.atleast_1d(lat))
        ],
        "model": {
            "path": str(run.path),
            "name": run.config.name,
            "fingerprint": run.meta.get("fingerprint"),
            "code_version": run.meta.get("code_version"),
            "epochs": run.meta.get("epochs"),
            "n_train": run.meta.get("n_train"),
            "auc_val": run.meta.get("auc_val"),
            "trained_on": run.meta.get("training_data")
            or {"store": run.meta.get("store"), "fingerprint": run.meta.get("store_fingerprint")},
        },
        "data": store_provenance(store),
    }
    summary["labelled"] = labelled = is_labelled(store)
    if not labelled:
        return summary
    auc = multiclass_auc(store.classes, proba)
    in_sample = prov.get("trained_on") is not None and prov.get("trained_on") == prov.get("data_fingerprint")
    summary.update(
        {
            "auc_vs_store_labels": nan_to_none(auc.macro),
            "auc_per_class": [nan_to_none(v) for v in auc.per_class],
            "in_sample": in_sample,
        }
    )
    if in_sample:
        summary["auc_note"] = (
            "in-sample: the model was trained on chips of this store, so this AUC is "
            "optimistic; held-out AUC comes from `landslide-app ablate`"
        )
        log.warning(
            "%s was trained on chips of %s: its AUC against the store's labels (%.3f) is in-sample, not "
            "a held-out score (use `landslide-app ablate` for that)",
            run.config.name,
            store.path,
            auc.macro,
        )
    else:
        summary["auc_out_of_area"] = nan_to_none(auc.macro)
    return summary


def _embedding_profile(width: int, height: int, crs: Any, transform: Any, block: int) -> dict[str, Any]:
    """GeoTIFF profile of a one-band float32 embedding raster (NaN nodata, tiled, deflate)."""
    return dict(
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="float32",
        crs=crs,
        transform=transform,
        nodata=np.nan,
        tiled=True,
        blockxsize=block,
        blockysize=block,
        compress="deflate",
        BIGTIFF="IF_SAFER",
    )


def embed_store(
    run_path: str | Path, store_path: str | Path, out_tif: str | Path, device: str | None = None, progress: bool = True
) -> Path:
    """The per-pixel embedding of every chip of a store, as one GeoTIFF on the chip grid."""
    import rasterio
    from rasterio.windows import Window

    _check_out_file(out_tif)
    run = load_run(run_path, device)
    store = ChipStore.open(store_path)
    if run.config.uses_sar and not store.meta.has_sar:
        raise ConfigError(f"the model {run.config.name} needs SAR but {store.path} is DEM-only")
    g, s = store.grid, store.grid.chip_size
    profile = _embedding_profile(g.width, g.height, g.crs, g.transform, min(256, s * 2) // 16 * 16 or 16)
    out_tif = Path(out_tif)
    with atomic_path(out_tif) as tmp, rasterio.open(tmp, "w", **profile) as ds:
        ds.set_band_description(1, f"embedding {run.config.name}")
        ds.update_tags(**{k: str(v) for k, v in run.provenance(store).items()})
        for ids, emb, _ in run.model.iter_embeddings(
            ChipSubset(as_batch_getter(store), store.ids), batch_size=16, progress=progress, desc="embed"
        ):
            for cid, e in zip(ids, emb):
                r, c = g.chip_rc(int(cid))
                ds.write(e.astype(np.float32), 1, window=Window(c * s, r * s, s, s))
    return out_tif


def embed_dem(
    run_path: str | Path,
    dem_path: str | Path,
    out_tif: str | Path,
    tile: int = 256,
    halo: int = 16,
    device: str | None = None,
    progress: bool = True,
) -> Path:
    """Embedding of any DEM GeoTIFF with a DEM-only model, on the DEM's own grid (tiles with a halo)."""
    import tempfile

    import rasterio
    from rasterio.windows import Window

    from landslide_app.terrain import write_terrain

    _check_out_file(out_tif)
    run = load_run(run_path, device)
    if run.config.uses_sar:
        raise ConfigError(f"--dem needs a DEM-only model; {run_path} is {run.config.name}. Train with --inputs dem")
    with tempfile.TemporaryDirectory() as td:
        terrain = write_terrain(dem_path, Path(td) / "terrain.tif")
        with rasterio.open(terrain) as src:
            res = abs(src.transform.a)
            if src.crs.is_projected and abs(res - run.meta.get("resolution_m", res)) > 0.25 * res:
                log.warning(
                    "DEM cells are %.1f m but the model was trained on %.1f m cells; embeddings may differ",
                    res,
                    run.meta.get("resolution_m"),
                )
            profile = _embedding_profile(src.width, src.height, src.crs, src.transform, 256)
            windows = [(r, c) for r in range(0, src.height, tile) for c in range(0, src.width, tile)]
            out_tif = Path(out_tif)
            with atomic_path(out_tif) as tmp, rasterio.open(tmp, "w", **profile) as dst:
                dst.set_band_description(1, f"embedding {run.config.name}")
                dst.update_tags(**{k: str(v) for k, v in run.provenance().items()}, dem=str(dem_path))
                for r, c in tqdm(windows, desc="embed", unit="tile", disable=not progress):
                    r0, c0 = max(0, r - halo), max(0, c - halo)
                    r1, c1 = min(src.height, r + tile + halo), min(src.width, c + tile + halo)
                    t = src.read(window=Window(c0, r0, c1 - c0, r1 - r0)).astype(np.float32)
                    chip = np.full((1, len(CHANNELS), r1 - r0, c1 - c0), np.nan, np.float32)
                    chip[0, :4] = t
                    chip[0, -1] = 0.0
                    emb, _ = run.model.embed_batch(chip)
                    h, w = min(tile, src.height - r), min(tile, src.width - c)
                    dst.write(emb[0, r - r0 : r - r0 + h, c - c0 : c - c0 + w], 1, window=Window(c, r, w, h))
    return out_tif
