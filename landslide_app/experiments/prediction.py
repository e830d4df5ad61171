"""``predict``: a trained run over every chip of a store (labelled or not) into a prediction folder.

:func:`predict_run` streams the chips through the run's network (the next batch is read, checked and
decoded on a thread while this one is embedded: :func:`stream_features`), turns the percentile
features into class probabilities with the run's forest, and writes ``density.tif``, ``chips.gpkg``,
the quick-look ``map.png`` and, last, ``summary.json``
(:func:`~landslide_app.experiments.prediction_summary.prediction_summary`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from landslide_app.atomic import check_output_dir, output_lock, remove_stale_temps, write_json_atomic
from landslide_app.baselines.sar_stats import centre_on_median, compute_sar_stats_features, feature_names
from landslide_app.chips.store import ChipStore
from landslide_app.config import CHANNELS
from landslide_app.core.vocabulary import DEFAULT_NORMALISE, N_FEATURES, NORMALISE_MODES
from landslide_app.errors import ConfigError
from landslide_app.experiments.prediction_summary import SUMMARY_FILE, prediction_summary, shift_report
from landslide_app.experiments.quicklook import ElevationOverview
from landslide_app.experiments.run_bundle import LoadedRun, load_run
from landslide_app.model.features import percentile_features
from landslide_app.model.map_classes import run_decision
from landslide_app.model.runtime import tune_malloc
from landslide_app.model.train import TrainedModel, as_batch_getter
from landslide_app.model.trained import live_runtimes

log = logging.getLogger(__name__)

#: Chips per embedding batch of feature extraction (distributed prediction splits on multiples of it).
FEATURE_BATCH = 16

#: ``features(run, store, ids, progress) -> (len(ids), N_FEATURES * K)``: how ``predict_run`` computes features
#: (K: the run's networks, :attr:`LoadedRun.models`).
FeatureFn = Callable[[LoadedRun, ChipStore, np.ndarray, bool], np.ndarray]
BatchGetter = Callable[[np.ndarray], np.ndarray]


def stream_features(
    model: TrainedModel | Sequence[TrainedModel],
    get_batch: BatchGetter,
    ids: np.ndarray,
    progress: bool = False,
    desc: str = "predict",
    on_batch: Callable[[np.ndarray, np.ndarray], None] | None = None,
) -> np.ndarray:
    """Percentile features ``(len(ids), N_FEATURES)`` of ``ids``, :data:`FEATURE_BATCH` chips at a time.

    The next batch is read (file read, CRC-32, Blosc decode: about a sixth of a chip's prediction
    time) on a thread while this one is embedded, so the read overlaps the network. Batches, and so
    the features, are those of :meth:`TrainedModel.iter_embeddings` with ``batch_size=FEATURE_BATCH``.
    ``on_batch(ids, chips)`` sees every batch (the map's elevation overview).

    Several models (an ensemble run's members, :attr:`LoadedRun.models`): each batch is read once and
    embedded by every model in turn; their features lie side by side, ``(len(ids), N_FEATURES * K)``."""
    ids = np.asarray(ids)
    models = list(model) if isinstance(model, Sequence) else [model]
    starts = list(range(0, len(ids), FEATURE_BATCH))
    rows: list[np.ndarray] = []
    tune_malloc()
    with (
        live_runtimes(len(models)),  # the members take turns on every batch: keep all compiled at once
        ThreadPoolExecutor(1, thread_name_prefix="chip-read") as pool,
        tqdm(total=len(ids), desc=desc, disable=not progress, leave=False) as bar,
    ):
        ahead: Future | None = pool.submit(get_batch, ids[:FEATURE_BATCH]) if starts else None
        for start in starts:
            sel = ids[start : start + FEATURE_BATCH]
            assert ahead is not None
            batch = ahead.result()
            nxt = start + FEATURE_BATCH
            ahead = pool.submit(get_batch, ids[nxt : nxt + FEATURE_BATCH]) if nxt < len(ids) else None
            parts = []
            for m in models:
                emb, valid = m.embed_batch(batch)
                parts.append(percentile_features(emb, valid))
            if on_batch is not None:
                on_batch(sel, batch)
            rows.append(np.concatenate(parts, axis=1))
            bar.update(len(sel))
    return np.concatenate(rows) if rows else np.empty((0, N_FEATURES * len(models)), np.float32)


def local_features(run: LoadedRun, store: ChipStore, ids: np.ndarray, progress: bool = False) -> np.ndarray:
    """Percentile features of ``ids`` computed here, batch by batch (streamed from the store); every member's,
    side by side, for an ensemble run."""
    return stream_features(run.models, as_batch_getter(store), ids, progress)


def stats_features(
    run: LoadedRun,
    store: ChipStore,
    ids: np.ndarray,
    progress: bool = False,
    on_batch: Callable[[np.ndarray, np.ndarray], None] | None = None,
) -> np.ndarray:
    """The SAR chip statistics of ``ids`` that a statistics run's forest takes (refused when the run's
    recorded feature names are not those this code computes)."""
    revisits = run.config.revisits
    if list(run.meta.get("features") or ()) != list(feature_names(revisits)):
        raise ConfigError(
            f"{run.path} was trained on the features {run.meta.get('features')}, which this version does not "
            f"compute ({list(feature_names(revisits))}); retrain it with `landslide-app train --model sar-stats`"
        )
    return compute_sar_stats_features(store, ids, revisits, progress=progress, on_batch=on_batch)


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
        log.warning(describe(shifted, store.path, run.name))
    return shifted


def _check_normalise(normalise: str) -> None:
    if normalise not in NORMALISE_MODES:
        raise ConfigError(f"--normalise {normalise!r} is unknown; use one of {', '.join(NORMALISE_MODES)}")


def _open_store(run: LoadedRun, store_path: str | Path) -> ChipStore:
    """The store to predict, refused when it lacks what the run reads."""
    store = ChipStore.open(store_path)
    if run.config.uses_sar and not store.meta.has_sar:
        raise ConfigError(f"the model {run.name} needs SAR but {store.path} is DEM-only; use a DEM-only model")
    if run.config.uses_sar:
        store.check_revisits(run.config.revisits)  # one line naming the dates it has
    return store


def _normalisation(run: LoadedRun, store: ChipStore, normalise: str, here: bool) -> list[Any]:
    """Domain-shift check on an even sample of the store; with ``normalise="scene"`` the run's model
    standardises with the sample's statistics. Returns the shifted channels."""
    from landslide_app.experiments.domain_shift import read_sample, scene_norm_stats

    sample = read_sample(store)
    shifted = check_domain_shift(run, store, sample)
    if normalise == "scene" and run.is_stats:
        if run.scene_forest is None or not isinstance(run.meta.get("scene"), dict):
            raise ConfigError(
                f"{run.path} has no forest for --normalise scene (trained before it existed): retrain it with "
                "`landslide-app train --model sar-stats`, or use --normalise training"
            )
        return shifted  # the statistics are centred on this store's median in predict_run
    if normalise == "scene":
        if not here:
            raise ConfigError("--normalise scene is computed here only; drop --scheduler or use --normalise training")
        stats = scene_norm_stats(sample, store.channels)
        stats.check_usable(run.config)
        for model in run.models:  # every member of an ensemble standardises alike
            model.stats = stats
    return shifted


def predict_run(
    run_path: str | Path | LoadedRun,
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
        run_path: a run directory, or a run already loaded (``respond`` loads it before the chips;
            with ``normalise="scene"`` its model's statistics are replaced).
        normalise: ``"training"``: the network's inputs are standardised with the training chips'
            statistics (recorded in the run); ``"scene"``: with this store's own (an even sample of
            its chips), which absorbs a global offset between areas or sensors.
        features: computes the chips' features elsewhere (e.g. on a Dask cluster,
            :mod:`landslide_app.experiments.distributed`); default: here, streamed from the store.

    Returns:
        The summary written to ``summary.json``.
    """
    _check_normalise(normalise)
    out = check_output_dir(out, "prediction directory", create=False)
    run = run_path if isinstance(run_path, LoadedRun) else load_run(run_path, device)
    store = _open_store(run, store_path)
    ids = store.ids
    shifted = _normalisation(run, store, normalise, here=features is None)
    overview = ElevationOverview(store.grid, store.channel("elevation"))
    if run.is_stats:
        if features is not None:
            raise ConfigError("a SAR chip-statistics run computes its features here: drop --scheduler")
        feats = stats_features(run, store, ids, progress, on_batch=overview.add)
    elif features is None:
        feats = stream_features(run.models, as_batch_getter(store), ids, progress, on_batch=overview.add)
    else:
        feats = features(run, store, ids, progress)
        overview.fill_from(store.read_many, ids)
    if run.is_stats and normalise == "scene":  # the statistics' scene normalisation: centred, their own forest
        assert run.scene_forest is not None  # checked by _normalisation
        proba = run.scene_forest.predict_proba(centre_on_median(feats))
        rule = run_decision(run.meta["scene"], decision)
    else:
        proba = run.predict_proba(feats)  # an ensemble run averages its members' probabilities
        rule = run_decision(run.meta, decision)
    pred = proba.argmax(axis=1) if rule is None else rule.apply(proba)
    prov = run.provenance(store)
    summary = prediction_summary(run, store, ids, proba, prov, pred=pred)
    summary["decision"] = "most probable class" if rule is None else rule.rule
    summary["normalise"] = normalise
    summary["domain_shift"] = shift_report(shifted)
    summary = json.loads(json.dumps(summary))  # exactly what summary.json holds (tuples -> lists)
    _write_prediction(Path(out), run, store, ids, pred, proba, prov, summary, overview)
    return summary


def _map_titles(run: LoadedRun, store: ChipStore, n_chips: int) -> tuple[str, str]:
    """Title and subtitle of ``map.png``: the event, the model, the chips and the dates."""
    event = (store.meta.event_date or "")[:10] or "unknown date"
    title = f"Predicted landslide density, event {event} (model {run.name})"
    trained = (run.meta.get("training_data") or {}).get("event_date", "")[:10]
    subtitle = (
        f"{n_chips} chips of {store.grid.chip_extent_m / 1000:g} km; SAR dates "
        f"{', '.join(store.meta.dates) or 'none'}; model trained on "
        f"{run.meta.get('n_train', '?')} chips" + (f" (event {trained})" if trained else "")
    )
    return title, subtitle


def _write_prediction(
    out: Path,
    run: LoadedRun,
    store: ChipStore,
    ids: np.ndarray,
    pred: np.ndarray,
    proba: np.ndarray,
    prov: dict[str, Any],
    summary: dict[str, Any],
    overview: ElevationOverview,
) -> None:
    """``density.tif``, ``chips.gpkg``, ``map.png``, then ``summary.json`` (last: marks the prediction finished)."""
    from landslide_app.experiments.export import write_chips_gpkg, write_density_geotiff
    from landslide_app.experiments.quicklook import write_map_png

    title, subtitle = _map_titles(run, store, len(ids))
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
        write_json_atomic(out / SUMMARY_FILE, summary)
