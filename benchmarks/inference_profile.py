"""The runtime comparison of ``bench_inference.py`` (issue 16): variants, profile, int8 agreement.

* :func:`child_runtimes`: every runtime variant on the same chips in one process, batch by batch.
* :func:`openvino_variant`: a compiled graph as an embed function (``LATENCY``: one request with
  all threads, the runtime before issue 16; ``THROUGHPUT``: one single-threaded stream per thread).
* :func:`int8_model`: NNCF post-training int8 quantization of the graph (needs ``nncf``).
* :func:`openvino_profile`: ``PERF_COUNT`` per-layer counters aggregated per operation type, the
  convolutions' rate beside a one-thread fp32 GEMM.
* :func:`int8_agreement`: int8 against fp32 where it matters: embeddings, the 19 percentile
  features, and the trained forest's classes, probabilities and AUC on a demo store.
"""

from __future__ import annotations

import statistics
from typing import Any

from common import load_average

#: Variants measured on the first two batches only (they run at a few chips/s on a CPU without bf16 units).
SLOW_VARIANTS = ("eager_bf16",)


def child_runtimes(
    run: str,
    store: str,
    repeats: int,
    compile_: bool,
    batch: int = 16,
    max_chips: int = 192,
    threads: int | None = None,
) -> dict:
    """Embedding + percentile features of the store's first ``max_chips`` chips, per runtime, in one
    process (chips in memory). The variants take turns batch by batch (so a change of the machine's
    load hits all of them alike); wall time and the process's CPU time are both recorded."""
    import contextlib
    import io
    import time

    import numpy as np
    import torch

    from landslide_app.chips.store import ChipStore
    from landslide_app.experiments.production import load_run
    from landslide_app.model.features import percentile_features
    from landslide_app.model.inference import (
        EagerRuntime,
        OpenVINORuntime,
        build_openvino_model,
        openvino_available,
    )
    from landslide_app.model.inputs import prepare_inputs

    if threads:
        torch.set_num_threads(threads)
    model = load_run(run, "cpu").model
    st = ChipStore.open(store)
    ids = st.ids[:max_chips]
    chips = [
        np.asarray(st.read_many([int(i) for i in ids[k : k + batch]]), dtype=np.float32)
        for k in range(0, len(ids), batch)
    ]
    net, cfg, stats = model.net.eval(), model.config, model.stats

    def torch_path(fn, precision):  # NumPy preparation + a torch callable on channels_last input
        def embed(c):
            prep = prepare_inputs(c, cfg, stats)
            x = torch.from_numpy(prep.x).contiguous(memory_format=torch.channels_last)
            cast = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
            with torch.no_grad(), cast:
                out = fn(x).float()[:, 0].numpy()
            out[~prep.valid] = np.nan
            return out, prep.valid

        return embed

    variants = {
        "today": torch_path(net, model.precision),
        "eager": EagerRuntime(net, cfg, stats, torch.device("cpu"), model.precision).embed,
        "eager_bf16": torch_path(net, "bf16"),
    }
    setup: dict = {}
    profile: dict = {}
    if openvino_available():
        t0 = time.perf_counter()
        variants["openvino"] = OpenVINORuntime(net, cfg, stats, model.precision).embed
        setup["openvino_build_s"] = round(time.perf_counter() - t0, 2)
        variants["openvino_1request"] = openvino_variant(build_openvino_model(net, cfg, stats), "LATENCY")
        int8 = int8_model(net, cfg, stats, st, setup)
        if int8 is not None:
            variants["openvino_int8"] = openvino_variant(int8, "THROUGHPUT")
    try:
        import onnxruntime as ort

        t0 = time.perf_counter()
        buf = io.BytesIO()
        axes = {0: "n", 2: "h", 3: "w"}
        torch.onnx.export(
            net,
            (torch.zeros(1, net.in_channels, 128, 128),),
            buf,
            input_names=["x"],
            output_names=["emb"],
            dynamic_axes={"x": axes, "emb": axes},
            dynamo=False,
        )
        so = ort.SessionOptions()
        so.intra_op_num_threads = torch.get_num_threads()
        sess = ort.InferenceSession(buf.getvalue(), so, providers=["CPUExecutionProvider"])
        variants["onnxruntime"] = torch_path(lambda x: torch.from_numpy(sess.run(None, {"x": x.numpy()})[0]), "fp32")
        setup["onnxruntime_build_s"] = round(time.perf_counter() - t0, 2)
    except ImportError:
        pass
    if compile_:
        t0 = time.perf_counter()
        comp = torch.compile(net)
        variants["torch_compile"] = torch_path(comp, "fp32")
        variants["torch_compile"](chips[0])
        setup["torch_compile_first_call_s"] = round(time.perf_counter() - t0, 1)
    ref = [variants["eager"](c)[0] for c in chips[:2]]
    agree = {k: float(max(np.nanmax(np.abs(f(c)[0] - r)) for c, r in zip(chips[:2], ref))) for k, f in variants.items()}
    rates: dict = {k: [] for k in variants}
    cnn_only: dict = {k: [] for k in variants}
    cpu_per_chip: dict = {k: [] for k in variants}
    loads = []
    names = list(variants)
    for r in range(repeats):
        loads.append(load_average())
        wall = dict.fromkeys(names, 0.0)
        emb_wall = dict.fromkeys(names, 0.0)
        cpu = dict.fromkeys(names, 0.0)
        count = dict.fromkeys(names, 0)
        for b, c in enumerate(chips):
            order = names if (r + b) % 2 == 0 else names[::-1]
            for k in order:
                if k in SLOW_VARIANTS and b >= 2:
                    continue
                c0, t0 = time.process_time(), time.perf_counter()
                emb, valid = variants[k](c)
                t1 = time.perf_counter()
                percentile_features(emb, valid)
                wall[k] += time.perf_counter() - t0
                emb_wall[k] += t1 - t0
                cpu[k] += time.process_time() - c0
                count[k] += len(c)
        for k in names:
            rates[k].append(count[k] / wall[k])
            cnn_only[k].append(count[k] / emb_wall[k])
            cpu_per_chip[k].append(cpu[k] / count[k])
    if openvino_available():
        profile = openvino_profile(build_openvino_model(net, cfg, stats), chips[0], net)
    med = {k: statistics.median(v) for k, v in rates.items()}
    med_emb = {k: statistics.median(v) for k, v in cnn_only.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu_per_chip.items()}
    return {
        "n_chips": len(ids),
        "n_chips_slow_variants": sum(len(c) for c in chips[:2]),
        "batch": batch,
        "threads": torch.get_num_threads(),
        "model_precision": model.precision,
        "features_chips_per_s": {k: round(v, 2) for k, v in med.items()},
        "embedding_chips_per_s": {k: round(v, 2) for k, v in med_emb.items()},
        "speedup_vs_today": {k: round(v / med["today"], 2) for k, v in med.items()},
        "embedding_speedup_vs_today": {k: round(v / med_emb["today"], 2) for k, v in med_emb.items()},
        "cpu_ms_per_chip": {k: round(1000 * v, 1) for k, v in med_cpu.items()},
        "cpu_time_speedup_vs_today": {k: round(med_cpu["today"] / v, 2) for k, v in med_cpu.items()},
        "max_abs_diff_vs_eager": agree,
        "setup": setup,
        "openvino_profile": profile,
        "load_average": loads,
        "per_repeat_features_chips_per_s": {k: [round(x, 2) for x in v] for k, v in rates.items()},
    }


