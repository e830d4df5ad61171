"""Concurrent dashboard sessions: render time and memory with N browser sessions on one Voila server.

Usage: ``python benchmarks/bench_sessions.py [--data data/demo] [--sessions 8] [--timeout 600]
[--max-load 3.0] [--load-wait 480] [--modes off,shared] [--breakdown]``. Needs a data directory
prepared by ``landslide-app demo`` (or any workspace).

``--modes``: one server per mode, one after the other in the same run: ``off`` without the shared
view cache (``LANDSLIDE_APP_VIEW_CACHE=off``: every kernel computes and holds its own views, as
before issue 14), ``shared`` with it, starting from an empty cache folder (the first session
builds each view, the others wait for it and map the same files), ``warm`` with the folder the
``shared`` round filled. ``--breakdown``: also what one kernel's memory consists of
(``kernel_memory.py``: interpreter, imports, the page's data).

Starts ``landslide-app app`` 's Voila command (``serve.voila_command``) on a free port, opens
``--sessions`` pages at once (one Chromium, one browser context per page), and for each records the
time from navigation start until the chip layer is drawn (``.leaflet-container`` present, then
every chip's SVG ``path.leaflet-interactive``). Once all pages have rendered (or failed), it reads
the resident memory (RSS) of the Voila server process and of every kernel process it spawned (one
per session), then stops the server and its kernels. Memory per kernel: RSS, USS (pages no other
process maps: what one more session costs) and PSS (shared pages divided among their mappers; the
PSS of all kernels sums to their real total), read with psutil's ``memory_full_info``. Before starting, it waits (up to
``--load-wait`` seconds) for the 1-minute load average to drop below ``--max-load``.

Prints the figures and writes them under ``"sessions"`` in ``benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import merge_results  # noqa: E402

from landslide_app.testing.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

CHIP_PATHS = ".leaflet-overlay-pane svg path.leaflet-interactive"


def _loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (OSError, AttributeError):  # pragma: no cover
        return None


def wait_for_quiet(max_load: float, max_wait: float, every: float = 15.0) -> tuple[bool, float]:
    """Wait until the 1-minute load average is below ``max_load``; (reached, seconds waited)."""
    t0 = time.monotonic()
    while True:
        la = os.getloadavg()[0]
        if la < max_load:
            return True, time.monotonic() - t0
        if time.monotonic() - t0 >= max_wait:
            return False, time.monotonic() - t0
        print(f"load {la:.2f} >= {max_load}: waiting", flush=True)
        time.sleep(every)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- memory --------------------------------------------------------------------------------------


def _proc_children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
            ppid = int(s[s.rindex(")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    return kids


def _proc_rss_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return 0.0


def _proc_cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _full(proc) -> dict[str, float]:
    m = proc.memory_full_info()
    t = proc.cpu_times()
    torch = any("libtorch" in (mm.path or "") for mm in proc.memory_maps(grouped=True))
    return {
        **{k: getattr(m, k) / 2**20 for k in ("rss", "uss", "pss", "shared")},
        "cpu_s": t.user + t.system,
        "torch": torch,
    }


def process_memory(root: int) -> dict:
    """RSS (MiB) of ``root`` and of each of its descendants, with their command lines (and, through
    psutil, ``full``: pid -> rss, uss, pss, shared in MiB)."""
    try:
        import psutil

        p = psutil.Process(root)
        kids = p.children(recursive=True)
        procs = [(c.pid, c.memory_info().rss / 2**20, " ".join(c.cmdline())) for c in kids]
        full = {c.pid: _full(c) for c in kids}
        return {"root": p.memory_info().rss / 2**20, "children": procs, "full": full, "via": "psutil"}
    except ImportError:
        pass
    kids = _proc_children_map()
    out, todo = [], list(kids.get(root, []))
    while todo:
        pid = todo.pop()
        todo.extend(kids.get(pid, []))
        rss = _proc_rss_mib(pid)
        if rss is not None:
            out.append((pid, rss, _proc_cmdline(pid)))
    return {"root": _proc_rss_mib(root) or 0.0, "children": out, "via": "/proc"}


# --- server --------------------------------------------------------------------------------------


class Voila:
    """The dashboard's Voila command on a free port, in its own process group (killed on exit)."""

    def __init__(self, data: Path, start_timeout: float = 120, env_extra: dict[str, str] | None = None) -> None:
        from landslide_app.dashboard.serve import notebook_path, voila_command

        self.port = _free_port()
        env = {**os.environ, "LANDSLIDE_APP_DATA": str(data), **(env_extra or {})}
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            voila_command(self.port, open_browser=False),
            env=env,
            cwd=notebook_path().parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        end = time.monotonic() + start_timeout
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"voila exited with {self.proc.returncode} before listening")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    break
            if time.monotonic() > end:
                self.close()
                raise SystemExit(f"voila not listening on port {self.port} after {start_timeout} s")
            time.sleep(0.2)
        self.start_s = time.perf_counter() - t0
        self.url = f"http://127.0.0.1:{self.port}/"

    def close(self) -> None:
        kids = []
        try:
            import psutil

            kids = psutil.Process(self.proc.pid).children(recursive=True)
        except Exception:  # noqa: BLE001
            pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(10)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        for k in kids:  # kernels are in the group too; this catches any that left it
            try:
                k.kill()
            except Exception:  # noqa: BLE001
                pass

    def __enter__(self) -> Voila:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- browser sessions ----------------------------------------------------------------------------


