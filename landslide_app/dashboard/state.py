"""What the dashboard shows and does, free of widgets.

:class:`DashboardState` opens the demo artifacts of a data directory (chip store, ablation
outputs), answers "what does the map show for this configuration" (:class:`MapView`, built by
:class:`~landslide_app.dashboard.map_views.MapViews`: cached per configuration and result in the
process, its costly parts on disk for every session's kernel), runs a configuration
(:meth:`DashboardState.run`, the same ``run_one`` as the CLI's ``ablate``), gathers the Table 2
cells and the baselines, and reads one chip for the inspector.
It never imports ipywidgets: the widget layer in :mod:`landslide_app.dashboard.app` only calls it.

A configuration counts as *computed* when ``ABLATION/runs/<key>/result.json`` exists and its
predictions cover the chips of the store (whatever epoch count it was trained with; running it
again with other settings replaces it, as ``landslide-app ablate`` does).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from landslide_app.chips.store import ChipStore
from landslide_app.core.density import check_thresholds, class_names
from landslide_app.core.vocabulary import INPUTS, REVISITS
from landslide_app.dashboard.map_views import MapViews
from landslide_app.dashboard.style import BASELINE_ORDER, fmt_auc
from landslide_app.dashboard.viewcache import shared_cache
from landslide_app.dashboard.views import ChipInspection, MapView
from landslide_app.demo import DEFAULT_INPUTS, DEFAULT_REVISITS
from landslide_app.errors import ConfigError, InputError
from landslide_app.experiments import artifacts
from landslide_app.experiments.ablation import DEFAULT_EPOCHS, AblationSettings, chip_classes
from landslide_app.experiments.artifacts import RunSpec, read_embeddings
from landslide_app.experiments.records import RunRecord
from landslide_app.experiments.workspace_layout import WorkspaceLayout
from landslide_app.model.crossval import FoldEvent

__all__ = ["ChipInspection", "DashboardState", "MapView", "Selection", "StepHook"]

log = logging.getLogger(__name__)

#: Called by :meth:`DashboardState.run` with (fraction done in [0, 1], status text).
StepHook = Callable[[float, str], None]


@dataclass(frozen=True)
class Selection:
    """The configuration chosen in the controls (``thresholds`` None: the chip store's classes)."""

    inputs: str = DEFAULT_INPUTS
    revisits: int = DEFAULT_REVISITS
    thresholds: tuple[float, float] | None = None
    split: str = "random"

    @property
    def spec(self) -> RunSpec:
        return RunSpec(self.inputs, int(self.revisits), self.split, self.thresholds)


class DashboardState:
    """The dashboard's model: artifacts of one data directory, cached views, runs.

    Args:
        data_dir: a directory prepared by ``landslide-app demo`` (``scene/``, ``chips/``,
            ``ablation/``).
        epochs: default training epochs of a run.
        seed: split and training seed (as ``landslide-app ablate --seed``).
        train_kwargs: extra arguments of the network training (e.g. ``{"width": 8}``).
    """

    def __init__(
        self,
        data_dir: str | Path,
        epochs: int = DEFAULT_EPOCHS,
        seed: int = 0,
        train_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.paths = WorkspaceLayout(Path(data_dir).resolve())
        if not (self.paths.chips / "store.json").exists():
            raise InputError(
                f"no chip store under {self.paths.root}: run `landslide-app demo --data {self.paths.root}` first"
            )
        self.store = ChipStore.open(self.paths.chips)
        self.index = self.store.index
        self.grid = self.store.grid
        self.ids = self.store.ids
        self.epochs = int(epochs)
        self.seed = int(seed)
        self.train_kwargs = dict(train_kwargs or {})
        self.has_sar = bool(self.store.meta.has_sar)
        thr = self.store.meta.density_thresholds
        self.store_thresholds: tuple[float, float] = tuple(float(t) for t in thr) if thr else (0.0, 25.0)  # type: ignore[assignment]
        self.view_cache = shared_cache(self.paths.root)
        self.maps = MapViews(
            self.paths.ablation,
            self.store,
            self.view_cache,
            self.result,
            self.true_classes,
            lambda thr, split, k: self.baselines(thr, split, k),
            lambda thr: class_names(self.effective_thresholds(thr)),
        )
        self._emb_index: dict[str, dict[int, int]] = {}
        self._run_lock = threading.Lock()

    # ---- selections ---------------------------------------------------------------------
    def thresholds_for(self, t0: float, t1: float) -> tuple[float, float] | None:
        """Validated thresholds; ``None`` when they equal the store's (the default runs' key)."""
        t = check_thresholds((t0, t1))
        return None if np.allclose(t, self.store_thresholds) else t

    def effective_thresholds(self, thresholds: tuple[float, float] | None) -> tuple[float, float]:
        return self.store_thresholds if thresholds is None else thresholds

    def selection(
        self, inputs: str, revisits: int, t0: float | None = None, t1: float | None = None, split: str = "random"
    ) -> Selection:
        if inputs not in INPUTS:
            raise ConfigError(f"unknown inputs {inputs!r}: use dem, sar or fused")
        if int(revisits) not in REVISITS:
            raise ConfigError(f"revisits {revisits} is impossible: use 1, 2 or 3 post-event dates")
        thr = None if t0 is None or t1 is None else self.thresholds_for(t0, t1)
        return Selection(inputs, int(revisits), thr, split)

    def true_classes(self, thresholds: tuple[float, float] | None) -> np.ndarray:
        return chip_classes(self.store, thresholds)

    # ---- results ------------------------------------------------------------------------
    def result(self, spec: RunSpec) -> RunRecord | None:
        """The stored result of ``spec`` (DEM-only results are shared by every revisit count)."""
        d = artifacts.read_result(self.paths.ablation, spec)
        try:
            res = None if d is None else RunRecord.from_dict(d)
        except InputError:
            log.warning("ignoring the damaged result of %s", spec.computes_as.key)
            return None
        if res is None:
            return None
        if res.n_chips != len(self.ids):
            log.warning(
                "%s was computed on another chip store (%s chips, this one %d); ignoring it",
                spec.computes_as.key,
                res.n_chips,
                len(self.ids),
            )
            return None
        return res

    def is_computed(self, spec: RunSpec) -> bool:
        return self.result(spec) is not None

    def table(
        self, thresholds: tuple[float, float] | None = None, split: str = "random"
    ) -> dict[tuple[str, int], RunRecord]:
        """Computed Table 2 cells: ``(inputs, revisits) -> result``."""
        cells = {}
        for i in INPUTS:
            for k in REVISITS:
                r = self.result(RunSpec(i, k, split, thresholds))
                if r is not None:
                    cells[(i, k)] = r
        return cells

    def seed_summaries(
        self, thresholds: tuple[float, float] | None = None, split: str = "random"
    ) -> tuple[dict[tuple[str, int], dict[str, Any]], dict[tuple[str, int | None], dict[str, Any]]]:
        """Means over seeds of a multi-seed ``ablate --seeds N`` on this store (``results.json``
        ``summary``, read once): the CNN cells ``(inputs, revisits) -> row`` and the baselines
        ``(name, revisits) -> row`` (revisits ``None`` for the slope model); both empty for one seed,
        custom thresholds or another store."""
        from landslide_app.experiments.report_stats import summary_baselines, summary_cells

        res = artifacts.read_json(self.paths.ablation / artifacts.RESULTS_FILE, "results")
        if thresholds is not None or res is None or res.get("store_fingerprint") != self.store.meta.fingerprint:
            return {}, {}
        return summary_cells(res, split), summary_baselines(res, split)

    def baselines(
        self, thresholds: tuple[float, float] | None = None, split: str = "random", revisits: int | None = None
    ) -> list[RunRecord]:
        """Cached baseline results (computed at the store's thresholds only), as ``ablate`` and a
        dashboard run write them (``ablation/baselines/NAME-rK-SPLIT.json``): the slope model,
        then the change ratio and the SAR chip statistics for each revisit count (only ``revisits`` when
        given)."""
        if thresholds is not None:
            return []
        out = []
        for name in BASELINE_ORDER:
            for f in artifacts.baseline_files(self.paths.ablation, name, split):
                d = artifacts.read_json(f, "baseline")
                if d is None:
                    continue
                res = RunRecord.from_dict(d)
                if name == "slope":
                    res.revisits = None  # a DEM model: no revisit count
                elif revisits is not None and res.revisits != revisits:
                    continue
                out.append(res)
        return out

    # ---- map views ----------------------------------------------------------------------
    def chips_true(self, thresholds: tuple[float, float] | None) -> dict[str, Any]:
        """The chips coloured by their true class (GeoJSON, cached)."""
        return self.maps.chips_true(thresholds)

    def view(self, spec: RunSpec, plots: bool = True) -> MapView:
        """What the map shows for ``spec`` (built once per configuration and result, then cached
        in this process; its costly parts in the workspace's shared cache, see :mod:`.map_views`)."""
        return self.maps.view(spec, plots)

    def warm(self, specs: list[RunSpec] | None = None) -> int:
        """Build the views of every computed configuration (run in the background at start)."""
        n = 0
        for spec in specs if specs is not None else self.computed_specs():
            try:
                self.view(spec)
                n += 1
            except Exception as exc:  # noqa: BLE001 - a warm-up failure only costs time later
                log.warning("could not prepare %s: %s", spec.key, exc)
        return n

    def computed_specs(self, thresholds: tuple[float, float] | None = None, split: str = "random") -> list[RunSpec]:
        return [RunSpec(i, k, split, thresholds) for (i, k) in self.table(thresholds, split)]

    # ---- runs ---------------------------------------------------------------------------
    def settings(self, spec: RunSpec, epochs: int | None = None) -> AblationSettings:
        return AblationSettings(
            inputs=[spec.inputs],
            revisits=[spec.revisits],
            splits=[spec.split],
            epochs=int(epochs or self.epochs),
            seed=self.seed,
            thresholds=spec.thresholds,
            train_kwargs=self.train_kwargs,
        )

    def run(
        self, spec: RunSpec, epochs: int | None = None, on_step: StepHook | None = None, baselines: bool = True
    ) -> dict[str, Any]:
        """Compute ``spec`` (or load it when already computed with these settings), then the
        baselines (store thresholds only), and prepare its map view. Blocking: the dashboard
        calls it from a background thread. Only one run at a time."""
        from landslide_app.experiments.ablation import run_baselines, run_one

        if spec.inputs != "dem" and not self.has_sar:
            raise ConfigError(f"{spec.key} needs SAR but this chip store is DEM-only: choose DEM only")
        settings = self.settings(spec, epochs)
        if not self._run_lock.acquire(blocking=False):
            raise InputError("another run is in progress; wait for it to finish")
        try:
            step = on_step or (lambda f, s: None)
            label = spec.computes_as.key  # DEM only: one run serves every revisit count
            step(0.02, f"{label}: starting ({settings.epochs} epochs)")

            def on_fold(e: FoldEvent) -> None:  # the folds make 5 % .. 90 % of the bar
                step(0.05 + 0.85 * e.fraction, f"{label}: {e.describe()}")

            res = run_one(self.store, spec, self.paths.ablation, settings, progress=False, on_fold=on_fold)
            if baselines and spec.thresholds is None:
                step(0.93, "baselines")
                try:
                    run_baselines(
                        self.store, self.paths.ablation, AblationSettings(splits=[spec.split], seed=self.seed)
                    )
                except Exception as exc:  # noqa: BLE001 - baselines are a comparison, not the result
                    log.warning("baselines failed: %s", exc)
            step(0.96, f"{label}: drawing the map")
            self.view(spec)
            step(1.0, f"{label}: done, held-out AUC {fmt_auc(res['auc'].get('test'))}")
            return res
        finally:
            self._run_lock.release()

    # ---- inspector ----------------------------------------------------------------------
    def inspect(self, chip_id: int, spec: RunSpec) -> ChipInspection:
        """Layers, heads, embedding, percentile vector and prediction of one chip."""
        chip_id = int(chip_id)
        rows = self.index.index[self.index["chip_id"] == chip_id]
        if len(rows) == 0:
            raise InputError(f"chip {chip_id} is not in the chip store")
        rec = self.index.loc[rows[0]]
        chip = self.store.read(chip_id)
        ch = self.store.channel
        last = 2 + spec.revisits  # t3 .. t5: the last post-event date this configuration uses
        layers = {"elevation": chip[ch("elevation")], "slope": chip[ch("slope")]}
        for pol in ("vv", "vh"):
            for t in sorted({2, 3, last}):
                name = f"{pol}_t{t}"
                if name in self.store.channels:
                    layers[name] = chip[ch(name)]
        label = chip[ch("label")] if "label" in self.store.channels else np.zeros(chip.shape[1:], np.float32)
        heads_rc = np.argwhere(np.nan_to_num(label) > 0)
        t_cls = int(self.true_classes(spec.thresholds)[int(np.flatnonzero(self.ids == chip_id)[0])])
        insp = ChipInspection(
            chip_id,
            int(rec["row"]),
            int(rec["col"]),
            spec.key,
            int(rec["head_count"]),
            float(rec["head_count"]) / self.grid.chip_area_km2,
            t_cls,
            layers,
            heads_rc,
            class_labels=class_names(self.effective_thresholds(spec.thresholds)),
        )
        v = self.view(spec, plots=False)
        if v.computed and v.predictions is not None:
            k = int(np.flatnonzero(v.predictions["chip_id"] == chip_id)[0])
            insp.pred_class = int(v.predictions["pred_class"][k])
            insp.proba = np.asarray(v.predictions["proba"][k], float)
            try:
                eids, emb = read_embeddings(self.paths.ablation, spec)
                pos = self._emb_index.get(spec.computes_as.key)
                if pos is None or len(pos) != len(eids):
                    pos = self._emb_index[spec.computes_as.key] = {int(c): j for j, c in enumerate(eids)}
                if chip_id in pos:
                    insp.embedding = np.asarray(emb[pos[chip_id]], np.float32)
            except (OSError, ValueError) as exc:
                log.warning("no embedding for chip %d: %s", chip_id, exc)
            insp.percentiles = self._forest_input(spec, chip_id)
        return insp

    def _forest_input(self, spec: RunSpec, chip_id: int) -> np.ndarray | None:
        """The 19 features the forest scored this chip with, as stored by the run (None for runs
        computed before they were stored: recomputing them from the float16 embeddings would differ)."""
        stored = artifacts.read_features(self.paths.ablation, spec)
        if stored is None:
            return None
        fids, feats = stored
        k = np.flatnonzero(fids == chip_id)
        return np.asarray(feats[k[0]], np.float32) if len(k) else None

    # ---- provenance ---------------------------------------------------------------------
    def provenance(self, spec: RunSpec) -> dict[str, Any]:
        from landslide_app import __version__

        res = self.result(spec)
        return {
            "config": spec.key,
            "model_fingerprint": res.fingerprint if res else None,
            "data_fingerprint": self.store.meta.fingerprint,
            "epochs": res.epochs if res else None,
            "seed": res.seed if res else None,
            "thresholds": list(self.effective_thresholds(spec.thresholds)),
            "code_version": __version__,
            "software": "landslide_app dashboard",
        }
