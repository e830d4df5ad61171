"""The paper's ablation (Table 2): inputs {dem, sar, fused} x post-event revisits {1, 2, 3}.

Each configuration runs the cross-prediction protocol (:func:`run_configuration`) and is cached
under ``OUT/runs/<key>/`` (``result.json``, ``predictions.csv``, ``embeddings.npy``), keyed by a
fingerprint of the store, configuration, epochs, seed, training settings (the learning rate
resolved) and code version: a finished configuration is never recomputed, an interrupted ablation
resumes with the next unfinished one. The DEM-only
network never sees SAR, so its result is the same for every revisit count: it is computed once and
reused for the other revisit columns (marked ``"shared_with"``).

Every configuration's result carries the map's classes (``"map"``: accuracy, balanced accuracy,
macro-F1, per-class recall/precision, confusion counts, predicted vs true counts, the majority-class
baseline, Brier score and reliability of the calibrated probabilities) under the decision rule
``settings.decision`` fitted on each fold's validation chips (:mod:`landslide_app.model.map_classes`).

``settings.seeds`` > 1 repeats the ablation with seeds ``seed, seed+1, ...`` (each repeat its own
split and initialisation); the first repeat lives in ``OUT`` as a single-seed ablation does, the
others in ``OUT/runs/seed<s>/`` (:func:`repeat_dir`), each cached and resumable the same way.

``OUT/results.json`` = ``{"runs": [...], "baselines": [...]}`` of the first seed, plus ``repeats``
(every seed's runs and baselines), ``summary`` and ``paired`` (means and paired differences with
95 % intervals over seeds, :mod:`landslide_app.experiments.seed_stats`) and ``environment`` (CPU,
ISA flags, precision, library versions: :mod:`landslide_app.experiments.environment`);
``OUT/table.md`` is laid out like paper Table 2; ``OUT/roc.png`` and ``OUT/confusion.png`` show
the held-out predictions.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from landslide_app import __version__
from landslide_app.atomic import check_output_dir, fingerprint, output_lock, remove_stale_temps
from landslide_app.chips.store import ChipStore
from landslide_app.core.density import density_class
from landslide_app.core.vocabulary import DEFAULT_TRAIN_CONV
from landslide_app.errors import ConfigError
from landslide_app.experiments import artifacts
from landslide_app.experiments.ablation_settings import (  # noqa: F401 - DEFAULT_EPOCHS, TRAIN_KEYS re-exported
    DEFAULT_EPOCHS,
    TRAIN_KEYS,
    AblationSettings,
)
from landslide_app.experiments.artifacts import (  # noqa: F401 - RunSpec, run_dir, read_* re-exported for callers
    RunSpec,
    baseline_path,
    load_cached,
    load_cached_baseline,
    read_embeddings,
    read_features,
    read_predictions,
    run_dir,
)
from landslide_app.model.crossval import OnFold
from landslide_app.model.protocol import block_size_for_km

log = logging.getLogger(__name__)

#: Called after each configuration with (finished, total, key).
ProgressHook = Callable[[int, int, str], None]


def chip_classes(store: ChipStore, thresholds: tuple[float, float] | None) -> np.ndarray:
    """Density classes of the store's chips, relabelled with ``thresholds`` when given."""
    if thresholds is None:
        return store.classes
    return density_class(store.index["head_count"].to_numpy(), store.grid.chip_area_km2, thresholds).astype(np.int64)


def _resolved_precision(s: AblationSettings) -> str:
    """The precision training will use ("auto" resolved for the device): part of the cache key."""
    from landslide_app.model.device import resolve_device
    from landslide_app.model.runtime import resolve_precision

    return resolve_precision(s.precision, resolve_device(s.device))


def _resolved_train_conv(s: AblationSettings) -> str:
    """How the dilated convolutions will train (``train_kwargs["conv"]``, default "auto", resolved for
    the device; :mod:`landslide_app.model.dilated`): part of the cache key when not "direct"."""
    from landslide_app.model.device import resolve_device
    from landslide_app.model.dilated import resolve_train_conv

    conv = str(s.train_kwargs.get("conv", DEFAULT_TRAIN_CONV))
    return resolve_train_conv(conv, resolve_device(s.device), _resolved_precision(s))


def _block_size(store: ChipStore, s: AblationSettings) -> int:
    """The blocked split's block edge in chips of this store."""
    return block_size_for_km(s.block_km, store.grid.chip_size * store.grid.resolution / 1000.0)


