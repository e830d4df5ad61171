"""The ``landslide-app`` command line.

Each sub-command is a thin layer over a backend function. Errors the user can fix
(:class:`~landslide_app.errors.LandslideAppError`) print one clear message and exit non-zero
without a traceback (``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from landslide_app import __version__, cli_rules
from landslide_app.config import CHIP_SIZE, DEFAULT_DENSITY_THRESHOLDS, DEFAULT_MIN_LAND_FRACTION
from landslide_app.core.vocabulary import DEFAULT_DEM_COLLECTION, DEM_COLLECTIONS, INPUTS, PRECISIONS, REVISITS, SPLITS
from landslide_app.errors import ConfigError, LandslideAppError, OutputError

log = logging.getLogger("landslide_app")
Handler = Callable[[argparse.Namespace], int]


def _out(text: str) -> None:
    """The CLI's output layer (stdout): results, not logs."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


# ---- sub-commands ----------------------------------------------------------------------
def cmd_scene(a: argparse.Namespace) -> int:
    from landslide_app.scene import generate_scene

    summary = generate_scene(a.out, size=a.size, seed=a.seed, progress=not a.quiet)
    _out(
        f"scene written to {summary.out_dir}: {summary.n_cols} x {summary.n_rows} chips, "
        f"{summary.n_heads} landslide heads, {summary.mean_density_per_km2:.1f} /km² on land, "
        f"{summary.seconds:.1f} s"
    )
    return 0


def cmd_terrain(a: argparse.Namespace) -> int:
    from landslide_app.terrain import write_terrain

    out = write_terrain(a.dem, a.out)
    _out(f"terrain written to {out} (bands: elevation, slope_deg, curvature, aspect_deg)")
    return 0


def _source_from_args(a: argparse.Namespace):
    """The scene source of ``--source`` with the acquisition options (:func:`_add_source_options`)."""
    from landslide_app.sources.resolve import open_source
    from landslide_app.sources.selection import AcquisitionRequest
    from landslide_app.sources.stac import dem_only_source

    if a.source is None:
        if not (a.dem_only and a.dem):
            raise ConfigError("give --source CATALOG|STAC-API-URL|planetary-computer, or --dem-only --dem DEM.tif")
        return dem_only_source(a.dem)
    dem_only = getattr(a, "dem_only", False)
    request = AcquisitionRequest(
        a.event_date, a.orbit, a.orbit_state, 0 if dem_only else a.pre, 0 if dem_only else a.post
    )
    src = open_source(
        a.source,
        tuple(a.bbox) if a.bbox is not None else None,
        request,
        sign=a.sign,
        dem_collection=getattr(a, "dem_collection", DEFAULT_DEM_COLLECTION),
    )
    if getattr(a, "dem", None):
        src = src.with_dem_file(a.dem)
    return src.without_sar() if dem_only else src


