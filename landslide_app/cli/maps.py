"""Map commands: ``predict`` (density map of a store with a trained run), ``respond`` (rapid response:
acquisitions -> unlabelled chips -> map) and ``embed`` (per-pixel embedding GeoTIFF); parsers beside
handlers."""

from __future__ import annotations

import argparse
from pathlib import Path

from landslide_app.cli.common import SubParsers, add_normalise_option, add_source_options, emit, source_from_args
from landslide_app.core.vocabulary import DEFAULT_DEM_COLLECTION, DEM_COLLECTIONS
from landslide_app.errors import ConfigError


def prediction_line(s: dict, out: Path) -> str:
    """The one-line result of ``predict`` and ``respond``: classes, AUC when labelled, shifted inputs, files."""
    auc = s.get("auc_out_of_area", s.get("auc_vs_store_labels"))
    kind = " (in-sample)" if s.get("in_sample") else ""
    scored = "" if auc is None else f", AUC {auc:.3f} against the store's labels{kind}"
    shifted = [c["channel"] for c in (s.get("domain_shift") or {}).get("shifted", [])]
    shift = f"; input differs from training in {', '.join(shifted)}" if shifted else ""
    return (
        f"predicted {s['n_chips']} chips with {s['config']}: classes {s['class_counts']}{scored}{shift} -> "
        f"{out / 'map.png'}, {out / 'density.tif'}, {out / 'chips.gpkg'}, {out / 'summary.json'}"
    )


# ---- predict -------------------------------------------------------------------------------------
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
    emit(prediction_line(s, Path(a.out)))
    return 0


def add_predict(sub: SubParsers) -> None:
    from landslide_app.model.decision import DECISION_RULES

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
    add_normalise_option(s)
    s.set_defaults(func=cmd_predict)


# ---- respond -------------------------------------------------------------------------------------
def cmd_respond(a: argparse.Namespace) -> int:
    from landslide_app.experiments.respond import respond

    a.dem_only = False
    r = respond(
        lambda: source_from_args(a),
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
    emit(
        prediction_line(r.summary, Path(a.out)) + f"\nstages: {stages}; chip store {r.store}; workspace "
        f"{Path(a.out) / 'workspace.json'}" + (f" (resumed: {', '.join(r.resumed)})" if r.resumed else "")
    )
    return 0


def add_respond(sub: SubParsers) -> None:
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
    add_source_options(s, event_required=True)
    add_normalise_option(s)
    s.set_defaults(func=cmd_respond)


# ---- embed ---------------------------------------------------------------------------------------
def cmd_embed(a: argparse.Namespace) -> int:
    from landslide_app.experiments.production import embed_dem, embed_store

    if (a.chips is None) == (a.dem is None):
        raise ConfigError("give exactly one of --chips STORE or --dem DEM.tif")
    out = (
        embed_store(a.model, a.chips, a.out, device=a.device, progress=not a.quiet)
        if a.chips
        else embed_dem(a.model, a.dem, a.out, device=a.device, progress=not a.quiet)
    )
    emit(f"embedding written to {out}")
    return 0


def add_embed(sub: SubParsers) -> None:
    s = sub.add_parser("embed", help="per-pixel embedding GeoTIFF of a store or of any DEM (DEM-only model)")
    s.add_argument("--model", required=True, type=Path, help="run directory from `train`")
    s.add_argument("--chips", type=Path, help="chip store")
    s.add_argument("--dem", type=Path, help="DEM GeoTIFF (needs a DEM-only model)")
    s.add_argument("--out", required=True, type=Path, help="output GeoTIFF")
    s.add_argument("--device", default=None)
    s.set_defaults(func=cmd_embed)