def openvino_variant(ov_model, hint: str):
    """An embed function for a model compiled with ``hint`` and torch's threads (THROUGHPUT: one
    single-threaded stream per thread, the batch split between them as the runtime does)."""
    import numpy as np
    import openvino as ov
    import torch

    n = torch.get_num_threads()
    props = {"PERFORMANCE_HINT": hint, "INFERENCE_NUM_THREADS": n}
    compiled = ov.Core().compile_model(
        ov_model, "CPU", {**props, **({"NUM_STREAMS": n} if hint == "THROUGHPUT" else {})}
    )
    requests = [compiled.create_infer_request() for _ in range(n if hint == "THROUGHPUT" else 1)]

    def embed(c):
        parts = [p for p in np.array_split(c, min(len(requests), len(c))) if len(p)]
        for r, part in zip(requests, parts):
            r.start_async({0: part}, share_inputs=True)
        outs = []
        for r in requests[: len(parts)]:
            r.wait()
            outs.append([np.array(r.get_output_tensor(k).data) for k in range(2)])
        return tuple(np.concatenate([o[k] for o in outs]) for k in range(2))

    return embed


def int8_model(net, cfg, stats, store, setup: dict):
    """NNCF int8 post-training quantization of the OpenVINO graph (calibrated on 64 chips spread over
    the store), or None without the ``nncf`` package. Measured only: not adopted (README)."""
    import time

    import numpy as np

    from landslide_app.model.inference import build_openvino_model

    try:
        import nncf
    except ImportError:
        return None
    ids = [int(i) for i in store.ids]
    calib = [np.asarray(store.read_many(ids[k::48][:8]), dtype=np.float32) for k in range(0, 48, 6)]
    t0 = time.perf_counter()
    q = nncf.quantize(
        build_openvino_model(net, cfg, stats), nncf.Dataset(calib), subset_size=64, fast_bias_correction=True
    )
    setup["openvino_int8_quantize_s"] = round(time.perf_counter() - t0, 1)
    return q