def _add_source_options(s: argparse.ArgumentParser, event_required: bool = False) -> None:
    """Event and acquisition choice, for every command that reads a source (issue 11).

    ``event_required``: no default event (``respond``: a new disaster has no sensible default; ``chips``
    defaults to Hurricane María, paper Table 1)."""
    from landslide_app.sources.selection import parse_event_date, parse_orbit

    def state(text: str) -> str:
        if text not in ("ascending", "descending", "auto"):
            raise argparse.ArgumentTypeError(f"{text!r}: use ascending, descending or auto")
        return text

    def count(lo: int) -> Callable[[str], int]:
        def parse(text: str) -> int:
            try:
                v = int(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
            if not lo <= v <= 3:
                raise argparse.ArgumentTypeError(f"{v}: give {lo} to 3")
            return v

        return parse

    def event(text: str):
        try:
            return parse_event_date(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    def orbit(text: str):
        try:
            return parse_orbit(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    if event_required:
        s.add_argument(
            "--event-date",
            type=event,
            required=True,
            metavar="YYYY-MM-DD",
            help="event day: acquisitions before it are pre-event, after it post-event",
        )
    else:
        s.add_argument(
            "--event-date",
            type=event,
            default=parse_event_date("2017-09-20"),
            metavar="YYYY-MM-DD",
            help="event day: acquisitions before it are pre-event, after it post-event (default 2017-09-20)",
        )
    s.add_argument(
        "--orbit",
        type=orbit,
        default=135,
        metavar="N|auto",
        help="Sentinel-1 relative orbit, or auto: the orbit covering the area with the earliest "
        "post-event pass (default 135, paper Table 1)",
    )
    s.add_argument(
        "--orbit-state",
        type=state,
        default="auto",
        metavar="ascending|descending|auto",
        help="orbit direction (default auto: any; a relative orbit number fixes it, 135 is ascending)",
    )
    s.add_argument("--pre", type=count(1), default=3, metavar="K", help="pre-event acquisitions, 1-3 (default 3)")
    s.add_argument(
        "--post",
        type=count(1),
        default=None,
        metavar="K",
        help="post-event acquisitions, 1-3 (default: as many as exist, up to 3)",
    )
    s.add_argument(
        "--sign",
        choices=["planetary-computer", "none"],
        default=None,
        help="sign asset hrefs of a STAC API (default: planetary-computer for Planetary Computer, else none)",
    )


def _add_normalise_option(s: argparse.ArgumentParser) -> None:
    from landslide_app.core.vocabulary import DEFAULT_NORMALISE, NORMALISE_MODES

    s.add_argument(
        "--normalise",
        choices=NORMALISE_MODES,
        default=DEFAULT_NORMALISE,
        help="input standardisation: the training chips' statistics, or this store's own "
        f"(scene) (default {DEFAULT_NORMALISE}, the better one on the transfer benchmark)",
    )


def cmd_chips(a: argparse.Namespace) -> int:
    from landslide_app.chips.build import ChipBuildSettings, build_chips, grid_for_area

    settings = ChipBuildSettings(
        chip_size=a.chip_size, density_thresholds=tuple(a.thresholds), min_land_fraction=a.min_land
    )
    source = _source_from_args(a)
    grid = grid_for_area(source, a.chip_size, a.bbox, a.epsg)
    kwargs = dict(
        grid=grid,
        settings=settings,
        overwrite=a.overwrite,
        progress=not a.quiet,
        lon_col=a.lon_col,
        lat_col=a.lat_col,
        layer=a.layer,
        inventory_crs=a.crs,
    )
    if a.scheduler:
        from landslide_app.chips.distributed import build_chips_distributed

        report = build_chips_distributed(source, a.inventory, a.out, scheduler=a.scheduler, **kwargs)
    else:
        report = build_chips(source, a.inventory, a.out, **kwargs)
    info = report.store.info()
    labels = (
        f"classes {info['class_counts']}, {info['n_heads']} heads"
        if info["labelled"]
        else "unlabelled (no --inventory)"
    )
    _out(
        f"chip store {a.out}: {info['n_chips']} chips ({report.n_built} built, {report.n_skipped} "
        f"already done, {report.n_dropped} dropped as sea/no data), {labels}, "
        f"{info['n_post']} post-event SAR date(s), {report.seconds:.1f} s"
    )
    return 0


def cmd_info(a: argparse.Namespace) -> int:
    from landslide_app.chips.store import ChipStore

    info = ChipStore.open(a.store).info()
    if a.json:
        _out(json.dumps(info, indent=2))
    else:
        for k in (
            "path",
            "n_chips",
            "chip_size",
            "crs",
            "labelled",
            "class_counts",
            "n_heads",
            "has_sar",
            "event_date",
            "relative_orbit",
            "orbit_state",
            "n_post",
        ):
            if k in info:
                _out(f"{k:>14}: {info[k]}")
        for acq in info["acquisitions"]:
            slot = f"{acq['role']} t{acq['slot']}"
            _out(f"{slot:>14}: {acq['datetime'] or acq['date']} {acq['platform'] or ''}")
        _out(f"{'channels':>14}: {', '.join(info['channels'])}")
    return 0


def cmd_check(a: argparse.Namespace) -> int:
    from landslide_app.chips.store import ChipStore

    store = ChipStore.open(a.store, verify=False)
    check = store.verify(full=True)
    if a.json:
        _out(json.dumps(check.to_dict(), indent=2))
    elif check.ok:
        what = "size and CRC-32 of every chunk" if check.checksums else "metadata only (no checksums recorded)"
        _out(f"{a.store}: {check.n_checked} chips OK ({what} checked, {check.seconds:.1f} s)")
    if not check.ok:
        sys.stderr.write(f"error: {check.message()}\n")
        return 2
    return 0


def cmd_ablate(a: argparse.Namespace) -> int:
    from landslide_app.experiments.ablation import AblationSettings, run_ablation
    from landslide_app.experiments.report import table_markdown

    settings = AblationSettings(
        inputs=a.inputs,
        revisits=a.revisits,
        splits=a.split,
        epochs=a.epochs,
        seed=a.seed,
        device=a.device,
        precision=a.precision,
        baselines=not a.no_baselines,
        block_km=a.block_km,
        seeds=a.seeds,
        decision=a.decision,
    )
    if a.scheduler:
        from landslide_app.experiments.ablation_dask import run_ablation_distributed

        results = run_ablation_distributed(a.chips, a.out, settings, scheduler=a.scheduler, progress=not a.quiet)
    else:
        results = run_ablation(a.chips, a.out, settings, progress=not a.quiet)
    for split in a.split:
        _out(table_markdown(results, split))
    _out(f"results: {Path(a.out) / 'results.json'}, table: {Path(a.out) / 'table.md'} ({results['seconds']:.0f} s)")
    return 0


def cmd_train(a: argparse.Namespace) -> int:
    from landslide_app.experiments.production import train_run
    from landslide_app.model.inputs import ModelConfig

    meta = train_run(
        a.chips,
        ModelConfig(a.inputs, a.revisits),
        a.out,
        epochs=a.epochs,
        seed=a.seed,
        device=a.device,
        precision=a.precision,
        progress=not a.quiet,
        decision=a.decision,
    )
    auc = "n/a" if meta["auc_val"] is None else f"{meta['auc_val']:.3f}"
    _out(
        f"trained {meta['name']} on {meta['n_train']} chips (epoch {meta['best_epoch']} selected on "
        f"{meta['n_val']} validation chips, AUC {auc}) -> {a.out}"
    )
    return 0


def cmd_predict(a: argparse.Namespace) -> int:
    from landslide_app.experiments.production import predict_run

    if a.scheduler:
        from landslide_app.experiments.distributed import predict_run_distributed

        s = predict_run_distributed(
            a.model,
            a.chips,
            a.out,
            scheduler=a.scheduler,
            device=a.device,
            progress=not a.quiet,
            normalise=a.normalise,
            decision=a.decision,
        )
    else:
        s = predict_run(
            a.model, a.chips, a.out, device=a.device, progress=not a.quiet, normalise=a.normalise, decision=a.decision
        )
    _out(_prediction_line(s, Path(a.out)))
    return 0


def _prediction_line(s: dict, out: Path) -> str:
    auc = s.get("auc_out_of_area", s.get("auc_vs_store_labels"))
    kind = " (in-sample)" if s.get("in_sample") else ""
    scored = "" if auc is None else f", AUC {auc:.3f} against the store's labels{kind}"
    shifted = [c["channel"] for c in (s.get("domain_shift") or {}).get("shifted", [])]
    shift = f"; input differs from training in {', '.join(shifted)}" if shifted else ""
    return (
        f"predicted {s['n_chips']} chips with {s['config']}: classes {s['class_counts']}{scored}{shift} -> "
        f"{out / 'map.png'}, {out / 'density.tif'}, {out / 'chips.gpkg'}, {out / 'summary.json'}"
    )


def cmd_respond(a: argparse.Namespace) -> int:
    from landslide_app.experiments.respond import respond

    a.dem_only = False
    r = respond(
        lambda: _source_from_args(a),
        a.model,
        a.out,
        bbox=a.bbox,
        normalise=a.normalise,
        device=a.device,
        progress=not a.quiet,
        source_label=a.source,
        overwrite=a.overwrite,
    )
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in r.seconds.items())
    _out(
        _prediction_line(r.summary, Path(a.out)) + f"\nstages: {stages}; chip store {r.store}; workspace "
        f"{Path(a.out) / 'workspace.json'}" + (f" (resumed: {', '.join(r.resumed)})" if r.resumed else "")
    )
    return 0


def cmd_embed(a: argparse.Namespace) -> int:
    from landslide_app.experiments.production import embed_dem, embed_store

    if (a.chips is None) == (a.dem is None):
        raise ConfigError("give exactly one of --chips STORE or --dem DEM.tif")
    out = (
        embed_store(a.model, a.chips, a.out, device=a.device, progress=not a.quiet)
        if a.chips
        else embed_dem(a.model, a.dem, a.out, device=a.device, progress=not a.quiet)
    )
    _out(f"embedding written to {out}")
    return 0


def cmd_demo(a: argparse.Namespace) -> int:
    from landslide_app.demo import prepare_demo

    paths = prepare_demo(a.data, size=a.size, seed=a.seed, progress=not a.quiet)
    _out(f"demo ready under {paths.root} (scene: {paths.scene}, chips: {paths.chips})")
    return 0


def cmd_app(a: argparse.Namespace) -> int:
    from landslide_app.dashboard.serve import serve

    cli_rules.check_port_free(a.port)
    return serve(a.data, port=a.port, open_browser=not a.no_browser, root=a.root)


# ---- parser ----------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes are :class:`ConfigError` (one message, exit code 2)."""

    def error(self, message: str):
        raise ConfigError(f"{message}\n{self.format_usage().strip()}\n(see `{self.prog} --help`)")


def _non_negative_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"{v} must be 0 or positive")
    return v


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{v} must be positive")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="landslide-app",
        description="Landslide-density maps from Sentinel-1 SAR and elevation (offline demo, chips, model, dashboard).",
    )
    p.add_argument("--version", action="version", version=f"landslide-app {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars, warnings only")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = sub.add_parser("scene", help="generate the offline demo scene (COGs, STAC catalog, inventory)")
    s.add_argument("--out", required=True, type=Path, help="output directory")
    s.add_argument("--size", default="demo", help="demo (default), pr, tiny or COLSxROWS chips, e.g. 12x8")
    s.add_argument("--seed", default=0, type=_non_negative_int, help="random seed (default 0)")
    s.set_defaults(func=cmd_scene)

    s = sub.add_parser("terrain", help="elevation, slope, curvature, aspect of a DEM as a 4-band GeoTIFF")
    s.add_argument("dem", type=Path, help="DEM GeoTIFF")
    s.add_argument("--out", required=True, type=Path, help="output GeoTIFF")
    s.set_defaults(func=cmd_terrain)

    s = sub.add_parser("chips", help="cut 17-channel chips (labelled with --inventory) into a chip store")
    s.add_argument("--source", help="path/URL of a STAC catalog.json, the URL of a STAC API, or 'planetary-computer'")
    s.add_argument(
        "--inventory",
        type=Path,
        help="landslide heads (gpkg, shp, geojson, csv lon/lat); without it the store is unlabelled "
        "(rerun with it later to label the chips without reading the rasters again)",
    )
    s.add_argument("--lon-col", help="longitude column of a CSV inventory (default: lon, longitude, x, ...)")
    s.add_argument("--lat-col", help="latitude column of a CSV inventory (default: lat, latitude, y, ...)")
    s.add_argument("--layer", help="layer of a multi-layer inventory file (default: its only point layer)")
    s.add_argument("--crs", help="CRS of a CSV inventory's coordinates (default EPSG:4326 lon/lat), e.g. EPSG:32619")
    s.add_argument("--out", required=True, type=Path, help="chip store directory (new, empty, or a chip store)")
    s.add_argument("--bbox", nargs=4, type=float, metavar=("W", "S", "E", "N"), help="area in lon/lat degrees")
    s.add_argument("--dem", type=Path, help="DEM GeoTIFF to use instead of the source's DEM")
    s.add_argument("--dem-only", action="store_true", help="no SAR: DEM channels and labels only")
    s.add_argument(
        "--chip-size", type=_positive_int, default=CHIP_SIZE, help=f"chip edge in pixels (default {CHIP_SIZE})"
    )
    s.add_argument(
        "--thresholds",
        nargs=2,
        type=float,
        default=list(DEFAULT_DENSITY_THRESHOLDS),
        metavar=("T0", "T1"),
        help="density class thresholds in heads/km² (default 0 25)",
    )
    s.add_argument(
        "--min-land",
        type=float,
        default=DEFAULT_MIN_LAND_FRACTION,
        help="keep chips with at least this land/data fraction",
    )
    s.add_argument("--epsg", type=int, help="CRS of the chip grid (default: the SAR's, or the DEM's UTM zone)")
    s.add_argument(
        "--dem-collection",
        default=DEFAULT_DEM_COLLECTION,
        choices=DEM_COLLECTIONS,
        help="Planetary Computer DEM collection",
    )
    _add_source_options(s)
    s.add_argument(
        "--overwrite",
        action="store_true",
        help="rebuild a store made from other inputs (only a chip store is ever deleted)",
    )
    s.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="build the chip rows on a Dask cluster: 'local' (one worker per core) or tcp://HOST:8786",
    )
    s.set_defaults(func=cmd_chips)

    s = sub.add_parser("info", help="summarise a chip store")
    s.add_argument("store", type=Path)
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_info)
    s = sub.add_parser("check", help="check a chip store against itself: metadata, index, every chunk's checksum")
    s.add_argument("store", type=Path)
    s.add_argument("--json", action="store_true", help="machine-readable report")
    s.set_defaults(func=cmd_check)
    from landslide_app.model.decision import DECISION_RULES, DEFAULT_DECISION
    from landslide_app.model.protocol import DEFAULT_BLOCK_KM

    s = sub.add_parser("ablate", help="run the paper's Table 2 ablation (cached, resumable) and the baselines")
    s.add_argument("--chips", required=True, type=Path, help="chip store")
    s.add_argument("--out", required=True, type=Path, help="output directory (results.json, table.md, plots)")
    s.add_argument("--inputs", nargs="+", default=list(INPUTS), choices=INPUTS)
    s.add_argument("--revisits", nargs="+", type=int, default=list(REVISITS), choices=REVISITS)
    s.add_argument("--split", nargs="+", default=["random"], choices=SPLITS)
    s.add_argument(
        "--block-km",
        type=float,
        default=DEFAULT_BLOCK_KM,
        metavar="KM",
        help=f"block edge of the blocked split, rounded to whole chips (default {DEFAULT_BLOCK_KM:g} km: "
        "the range of the chip-density variogram on the demo scene)",
    )
    s.add_argument(
        "--epochs",
        type=cli_rules.epochs,
        default=5,
        help=f"training epochs per fold (default 5, at most {cli_rules.MAX_EPOCHS})",
    )
    s.add_argument("--seed", type=_non_negative_int, default=0)
    s.add_argument(
        "--seeds",
        type=_positive_int,
        default=1,
        metavar="N",
        help="repeats with seeds SEED..SEED+N-1, each its own split and initialisation (default 1); "
        "results.json adds means and paired differences with 95 %% t intervals over the seeds",
    )
    s.add_argument(
        "--decision",
        default=DEFAULT_DECISION,
        choices=DECISION_RULES,
        help=f"the map's decision rule, fitted on validation chips (default {DEFAULT_DECISION}; "
        "see landslide_app.model.decision)",
    )
    s.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="compute the (configuration, seed) tasks on a Dask cluster: 'local' or tcp://HOST:8786",
    )
    s.add_argument(
        "--precision",
        default="auto",
        choices=PRECISIONS,
        help="training precision (default auto: bf16 on CPUs/GPUs with bf16 units, else fp32)",
    )
    s.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    s.add_argument("--no-baselines", action="store_true", help="skip the baselines")
    s.set_defaults(func=cmd_ablate)

    s = sub.add_parser("train", help="train one configuration on a chip store")
    s.add_argument("--chips", required=True, type=Path, help="chip store")
    s.add_argument("--inputs", required=True, choices=INPUTS)
    s.add_argument("--revisits", type=int, default=3, choices=REVISITS)
    s.add_argument(
        "--epochs",
        type=cli_rules.epochs,
        default=5,
        help=f"training epochs (default 5, at most {cli_rules.MAX_EPOCHS})",
    )
    s.add_argument("--seed", type=_non_negative_int, default=0)
    s.add_argument(
        "--precision",
        default="auto",
        choices=PRECISIONS,
        help="training precision (default auto: bf16 on CPUs/GPUs with bf16 units, else fp32)",
    )
    s.add_argument("--device", default=None)
    s.add_argument("--out", required=True, type=Path, help="run directory")
    s.add_argument(
        "--decision",
        default=DEFAULT_DECISION,
        choices=DECISION_RULES,
        help=f"the map's default decision rule (every rule is fitted on the validation chips and "
        f"recorded; default {DEFAULT_DECISION})",
    )
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("predict", help="density map (GeoTIFF + GeoPackage) of a store with a trained run")
    s.add_argument("--model", required=True, type=Path, help="run directory from `train`")
    s.add_argument("--chips", required=True, type=Path, help="chip store")
    s.add_argument("--out", required=True, type=Path, help="output directory")
    s.add_argument("--device", default=None)
    s.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="compute the chips' features on a Dask cluster: 'local' (one worker per core) or tcp://HOST:8786",
    )
    s.add_argument(
        "--decision",
        default=None,
        choices=DECISION_RULES,
        help="the map's decision rule, one the run fitted on its validation chips (default: the run's)",
    )
    _add_normalise_option(s)
    s.set_defaults(func=cmd_predict)

    s = sub.add_parser("respond", help="rapid response: acquisitions -> unlabelled chips -> density map, no inventory")
    s.add_argument(
        "--source", required=True, help="planetary-computer, a STAC API URL, or a STAC catalog.json (local path or URL)"
    )
    s.add_argument(
        "--bbox",
        nargs=4,
        type=float,
        metavar=("W", "S", "E", "N"),
        help="area in lon/lat degrees (required for planetary-computer and STAC APIs)",
    )
    s.add_argument("--model", required=True, type=Path, help="run directory from `train` (a portable bundle)")
    s.add_argument(
        "--out",
        required=True,
        type=Path,
        help="output folder: chips/, density.tif, chips.gpkg, map.png, summary.json, workspace.json",
    )
    s.add_argument(
        "--dem-collection",
        default=DEFAULT_DEM_COLLECTION,
        choices=DEM_COLLECTIONS,
        help="DEM collection searched on an API",
    )
    s.add_argument("--device", default=None)
    s.add_argument(
        "--overwrite",
        action="store_true",
        help="rebuild OUT/chips when it holds other acquisitions or another area (e.g. after a new post-event pass)",
    )
    _add_source_options(s, event_required=True)
    _add_normalise_option(s)
    s.set_defaults(func=cmd_respond)

    s = sub.add_parser("embed", help="per-pixel embedding GeoTIFF of a store or of any DEM (DEM-only model)")
    s.add_argument("--model", required=True, type=Path, help="run directory from `train`")
    s.add_argument("--chips", type=Path, help="chip store")
    s.add_argument("--dem", type=Path, help="DEM GeoTIFF (needs a DEM-only model)")
    s.add_argument("--out", required=True, type=Path, help="output GeoTIFF")
    s.add_argument("--device", default=None)
    s.set_defaults(func=cmd_embed)

    s = sub.add_parser("demo", help="prepare the offline demo (scene + chips) once; later runs reuse it")
    s.add_argument("--data", type=Path, default=Path("data/demo"), help="data directory (default data/demo)")
    s.add_argument("--size", default="demo", help="scene size (demo, pr, tiny, COLSxROWS)")
    s.add_argument("--seed", default=0, type=_non_negative_int)
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("app", help="serve the dashboard with Voila")
    s.add_argument(
        "--data",
        type=Path,
        default=Path("data/demo"),
        help="workspace to open: the demo, or any folder made by chips/train/ablate/predict/respond, or a "
        "folder of workspaces (default data/demo)",
    )
    s.add_argument(
        "--root",
        type=Path,
        default=None,
        help="folder whose workspaces the page lists, where New workspace creates them (default: the parent of --data)",
    )
    s.add_argument("--port", type=cli_rules.port, default=8866, help="TCP port on 127.0.0.1 (default 8866)")
    s.add_argument("--no-browser", action="store_true", help="do not open a browser")
    s.set_defaults(func=cmd_app)
    return p


