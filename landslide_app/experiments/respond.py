"""Rapid response: a density map for a new event with a trained model and no inventory.

``landslide-app respond`` runs, into one folder ``DIR``:

1. **acquisitions**: the source (Planetary Computer, a STAC API or catalog) searched around the event
   date with the same :class:`~landslide_app.sources.selection.AcquisitionRequest` as ``chips``;
   a model that needs more post-event passes than exist is refused here, before any download;
2. **chips**: the unlabelled chip store ``DIR/chips`` (:func:`~landslide_app.chips.build.build_chips`
   without an inventory, the model's chip size and density thresholds); resumable chip row by row;
3. **predict**: :func:`~landslide_app.experiments.prediction.predict_run` into ``DIR`` (``density.tif``,
   ``chips.gpkg``, ``map.png``, ``summary.json``); skipped on a rerun when ``summary.json`` already
   comes from this model, this store and this normalisation;
4. **workspace**: ``DIR/workspace.json`` (area, event, sources, stores, runs, predictions) for the
   dashboard (``landslide-app app --data DIR``), and ``DIR/respond.json`` with the stage timings.

An interrupted run is resumed by rerunning the same command: finished chips and a finished
prediction are kept. Nothing here re-implements ``chips`` or ``predict``: both stages call the
functions behind those commands.
"""

from __future__ import annotations

import contextlib
import json
import logging
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from landslide_app import __version__
from landslide_app.atomic import check_output_dir, write_json_atomic
from landslide_app.core.vocabulary import DEFAULT_NORMALISE
from landslide_app.errors import ConfigError
from landslide_app.experiments.prediction import predict_run
from landslide_app.experiments.prediction_summary import SUMMARY_FILE
from landslide_app.experiments.run_bundle import LoadedRun, load_run
from landslide_app.experiments.workspace import WORKSPACE_FILE, Workspace

log = logging.getLogger(__name__)

RESPOND_FILE = "respond.json"
CHIPS_DIR = "chips"
STAGES: tuple[str, ...] = ("model", "acquisitions", "chips", "predict", "workspace")


@dataclass
class RespondResult:
    """What a respond run produced and how long each stage took."""

    out: Path
    store: Path
    summary: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)
    n_chips: int = 0
    resumed: list[str] = field(default_factory=list)
    #: CPU seconds of this process (all its threads) per stage; beside ``seconds`` on a shared machine
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return round(sum(self.seconds.values()), 3)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _post_days(source: Any) -> list[str]:
    return [str(d) for d, _ in source.sar_days[source.n_pre :]]


def check_post_passes(source: Any, revisits: int, model_name: str) -> None:
    """Refuse, in one line, a SAR model that needs more post-event passes than the source has."""
    post = _post_days(source)
    if len(post) < revisits:
        have = f"{len(post)} post-event acquisition{'s' if len(post) != 1 else ''}" + (
            f" ({', '.join(post)})" if post else ""
        )
        use = f"use a model trained with --revisits {len(post)}" if post else "use a DEM-only model (--inputs dem)"
        raise ConfigError(
            f"the source has {have} but the model {model_name} needs {revisits}: {use}, or rerun after the next pass"
        )


def respond(
    open_source: Callable[[], Any],
    model: str | Path,
    out: str | Path,
    *,
    bbox: Sequence[float] | None = None,
    normalise: str = DEFAULT_NORMALISE,
    device: str | None = None,
    progress: bool = True,
    source_label: str | None = None,
    overwrite: bool = False,
) -> RespondResult:
    """Acquisitions -> unlabelled chip store -> density map, into ``out`` (see module docstring).

    Args:
        open_source: returns the :class:`~landslide_app.sources.stac.SceneSource` (the CLI passes the
            same function as ``chips``: ``--source`` with the acquisition options).
        model: a run directory (``train``, or one ablation fold); loaded once, before any download,
            and used by the predict stage.
        bbox: area in lon/lat; default: the whole source.
        source_label: how ``workspace.json`` names the source (default: the source's description).
        overwrite: rebuild ``out/chips`` when it was built from other acquisitions or another area
            (e.g. a rerun after a new post-event pass); without it such a store is refused.
    """
    started = datetime.now(timezone.utc)
    out = check_output_dir(out, "respond folder", create=True)
    res = RespondResult(out, out / CHIPS_DIR, {})
    with _stage(res, "model"):
        run = load_run(model, device)  # a broken model fails before any download
    with _stage(res, "acquisitions"):
        source = _acquisitions(open_source, run)
    with _stage(res, "chips"):
        report = _build_store(source, run, out, bbox, progress, overwrite)
        if report.n_skipped:
            res.resumed.append("chips")
        res.store = report.store.path
    with _stage(res, "predict"):
        res.summary = _predict(run, report.store, out, normalise, progress, res.resumed)
    with _stage(res, "workspace"):
        log.info("respond 4/4 workspace: %s", out / WORKSPACE_FILE)
        label = str(source_label or getattr(source, "description", ""))
        write_workspace(out, res.store, Path(model), res.summary, label, bbox)
    res.n_chips = int(res.summary.get("n_chips", 0))
    _write_respond_json(res, report.n_built, normalise, Path(model), started)
    return res


