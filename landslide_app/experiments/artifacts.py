"""Run artifacts on disk: run keys, run folders, file names, and reading/writing them.

An ablation directory ``OUT`` holds (written by :mod:`landslide_app.experiments.ablation`, read by
the report and the dashboard):

* ``OUT/runs/<key>/`` per configuration (``<key>`` = :attr:`RunSpec.key`, e.g. ``fused-r3-random``
  or ``sar-r2-random-t0_30`` with custom density thresholds):

  - ``result.json``: the run's summary (:class:`landslide_app.experiments.records.RunRecord`),
    written last: it marks the configuration finished;
  - ``predictions.csv``: held-out predictions (``chip_id, true_class, pred_class, p0, p1, p2, fold``;
    ``pred_class`` is the map's class under the run's decision rule, ``p0..p2`` the forest's
    probabilities, whose AUC the tables report);
  - ``embeddings.npy`` (``(n, S, S)`` float16, memory-mapped) and ``embedding_ids.npy``;
  - ``features.npy`` (``(n, 19)`` float32, the forest's real input of each held-out chip) and
    ``feature_ids.npy``;
  - ``model_fold<k>.pt`` and ``forest_fold<k>.npz``, the fold models (``forest_fold<k>.skops`` in
    folders written before the ``.npz`` forest format).
* ``OUT/baselines/<name>-r<k>-<split>.json``: one baseline result each.
* ``OUT/results.json``, ``OUT/table.md``, ``OUT/roc.png``, ``OUT/confusion.png``: the report.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from landslide_app.atomic import atomic_path, write_bytes_atomic, write_json_atomic
from landslide_app.errors import InputError
from landslide_app.model.inputs import ModelConfig

log = logging.getLogger(__name__)

RUNS_DIR, BASELINES_DIR = "runs", "baselines"
RESULT_FILE, RESULTS_FILE = "result.json", "results.json"
PREDICTIONS_FILE = "predictions.csv"
EMBEDDINGS_FILE, EMBEDDING_IDS_FILE = "embeddings.npy", "embedding_ids.npy"
FEATURES_FILE, FEATURE_IDS_FILE = "features.npy", "feature_ids.npy"
TABLE_FILE, ROC_FILE, CONFUSION_FILE = "table.md", "roc.png", "confusion.png"
PREDICTION_COLUMNS = ("chip_id", "true_class", "pred_class", "p0", "p1", "p2", "fold")


@dataclass(frozen=True)
class RunSpec:
    """One cell of the ablation grid (``thresholds`` None: the chip store's density classes)."""

    inputs: str
    revisits: int
    split: str = "random"
    thresholds: tuple[float, float] | None = None

    @property
    def key(self) -> str:
        t = "" if self.thresholds is None else f"-t{self.thresholds[0]:g}_{self.thresholds[1]:g}"
        return f"{self.inputs}-r{self.revisits}-{self.split}{t}"

    @property
    def config(self) -> ModelConfig:
        return ModelConfig(self.inputs, self.revisits)  # type: ignore[arg-type]

    @property
    def computes_as(self) -> RunSpec:
        """The run whose result this one reuses (DEM-only: revisits do not matter)."""
        return RunSpec(self.inputs, 1, self.split, self.thresholds) if self.inputs == "dem" else self

    @classmethod
    def of_result(cls, result: dict[str, Any]) -> RunSpec:
        """The spec a result was computed for (its ``thresholds`` when recorded, else parsed from its key)."""
        thr = result.get("thresholds")
        if thr is None and "-t" in str(result.get("key", "")):
            a, b = str(result["key"]).rsplit("-t", 1)[1].split("_")
            thr = (float(a), float(b))
        return cls(
            result["inputs"],
            int(result["revisits"]),
            result.get("split", "random"),
            None if thr is None else (float(thr[0]), float(thr[1])),
        )


def run_dir(out: Path, spec: RunSpec) -> Path:
    """``OUT/runs/<key>``."""
    return Path(out) / RUNS_DIR / spec.key


def fold_model_paths(d: Path, k: int, member: int = 0) -> tuple[Path, Path]:
    """``(model_fold<k>.pt, forest_fold<k>.npz)`` of a run folder; the forest is the former
    ``forest_fold<k>.skops`` where only that one exists (folders written before the ``.npz`` format).
    ``member`` j > 0 of an ensemble (:mod:`landslide_app.model.ensemble`): ``model_fold<k>_m<j>.pt``,
    ``forest_fold<k>_m<j>.npz``."""
    from landslide_app.model.forest_file import readable_forest_path  # scikit-learn: only when asked

    tail = f"_m{int(member)}" if member else ""
    return d / f"model_fold{k}{tail}.pt", readable_forest_path(d / f"forest_fold{k}{tail}.npz")


def baseline_path(out: Path, name: str, revisits: int, split: str) -> Path:
    """``OUT/baselines/<name>-r<k>-<split>.json``."""
    return Path(out) / BASELINES_DIR / f"{name}-r{int(revisits)}-{split}.json"


def baseline_files(out: Path, name: str, split: str) -> list[Path]:
    """The stored results of baseline ``name`` under ``split`` (every revisit count), sorted."""
    return sorted((Path(out) / BASELINES_DIR).glob(f"{name}-r*-{split}.json"))


def read_json(f: Path, what: str = "result") -> dict[str, Any] | None:
    """A stored JSON result, or None when missing or damaged (a warning: it will be recomputed)."""
    try:
        res = json.loads(Path(f).read_text())
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        log.warning("ignoring damaged %s (the %s will be recomputed)", f, what)
        return None
    return res if isinstance(res, dict) else None


def read_result(out: Path, spec: RunSpec) -> dict[str, Any] | None:
    """``result.json`` of ``spec`` (DEM-only: the shared run), or None."""
    return read_json(run_dir(out, spec.computes_as) / RESULT_FILE, "configuration")


def load_cached(out: Path, spec: RunSpec, fp: str) -> dict[str, Any] | None:
    """The cached result of ``spec`` when its fingerprint matches, else ``None``."""
    res = read_json(run_dir(out, spec) / RESULT_FILE, "configuration")
    return res if res is not None and res.get("fingerprint") == fp else None


def load_cached_baseline(f: Path, fp: str) -> dict[str, Any] | None:
    """A cached baseline result when its fingerprint matches, else ``None``."""
    res = read_json(f, "baseline")
    return res if res is not None and res.get("fingerprint") == fp else None


def write_result(d: Path, result: dict[str, Any]) -> None:
    """``result.json`` (write it last: it marks the configuration finished)."""
    write_json_atomic(Path(d) / RESULT_FILE, result)


def write_baseline(f: Path, result: dict[str, Any]) -> None:
    """One baseline's result (at :func:`baseline_path`)."""
    write_json_atomic(Path(f), result)


def predictions_csv(ids, y_true, proba, pred, fold) -> bytes:
    """The held-out predictions as CSV bytes (probabilities with an exact round trip)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(PREDICTION_COLUMNS)
    for row in zip(ids, y_true, pred, proba[:, 0], proba[:, 1], proba[:, 2], fold):
        w.writerow([int(row[0]), int(row[1]), int(row[2]), *(repr(float(v)) for v in row[3:6]), row[6]])
    return buf.getvalue().encode()


def write_predictions(d: Path, ids, y_true, proba, pred, fold) -> None:
    write_bytes_atomic(Path(d) / PREDICTIONS_FILE, predictions_csv(ids, y_true, proba, pred, fold))


def read_predictions(out: Path, spec: RunSpec) -> dict[str, np.ndarray]:
    """Held-out predictions of a finished configuration: chip_id, true/pred class, proba (n, 3), fold.

    ``pred_class`` is the map's class: the run's per-fold decisions (``result.json`` ``decision``)
    applied to the forest's probabilities. Files written before ``ablate`` stored the map's classes
    (they held the forest's most probable class) thus show the same map as new ones."""
    f = run_dir(out, spec.computes_as) / PREDICTIONS_FILE
    if not f.exists():
        raise InputError(f"configuration {spec.key} has not been run yet (no {f})")
    with open(f) as fh:
        rows = list(csv.DictReader(fh))
    pred = {
        "chip_id": np.array([int(r["chip_id"]) for r in rows]),
        "true_class": np.array([int(r["true_class"]) for r in rows]),
        "pred_class": np.array([int(r["pred_class"]) for r in rows]),
        "proba": np.array([[float(r["p0"]), float(r["p1"]), float(r["p2"])] for r in rows]).reshape(-1, 3),
        "fold": np.array([r.get("fold", "") for r in rows]),
    }
    folds = ((read_result(out, spec) or {}).get("decision") or {}).get("folds")
    if folds:
        _apply_decisions(pred, folds)
    return pred


def _apply_decisions(pred: dict[str, np.ndarray], folds: list[dict[str, Any]]) -> None:
    """Set ``pred_class`` from the folds' recorded decisions (fold names in order: A, B, ...)."""
    from landslide_app.model.decision import Decision

    names = sorted(set(pred["fold"].tolist()))
    if len(names) != len(folds) or "" in names:
        log.warning(
            "predictions name folds %s but the result records %d decisions: map classes as stored", names, len(folds)
        )
        return
    for name, rec in zip(names, folds):
        rows = pred["fold"] == name
        if rows.any():
            pred["pred_class"][rows] = Decision.from_dict(rec).apply(pred["proba"][rows])


def save_npy(path: Path, arr: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        np.save(tmp, arr)


@contextlib.contextmanager
def embedding_writer(d: Path, ids: np.ndarray, size: int) -> Iterator[Callable[[np.ndarray, np.ndarray], None]]:
    """A sink ``(chip ids, embeddings)`` writing straight to a float16 memory-mapped
    ``embeddings.npy`` (renamed into place when complete: nothing accumulates in memory)."""
    ids = np.asarray(ids)
    with atomic_path(Path(d) / EMBEDDINGS_FILE) as tmp:
        held = {"emb": np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(len(ids), size, size))}

        def sink(bid: np.ndarray, e: np.ndarray) -> None:
            held["emb"][np.searchsorted(ids, bid)] = e

        yield sink
        held["emb"].flush()
        held.clear()  # closes the memory map before the file is renamed into place
    save_npy(Path(d) / EMBEDDING_IDS_FILE, ids)


def read_embeddings(out: Path, spec: RunSpec, mmap: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(chip_ids, embeddings (n, S, S) float16)`` of a finished configuration (memory-mapped)."""
    d = run_dir(out, spec.computes_as)
    ids = np.load(d / EMBEDDING_IDS_FILE)
    emb = np.load(d / EMBEDDINGS_FILE, mmap_mode="r" if mmap else None)
    return ids, emb


def write_features(d: Path, ids: np.ndarray, features: np.ndarray) -> None:
    """The forest's input features of the held-out chips (float32, rows like ``ids``)."""
    save_npy(Path(d) / FEATURES_FILE, np.asarray(features, np.float32))
    save_npy(Path(d) / FEATURE_IDS_FILE, np.asarray(ids, np.int64))


def read_features(out: Path, spec: RunSpec) -> tuple[np.ndarray, np.ndarray] | None:
    """``(chip_ids, features (n, 19))`` of a finished configuration, or None when not stored
    (runs computed before the features were saved)."""
    d = run_dir(out, spec.computes_as)
    try:
        return np.load(d / FEATURE_IDS_FILE), np.load(d / FEATURES_FILE)
    except FileNotFoundError:
        return None


def write_results(out: Path, results: dict[str, Any]) -> None:
    write_json_atomic(Path(out) / RESULTS_FILE, results)
