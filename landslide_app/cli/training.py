"""Training commands: ``ablate`` (the paper's Table 2 ablation with baselines, cached and resumable)
and ``train`` (one configuration, a portable run); parsers beside handlers."""

from __future__ import annotations

import argparse
from pathlib import Path

from landslide_app.cli import rules
from landslide_app.cli.common import SubParsers, emit, non_negative_int, positive_int
from landslide_app.core.vocabulary import (
    DEFAULT_ENSEMBLE,
    DEFAULT_FOREST_FIT,
    DEFAULT_LR,
    DEFAULT_TRAIN_CONV,
    ENSEMBLE_SEED_STRIDE,
    FOREST_FITS,
    INPUTS,
    MAX_ENSEMBLE,
    MODEL_KINDS,
    PRECISIONS,
    REVISITS,
    SPLITS,
    TRAIN_CONVS,
)

#: ``--precision`` help, the same for both commands.
PRECISION_HELP = "training precision (default auto: bf16 on CPUs/GPUs with bf16 units, else fp32)"


def add_lr_option(s: argparse.ArgumentParser) -> None:
    """``--lr``: the network's Adam learning rate (``ablate``, ``train``)."""
    s.add_argument(
        "--lr",
        type=rules.learning_rate,
        default=DEFAULT_LR,
        metavar="RATE",
        help=f"Adam learning rate of the network (default {DEFAULT_LR:g}: fewer collapsed trainings than 3e-3 "
        "over 5 seeds; see benchmarks/bench_learning_rate.py)",
    )


def add_train_conv_option(s: argparse.ArgumentParser) -> None:
    """``--train-conv``: how the dilated convolutions train (``ablate``, ``train``)."""
    s.add_argument(
        "--train-conv",
        default=DEFAULT_TRAIN_CONV,
        choices=TRAIN_CONVS,
        help="how the network's dilated convolutions train: phase (on their phase sub-grids: the same function, "
        "faster weight gradients on CPU), direct (the dilated kernel, which every figure before this option "
        f"used) or auto (phase on CPU in fp32, else direct) (default {DEFAULT_TRAIN_CONV}; see "
        "landslide_app.model.dilated)",
    )


def add_ensemble_option(s: argparse.ArgumentParser) -> None:
    """``--ensemble K``: networks per fold, trained on the same chips (``ablate``, ``train``)."""
    s.add_argument(
        "--ensemble",
        type=rules.ensemble_size,
        default=DEFAULT_ENSEMBLE,
        metavar="K",
        help=f"networks trained on the same chips with seeds SEED, SEED+{ENSEMBLE_SEED_STRIDE}, ..., each with its "
        f"own forest; the map averages their probabilities (default {DEFAULT_ENSEMBLE}: one network; at most "
        f"{MAX_ENSEMBLE}; K times the training time; see landslide_app.model.ensemble)",
    )


def add_forest_fit_option(s: argparse.ArgumentParser) -> None:
    """``--forest-fit``: the chips whose embeddings the forest is fitted on (``ablate``, ``train``)."""
    s.add_argument(
        "--forest-fit",
        default=DEFAULT_FOREST_FIT,
        choices=FOREST_FITS,
        help="the chips whose embeddings the forest is fitted on: train (the network's own training chips) or "
        "validation (chips the network did not fit; the decision rule then uses the forest's out-of-bag "
        f"probabilities) (default {DEFAULT_FOREST_FIT}; see landslide_app.model.embedding_forest)",
    )


# ---- ablate --------------------------------------------------------------------------------------
def cmd_ablate(a: argparse.Namespace) -> int:
    from landslide_app.experiments.ablation import AblationSettings, run_ablation
    from landslide_app.experiments.report import collapse_note, table_markdown

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
        forest_fit=a.forest_fit,
        train_kwargs={"lr": a.lr, "conv": a.train_conv},
        ensemble=a.ensemble,
    )
    if a.scheduler:
        from landslide_app.experiments.ablation_dask import run_ablation_distributed

        results = run_ablation_distributed(a.chips, a.out, settings, scheduler=a.scheduler, progress=not a.quiet)
    else:
        results = run_ablation(a.chips, a.out, settings, progress=not a.quiet)
    for split in a.split:
        emit(table_markdown(results, split))
    note = collapse_note(results)
    if note:
        emit(note)
    emit(f"results: {Path(a.out) / 'results.json'}, table: {Path(a.out) / 'table.md'} ({results['seconds']:.0f} s)")
    return 0


def add_ablate(sub: SubParsers) -> None:
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
        type=rules.epochs,
        default=5,
        help=f"training epochs per fold (default 5, at most {rules.MAX_EPOCHS})",
    )
    s.add_argument("--seed", type=non_negative_int, default=0)
    s.add_argument(
        "--seeds",
        type=positive_int,
        default=1,
        metavar="N",
        help="repeats with seeds SEED..SEED+N-1, each its own split and initialisation (default 1); "
        "results.json adds means and paired differences with 95 %% t intervals over the seeds",
    )
    add_lr_option(s)
    add_train_conv_option(s)
    add_ensemble_option(s)
    _add_ablate_run_options(s)
    s.set_defaults(func=cmd_ablate)