def _split_key(store: ChipStore, split: str, s: AblationSettings) -> dict[str, Any]:
    """Split options that belong in a cache key (none for the random split: old caches stay valid)."""
    return {"block_size": _block_size(store, s)} if split == "blocked" else {}


def _run_fingerprint(store: ChipStore, spec: RunSpec, s: AblationSettings) -> str:
    # custom thresholds are part of the key (spec.computes_as.key), hence of the fingerprint
    return fingerprint(
        {
            "store": store.meta.fingerprint,
            "run": spec.computes_as.key,
            "epochs": s.epochs,
            "seed": s.seed,
            "precision": _resolved_precision(s),
            # the rate resolved (AblationSettings.lr): a change of the default never reuses the former one's runs
            # "conv" is keyed below as resolved
            "train": {**{k: v for k, v in s.train_kwargs.items() if k != "conv"}, "lr": s.lr},
            "code": __version__,
            "decision": s.decision,
            **_split_key(store, spec.split, s),
            # none for "train", the setting before the option existed: old caches stay valid
            **({"forest_fit": s.forest_fit} if s.forest_fit != "train" else {}),
            # none for a single network, the setting before the option existed: old caches stay valid
            **({"ensemble": s.ensemble} if s.ensemble != 1 else {}),
            # none for the dilated kernel, the only one before the phase split: its caches stay valid;
            # a phase-split run (other float sums, so other weights) never reuses them
            **({"train_conv": conv} if (conv := _resolved_train_conv(s)) != "direct" else {}),
        }
    )


def run_one(
    store: ChipStore,
    spec: RunSpec,
    out: Path,
    settings: AblationSettings,
    progress: bool = True,
    reader: Any = None,
    on_fold: OnFold | None = None,
) -> dict[str, Any]:
    """Run (or load from cache) one configuration; returns its result dict.

    ``reader``: where the chips are read from (default ``store``; e.g. a
    :class:`~landslide_app.chips.cache.StoreCache` shared by the configurations of an ablation).
    ``on_fold``: progress of the folds (:class:`landslide_app.model.crossval.FoldEvent`; not
    called for a cached result).

    While computing it holds a lock on ``OUT/runs/<key>/``: another process (or thread) asking for
    the same configuration waits, then loads the finished result instead of recomputing it.
    """
    fp = _run_fingerprint(store, spec, settings)
    base = spec.computes_as
    cached = load_cached(out, base, fp)
    if cached is None:
        if spec.inputs != "dem" and not store.meta.has_sar:
            raise ConfigError(f"{spec.key} needs SAR but the chip store {store.path} is DEM-only; use --inputs dem")
        # one writer per configuration: a second process waits here, then finds it finished
        with output_lock(run_dir(out, base), f"configuration {base.key}"):
            cached = load_cached(out, base, fp)
            if cached is None:
                remove_stale_temps(run_dir(out, base), recursive=False)
                cached = _compute(store, base, out, settings, fp, progress, reader=reader, on_fold=on_fold)
    result = dict(cached)
    if spec != base:
        result.update(revisits=spec.revisits, key=spec.key, shared_with=base.key)
    return result


def _compute(
    store: ChipStore,
    base: RunSpec,
    out: Path,
    settings: AblationSettings,
    fp: str,
    progress: bool,
    reader: Any = None,
    on_fold: OnFold | None = None,
) -> dict[str, Any]:
    from landslide_app.model.cnn_protocol import run_configuration
    from landslide_app.model.map_classes import map_classes

    log.info("computing configuration %s", base.key)
    t0 = time.perf_counter()
    d = run_dir(out, base)
    d.mkdir(parents=True, exist_ok=True)
    ids = np.sort(store.ids)
    # held-out embeddings go straight to a float16 memory-mapped .npy (nothing sits in memory);
    # repeats after the first seed keep only what the statistics read (no embeddings, no fold models)
    writer = (
        artifacts.embedding_writer(d, ids, store.grid.chip_size)
        if settings.save_models
        else contextlib.nullcontext(None)
    )
    with writer as sink:
        res = run_configuration(
            reader if reader is not None else store,
            store.ids,
            chip_classes(store, base.thresholds),
            base.config,
            split=base.split,  # type: ignore[arg-type]
            epochs=settings.epochs,
            seed=settings.seed,
            device=settings.device,
            progress=progress,
            block_size=_block_size(store, settings),
            embedding_sink=sink,
            train_kwargs={"precision": settings.precision, **settings.train_kwargs},
            on_fold=on_fold,
            forest_fit=settings.forest_fit,
            ensemble=settings.ensemble,
        )
        assert np.array_equal(res.ids, ids)
    classes = map_classes(res.cv, settings.decision)  # the map's classes (the decision rule's)
    _save_run_files(d, res, classes.pred, settings.save_models)
    cached = {
        **res.to_dict(),
        **classes.to_dict(),
        "key": base.key,
        "forest_fit": settings.forest_fit,
        "fingerprint": fp,
        "wall_seconds": round(time.perf_counter() - t0, 2),
        "thresholds": None if base.thresholds is None else list(base.thresholds),
    }
    artifacts.write_result(d, cached)  # last: marks the configuration finished
    return cached