def openvino_profile(ov_model, chips, net) -> dict:
    """Where the OpenVINO fp32 graph's time goes (``PERF_COUNT`` per-layer counters, one thread):
    share per operation type, the convolutions' rate in CPU time beside a single-thread fp32 GEMM
    measured right after (``torch.mm`` 1024^3), and the network's FLOPs per chip."""
    import time

    import openvino as ov
    import torch

    from landslide_app.model.runtime import conv_flops

    props = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": 1, "PERF_COUNT": True}
    request = ov.Core().compile_model(ov_model, "CPU", props).create_infer_request()
    request.infer({0: chips})
    c0 = time.process_time()
    request.infer({0: chips})
    cpu_per_chip = (time.process_time() - c0) / len(chips)
    shares: dict[str, float] = {}
    kernels: dict[str, str] = {}
    for p in request.get_profiling_info():
        if p.status.name == "EXECUTED":
            shares[p.node_type] = shares.get(p.node_type, 0.0) + p.real_time.total_seconds()
            kernels[p.node_type] = p.exec_type
    total = sum(shares.values())
    shares = {k: round(v / total, 3) for k, v in sorted(shares.items(), key=lambda kv: -kv[1])}
    flops = conv_flops(net, net.in_channels, chips.shape[2], chips.shape[3])["forward"]
    with torch.inference_mode():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
        a @ b
        c0 = time.process_time()
        for _ in range(5):
            a @ b
        gemm = 5 * 2 * 1024**3 / (time.process_time() - c0)
        torch.set_num_threads(threads)
    conv_rate = flops / (cpu_per_chip * shares.get("Convolution", 1.0))
    return {
        "op_type_share": shares,
        "kernels": kernels,
        "cpu_ms_per_chip_one_thread": round(1000 * cpu_per_chip, 2),
        "forward_gflop_per_chip": round(flops / 1e9, 3),
        "conv_cpu_gflops": round(conv_rate / 1e9, 1),
        "gemm_fp32_cpu_gflops_one_thread": round(gemm / 1e9, 1),
        "conv_fraction_of_gemm": round(conv_rate / gemm, 2),
    }