def _add_ablate_run_options(s: argparse.ArgumentParser) -> None:
    """``ablate``: decision rule, where and how to compute, baselines."""
    from landslide_app.model.decision import DECISION_RULES, DEFAULT_DECISION

    s.add_argument(
        "--decision",
        default=DEFAULT_DECISION,
        choices=DECISION_RULES,
        help=f"the map's decision rule, fitted on validation chips (default {DEFAULT_DECISION}; "
        "see landslide_app.model.decision)",
    )
    add_forest_fit_option(s)
    s.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="compute the (configuration, seed) tasks on a Dask cluster: 'local' or tcp://HOST:8786",
    )
    s.add_argument("--precision", default="auto", choices=PRECISIONS, help=PRECISION_HELP)
    s.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    s.add_argument("--no-baselines", action="store_true", help="skip the baselines")


# ---- train ---------------------------------------------------------------------------------------
def cmd_train(a: argparse.Namespace) -> int:
    from landslide_app.errors import ConfigError
    from landslide_app.experiments.production import train_run
    from landslide_app.model.inputs import ModelConfig

    if a.model == "sar-stats":
        return _train_stats(a)
    if a.inputs is None:
        raise ConfigError("train --model cnn needs --inputs (dem, sar or fused)")
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
        forest_fit=a.forest_fit,
        lr=a.lr,
        ensemble=a.ensemble,
        train_conv=a.train_conv,
    )
    auc = "n/a" if meta["auc_val"] is None else f"{meta['auc_val']:.3f}"
    if meta.get("ensemble", 1) > 1:
        epochs = ", ".join(str(m["best_epoch"]) for m in meta["members"])
        what = f"{meta['ensemble']} networks (epochs {epochs})"
    else:
        what = f"epoch {meta['best_epoch']}"
    emit(
        f"trained {meta['name']} on {meta['n_train']} chips ({what} selected on "
        f"{meta['n_val']} validation chips, AUC {auc}) -> {a.out}"
    )
    collapsed = [m["seed"] for m in meta.get("members", []) if m["collapsed"]]
    if collapsed and not meta.get("collapsed"):
        n = meta["ensemble"]
        emit(f"{len(collapsed)} of {n} networks collapsed (seeds {collapsed}); the map averages the others")
    if meta.get("collapsed"):
        emit(
            f"training collapsed: constant embeddings for every chip, the model carries no signal; "
            f"rerun with another --seed (e.g. --seed {a.seed + 1}); more epochs do not help"
        )
    return 0


def _train_stats(a: argparse.Namespace) -> int:
    """``train --model sar-stats``: the SAR chip-statistics forest (no network: the network options do not apply)."""
    from landslide_app.errors import ConfigError
    from landslide_app.experiments.stats_model import train_stats_run

    if a.inputs not in (None, "fused"):
        raise ConfigError(f"--model sar-stats reads the slope and the SAR (fused); drop --inputs {a.inputs}")
    if a.ensemble != DEFAULT_ENSEMBLE or a.forest_fit != DEFAULT_FOREST_FIT:
        raise ConfigError("--ensemble and --forest-fit are options of --model cnn; drop them for --model sar-stats")
    meta = train_stats_run(a.chips, a.revisits, a.out, seed=a.seed, progress=not a.quiet, decision=a.decision)
    auc = "n/a" if meta["auc_val"] is None else f"{meta['auc_val']:.3f}"
    emit(
        f"trained {meta['name']} on {meta['n_train']} chips ({len(meta['features'])} SAR chip statistics; "
        f"validation AUC {auc} on {meta['n_val']} chips) -> {a.out}"
    )
    return 0


def add_train(sub: SubParsers) -> None:
    from landslide_app.model.decision import DECISION_RULES, DEFAULT_DECISION

    s = sub.add_parser("train", help="train one configuration on a chip store")
    s.add_argument("--chips", required=True, type=Path, help="chip store")
    s.add_argument(
        "--model",
        default="cnn",
        choices=MODEL_KINDS,
        help="cnn: the paper's network + forest (default); sar-stats: a forest on ten per-chip SAR change "
        "statistics and the slope, no network (see README, 'A ten-number chip summary beats the CNN')",
    )
    s.add_argument("--inputs", choices=INPUTS, help="network inputs of --model cnn (required there)")
    s.add_argument("--revisits", type=int, default=3, choices=REVISITS)
    s.add_argument(
        "--epochs",
        type=rules.epochs,
        default=5,
        help=f"training epochs (default 5, at most {rules.MAX_EPOCHS})",
    )
    s.add_argument("--seed", type=non_negative_int, default=0)
    s.add_argument("--precision", default="auto", choices=PRECISIONS, help=PRECISION_HELP)
    s.add_argument("--device", default=None)
    s.add_argument("--out", required=True, type=Path, help="run directory")
    s.add_argument(
        "--decision",
        default=DEFAULT_DECISION,
        choices=DECISION_RULES,
        help=f"the map's default decision rule (every rule is fitted on the validation chips and "
        f"recorded; default {DEFAULT_DECISION})",
    )
    add_lr_option(s)
    add_train_conv_option(s)
    add_ensemble_option(s)
    add_forest_fit_option(s)
    s.set_defaults(func=cmd_train)
