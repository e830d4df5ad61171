"""A trained run directory read back: :class:`LoadedRun`, :func:`load_run`, and what a run records
about the data it was trained on (:func:`bundle_meta`, :func:`store_provenance`).

A run directory holds ``model.pt`` (checkpoint, loaded with ``weights_only=True``),
``forest.npz`` (the random forest as plain arrays, no pickle; runs written before it have
``forest.skops``, still read) and ``run.json`` (configuration, data fingerprint,
validation AUC, code version, and the SHA-256 of every model file: a modified file, or one copied
from another run, is refused on loading). Written by
:func:`~landslide_app.experiments.production.train_run`.

**An ensemble run** (``train --ensemble K``, :mod:`landslide_app.model.ensemble`) holds member 0 as
``model.pt`` / ``forest.npz`` and member ``j`` as ``model_m<j>.pt`` / ``forest_m<j>.npz``
(:func:`member_files`); ``run.json`` records ``ensemble`` and ``members`` (seed, selected epoch,
collapsed). :attr:`LoadedRun.models` are every member's network (member 0 first);
:meth:`LoadedRun.predict_proba` takes the members' features side by side (19 columns each, as
:func:`~landslide_app.experiments.prediction.stream_features` makes them) and averages the
probabilities of the members that did not collapse (all of them if every one did). ``embed``
writes member 0's embedding.

**A SAR chip-statistics run** (``run.json`` ``kind`` :data:`STATS_KIND`, written by
:func:`~landslide_app.experiments.stats_model.train_stats_run`) holds ``forest.npz`` (and
``forest_scene.npz``, :attr:`LoadedRun.scene_forest`, for ``--normalise scene``) and no network:
:attr:`LoadedRun.model` is None, :attr:`LoadedRun.models` empty, :attr:`LoadedRun.network` refuses,
and :meth:`LoadedRun.predict_proba` takes the run's ``features`` columns.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from landslide_app import __version__
from landslide_app.atomic import file_digest
from landslide_app.chips.store import ChipStore
from landslide_app.core.vocabulary import N_FEATURES
from landslide_app.errors import ConfigError, ModelFileError
from landslide_app.model.forest import DensityForest
from landslide_app.model.forest_file import readable_forest_path
from landslide_app.model.inputs import ModelConfig
from landslide_app.model.metrics import nan_to_none
from landslide_app.model.train import TrainedModel

log = logging.getLogger(__name__)

RUN_FILE, MODEL_FILE, FOREST_FILE = "run.json", "model.pt", "forest.npz"
RUN_FORMAT = "landslide-app-run/1"
#: ``run.json`` ``kind`` of a SAR chip-statistics run (:mod:`landslide_app.experiments.stats_model`):
#: a forest on per-chip SAR statistics, no network. A run without ``kind`` is a network run.
STATS_KIND = "sar_stats"
#: A statistics run's forest on features centred on the store's median (``--normalise scene``).
SCENE_FOREST_FILE = "forest_scene.npz"
#: The forest file of runs written before ``forest.npz`` (skops format).
LEGACY_FOREST_FILE = "forest.skops"


def member_files(j: int) -> tuple[str, str]:
    """``(network file, forest file)`` of ensemble member ``j`` in a run directory (member 0: the single model's)."""
    return (MODEL_FILE, FOREST_FILE) if j == 0 else (f"model_m{int(j)}.pt", f"forest_m{int(j)}.npz")


@dataclass
class LoadedRun:
    """A trained configuration read back from a run directory.

    ``model`` / ``forest``: member 0 (the run's only one unless it is an ensemble); ``more_members``:
    the networks and forests of members 1..K-1 of an ensemble run."""

    path: Path
    meta: dict[str, Any]
    model: TrainedModel | None
    forest: DensityForest
    more_members: list[tuple[TrainedModel, DensityForest]] = field(default_factory=list)
    #: a statistics run's forest on median-centred features (``--normalise scene``); None otherwise
    scene_forest: DensityForest | None = None

    @property
    def is_stats(self) -> bool:
        """A SAR chip-statistics run (no network; features from
        :func:`~landslide_app.baselines.sar_stats.compute_sar_stats_features`)."""
        return self.meta.get("kind") == STATS_KIND

    @property
    def config(self) -> ModelConfig:
        return self.model.config if self.model is not None else ModelConfig.from_dict(self.meta["config"])

    @property
    def name(self) -> str:
        """What outputs call the model: the configuration (``fused-r3``), or ``sar-stats-r3`` for a statistics run."""
        return str(self.meta.get("name") or self.config.name) if self.is_stats else self.config.name

    @property
    def network(self) -> TrainedModel:
        """Member 0's network; a :class:`ConfigError` for a run without one (a SAR chip-statistics run)."""
        if self.model is None:
            raise ConfigError(
                f"{self.path} is a SAR chip-statistics run ({self.meta.get('name')}): it has no network, so it has "
                "no embedding. Use a network run (`landslide-app train --model cnn`) here."
            )
        return self.model

    @property
    def models(self) -> list[TrainedModel]:
        """Every member's network, member 0 first (one for a single-network run, none for a statistics run)."""
        return [] if self.model is None else [self.model, *(m for m, _ in self.more_members)]

    @property
    def n_features(self) -> int:
        """Columns of the features :meth:`predict_proba` takes."""
        return len(self.meta.get("features") or ()) if self.is_stats else N_FEATURES * len(self.models)

    @property
    def forests(self) -> list[DensityForest]:
        """Every member's forest, in the order of :attr:`models`."""
        return [self.forest, *(f for _, f in self.more_members)]

    def kept_members(self) -> list[int]:
        """The members whose probabilities are averaged: those whose training did not collapse
        (``run.json`` ``members``), every member when all collapsed or nothing is recorded."""
        recorded = self.meta.get("members") or []
        ok = [j for j in range(len(self.models)) if not (j < len(recorded) and recorded[j].get("collapsed"))]
        return ok or list(range(len(self.models)))

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities from the members' features side by side (``(n, N_FEATURES * K)``): each
        member's forest scores its own 19 columns, and the kept members' probabilities are averaged."""
        feats = np.asarray(features)
        if feats.ndim != 2 or feats.shape[1] != self.n_features:
            what = "SAR chip statistics" if self.is_stats else f"{len(self.models)} member(s) x 19"
            raise ValueError(f"features {feats.shape}: expected {self.n_features} columns ({what})")
        if self.is_stats:
            return self.forest.predict_proba(feats)
        forests = self.forests
        parts = [forests[j].predict_proba(feats[:, j * N_FEATURES : (j + 1) * N_FEATURES]) for j in self.kept_members()]
        return np.mean(parts, axis=0)

    def provenance(self, store: ChipStore | None = None) -> dict[str, Any]:
        """What made an output: configuration, model and data fingerprints (the data one only when
        the output comes from a chip store), code version."""
        prov = {
            "config": self.name,
            "model_fingerprint": self.meta.get("fingerprint"),
            "trained_on": self.meta.get("store_fingerprint"),
            "data_fingerprint": store.meta.fingerprint if store else None,
            "code_version": __version__,
            "software": "landslide_app",
        }
        return {k: v for k, v in prov.items() if v is not None}


def bundle_meta(store: ChipStore, train_ids: np.ndarray, model: TrainedModel) -> dict[str, Any]:
    """What a prediction elsewhere needs besides the model files, for ``run.json``: the
    normalisation statistics, per-channel statistics of the training chips (domain-shift check),
    the density thresholds and where and when the training data come from."""
    return {"norm_stats": model.stats.to_dict(), **bundle_channel_meta(store, train_ids)}


def training_record(store: ChipStore, n_train: int, n_val: int, auc_val: Any, t0: float) -> dict[str, Any]:
    """The fields of ``run.json`` every kind of run records about its training: the store, the chip grid, the
    chip counts, the validation AUC (a :class:`~landslide_app.model.metrics.MulticlassAuc`), the seconds since
    ``t0`` (``time.perf_counter``) and the code version."""
    return {
        "store": str(store.path),
        "store_fingerprint": store.meta.fingerprint,
        "chip_size": store.grid.chip_size,
        "resolution_m": store.grid.resolution,
        "channels": list(store.channels),
        "n_train": int(n_train),
        "n_val": int(n_val),
        "auc_val": nan_to_none(auc_val.macro),
        "auc_val_weighted": nan_to_none(auc_val.weighted),
        "auc_val_per_class": [nan_to_none(v) for v in auc_val.per_class],
        "seconds": round(time.perf_counter() - t0, 2),
        "code_version": __version__,
    }


def bundle_channel_meta(store: ChipStore, train_ids: np.ndarray) -> dict[str, Any]:
    """The part of :func:`bundle_meta` every kind of run records: the training chips' per-channel
    statistics (domain-shift check), the density thresholds and the training data's provenance."""
    from landslide_app.experiments.domain_shift import channel_stats

    return {
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
    """Read a run directory written by :func:`~landslide_app.experiments.production.train_run` (or one
    ablation fold)."""
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
    k = 1 if meta.get("kind") == STATS_KIND else _ensemble_size(meta, f)
    model_names = {name for j in range(k) for name in member_files(j)} | {LEGACY_FOREST_FILE, SCENE_FOREST_FILE}
    for name, digest in (meta.get("files") or {}).items():
        checked = name in model_names and (path / name).exists()
        if checked and file_digest(path / name) != digest:
            raise ModelFileError(
                f"{path / name} does not match {RUN_FILE} (its checksum differs): it was modified after "
                "training or copied from another run. Use the run directory it came from, or retrain."
            )
    if meta.get("kind") == STATS_KIND:
        return _load_stats_run(path, meta)
    members = [_load_member(path, j, expected, device) for j in range(k)]
    if meta.get("collapsed"):
        log.warning(
            "%s: its training collapsed (constant embeddings for every chip), so its maps carry no signal; "
            "retrain it with another --seed.",
            path,
        )
    (model, forest), more = members[0], members[1:]
    return LoadedRun(path, meta, model, forest, more)


def _load_stats_run(path: Path, meta: dict[str, Any]) -> LoadedRun:
    """A SAR chip-statistics run: its forest and feature names (no network)."""
    if not (path / FOREST_FILE).exists():
        raise ModelFileError(
            f"{path} is a SAR chip-statistics run without {FOREST_FILE}; copy the whole run directory, or retrain"
        )
    if not isinstance(meta.get("features"), list) or not meta["features"]:
        raise ModelFileError(f"{path / RUN_FILE} lacks the feature names ('features'); it is damaged, retrain the run")
    scene = path / SCENE_FOREST_FILE
    scene_forest = DensityForest.load(scene) if scene.exists() else None
    return LoadedRun(path, meta, None, DensityForest.load(path / FOREST_FILE), scene_forest=scene_forest)


def _ensemble_size(meta: dict[str, Any], f: Path) -> int:
    """Networks in the run (``run.json`` ``ensemble``; 1 for runs written before ensembles)."""
    k = meta.get("ensemble", 1)
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ModelFileError(f"{f} records ensemble {k!r}, not a number of networks; it is damaged, retrain the run")
    return k


def _load_member(path: Path, j: int, config: ModelConfig, device: str | None) -> tuple[TrainedModel, DensityForest]:
    """The network and forest of member ``j`` (a missing file of an ensemble member is a ModelFileError)."""
    model_name, forest_name = member_files(j)
    if j and not ((path / model_name).exists() and (path / forest_name).exists()):
        raise ModelFileError(
            f"{path} is an ensemble run but lacks {model_name} or {forest_name} of member {j}; "
            "copy the whole run directory, or retrain"
        )
    model = TrainedModel.load(path / model_name, config=config, device=device)
    forest = DensityForest.load(readable_forest_path(path / forest_name) if j == 0 else path / forest_name)
    return model, forest