async def _session(browser, url: str, n_chips: int, timeout_ms: int) -> dict:
    ctx = await browser.new_context(viewport={"width": 1500, "height": 1250})
    page = await ctx.new_page()
    t0 = time.perf_counter()
    try:
        await page.goto(url, timeout=timeout_ms)
        await page.wait_for_selector(".leaflet-container", timeout=timeout_ms)
        t_map = time.perf_counter() - t0
        await page.wait_for_function(
            f"document.querySelectorAll('{CHIP_PATHS}').length >= {n_chips}", timeout=timeout_ms
        )
        t = time.perf_counter() - t0
        return {
            "ok": True,
            "render_s": t,
            "map_s": t_map,
            "ctx": ctx,
            "paths": await page.evaluate(f"document.querySelectorAll('{CHIP_PATHS}').length"),
        }
    except Exception as e:  # noqa: BLE001
        return {
            "ok": False,
            "error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}",
            "elapsed_s": time.perf_counter() - t0,
            "ctx": ctx,
        }


async def run_sessions(v: Voila, n: int, n_chips: int, timeout_s: float, settle_s: float) -> dict:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            t0 = time.perf_counter()
            results = await asyncio.gather(
                *[_session(browser, v.url, n_chips, int(timeout_s * 1000)) for _ in range(n)]
            )
            wall = time.perf_counter() - t0
            await asyncio.sleep(settle_s)  # let the kernels finish their post-render work
            mem = process_memory(v.proc.pid)
            for r in results:
                await r.pop("ctx").close()
        finally:
            await browser.close()
    return {"results": results, "wall_s": wall, "mem": mem}


def _stats(values: list[float]) -> dict[str, float | None]:
    return {
        "mean": round(statistics.mean(values), 1) if values else None,
        "max": round(max(values), 1) if values else None,
        "min": round(min(values), 1) if values else None,
    }


def figures_of(out: dict, sessions: int, n_chips: int, start_s: float) -> dict:
    """The figures of one server's round (render times, memory per kernel)."""
    res = out["results"]
    ok = [r for r in res if r["ok"]]
    renders = sorted(r["render_s"] for r in ok)
    mem = out["mem"]
    kernels = [(pid, rss) for pid, rss, cmd in mem["children"] if "ipykernel" in cmd or "kernel" in cmd]
    others = [(pid, rss, cmd[:120]) for pid, rss, cmd in mem["children"] if not ("ipykernel" in cmd or "kernel" in cmd)]
    k_rss = [rss for _, rss in kernels]
    full = [mem.get("full", {}).get(pid) for pid, _ in kernels]
    full = [f for f in full if f]
    total = mem["root"] + sum(rss for _, rss, _ in mem["children"])
    return {
        "sessions": sessions,
        "sessions_rendered": len(ok),
        "all_rendered": len(ok) == sessions,
        "n_chips": n_chips,
        "render_s_median": round(statistics.median(renders), 2) if renders else None,
        "render_s_max": round(max(renders), 2) if renders else None,
        "render_s_min": round(min(renders), 2) if renders else None,
        "render_s_each": [round(x, 2) for x in renders],
        "map_container_s_median": round(statistics.median(r["map_s"] for r in ok), 2) if ok else None,
        "all_sessions_wall_s": round(out["wall_s"], 2),
        "server_start_s": round(start_s, 2),
        "server_rss_mib": round(mem["root"], 1),
        "kernels": len(kernels),
        "kernel_rss_mib_mean": round(statistics.mean(k_rss), 1) if k_rss else None,
        "kernel_rss_mib_max": round(max(k_rss), 1) if k_rss else None,
        "kernel_rss_mib_each": [round(x, 1) for x in sorted(k_rss)],
        "kernel_uss_mib": _stats([f["uss"] for f in full]),
        "kernel_pss_mib": _stats([f["pss"] for f in full]),
        "kernel_shared_mib": _stats([f["rss"] - f["uss"] for f in full]),
        "kernels_pss_total_mib": round(sum(f["pss"] for f in full), 1) if full else None,
        "kernels_uss_total_mib": round(sum(f["uss"] for f in full), 1) if full else None,
        "kernels_with_torch_loaded": sum(bool(f["torch"]) for f in full),
        "kernels_cpu_s_total": round(sum(f["cpu_s"] for f in full), 1) if full else None,
        "other_children_rss_mib": [round(rss, 1) for _, rss, _ in others],
        "total_rss_mib": round(total, 1),
        "memory_via": mem["via"],
        "errors": [r["error"] for r in res if not r["ok"]],
    }


