"""Transfer: how well a model trained on one island maps islands it never saw (issue 11).

Usage: ``python benchmarks/bench_transfer.py [--size tiny] [--epochs 2] [--seeds 1 2 3]
[--configs dem-r1 sar-r1 ...] [--train-seed 0] [--workdir DIR]``.

1. The training island (scene seed 0) and its labelled chip store; for every configuration (DEM,
   SAR, fused with 1-3 revisits) ``train_run`` (80 % of the chips; the other 20 % are held out from
   the network's gradient steps and from the forest, and only pick the epoch): its AUC on them is
   the **in-area held-out AUC**.
2. Every target island (scene seeds ``--seeds``) is mapped by ``respond`` from its catalog alone,
   with no inventory (the unlabelled store ``DIR/chips``; the first configuration runs through
   :func:`~landslide_app.experiments.respond.respond`, the others reuse its store through
   :func:`~landslide_app.experiments.production.predict_run`, which is respond's predict stage), with
   ``--normalise training`` and ``scene``.
3. Only then the target's inventory is read: the same store is labelled in place (``chips
   --inventory``, no raster read again) and each map's ``chips.gpkg`` probabilities are scored
   against it: the **out-of-area AUC** (macro one-vs-rest, as everywhere in the package).

Writes the ``"transfer"`` section of ``benchmarks/results.json`` and prints the Markdown table.
Everything runs on CPU; on 2 cores the default (tiny islands, 2 epochs) takes about 10-15 minutes.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from pathlib import Path
from typing import Any

from common import load_average, report

log = logging.getLogger("bench_transfer")

ALL_CONFIGS = ("dem-r1", "sar-r1", "sar-r2", "sar-r3", "fused-r1", "fused-r2", "fused-r3")
NORMALISE = ("training", "scene")


def _scene(root: Path, size: str, seed: int) -> Path:
    from landslide_app.scene import generate_scene

    out = root / f"scene-{size}-s{seed}"
    if not (out / "catalog.json").exists():
        generate_scene(out, size=size, seed=seed, progress=False)
    return out


def _open(scene: Path):
    from landslide_app.sources.resolve import open_source
    from landslide_app.sources.selection import AcquisitionRequest, parse_event_date

    return open_source(str(scene / "catalog.json"), None, AcquisitionRequest(parse_event_date("2017-09-20")))


def _auc_against_labels(pred_dir: Path, store_path: Path) -> float | None:
    import geopandas as gpd
    import numpy as np

    from landslide_app.chips.store import ChipStore
    from landslide_app.model.metrics import multiclass_auc, nan_to_none

    store = ChipStore.open(store_path)
    truth = dict(zip(store.ids.tolist(), store.classes.tolist()))
    gdf = gpd.read_file(pred_dir / "chips.gpkg")
    y = np.array([truth[int(c)] for c in gdf["chip_id"]])
    return nan_to_none(multiclass_auc(y, gdf[["p0", "p1", "p2"]].to_numpy()).macro)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="tiny", help="island size (tiny, demo, COLSxROWS; default tiny)")
    ap.add_argument("--epochs", type=int, default=2, help="training epochs (default 2)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="target island seeds (default 1 2 3)")
    ap.add_argument("--configs", nargs="+", default=list(ALL_CONFIGS), choices=ALL_CONFIGS)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bench_transfer"))
    ap.add_argument(
        "--train-seed",
        type=int,
        default=0,
        help="training seed (split and initialisation; default 0); another seed trains into runs-seed<N>/, maps "
        "into respond-s<island>-t<N>/ and writes the section transfer_train_seed<N>",
    )
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("landslide_app", "pyogrio", "distributed"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    import torch

    from landslide_app.chips.build import build_chips
    from landslide_app.experiments.production import predict_run, train_run
    from landslide_app.experiments.respond import respond
    from landslide_app.model.inputs import ModelConfig

    torch.manual_seed(0)
    t_start = time.perf_counter()
    root = a.workdir / f"{a.size}-e{a.epochs}"
    root.mkdir(parents=True, exist_ok=True)
    train_scene = _scene(root, a.size, 0)
    train_store = root / "train-chips"
    build_chips(_open(train_scene), train_scene / "inventory.gpkg", train_store, progress=False)

    runs: dict[str, dict[str, Any]] = {}
    for key in a.configs:
        inputs, r = key.split("-r")
        out = root / ("runs" if a.train_seed == 0 else f"runs-seed{a.train_seed}") / key
        if not (out / "run.json").exists():
            train_run(
                train_store,
                ModelConfig(inputs, int(r)),  # type: ignore[arg-type]
                out,
                epochs=a.epochs,
                seed=a.train_seed,
                progress=False,
            )
        meta = json.loads((out / "run.json").read_text())
        runs[key] = {"path": out, "auc_in_area": meta["auc_val"], "n_train": meta["n_train"], "n_val": meta["n_val"]}
        log.info(
            "%s: in-area held-out AUC %.3f (%d validation chips)", key, meta["auc_val"] or float("nan"), meta["n_val"]
        )
    t_train = time.perf_counter() - t_start

    scores: dict[str, dict[str, list[float | None]]] = {k: {n: [] for n in NORMALISE} for k in a.configs}
    shifts: dict[str, dict[str, int]] = {k: {} for k in a.configs}
    islands = []
    for seed in a.seeds:
        scene = _scene(root, a.size, seed)
        event = root / (f"respond-s{seed}" if a.train_seed == 0 else f"respond-s{seed}-t{a.train_seed}")
        first = a.configs[-1] if "fused-r3" not in a.configs else "fused-r3"  # a SAR model: the store gets SAR
        # respond: no inventory anywhere (the store is built from the catalog alone)
        res = respond(
            lambda s=scene: _open(s),
            runs[first]["path"],
            event / f"{first}-training",
            progress=False,
            normalise="training",
        )
        store = res.store
        preds = {}
        for key in a.configs:
            for norm in NORMALISE:
                d = event / f"{key}-{norm}"
                if key == first and norm == "training":
                    preds[(key, norm)] = d
                    continue
                if not (d / "summary.json").exists():
                    predict_run(runs[key]["path"], store, d, progress=False, normalise=norm)
                preds[(key, norm)] = d
        # only now the target's inventory: label the same store in place, then score every map
        labelled = build_chips(_open(scene), scene / "inventory.gpkg", store, progress=False).store
        info = labelled.info()
        islands.append({"seed": seed, "n_chips": info["n_chips"], "class_counts": info["class_counts"]})
        for (key, norm), d in preds.items():
            auc = _auc_against_labels(d, store)
            scores[key][norm].append(auc)
            n_shift = len(json.loads((d / "summary.json").read_text())["domain_shift"]["shifted"])
            shifts[key][norm] = shifts[key].get(norm, 0) + n_shift
            log.info(
                "seed %d %s normalise=%s: out-of-area AUC %s (%d shifted channels)",
                seed,
                key,
                norm,
                "n/a" if auc is None else f"{auc:.3f}",
                n_shift,
            )

    def mean_sd(v: list[float | None]) -> dict[str, float | None]:
        vals = [x for x in v if x is not None]
        return {
            "mean": round(statistics.fmean(vals), 4) if vals else None,
            "sd": round(statistics.stdev(vals), 4) if len(vals) > 1 else None,
            "per_seed": v,
        }

    table = {
        k: {
            "auc_in_area": runs[k]["auc_in_area"],
            "n_val": runs[k]["n_val"],
            **{f"auc_out_of_area_{n}": mean_sd(scores[k][n]) for n in NORMALISE},
            "shifted_channels": shifts[k],
        }
        for k in a.configs
    }
    better = {
        n: statistics.fmean([table[k][f"auc_out_of_area_{n}"]["mean"] or 0.0 for k in a.configs]) for n in NORMALISE
    }
    lines = [
        "| configuration | in-area held-out AUC | out-of-area AUC, --normalise training | "
        "out-of-area AUC, --normalise scene |",
        "|---|---|---|---|",
    ]

    def fmt(d: dict[str, Any]) -> str:
        return "n/a" if d["mean"] is None else f"{d['mean']:.3f} ± {d['sd'] or 0:.3f}"

    for k in a.configs:
        t = table[k]
        ia = "n/a" if t["auc_in_area"] is None else f"{t['auc_in_area']:.3f}"
        lines.append(f"| {k} | {ia} | {fmt(t['auc_out_of_area_training'])} | {fmt(t['auc_out_of_area_scene'])} |")
    md = "\n".join(lines)
    print(md)
    report(
        "transfer" if a.train_seed == 0 else f"transfer_train_seed{a.train_seed}",
        {
            "size": a.size,
            "epochs": a.epochs,
            "train_seed": a.train_seed,
            "target_seeds": a.seeds,
            "islands": islands,
            "configs": table,
            "mean_out_of_area_auc": {n: round(v, 4) for n, v in better.items()},
            "better_normalise": max(better, key=better.__getitem__),
            "table_md": md,
            "seconds_train": round(t_train, 1),
            "seconds_total": round(time.perf_counter() - t_start, 1),
            "load_average": load_average(),
        },
    )


if __name__ == "__main__":
    main()
