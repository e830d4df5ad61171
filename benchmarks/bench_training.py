"""CNN training throughput: the project's loop against a plain reference loop, as a fraction of
this machine's GEMM peak, and the AUC cost of reduced precision.

Usage: ``python benchmarks/bench_training.py [--store DIR] [--repeats 3] [--auc-seeds 0 1 2]``
(without ``--store`` the demo scene is generated and chipped in a temporary directory).
Writes the ``"training"`` section of ``benchmarks/results.json``.

What is measured (configuration ``fused``, 3 revisits, 128 x 128 chips, batch 8, Adam):

* ``reference``: a plain PyTorch loop of the same architecture doing the same work (statistics
  pass, training, the pooled validation loss after each epoch, best epoch kept): fp32, NCHW, a
  ``Dataset`` that reads each chip from the zarr chip store and prepares it, the default
  ``DataLoader`` (shuffle, no workers), glibc malloc defaults, torch's default threads.
* ``project_*``: :func:`landslide_app.model.train.fit_embedding_model` as the pipeline calls it
  (statistics pass, in-memory cache of the prepared tensors, validation each epoch), in the
  variants ``fp32_stream`` (no cache), ``fp32`` and ``default`` (the default precision:
  bf16 on CPUs with bf16 units).
* GEMM: fp32 and bf16 ``torch.mm`` of 2048 x 2048 matrices, with the same threads.

Every variant runs in its own fresh process (so process-wide settings such as the malloc tuning
cannot leak into the reference), variants are interleaved within each repeat, and ratios are
taken within a repeat, then the median over repeats. chip-steps/s: training chips processed per
second (``epochs x n_train / seconds``) of the training loops (``speedup_vs_reference``: the
epochs' batch loops, each side getting its batches its own way: DataLoader reads from the store
vs the in-memory cache; validation excluded) and end to end (``fit_speedup_vs_reference``: the
whole fit on both sides: statistics pass, cache fill, epochs, validation, process-wide one-time
costs such as torch's first optimizer import). ``peak_fraction``: analytic convolution FLOPs of
the training steps (forward, weight and input gradients, from the layer shapes) per second of
training steps, over the best GEMM FLOP/s of the same repeat (fp32 and, on CPUs with bf16 units
only, bf16: emulated bf16 is no peak). ``fp32_fill``: the fp32 loop with torch's NaN fill of new
tensors in deterministic mode left on (the loop before issue 16); ``fp32_direct``: the fp32 loop
with the dilated convolutions' weight gradient from the dilated kernel (before
:mod:`landslide_app.model.dilated`). ``--variants`` picks a subset.

``--cpu-time-steps N``: N training steps with the phase-split weight gradient (``step``) and with the
dilated kernel's (``step_direct``), taking turns with a GEMM in one process, with 1 and 2 threads (in
``--steps-precision`` fp32 or bf16): CPU and wall time per step, the fraction of the GEMM rate, and
the speed-up of the split.
The machine load (``/proc/loadavg``), the CPU model and its ISA flags are recorded with the figures.

AUC check: :func:`landslide_app.model.cnn_protocol.run_configuration` on the whole store for each
seed in fp32 and in the default precision; ``auc_delta_vs_fp32`` is the mean validation AUC
(macro, pooled over both folds) of the default precision minus that of fp32. ``--auc-compare conv``:
the phase split against the dilated kernel instead, both fp32 (``auc_delta_phase_vs_direct``, with
the paired 95 % interval over the seeds).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import cpu_facts, load_average, merge_results

log = logging.getLogger("bench_training")
HERE = Path(__file__).resolve().parent
CONFIG = ("fused", 3)
BATCH = 8


# ---- child processes -------------------------------------------------------------------------
def _split_ids(store, n_train: int, n_val: int, seed: int = 0):
    import numpy as np

    ids = store.ids
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(ids))
    return np.sort(ids[perm[:n_train]]), np.sort(ids[perm[n_train : n_train + n_val]])


def child_reference(store_path: str, n_train: int, n_val: int, epochs: int) -> dict[str, Any]:
    """The plain loop (no tuning)."""
    import numpy as np
    import torch
    from torch.utils.data import DataLoader, Dataset

    from landslide_app.chips.store import ChipStore
    from landslide_app.model.inputs import ModelConfig, fit_norm_stats, prepare_inputs
    from landslide_app.model.loss import LossAccumulator, loss_parts
    from landslide_app.model.network import EmbeddingNet
    from landslide_app.model.train import DEFAULT_LR

    store = ChipStore.open(store_path)
    cfg = ModelConfig(*CONFIG)
    train_ids, val_ids = _split_ids(store, n_train, n_val)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    stats = fit_norm_stats(store.read_many(train_ids[i : i + 32]) for i in range(0, len(train_ids), 32))

    class ZarrChips(Dataset):
        def __init__(self, ids) -> None:
            self.ids = ids

        def __len__(self) -> int:
            return len(self.ids)

        def __getitem__(self, k: int):
            prep = prepare_inputs(store.read(int(self.ids[k]))[None], cfg, stats)
            return torch.from_numpy(prep.x[0]), torch.from_numpy(prep.label[0]), torch.from_numpy(prep.valid[0])

    loader = DataLoader(ZarrChips(train_ids), batch_size=BATCH, shuffle=True)
    val_loader = DataLoader(ZarrChips(val_ids), batch_size=BATCH)
    net = EmbeddingNet.for_config(cfg)
    opt = torch.optim.Adam(net.parameters(), lr=DEFAULT_LR)
    train_seconds, best, best_state = 0.0, float("inf"), None
    for _ in range(epochs):
        t1 = time.perf_counter()
        net.train()
        for x, label, valid in loader:
            loss = loss_parts(net(x), label, valid).loss()
            opt.zero_grad()
            loss.backward()
            opt.step()
        train_seconds += time.perf_counter() - t1
        net.eval()  # the same model selection as the project: pooled validation loss, best epoch kept
        acc = LossAccumulator()
        with torch.no_grad():
            for x, label, valid in val_loader:
                acc.add(loss_parts(net(x), label, valid))
        if acc.loss() < best:
            best, best_state = acc.loss(), {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    return {
        "seconds": time.perf_counter() - t0,
        "train_seconds": train_seconds,
        "chip_steps": epochs * len(train_ids),
        "threads": torch.get_num_threads(),
        "loss": float(np.float32(loss.item())),
    }


def child_project(store_path: str, n_train: int, n_val: int, epochs: int, variant: str) -> dict[str, Any]:
    """fit_embedding_model as the pipeline calls it."""
    import torch

    from landslide_app.chips.store import ChipStore
    from landslide_app.model.chipsets import ChipSubset, as_batch_getter
    from landslide_app.model.inputs import ModelConfig
    from landslide_app.model.runtime import conv_flops
    from landslide_app.model.train import fit_embedding_model

    store = ChipStore.open(store_path)
    cfg = ModelConfig(*CONFIG)
    train_ids, val_ids = _split_ids(store, n_train, n_val)
    get = as_batch_getter(store)
    kw: dict[str, Any] = {}
    if variant.startswith("fp32"):
        kw["precision"] = "fp32"
    if variant.endswith("stream"):
        kw["cache_bytes"] = 0
    if variant.endswith("_direct"):  # the dilated kernel in training, as before the phase split
        kw["conv"] = "direct"
    if variant.endswith("_fill"):  # the loop before issue 16: torch's NaN fill of new tensors left on
        import contextlib

        import landslide_app.model.train as train_mod

        plain_seeded = train_mod.seeded

        @contextlib.contextmanager
        def seeded_fill(seed: int, device: Any):
            with plain_seeded(seed, device):
                torch.utils.deterministic.fill_uninitialized_memory = True
                yield

        train_mod.seeded = seeded_fill
    t0 = time.perf_counter()
    model = fit_embedding_model(
        ChipSubset(get, train_ids),
        ChipSubset(get, val_ids),
        cfg,
        epochs=epochs,
        batch_size=BATCH,
        seed=0,
        progress=False,
        **kw,
    )
    seconds = time.perf_counter() - t0
    s = store.grid.chip_size
    flops = conv_flops(model.net, cfg.n_dem + cfg.n_sar, s, s)
    return {
        "seconds": seconds,
        "train_seconds": sum(h["train_seconds"] for h in model.history),
        "chip_steps": epochs * len(train_ids),
        "precision": model.precision,
        "train_conv": model.train_conv,
        "threads": torch.get_num_threads(),
        "train_flops_per_chip": flops["training"],
        "forward_flops_per_chip": flops["forward"],
    }


def child_gemm(n: int = 2048, reps: int = 5) -> dict[str, Any]:
    """Best fp32 (and, where the CPU has bf16 units, bf16) ``torch.mm`` rate. Emulated bf16 on a CPU
    without them is no peak (and takes minutes at this size), so it is not measured there."""
    import torch

    from landslide_app.model.runtime import bf16_supported

    out: dict[str, Any] = {"bf16": None}
    kinds = [("fp32", torch.float32)] + ([("bf16", torch.bfloat16)] if bf16_supported(torch.device("cpu")) else [])
    for name, dt in kinds:
        a, b = torch.randn(n, n, dtype=dt), torch.randn(n, n, dtype=dt)
        c = torch.empty(n, n, dtype=dt)
        torch.mm(a, b, out=c)
        rates = []
        for _ in range(reps):
            t0 = time.perf_counter()
            torch.mm(a, b, out=c)
            rates.append(2 * n**3 / (time.perf_counter() - t0))
        out[name] = max(rates)
    return out


def child_auc(store_path: str, seed: int, epochs: int, precision: str, conv: str = "auto") -> dict[str, Any]:
    from landslide_app.chips.store import ChipStore
    from landslide_app.model.cnn_protocol import run_configuration
    from landslide_app.model.inputs import ModelConfig

    store = ChipStore.open(store_path)
    kw: dict[str, Any] = {"conv": conv} if precision == "default" else {"precision": precision, "conv": conv}
    t0 = time.perf_counter()
    res = run_configuration(
        store, store.ids, store.classes, ModelConfig(*CONFIG), epochs=epochs, seed=seed, progress=False, train_kwargs=kw
    )
    return {
        "seconds": time.perf_counter() - t0,
        "precision": res.models[0].precision,
        "train_conv": res.models[0].train_conv,
        "auc_val": res.auc["val"].macro,
        "auc_test": res.auc["test"].macro,
        "auc_train": res.auc["train"].macro,
    }


def child_steps(steps: int = 6, threads: int = 1, n: int = 1024, precision: str = "fp32") -> dict[str, Any]:
    """CPU time per training step of the project's step (fused r3, batch 8, 128 x 128, channels_last,
    fp32, deterministic mode as in ``seeded``) with the dilated convolutions trained on their phase
    sub-grids (``step``, the default on CPU) and with the dilated kernel (``step_direct``, before
    :mod:`landslide_app.model.dilated`), and of a GEMM, taking turns step by step in one process with
    ``threads`` threads. Both steps start from the same weights and update their own.
    ``precision="bf16"``: the steps under bf16 autocast, as training runs on CPUs with bf16 units, and
    a bf16 GEMM (on a CPU without them both are emulated: no peak).

    CPU time (``time.process_time``) counts the work the process did, not the time it waited for a
    core, so on a shared, overloaded machine it measures the code rather than the queue.
    """
    import torch

    from landslide_app.model.device import autocast
    from landslide_app.model.inputs import ModelConfig
    from landslide_app.model.loss import loss_parts
    from landslide_app.model.network import EmbeddingNet
    from landslide_app.model.runtime import conv_flops, tune_malloc

    torch.set_num_threads(threads)
    tune_malloc()
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = False  # as in seeded()
    gemm_dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    cfg = ModelConfig(*CONFIG)
    nets, opts = {}, {}
    for name, conv in (("step", "phase"), ("step_direct", "direct")):
        torch.manual_seed(0)
        net = EmbeddingNet.for_config(cfg).to(memory_format=torch.channels_last)
        net.set_train_conv(conv)
        nets[name], opts[name] = net, torch.optim.Adam(net.parameters(), lr=1e-4)
    x = torch.randn(BATCH, cfg.n_dem + cfg.n_sar, 128, 128).contiguous(memory_format=torch.channels_last)
    label = (torch.rand(BATCH, 128, 128) > 0.97).float()
    valid = torch.ones(BATCH, 128, 128, dtype=torch.bool)
    a, b = torch.randn(n, n, dtype=gemm_dtype), torch.randn(n, n, dtype=gemm_dtype)

    def step(name: str) -> None:
        with autocast(torch.device("cpu"), "bf16" if precision == "bf16" else "fp32"):
            emb = nets[name](x)
        loss = loss_parts(emb, label, valid).loss()
        opts[name].zero_grad(set_to_none=True)
        loss.backward()
        opts[name].step()

    def gemm() -> None:
        torch.mm(a, b)

    cpu: dict[str, list[float]] = {"step": [], "step_direct": [], "gemm": []}
    wall: dict[str, list[float]] = {"step": [], "step_direct": [], "gemm": []}
    step("step")
    step("step_direct")
    gemm()
    for k in range(steps):
        for name in ("step", "step_direct", "gemm") if k % 2 == 0 else ("gemm", "step_direct", "step"):
            c0, w0 = time.process_time(), time.perf_counter()
            step(name) if name != "gemm" else gemm()
            cpu[name].append(time.process_time() - c0)
            wall[name].append(time.perf_counter() - w0)
    flops = conv_flops(nets["step"], cfg.n_dem + cfg.n_sar, 128, 128)["training"] * BATCH
    gemm_rate = 2 * n**3 / statistics.median(cpu["gemm"])
    wall_gemm_rate = 2 * n**3 / statistics.median(wall["gemm"])
    out: dict[str, Any] = {
        "threads": threads,
        "precision": precision,
        "steps": steps,
        "gemm_n": n,
        "gemm_cpu_gflops": gemm_rate / 1e9,
        "train_gflop_per_step": flops / 1e9,
    }
    for name in ("step", "step_direct"):
        sec = statistics.median(cpu[name])
        out[name] = {
            "cpu_s_per_step": sec,
            "chip_steps_per_cpu_s": BATCH / sec,
            "conv_cpu_gflops": flops / sec / 1e9,
            "peak_fraction": flops / sec / gemm_rate,
        }
        out[name]["wall_s_per_step"] = statistics.median(wall[name])
        out[name]["wall_peak_fraction"] = flops / statistics.median(wall[name]) / wall_gemm_rate
    out["phase_speedup_vs_direct"] = statistics.median(cpu["step_direct"]) / statistics.median(cpu["step"])
    # wall time: what a user waits for (the same interleaved steps; noisier on a shared machine)
    out["phase_wall_speedup_vs_direct"] = statistics.median(wall["step_direct"]) / statistics.median(wall["step"])
    out["gemm_wall_gflops"] = wall_gemm_rate / 1e9
    return out


CHILDREN = {
    "reference": child_reference,
    "project": child_project,
    "gemm": child_gemm,
    "auc": child_auc,
    "steps": child_steps,
}


def run_child(name: str, env: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Run ``CHILDREN[name](**kwargs)`` in a fresh interpreter; return its result and the load."""
    load = load_average()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name, json.dumps(kwargs)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=HERE)
    if proc.returncode != 0:
        raise RuntimeError(f"child {name} {kwargs} failed:\n{proc.stderr[-3000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["load_before"] = load
    res["load_after"] = load_average()
    return res


# ---- main --------------------------------------------------------------------------------------
def ensure_store(workdir: Path | None, store: Path | None) -> tuple[Path, Path | None]:
    """An existing chip store, or the demo scene chipped under a temporary directory."""
    if store is not None:
        return store, None
    from landslide_app.chips.build import build_chips
    from landslide_app.scene import generate_scene
    from landslide_app.sources.stac import open_local_catalog

    work = Path(workdir or tempfile.mkdtemp(prefix="bench_training_"))
    generate_scene(work / "scene", size="demo", seed=0, progress=False)
    build_chips(
        open_local_catalog(work / "scene" / "catalog.json"),
        work / "scene" / "inventory.gpkg",
        work / "chips",
        progress=False,
    )
    return work / "chips", (work if workdir is None else None)


ALL_VARIANTS = ("reference", "fp32_stream", "fp32_fill", "fp32_direct", "fp32", "default")


def measure_speed(
    store: Path, n_train: int, n_val: int, epochs: int, repeats: int, variants: list[str] | None = None
) -> dict[str, Any]:
    variants = list(variants or ALL_VARIANTS)
    if variants[0] != "reference" or not {"fp32", "default"} & set(variants):
        raise SystemExit("--variants must start with 'reference' and include 'fp32' or 'default'")
    main = "default" if "default" in variants else "fp32"
    rows: list[dict[str, Any]] = []
    for r in range(repeats):
        row: dict[str, Any] = {"repeat": r}
        order = variants if r % 2 == 0 else variants[::-1]  # interleave: no variant always first
        gemms = [run_child("gemm")]
        for v in order:
            if v == "reference":
                row[v] = run_child(
                    "reference",
                    env={"LANDSLIDE_APP_NO_MALLOPT": "1"},
                    store_path=str(store),
                    n_train=n_train,
                    n_val=n_val,
                    epochs=epochs,
                )
            else:
                row[v] = run_child(
                    "project", store_path=str(store), n_train=n_train, n_val=n_val, epochs=epochs, variant=v
                )
            gemms.append(run_child("gemm"))
        row["gemm_fp32"] = statistics.median(g["fp32"] for g in gemms)
        bf16 = [g["bf16"] for g in gemms if g["bf16"] is not None]
        row["gemm_bf16"] = statistics.median(bf16) if bf16 else None
        for v in variants:
            res = row[v]
            res["chip_steps_per_s"] = res["chip_steps"] / res["seconds"]
            res["train_chip_steps_per_s"] = res["chip_steps"] / res["train_seconds"]
        best_gemm = max(row["gemm_fp32"], row["gemm_bf16"] or 0.0)
        for v in variants[1:]:
            res = row[v]
            res["speedup_vs_reference"] = res["chip_steps_per_s"] / row["reference"]["chip_steps_per_s"]
            res["train_speedup_vs_reference"] = (
                res["train_chip_steps_per_s"] / row["reference"]["train_chip_steps_per_s"]
            )
            res["conv_flops_per_s"] = res["train_flops_per_chip"] * res["train_chip_steps_per_s"]
            res["peak_fraction"] = res["conv_flops_per_s"] / best_gemm
        log.info(
            "repeat %d (load %s): reference %.2f chip-steps/s; GEMM fp32 %.0f / bf16 %s GFLOP/s",
            r,
            row["reference"]["load_before"],
            row["reference"]["chip_steps_per_s"],
            row["gemm_fp32"] / 1e9,
            "-" if row["gemm_bf16"] is None else round(row["gemm_bf16"] / 1e9),
        )
        for v in variants[1:]:
            log.info(
                "  %-12s %.2f chip-steps/s (x%.2f, training steps x%.2f, peak fraction %.3f)",
                v,
                row[v]["chip_steps_per_s"],
                row[v]["speedup_vs_reference"],
                row[v]["train_speedup_vs_reference"],
                row[v]["peak_fraction"],
            )
        rows.append(row)

    def med(v: str, key: str) -> float:
        return statistics.median(r[v][key] for r in rows)

    def gflops(v: float | None) -> float | None:
        return None if v is None else round(v / 1e9, 1)

    bf16_rates = [r["gemm_bf16"] for r in rows if r["gemm_bf16"] is not None]
    out: dict[str, Any] = {
        **cpu_facts(),
        "config": f"{CONFIG[0]}-r{CONFIG[1]}",
        "batch_size": BATCH,
        "n_train": n_train,
        "n_val": n_val,
        "epochs": epochs,
        "repeats": repeats,
        "variants": variants,
        "main_variant": main,
        "default_precision": rows[0][main]["precision"] if main == "default" else None,
        "threads": rows[0][main]["threads"],
        "speedup_vs_reference": round(med(main, "train_speedup_vs_reference"), 3),
        "fit_speedup_vs_reference": round(med(main, "speedup_vs_reference"), 3),
        "peak_fraction": round(med(main, "peak_fraction"), 3),
        **{f"{v}_speedup_vs_reference": round(med(v, "train_speedup_vs_reference"), 3) for v in variants[1:]},
        **{f"{v}_peak_fraction": round(med(v, "peak_fraction"), 3) for v in variants[1:]},
        "fp32_fit_speedup_vs_reference": round(med("fp32", "speedup_vs_reference"), 3) if "fp32" in variants else None,
        "chip_steps_per_s": {v: round(med(v, "chip_steps_per_s"), 2) for v in variants},
        "train_chip_steps_per_s": {v: round(med(v, "train_chip_steps_per_s"), 2) for v in variants},
        "gemm_gflops": {
            "fp32": gflops(statistics.median(r["gemm_fp32"] for r in rows)),
            "bf16": gflops(statistics.median(bf16_rates)) if bf16_rates else None,
        },
        "peak_gemm": "fp32 (no bf16 units)" if not bf16_rates else "best of fp32 and bf16",
        "conv_gflops_per_s": round(med(main, "conv_flops_per_s") / 1e9, 1),
        "train_gflop_per_chip": round(rows[0][main]["train_flops_per_chip"] / 1e9, 4),
        "load_average": [r["reference"]["load_before"] for r in rows],
        "targets": {"speedup_vs_reference": 2.5, "peak_fraction": 0.5},
        "repeats_detail": [
            {
                "load": r["reference"]["load_before"],
                "gemm_gflops": [gflops(r["gemm_fp32"]), gflops(r["gemm_bf16"])],
                **{v: {k: round(r[v][k], 3) for k in ("chip_steps_per_s", "train_chip_steps_per_s")} for v in variants},
            }
            for r in rows
        ],
    }
    return out


#: What the AUC check compares: its two variants ``(name, child_auc precision, child_auc conv)``, the
#: second against the first, and the key of the mean difference.
AUC_COMPARISONS: dict[str, tuple[tuple[str, str, str], tuple[str, str, str], str]] = {
    "precision": (("fp32", "fp32", "auto"), ("default", "default", "auto"), "auc_delta_vs_fp32"),
    "conv": (("direct", "fp32", "direct"), ("phase", "fp32", "phase"), "auc_delta_phase_vs_direct"),
}


def measure_auc(store: Path, seeds: list[int], epochs: int, compare: str = "precision") -> dict[str, Any]:
    """Validation and test AUC of both variants of ``AUC_COMPARISONS[compare]`` for every seed (each
    in its own process); the mean differences and, over seeds, the paired 95 % interval."""
    from landslide_app.experiments.seed_stats import t_interval

    base, other, key = AUC_COMPARISONS[compare]
    runs = []
    for seed in seeds:
        for name, precision, conv in (base, other):
            r = run_child("auc", store_path=str(store), seed=seed, epochs=epochs, precision=precision, conv=conv)
            r.update(seed=seed, variant=name)
            log.info(
                "AUC seed %d %s (%s, %s): val %.4f, test %.4f in %.0f s (load %s)",
                seed,
                name,
                r["precision"],
                r["train_conv"],
                r["auc_val"],
                r["auc_test"],
                r["seconds"],
                r["load_before"],
            )
            runs.append(r)

    def values(variant: str, k: str) -> list[float]:
        return [r[k] for r in runs if r["variant"] == variant]

    def mean(variant: str, k: str) -> float:
        return statistics.fmean(values(variant, k))

    names = (base[0], other[0])
    deltas = {
        k: [y - x for x, y in zip(values(base[0], k), values(other[0], k), strict=True)]
        for k in ("auc_val", "auc_test")
    }
    test_key = key.replace("auc_", "auc_test_", 1)
    return {
        key: round(mean(other[0], "auc_val") - mean(base[0], "auc_val"), 4),
        test_key: round(mean(other[0], "auc_test") - mean(base[0], "auc_test"), 4),
        f"{compare}_auc_check": {
            "compare": f"{other[0]} - {base[0]}",
            "seeds": seeds,
            "epochs": epochs,
            "config": f"{CONFIG[0]}-r{CONFIG[1]}",
            "mean_auc_val": {v: round(mean(v, "auc_val"), 4) for v in names},
            "mean_auc_test": {v: round(mean(v, "auc_test"), 4) for v in names},
            "paired_ci95": {k: [round(x, 4) for x in t_interval(d)["ci95"] or []] for k, d in deltas.items()},
            "max_abs_delta": {k: round(max(abs(x) for x in d), 4) for k, d in deltas.items()},
            "runs": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in runs],
            "target_abs_delta": 0.02,
        },
    }


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        res = CHILDREN[sys.argv[2]](**json.loads(sys.argv[3]))
        sys.stdout.write(json.dumps(res) + "\n")
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, default=None, help="chip store (default: build the demo one)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--n-train", type=int, default=153, help="training chips (default: one fold of the demo ablation)")
    ap.add_argument("--n-val", type=int, default=38)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--auc-seeds", type=int, nargs="*", default=[0, 1, 2])
    ap.add_argument("--auc-epochs", type=int, default=5)
    ap.add_argument(
        "--auc-compare",
        choices=sorted(AUC_COMPARISONS),
        default="precision",
        help="the AUC check: precision (the default precision vs fp32) or conv (dilated convolutions trained on "
        "their phase sub-grids vs the dilated kernel, fp32)",
    )
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument(
        "--cpu-time-steps",
        type=int,
        default=0,
        help="also measure the training step and GEMM in CPU time, N steps each (1 and 2 threads)",
    )
    ap.add_argument(
        "--steps-precision",
        choices=["fp32", "bf16"],
        default="fp32",
        help="precision of the --cpu-time-steps steps and GEMM (bf16: under autocast, for CPUs with bf16 units)",
    )
    ap.add_argument(
        "--variants",
        nargs="+",
        default=list(ALL_VARIANTS),
        choices=ALL_VARIANTS,
        help="training loops to compare ('reference' first; 'fp32_fill': the project loop with torch's "
        "NaN fill of new tensors, as before issue 16)",
    )
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    store, cleanup = ensure_store(a.workdir, a.store)
    try:
        figures: dict[str, Any] = {}
        if not a.skip_speed:
            figures.update(measure_speed(store, a.n_train, a.n_val, a.epochs, a.repeats, a.variants))
        if a.cpu_time_steps:
            figures["cpu_time_steps"] = {}
            for threads in (1, 2):
                res = run_child("steps", steps=a.cpu_time_steps, threads=threads, precision=a.steps_precision)
                figures["cpu_time_steps"][f"threads_{threads}"] = res
                log.info(
                    "CPU time, %d thread(s): GEMM %.1f GFLOP/s; step %.3f CPU-s (peak fraction %.3f), with the "
                    "dilated kernel %.3f CPU-s (%.3f): phase split %.2fx CPU time, %.2fx wall",
                    threads,
                    res["gemm_cpu_gflops"],
                    res["step"]["cpu_s_per_step"],
                    res["step"]["peak_fraction"],
                    res["step_direct"]["cpu_s_per_step"],
                    res["step_direct"]["peak_fraction"],
                    res["phase_speedup_vs_direct"],
                    res["phase_wall_speedup_vs_direct"],
                )
        if a.auc_seeds:
            figures.update(measure_auc(store, a.auc_seeds, a.auc_epochs, a.auc_compare))
        for k in (
            "speedup_vs_reference",
            "fit_speedup_vs_reference",
            "peak_fraction",
            "auc_delta_vs_fp32",
            "auc_delta_phase_vs_direct",
            "chip_steps_per_s",
            "gemm_gflops",
            "load_average",
        ):
            if k in figures:
                log.info("%-32s %s", k, figures[k])
        log.info("written to %s", merge_results("training", figures, keep=a.skip_speed or not a.auc_seeds))
    finally:
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)


if __name__ == "__main__":
    main()