def _fail(exc: BaseException, debug: bool) -> int:
    """Report an error the user can act on: one message on stderr, no traceback; the exit code."""
    if isinstance(exc, LandslideAppError):
        sys.stderr.write(f"error: {exc}\n")
        return exc.exit_code
    if isinstance(exc, OSError):  # e.g. a full disk or a permission refused while writing
        from landslide_app.atomic import temp_target

        where = f" ({temp_target(exc.filename)})" if exc.filename else ""
        sys.stderr.write(
            f"error: {exc.strerror or exc}{where}; check the path, free disk space and "
            "permissions, then rerun the same command (finished work is kept)\n"
        )
        return OutputError.exit_code
    sys.stderr.write(f"internal error: {type(exc).__name__}: {exc}\n(rerun with --debug for details)\n")
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    import os

    # idle torch/OpenMP threads spin by default, which starves the other core on small machines
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv[: argv.index("--")] if "--" in argv else "--debug" in argv
    parser = build_parser()
    try:
        a = parser.parse_args(argv)
    except ConfigError as exc:  # a wrong option: message and usage, exit 2 like argparse
        if debug:
            raise
        raise SystemExit(_fail(exc, debug)) from None
    logging.basicConfig(
        level=logging.DEBUG if a.debug else (logging.WARNING if a.quiet else logging.INFO),
        format="%(levelname)s %(name)s: %(message)s",
    )
    cli_rules.install_warning_handler(a.debug)
    guard = cli_rules.OutputGuard(None)
    try:  # the shared rules (cli_rules): no output over an input, output kind, before any work
        out = cli_rules.check_command_paths(a.command, a, cli_rules.option_flags(parser, a.command))
        guard = cli_rules.OutputGuard.before(out)
        return a.func(a)
    except BrokenPipeError:  # the reader closed stdout (e.g. `| head -1`): stop quietly
        with contextlib.suppress(OSError, ValueError):  # no flush error at exit either
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; rerun the same command to resume\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort: never a bare traceback for users
        guard.cleanup_after_failure()
        if a.debug:
            raise
        return _fail(exc, a.debug)


if __name__ == "__main__":
    sys.exit(main())