def int8_agreement(runs_dir: str, store_path: str, batch: int = 16) -> dict[str, Any]:
    """int8 (NNCF) against fp32 OpenVINO for each fold model of an ablation run directory
    (``model_fold{k}.pt`` + ``forest_fold{k}.npz``, or ``.skops`` in older folders) on every chip of
    the store, one thread: embedding and feature differences, the forest's identical classes, largest probability change
    and one-vs-rest macro AUC on the store's classes, and the CPU time of both (features included)."""
    import time
    from pathlib import Path

    import numpy as np
    import openvino as ov
    import torch
    from sklearn.metrics import roc_auc_score

    from landslide_app.chips.store import ChipStore
    from landslide_app.experiments.artifacts import fold_model_paths
    from landslide_app.model.features import percentile_features
    from landslide_app.model.forest import DensityForest
    from landslide_app.model.inference import build_openvino_model
    from landslide_app.model.trained import TrainedModel

    torch.set_num_threads(1)
    store = ChipStore.open(store_path)
    ids, y = [int(i) for i in store.ids], np.asarray(store.classes)
    chips = [np.asarray(store.read_many(ids[k : k + batch]), dtype=np.float32) for k in range(0, len(ids), batch)]
    props = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": 1}
    folds = []
    for path in sorted(Path(runs_dir).glob("model_fold*.pt")):
        model = TrainedModel.load(path, device="cpu")
        forest = DensityForest.load(fold_model_paths(path.parent, int(path.stem.removeprefix("model_fold")))[1])
        setup: dict[str, Any] = {}
        graphs = {"fp32": build_openvino_model(model.net.eval(), model.config, model.stats)}
        graphs["int8"] = int8_model(model.net.eval(), model.config, model.stats, store, setup)
        out: dict[str, Any] = {}
        for name, graph in graphs.items():
            request = ov.Core().compile_model(graph, "CPU", props).create_infer_request()
            c0, feats, embs = time.process_time(), [], []
            for c in chips:
                emb, valid = (np.array(v) for v in request.infer({0: c}).values())
                feats.append(percentile_features(emb, valid))
                embs.append(emb[:, ::4, ::4].copy())
            out[name] = (np.concatenate(feats), np.concatenate(embs), (time.process_time() - c0) / len(ids))
        (fa, ea, ta), (fb, eb, tb) = out["fp32"], out["int8"]
        ok = np.isfinite(ea)
        pa, pb = forest.predict_proba(fa), forest.predict_proba(fb)
        auc_a, auc_b = (float(roc_auc_score(y, p, multi_class="ovr", average="macro")) for p in (pa, pb))
        folds.append(
            {
                "model": path.name,
                "quantize_s": setup.get("openvino_int8_quantize_s"),
                "cpu_ms_per_chip": {"fp32": round(1000 * ta, 2), "int8": round(1000 * tb, 2)},
                "embedding_max_abs_diff": float(np.abs(ea[ok] - eb[ok]).max()),
                "embedding_mean_abs_diff": float(np.abs(ea[ok] - eb[ok]).mean()),
                "embedding_corr": float(np.corrcoef(ea[ok], eb[ok])[0, 1]),
                "features_max_abs_diff": float(np.abs(fa - fb).max()),
                "features_min_corr": float(min(np.corrcoef(fa[:, j], fb[:, j])[0, 1] for j in range(fa.shape[1]))),
                "forest_identical_classes": float((pa.argmax(1) == pb.argmax(1)).mean()),
                "forest_prob_max_abs_diff": float(np.abs(pa - pb).max()),
                "auc_fp32": round(auc_a, 4),
                "auc_int8": round(auc_b, 4),
                "auc_change": round(auc_b - auc_a, 4),
            }
        )
    return {
        "n_chips": len(ids),
        "tolerance": {"identical_classes_min": 0.99, "auc_change_max": 0.005},
        "folds": folds,
        "within_tolerance": all(f["forest_identical_classes"] >= 0.99 and abs(f["auc_change"]) <= 0.005 for f in folds),
    }