@contextlib.contextmanager
def _stage(res: RespondResult, name: str) -> Iterator[None]:
    """Time one stage into ``res.seconds[name]`` (wall) and ``res.cpu_seconds[name]`` (this process's CPU)."""
    t, c = time.perf_counter(), time.process_time()
    yield
    res.seconds[name] = round(time.perf_counter() - t, 3)
    res.cpu_seconds[name] = round(time.process_time() - c, 3)


def _acquisitions(open_source: Callable[[], Any], run: LoadedRun) -> Any:
    """Stage 1: the source, refused when the model needs more post-event passes than it has."""
    log.info("respond 1/4 acquisitions: searching the source")
    source = open_source()
    if run.config.uses_sar:
        check_post_passes(source, run.config.revisits, run.name)
    else:
        source = source.without_sar()  # a DEM-only model reads no SAR: do not fetch any
    log.info("respond 1/4 acquisitions: %s", ", ".join(_post_days(source)) or "DEM only")
    return source


def _build_store(
    source: Any, run: LoadedRun, out: Path, bbox: Sequence[float] | None, progress: bool, overwrite: bool
) -> Any:
    """Stage 2: the unlabelled store ``out/chips`` with the model's chip size and density thresholds."""
    from landslide_app.chips.build import ChipBuildSettings, build_chips, grid_for_area

    log.info("respond 2/4 chips: building the unlabelled store %s", out / CHIPS_DIR)
    chip_size = int(run.meta.get("chip_size") or 128)
    thresholds = tuple(run.meta.get("density_thresholds") or (0.0, 25.0))
    settings = ChipBuildSettings(chip_size=chip_size, density_thresholds=thresholds)
    grid = grid_for_area(source, chip_size, bbox)
    return build_chips(
        source, None, out / CHIPS_DIR, grid=grid, settings=settings, progress=progress, overwrite=overwrite
    )


def _predict(
    run: LoadedRun, store: Any, out: Path, normalise: str, progress: bool, resumed: list[str]
) -> dict[str, Any]:
    """Stage 3: :func:`predict_run` with the loaded run, unless ``out`` already holds this prediction
    (then kept, and ``"predict"`` added to ``resumed``)."""
    summary = _finished_prediction(out, run.meta.get("fingerprint"), store.meta.fingerprint, normalise)
    if summary is not None:
        log.info("respond 3/4 predict: %s already holds this prediction; kept", out)
        resumed.append("predict")
        return summary
    log.info("respond 3/4 predict: %s chips with %s", store.meta.n_chips, run.name)
    return predict_run(run, store.path, out, progress=progress, normalise=normalise)


def _write_respond_json(res: RespondResult, n_built: int, normalise: str, model: Path, started: datetime) -> None:
    write_json_atomic(
        res.out / RESPOND_FILE,
        {
            "seconds": res.seconds,
            "cpu_seconds": res.cpu_seconds,
            "total_seconds": res.total_seconds,
            "n_chips": res.n_chips,
            "chips_built": n_built,
            "resumed": res.resumed,
            "peak_rss_mb": round(_peak_rss_mb(), 1),
            "normalise": normalise,
            "model": str(model.resolve()),
            "code_version": __version__,
            "started": started.isoformat(timespec="milliseconds"),
            "finished": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        },
    )


def _finished_prediction(out: Path, model_fp: Any, data_fp: Any, normalise: str) -> dict[str, Any] | None:
    """The summary of a finished prediction of this model on this store, if ``out`` holds one."""
    f = out / SUMMARY_FILE
    if not f.exists() or not all((out / n).exists() for n in ("density.tif", "chips.gpkg", "map.png")):
        return None
    try:
        s = json.loads(f.read_text())
    except (OSError, ValueError):
        return None
    same = (
        isinstance(s, dict)
        and s.get("model_fingerprint") == model_fp
        and s.get("data_fingerprint") == data_fp
        and s.get("normalise") == normalise
    )
    return s if same else None


def write_workspace(
    out: Path, store: Path, model: Path, summary: dict[str, Any], source: str, bbox: Sequence[float] | None
) -> Path:
    """``out/workspace.json`` (format and reading: :mod:`landslide_app.experiments.workspace`): the area,
    the event, the source, and this store, model and prediction added to what the folder already lists."""
    data = summary.get("data") or {}
    ws = Workspace.load(out, discover_artifacts=False)
    ws.set_area(
        list(bbox) if bbox is not None else data.get("bbox_lonlat"),
        data.get("event_date"),
        source,
        dates=data.get("dates"),
        acquisitions=data.get("acquisitions"),
    )
    if data.get("crs"):
        ws.area["crs"] = data["crs"]
    ws.add_store(store)
    ws.add_run(model)
    ws.add_prediction(out, store=ws.stores[-1]["path"])
    return ws.save()
