"""Shared helpers for the benchmark scripts: machine facts and merging into results.json."""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results.json")


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    try:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:  # pragma: no cover
        gpu = None
    mem = None
    try:
        mem = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):  # pragma: no cover
        pass
    return {
        "cpu_count": os.cpu_count(),
        "memory_gib": mem,
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "gpu": gpu,
        **cpu_facts(),
        "date": time.strftime("%Y-%m-%d"),
    }


def cpu_facts() -> dict[str, Any]:
    """CPU model name and the ISA flags that decide the fast paths (AVX2, AVX-512, bf16 units, AMX)."""
    name, flags = None, set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and name is None:
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    isa = [
        f
        for f in ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_tile")
        if f in flags
    ]
    return {"cpu_model": name, "isa": isa}


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (``/proc/loadavg``); None where unknown."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (OSError, AttributeError):  # pragma: no cover - not Unix
        return None


def merge_results(section: str, figures: dict[str, Any], keep: bool = False) -> Path:
    """Write ``figures`` under ``section`` of ``benchmarks/results.json`` (other sections kept).

    ``keep``: update the section's existing figures instead of replacing the section.
    """
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    old = data.get(section, {}) if keep else {}
    data[section] = {**old, **figures, "machine": machine(), "load_average_at_write": load_average()}
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, RESULTS)
    return RESULTS


def report(section: str, figures: dict[str, Any], keep: bool = False) -> Path:
    """Log ``figures`` one per line, then write them with :func:`merge_results`."""
    width = max((len(k) for k in figures), default=0)
    for key, val in figures.items():
        logging.getLogger("benchmarks").info("%-*s %s", width, key, val)
    path = merge_results(section, figures, keep=keep)
    logging.getLogger("benchmarks").info("written to %s", path)
    return path


def run_measured(
    cmd: list[str], env: dict[str, str] | None = None, cwd: str | Path | None = None, timeout: float | None = None
) -> dict[str, Any]:
    """Run ``cmd`` as a child process; return its wall seconds, peak RSS (MiB, from ``wait4``:
    the child and the descendants it waited for), exit status and output."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env={**os.environ, **(env or {})}, cwd=cwd)
        deadline = None if timeout is None else t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                proc.kill()
            time.sleep(0.05)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        res = {
            "seconds": round(seconds, 2),
            "max_rss_mib": round(usage.ru_maxrss / 1024, 1),
            "returncode": proc.returncode,
            "stdout": out.read().decode(errors="replace"),
            "stderr": err.read().decode(errors="replace"),
        }
    if res["returncode"] != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({res['returncode']}):\n{res['stderr'][-3000:]}")
    return res


def cli(*args: str) -> list[str]:
    """The ``landslide-app`` command line of this interpreter."""
    return [sys.executable, "-m", "landslide_app.cli", *args]


def time_calls(owner: Any, name: str, label: str, timers: dict[str, float]) -> None:
    """Replace ``owner.name`` by a wrapper that adds its wall time to ``timers[label]``."""
    fn = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            timers[label] = timers.get(label, 0.0) + time.perf_counter() - t

    setattr(owner, name, wrapper)


def saved_run_dir(out: Path, key: str, seed: int) -> Path | None:
    """The run folder of ``key`` (e.g. ``fused-r3-blocked``) for ``seed`` in an ``ablate`` output ``out``,
    when that run kept its fold networks (``ablate`` keeps them for the first seed only); else None."""
    from landslide_app.experiments.artifacts import fold_model_paths

    res = json.loads((out / "results.json").read_text())
    for rep in res.get("repeats") or [{"seed": res.get("seed", 0), "dir": "."}]:
        d = out / rep["dir"] / "runs" / key
        if int(rep["seed"]) == seed and fold_model_paths(d, 0)[0].is_file():
            return d
    return None


def saved_cross_prediction(
    store: Any, config: Any, split: str, seed: int, epochs: int, run: Path, block_size: int | None = None
) -> Any:
    """An ablation run's cross-prediction from its saved fold networks (nothing trained): the run's
    split redrawn from its seed (``block_size``: the blocked split's, as the ablation built it), every
    chip re-embedded, the forests refitted (a :class:`~landslide_app.model.crossval.CrossValResult`)."""
    from landslide_app.experiments.ablation import chip_classes
    from landslide_app.experiments.artifacts import fold_model_paths
    from landslide_app.model.chipsets import as_batch_getter
    from landslide_app.model.crossval import check_classes, cross_predict
    from landslide_app.model.embedding_forest import EmbeddingForest
    from landslide_app.model.protocol import resolve_split
    from landslide_app.model.trained import TrainedModel

    ids, y = check_classes(store.ids, chip_classes(store, None))
    the_split = resolve_split(split, ids, seed, store, classes=y, block_size=block_size)  # type: ignore[arg-type]
    get_batch = as_batch_getter(store)

    def fit_fold(data: Any) -> Any:
        net = TrainedModel.load(fold_model_paths(run, data.k)[0], config=config, device="cpu")
        return EmbeddingForest(get_batch, config, epochs=epochs, seed=seed + data.k, progress=False).fit(data, net)

    return cross_predict(the_split, ids, y, fit_fold, label=f"{config.name} saved networks")
