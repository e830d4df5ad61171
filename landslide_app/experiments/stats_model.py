"""The SAR chip-statistics model as a portable run: ``train --model sar-stats``, then ``predict`` / ``respond``.

The baseline of :mod:`landslide_app.baselines.sar_stats` (ten per-chip numbers of the post-event
SAR change and the slope -> the seeded forest), trained like :func:`~landslide_app.experiments.
production.train_run` trains a network: the same random train / validation split of the store's chips
(``seed``, ``val_fraction``), the forest on the training chips, every map decision rule fitted on the
validation chips' probabilities, and a run directory that ``predict`` and ``respond`` read:

* ``forest.npz``: the forest (plain arrays, no pickle); ``forest_scene.npz``: the same fitted on the
  features centred on the training store's median (:func:`~landslide_app.baselines.sar_stats.
  centre_on_median`), which ``--normalise scene`` uses on the new store's centred features, with
  ``run.json`` ``scene`` (its validation AUC and decisions);
* ``run.json``: ``kind`` ``"sar_stats"``, ``config`` (``fused``: slope and SAR; ``revisits``), the
  feature names, ``auc_val``, ``decision``, the density thresholds, the training chips' channel
  statistics (the domain-shift check) and the SHA-256 of the forest file. No ``model.pt``: there is
  no network, so ``embed`` refuses such a run.

Why a responder may want it: on the demo scene it out-ranks every CNN configuration, in the area
(Table 2: 0.80-0.82 against 0.70-0.75) and on islands it never saw (0.815-0.820 against at best
0.812), its map beats "class 1 everywhere" where the CNN's does not, and a prediction needs no
network (seconds, not minutes). Whether that holds on a real event is not measured (README).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from landslide_app.atomic import (
    check_output_dir,
    file_digest,
    fingerprint,
    output_lock,
    remove_stale_temps,
    write_json_atomic,
)
from landslide_app.baselines.sar_stats import N_TREES, centre_on_median, compute_sar_stats_features, feature_names
from landslide_app.chips.store import ChipStore
from landslide_app.errors import ConfigError, InputError
from landslide_app.experiments.run_bundle import (
    FOREST_FILE,
    RUN_FILE,
    RUN_FORMAT,
    SCENE_FOREST_FILE,
    STATS_KIND,
    bundle_channel_meta,
    training_record,
)
from landslide_app.model.decision import DEFAULT_DECISION
from landslide_app.model.forest import DensityForest
from landslide_app.model.inputs import ModelConfig
from landslide_app.model.map_classes import fit_run_decisions
from landslide_app.model.metrics import multiclass_auc, nan_to_none
from landslide_app.model.protocol import train_val_positions

log = logging.getLogger(__name__)


class _Fitted:
    """A forest fitted on the training chips' features, scored on the validation chips': what
    :func:`fit_run_decisions` reads (``forest``, for the prior shift), the validation AUC and decisions."""

    def __init__(
        self, feats: np.ndarray, y: np.ndarray, train_pos: np.ndarray, val_pos: np.ndarray, *, seed: int, decision: str
    ) -> None:
        self.forest = DensityForest(seed=seed, n_estimators=N_TREES).fit(feats[train_pos], y[train_pos])
        proba = self.forest.predict_proba(feats[val_pos])
        self.auc_val = multiclass_auc(y[val_pos], proba)
        self.decisions = fit_run_decisions(proba, y[val_pos], self, decision)


def train_stats_run(
    store_path: str | Path,
    revisits: int,
    out: str | Path,
    seed: int = 0,
    val_fraction: float = 0.2,
    progress: bool = True,
    decision: str = DEFAULT_DECISION,
) -> dict[str, Any]:
    """Train the SAR chip-statistics model on a labelled store with SAR; write the run directory.

    Returns ``run.json``'s content."""
    store = ChipStore.open(store_path)
    store.require_labels("`train`")
    if not store.meta.has_sar:
        raise ConfigError(
            f"{store.path} is a DEM-only store; the sar-stats model reads SAR: use --model cnn --inputs dem"
        )
    store.check_revisits(int(revisits))
    ids, y = store.ids, store.classes
    if len(ids) < 4:
        raise InputError(f"{store.path} has {len(ids)} chips; training needs at least 4")
    out = check_output_dir(out, "run directory", create=False)
    t0 = time.perf_counter()
    train_pos, val_pos = train_val_positions(len(ids), seed, val_fraction)
    feats = compute_sar_stats_features(store, ids, revisits, progress=progress)
    raw = _Fitted(feats, y, train_pos, val_pos, seed=seed, decision=decision)
    # the --normalise scene variant: the same, on features centred on this store's median
    scene = _Fitted(centre_on_median(feats), y, train_pos, val_pos, seed=seed, decision=decision)
    config = ModelConfig("fused", int(revisits))
    with output_lock(out, f"run {out}"):
        remove_stale_temps(out, recursive=False)
        (out / RUN_FILE).unlink(missing_ok=True)  # the run is unfinished until run.json is back
        raw.forest.save(out / FOREST_FILE)
        scene.forest.save(out / SCENE_FOREST_FILE)
        meta: dict[str, Any] = {
            "format": RUN_FORMAT,
            "kind": STATS_KIND,
            "config": config.to_dict(),
            "name": f"sar-stats-r{int(revisits)}",
            "features": list(feature_names(revisits)),
            "seed": seed,
            **training_record(store, len(train_pos), len(val_pos), raw.auc_val, t0),
            **bundle_channel_meta(store, ids[train_pos]),
            "decision": raw.decisions,
            "scene": {"auc_val": nan_to_none(scene.auc_val.macro), "decision": scene.decisions},
            "files": {
                FOREST_FILE: file_digest(out / FOREST_FILE),
                SCENE_FOREST_FILE: file_digest(out / SCENE_FOREST_FILE),
            },
        }
        meta["fingerprint"] = fingerprint(meta)
        write_json_atomic(out / RUN_FILE, meta)  # last: marks the run finished
    log.info("trained %s on %d chips (validation AUC %s) -> %s", meta["name"], len(train_pos), meta["auc_val"], out)
    return meta
