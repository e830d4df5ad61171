"""``summary.json`` of a prediction: chips and km² per predicted class, the chips most likely of
class 2, provenance, the domain-shift report, and the AUC against the store's labels when it has them."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from landslide_app.chips.store import ChipStore
from landslide_app.experiments.run_bundle import LoadedRun, store_provenance
from landslide_app.model.metrics import multiclass_auc, nan_to_none

log = logging.getLogger(__name__)

#: The prediction's summary (written last).
SUMMARY_FILE = "summary.json"
#: Chips listed in ``summary.json`` as the most likely to be of class 2.
N_TOP_CHIPS = 20


def shift_report(shifted: list[Any]) -> dict[str, Any]:
    """The domain-shift part of ``summary.json``: the thresholds and the shifted channels."""
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


def _classes(store: ChipStore, pred: np.ndarray) -> dict[str, Any]:
    """``class_counts`` and ``classes`` (name, chips, km² per predicted class)."""
    from landslide_app.core.density import class_names

    area = store.grid.chip_area_km2
    names = class_names(tuple(store.meta.density_thresholds or (0.0, 25.0)))  # type: ignore[arg-type]
    counts = {str(c): int((pred == c).sum()) for c in range(3)}
    return {
        "class_counts": counts,
        "classes": {
            str(c): {"name": names[c], "chips": counts[str(c)], "km2": round(counts[str(c)] * area, 3)}
            for c in range(3)
        },
    }


def _top_class2(store: ChipStore, ids: np.ndarray, proba: np.ndarray, pred: np.ndarray) -> list[dict[str, Any]]:
    """The :data:`N_TOP_CHIPS` chips most likely of class 2, with their centre in lon/lat."""
    from pyproj import Transformer

    top = np.argsort(-proba[:, 2], kind="stable")[:N_TOP_CHIPS]
    idx = store.index.set_index("chip_id").loc[ids[top]]
    cent = idx.geometry.centroid
    tr = Transformer.from_crs(store.grid.crs, "EPSG:4326", always_xy=True)
    lon, lat = tr.transform(cent.x.to_numpy(), cent.y.to_numpy())
    return [
        {
            "chip_id": int(ids[j]),
            "p2": round(float(proba[j, 2]), 4),
            "pred_class": int(pred[j]),
            "lon": round(float(x), 5),
            "lat": round(float(y), 5),
        }
        for j, x, y in zip(top, np.atleast_1d(lon), np.atleast_1d(lat))
    ]


def _model_summary(run: LoadedRun) -> dict[str, Any]:
    return {
        "path": str(run.path),
        "name": run.name,
        "fingerprint": run.meta.get("fingerprint"),
        "code_version": run.meta.get("code_version"),
        "epochs": run.meta.get("epochs"),
        "kind": run.meta.get("kind", "cnn"),
        "ensemble": len(run.models),
        "n_train": run.meta.get("n_train"),
        "auc_val": run.meta.get("auc_val"),
        "trained_on": run.meta.get("training_data")
        or {"store": run.meta.get("store"), "fingerprint": run.meta.get("store_fingerprint")},
    }


def _label_scores(run: LoadedRun, store: ChipStore, proba: np.ndarray, prov: dict[str, Any]) -> dict[str, Any]:
    """AUC against the store's labels: out-of-area, or flagged in-sample on the training store."""
    auc = multiclass_auc(store.classes, proba)
    in_sample = prov.get("trained_on") is not None and prov.get("trained_on") == prov.get("data_fingerprint")
    scores: dict[str, Any] = {
        "auc_vs_store_labels": nan_to_none(auc.macro),
        "auc_per_class": [nan_to_none(v) for v in auc.per_class],
        "in_sample": in_sample,
    }
    if not in_sample:
        scores["auc_out_of_area"] = nan_to_none(auc.macro)
        return scores
    scores["auc_note"] = (
        "in-sample: the model was trained on chips of this store, so this AUC is "
        "optimistic; held-out AUC comes from `landslide-app ablate`"
    )
    log.warning(
        "%s was trained on chips of %s: its AUC against the store's labels (%.3f) is in-sample, not "
        "a held-out score (use `landslide-app ablate` for that)",
        run.name,
        store.path,
        auc.macro,
    )
    return scores


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
    pred = proba.argmax(axis=1) if pred is None else np.asarray(pred)
    summary: dict[str, Any] = {
        **prov,
        "n_chips": int(len(ids)),
        **_classes(store, pred),
        "chip_area_km2": store.grid.chip_area_km2,
        "top_class2": _top_class2(store, ids, proba, pred),
        "model": _model_summary(run),
        "data": store_provenance(store),
    }
    summary["labelled"] = labelled = is_labelled(store)
    if labelled:
        summary.update(_label_scores(run, store, proba, prov))
    return summary