def run_mode(data: Path, mode: str, cache_dir: Path, args: argparse.Namespace, n_chips: int) -> dict:
    """One server with the view cache ``off``, ``shared`` (empty folder) or ``warm`` (filled)."""
    import shutil

    if mode == "shared" and cache_dir.exists():
        shutil.rmtree(cache_dir)
    env = {"LANDSLIDE_APP_VIEW_CACHE": "off" if mode == "off" else str(cache_dir)}
    load_before = _loadavg()
    with Voila(data, env_extra=env) as v:
        out = asyncio.run(run_sessions(v, args.sessions, n_chips, args.timeout, args.settle))
    figs = figures_of(out, args.sessions, n_chips, v.start_s)
    figs.update(mode=mode, load_average_before=load_before, load_average_after=_loadavg())
    return figs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/demo")
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=600, help="per-page render timeout, seconds")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds between the last render and the memory reading")
    ap.add_argument("--max-load", type=float, default=3.0)
    ap.add_argument("--load-wait", type=float, default=480)
    ap.add_argument("--modes", default="off,shared", help="comma list of off, shared, warm (see the docstring)")
    ap.add_argument("--breakdown", action="store_true", help="also one kernel's memory by part (kernel_memory.py)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave results.json alone")
    args = ap.parse_args()

    import tempfile

    from landslide_app.chips.store import ChipStore

    data = Path(args.data).resolve()
    if not (data / "chips" / "store.json").exists():
        raise SystemExit(f"no demo data under {data}: run `landslide-app demo --data {args.data}` first")
    n_chips = len(ChipStore.open(data / "chips").ids)

    quiet, waited = wait_for_quiet(args.max_load, args.load_wait)
    if not quiet:
        print(f"load average stayed >= {args.max_load} for {waited:.0f} s: running anyway", flush=True)
    rounds: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sessions-cache-") as tmp:
        for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
            rounds[mode] = run_mode(data, mode, Path(tmp) / "views", args, n_chips)
            print(json.dumps(rounds[mode]), flush=True)
        breakdown = None
        if args.breakdown:
            from kernel_memory import breakdown as kernel_breakdown

            os.environ["LANDSLIDE_APP_VIEW_CACHE"] = str(Path(tmp) / "views")
            breakdown = kernel_breakdown(data)
    figures: dict = {
        "modes": rounds,
        "sessions": args.sessions,
        "load_quiet_before": quiet,
        "load_waited_s": round(waited, 1),
    }
    if "off" in rounds and "shared" in rounds:
        off, on = rounds["off"], rounds["shared"]
        figures["uss_per_kernel_off_over_shared"] = _ratio(off["kernel_uss_mib"]["mean"], on["kernel_uss_mib"]["mean"])
        figures["pss_total_off_over_shared"] = _ratio(off["kernels_pss_total_mib"], on["kernels_pss_total_mib"])
        figures["render_median_off_over_shared"] = _ratio(off["render_s_median"], on["render_s_median"])
    if breakdown is not None:
        figures["kernel_breakdown_mib"] = breakdown
    if not args.no_write:
        merge_results("sessions", figures)
    for k, val in figures.items():
        if k != "modes":
            print(f"{k}: {val}")
    if not all(r["all_rendered"] for r in rounds.values()):
        sys.exit(1)


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


if __name__ == "__main__":
    main()