def _save_run_files(d: Path, res: Any, map_pred: np.ndarray, save_models: bool) -> None:
    """Held-out predictions (``pred_class``: ``map_pred``, the map's classes under the run's decision rule,
    not the forest's most probable class), features (when the run has them) and, with ``save_models``,
    the fold models."""
    artifacts.write_predictions(d, res.ids, res.y_true, res.test_proba, map_pred, res.test_fold)
    if res.test_features is not None:
        artifacts.write_features(d, res.ids, res.test_features)
    for k, fold_model in enumerate(res.cv.models if save_models else ()):
        for j, member in enumerate(getattr(fold_model, "members", [fold_model])):  # every network of an ensemble
            model_file, forest_file = artifacts.fold_model_paths(d, k, j)
            member.model.save(model_file)
            member.forest.save(forest_file)


def check_store(store: ChipStore, settings: AblationSettings) -> None:
    """Refuse, before anything is computed, a store that cannot serve ``settings``: no labels, no SAR
    for a SAR configuration, or fewer post-event dates than the most revisits a SAR configuration (or
    the change-ratio baseline) asks for."""
    store.require_labels("`ablate`")
    specs = settings.specs()
    sar = [s for s in specs if s.inputs != "dem"]
    if sar and not store.meta.has_sar:
        raise ConfigError(
            f"{', '.join(s.key for s in sar)}: these configurations need SAR but the chip store "
            f"{store.path} is DEM-only; use --inputs dem"
        )
    revisits = [s.revisits for s in sar] + (
        list(settings.revisits) if settings.baselines and store.meta.has_sar else []
    )
    if revisits:
        store.check_revisits(
            max(revisits), use="`ablate --revisits` with values up to {n} (or --inputs dem --no-baselines)"
        )


def run_ablation(
    store_path: str | Path,
    out: str | Path,
    settings: AblationSettings | None = None,
    progress: bool = True,
    on_progress: ProgressHook | None = None,
    on_fold: OnFold | None = None,
) -> dict[str, Any]:
    """Run every configuration of ``settings`` (cached) for every seed, the baselines, and write the report.

    ``on_progress`` is called after each configuration (and seed), ``on_fold`` with each fold's
    progress. On a Dask cluster: :func:`landslide_app.experiments.ablation_dask.run_ablation_distributed`.
    """
    from landslide_app.experiments.environment import environment
    from landslide_app.experiments.report import write_report

    settings = settings or AblationSettings()
    store = ChipStore.open(store_path)
    check_store(store, settings)
    out = check_output_dir(out, "ablation output directory", create=False)
    specs = settings.specs()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    from landslide_app.chips.cache import StoreCache

    seeds = settings.seed_list()
    reader = StoreCache(store)  # every configuration reads every chip: one copy in memory when it fits
    runs = _run_configurations(store, specs, out, settings, reader, progress, on_progress, on_fold)
    repeats = [_repeat(store, out, i, seed, runs[i], settings) for i, seed in enumerate(seeds)]
    results = {
        "store": str(store.path),
        "store_fingerprint": store.meta.fingerprint,
        "epochs": settings.epochs,
        "lr": settings.lr,
        "ensemble": settings.ensemble,
        "seed": settings.seed,
        "code_version": __version__,
        "runs": repeats[0]["runs"],
        "baselines": repeats[0]["baselines"],
        "seconds": round(time.perf_counter() - t0, 2),
        **repeat_summary(repeats, settings),
        "environment": environment(_resolved_precision(settings), settings.device, _resolved_train_conv(settings)),
    }
    artifacts.write_results(out, results)
    write_report(results, out)
    return results


