"""A trained run directory read back: :class:`LoadedRun`, :func:`load_run`, and what a run records
about the data it was trained on (:func:`bundle_meta`, :func:`store_provenance`).

A run directory holds ``model.pt`` (checkpoint, loaded with ``weights_only=True``),
``forest.npz`` (the random forest as plain arrays, no pickle; runs written before it have
``forest.skops``, still read) and ``run.json`` (configuration, data fingerprint,
validation AUC, code version, and the SHA-256 of both model files: a modified file, or one copied
from another run, is refused on loading). Written by
:func:`~landslide_app.experiments.production.train_run`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from landslide_app import __version__
from landslide_app.atomic import file_digest
from landslide_app.chips.store import ChipStore
from landslide_app.errors import ModelFileError
from landslide_app.model.forest import DensityForest
from landslide_app.model.forest_file import readable_forest_path
from landslide_app.model.inputs import ModelConfig
from landslide_app.model.train import TrainedModel

log = logging.getLogger(__name__)

RUN_FILE, MODEL_FILE, FOREST_FILE = "run.json", "model.pt", "forest.npz"
#: The forest file of runs written before ``forest.npz`` (skops format).
LEGACY_FOREST_FILE = "forest.skops"


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
    for name, digest in (meta.get("files") or {}).items():
        checked = name in (MODEL_FILE, FOREST_FILE, LEGACY_FOREST_FILE) and (path / name).exists()
        if checked and file_digest(path / name) != digest:
            raise ModelFileError(
                f"{path / name} does not match {RUN_FILE} (its checksum differs): it was modified after "
                "training or copied from another run. Use the run directory it came from, or retrain."
            )
    model = TrainedModel.load(path / MODEL_FILE, config=expected, device=device)
    forest = DensityForest.load(readable_forest_path(path / FOREST_FILE))
    if meta.get("collapsed"):
        log.warning(
            "%s: its training collapsed (constant embeddings for every chip), so its maps carry no signal; "
            "retrain it with another --seed.",
            path,
        )
    return LoadedRun(path, meta, model, forest)
