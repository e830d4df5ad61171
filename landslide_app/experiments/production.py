"""One configuration outside the ablation: ``train`` on a store, ``embed`` a store or a raster.

:func:`train_run` writes a run directory (``model.pt``, ``forest.npz``, ``run.json``: see
:mod:`landslide_app.experiments.run_bundle`, which reads it back); ``predict`` lives in
:mod:`landslide_app.experiments.prediction`. The names of both are re-exported here, where the CLI,
the tests and the benchmarks import them.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

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
from landslide_app.core.vocabulary import (
    DEFAULT_ENSEMBLE,
    DEFAULT_FOREST_FIT,
    DEFAULT_LR,
    DEFAULT_TRAIN_CONV,
    check_ensemble,
    check_learning_rate,
)
from landslide_app.errors import ConfigError, InputError, OutputError
from landslide_app.experiments.prediction import (  # re-exported: callers import predict from here
    FEATURE_BATCH,
    FeatureFn,
    check_domain_shift,
    local_features,
    predict_run,
)
from landslide_app.experiments.prediction_summary import (  # re-exported
    N_TOP_CHIPS,
    SUMMARY_FILE,
    is_labelled,
    prediction_summary,
)
from landslide_app.experiments.run_bundle import (  # re-exported: callers load runs from here
    FOREST_FILE,
    MODEL_FILE,
    RUN_FILE,
    RUN_FORMAT,
    LoadedRun,
    bundle_meta,
    load_run,
    member_files,
    store_provenance,
    training_record,
)
from landslide_app.model.crossval import FoldData
from landslide_app.model.decision import DEFAULT_DECISION
from landslide_app.model.embedding_forest import EmbeddingForest
from landslide_app.model.ensemble import fold_model
from landslide_app.model.inputs import ModelConfig
from landslide_app.model.map_classes import decision_proba, fit_run_decisions
from landslide_app.model.metrics import multiclass_auc
from landslide_app.model.protocol import Fold, train_val_positions
from landslide_app.model.train import ChipSubset, as_batch_getter

log = logging.getLogger(__name__)

__all__ = [
    "FEATURE_BATCH",
    "FOREST_FILE",
    "MODEL_FILE",
    "N_TOP_CHIPS",
    "RUN_FILE",
    "SUMMARY_FILE",
    "FeatureFn",
    "LoadedRun",
    "bundle_meta",
    "check_domain_shift",
    "embed_dem",
    "embed_store",
    "is_labelled",
    "load_run",
    "local_features",
    "member_files",
    "predict_run",
    "prediction_summary",
    "store_provenance",
    "train_run",
]


def _check_out_file(path: str | Path) -> None:
    p = Path(path)
    if p.is_dir():
        raise OutputError(
            f"--out {p} is a directory; give the path of the GeoTIFF to write, e.g. {p / 'embedding.tif'}"
        )
    check_output_dir(p.parent, "output folder", create=False)


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
    lr: float = DEFAULT_LR,
    ensemble: int = DEFAULT_ENSEMBLE,
    train_conv: str = DEFAULT_TRAIN_CONV,
) -> dict[str, Any]:
    """Train one configuration on a store: random train / validation split (model selection on
    validation), forest on the training chips' features (``forest_fit="validation"``: on the
    validation chips'); writes the run directory.

    ``ensemble`` K > 1: K networks trained on the same chips, each with its forest; their probabilities
    are averaged (:mod:`landslide_app.model.ensemble`; files of member ``j``: :func:`member_files`).

    The map's decision rules are fitted on the validation chips (``run.json`` ``decision``:
    every rule, ``decision`` the default ``predict`` applies; :mod:`landslide_app.model.map_classes`),
    with the forest's out-of-bag probabilities when it was fitted on them (so is ``auc_val``).
    ``run.json`` ``collapsed``: the network embeds every chip the same (a warning was logged;
    :mod:`landslide_app.model.collapse`). It is not retrained with another seed by itself: the
    seed names the run (split and weights), so a rerun is the user's choice.

    Long because it is one linear sequence (checks, split, fit, decision, run folder) over thirteen
    options; the body is 56 lines."""
    lr = check_learning_rate(lr)  # before any work: a bad rate or ensemble size is refused at once
    k_members = check_ensemble(ensemble)
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
    train_pos, val_pos = train_val_positions(len(ids), seed, val_fraction)
    t0 = time.perf_counter()
    # the cross-prediction's fold model on one train/validation "fold" (no test chips)
    fold = Fold("single", ids[train_pos], ids[val_pos], np.empty(0, np.int64))

    def member(member_seed: int, first: bool = True) -> EmbeddingForest:
        return EmbeddingForest(
            as_batch_getter(store),
            config,
            epochs=epochs,
            seed=member_seed,
            device=device,
            progress=progress,
            train_kwargs={"precision": precision, "lr": lr, "conv": train_conv},
            feature_batch=FEATURE_BATCH,
            forest_fit=forest_fit,
        )

    fitted = fold_model(member, k_members, seed).fit(FoldData(0, fold, y[train_pos], y[val_pos]))
    model = fitted.model
    assert model is not None and fitted.forest is not None
    val_proba = decision_proba(fitted, fold.val)
    auc_val = multiclass_auc(y[val_pos], val_proba)
    decisions = fit_run_decisions(val_proba, y[val_pos], fitted, decision)
    with output_lock(out, f"run {out}"):
        remove_stale_temps(out, recursive=False)
        (out / RUN_FILE).unlink(missing_ok=True)  # the run is unfinished until run.json is back
        files = _save_members(out, getattr(fitted, "members", [fitted]))
        meta = _run_meta(config, epochs, seed, model.precision, model, store, train_pos, val_pos, auc_val, t0)
        meta.update(bundle_meta(store, ids[train_pos], model))
        meta["decision"] = decisions
        meta["forest_fit"] = fitted.forest_fit
        meta["lr"] = lr
        meta["train_conv"] = model.train_conv
        meta["collapsed"] = fitted.collapsed  # constant embeddings (every member's): logged as a warning when fitted
        meta["ensemble"] = k_members
        if k_members > 1:
            meta["members"] = fitted.info()["members"]
        meta["files"] = files
        meta["fingerprint"] = fingerprint(meta)
        write_json_atomic(out / RUN_FILE, meta)  # last: marks the run finished
    return meta


def _save_members(out: Path, members: list[Any]) -> dict[str, str]:
    """Write every member's network and forest (:func:`member_files`); their SHA-256 by file name."""
    files: dict[str, str] = {}
    for j, m in enumerate(members):
        model_name, forest_name = member_files(j)
        m.model.save(out / model_name)
        m.forest.save(out / forest_name)
        files.update({model_name: file_digest(out / model_name), forest_name: file_digest(out / forest_name)})
    # a former run's extra members in this folder would no longer be recorded: remove them
    for stale in (*out.glob("model_m*.pt"), *out.glob("forest_m*.npz")):
        if stale.name not in files:
            stale.unlink()
    return files


def _run_meta(config, epochs, seed, precision, model, store, train_pos, val_pos, auc_val, t0) -> dict[str, Any]:
    return {
        "format": RUN_FORMAT,
        "config": config.to_dict(),
        "name": config.name,
        "epochs": epochs,
        "seed": seed,
        "precision": precision,
        "best_epoch": model.best_epoch,
        **training_record(store, len(train_pos), len(val_pos), auc_val, t0),
    }


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
    """The per-pixel embedding of every chip of a store, as one GeoTIFF on the chip grid (member 0's for an
    ensemble run: the members' embeddings are not on one scale, only their probabilities are averaged)."""
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
        for ids, emb, _ in run.network.iter_embeddings(
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
    """Embedding of any DEM GeoTIFF with a DEM-only model, on the DEM's own grid (tiles with a halo; member 0's
    for an ensemble run)."""
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
                    emb, _ = run.network.embed_batch(chip)
                    h, w = min(tile, src.height - r), min(tile, src.width - c)
                    dst.write(emb[0, r - r0 : r - r0 + h, c - c0 : c - c0 + w], 1, window=Window(c, r, w, h))
    return out_tif