def _run_configurations(
    store: ChipStore,
    specs: list[RunSpec],
    out: Path,
    settings: AblationSettings,
    reader: Any,
    progress: bool,
    on_progress: ProgressHook | None,
    on_fold: OnFold | None,
) -> dict[int, list[dict[str, Any]]]:
    """Every configuration for every seed (repeat index -> its results, in ``specs`` order)."""
    seeds = settings.seed_list()
    jobs = [(i, seed, spec) for i, seed in enumerate(seeds) for spec in specs]
    runs: dict[int, list[dict[str, Any]]] = {i: [] for i in range(len(seeds))}
    bar = tqdm(jobs, desc="ablation", unit="config", disable=not progress)
    for n, (i, seed, spec) in enumerate(bar):
        bar.set_postfix_str(spec.key + (f" seed {seed}" if len(seeds) > 1 else ""))
        s_i = replace(settings, seed=seed, save_models=settings.save_models and i == 0)
        runs[i].append(
            run_one(store, spec, repeat_dir(out, i, seed), s_i, progress=False, reader=reader, on_fold=on_fold)
        )
        if on_progress:
            on_progress(n + 1, len(jobs), spec.key)
    return runs


def _repeat(
    store: ChipStore, out: Path, i: int, seed: int, runs: list[dict[str, Any]], settings: AblationSettings
) -> dict[str, Any]:
    """Repeat ``i`` of results.json: its seed, folder, configuration runs and baselines (computed here)."""
    s_i = replace(settings, seed=seed)
    baselines = run_baselines(store, repeat_dir(out, i, seed), s_i) if settings.baselines else []
    return {
        "seed": seed,
        "dir": repeat_dir(out, i, seed).relative_to(out).as_posix(),
        "runs": runs,
        "baselines": baselines,
    }


def repeat_dir(out: Path, i: int, seed: int) -> Path:
    """Output folder of repeat ``i`` (seed ``seed``): ``OUT`` for the first, ``OUT/runs/seed<s>`` for the others
    (inside ``runs/``, so the workspace discovery does not take it for an ablation of its own)."""
    return Path(out) if i == 0 else Path(out) / artifacts.RUNS_DIR / f"seed{int(seed)}"


def repeat_summary(repeats: list[dict[str, Any]], settings: AblationSettings) -> dict[str, Any]:
    """``seeds, decision, interval_method, repeats, summary, paired`` of results.json."""
    from landslide_app.experiments.seed_stats import INTERVAL_METHOD, paired_claims, summarise

    return {
        "seeds": [r["seed"] for r in repeats],
        "decision": settings.decision,
        "forest_fit": settings.forest_fit,
        "interval_method": INTERVAL_METHOD,
        "repeats": repeats,
        "summary": summarise(repeats),
        "paired": paired_claims(repeats),
    }


def run_baselines(store: ChipStore, out: Path, settings: AblationSettings) -> list[dict[str, Any]]:
    """The DEM slope model, and the SAR change ratio and SAR chip statistics per revisit count, under the
    same splits (cached)."""
    from landslide_app.baselines.evaluate import run_baseline

    jobs = [("slope", 3)]
    if store.meta.has_sar:
        jobs += [(name, int(k)) for name in ("change_ratio", "sar_stats") for k in settings.revisits]
    classes = chip_classes(store, settings.thresholds)
    res = []
    for split in settings.splits:
        for name, k in jobs:
            fp = fingerprint(
                {
                    "store": store.meta.fingerprint,
                    "baseline": name,
                    "split": split,
                    "revisits": k,
                    "seed": settings.seed,
                    "thresholds": settings.thresholds,
                    "code": __version__,
                    "decision": settings.decision,
                    **_split_key(store, split, settings),
                }
            )
            f = baseline_path(out, name, k, split)
            cached = load_cached_baseline(f, fp)
            if cached is None:
                cached = {
                    **run_baseline(
                        store,
                        name,  # type: ignore[arg-type]
                        split=split,  # type: ignore[arg-type]
                        seed=settings.seed,
                        revisits=k,
                        progress=False,
                        classes=classes,
                        block_size=_block_size(store, settings),
                        decision=settings.decision,
                    ),
                    "fingerprint": fp,
                }
                artifacts.write_baseline(f, cached)
            if name == "slope":
                cached["revisits"] = None
            res.append(cached)
    return res
