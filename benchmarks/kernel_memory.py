"""What a dashboard kernel's memory consists of: interpreter, imports, then one workspace's page.

Usage: ``python benchmarks/kernel_memory.py --data DIR [--no-shared-cache]`` (the child step, run
by :func:`breakdown`). Imports what a Voila kernel imports, step by step, then builds the page
(``build_app``), waits for its background warm-up and renders the widgets' state as a browser
would request it, reading after each step the process's RSS, USS (pages only this process maps)
and PSS (shared pages divided among the processes mapping them) with psutil's
``memory_full_info``. Prints one JSON object: ``steps`` -> {rss, uss, pss} in MiB.

``--fork-probe``: what forking kernels from one process that already imported everything would
share (no Jupyter kernel launcher does this today; Voila's preheated kernels are started apart).

Only the difference between the last import step and the page (the workspace's data) and the
file-backed shared libraries can be shared between kernels; what the imports allocate on the
Python heap is private to each kernel process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path


def _mem() -> dict[str, float]:
    import psutil

    m = psutil.Process().memory_full_info()
    return {k: round(getattr(m, k) / 2**20, 1) for k in ("rss", "uss", "pss", "shared")}


def _steps(data: str) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {"interpreter": _mem()}
    import ipykernel.kernelapp  # noqa: F401 - what every kernel holds

    out["ipykernel"] = _mem()
    import ipyleaflet  # noqa: F401
    import ipywidgets  # noqa: F401

    out["widgets"] = _mem()
    import landslide_app.dashboard  # noqa: F401 - the notebook's first cell

    out["landslide_app.dashboard"] = _mem()
    import geopandas  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import rasterio  # noqa: F401

    out["geo+matplotlib"] = _mem()
    import torch  # noqa: F401

    out["torch"] = _mem()
    from landslide_app.dashboard import build_app

    t0 = time.perf_counter()
    app = build_app(data)
    out["page_built"] = {**_mem(), "seconds": round(time.perf_counter() - t0, 2)}
    for t in threading.enumerate():  # the analyst page's warm-up thread
        if t.name.startswith("landslide"):
            t.join(600)
    from ipywidgets import Widget

    states = [w.get_state() for w in list(Widget.widgets.values())]  # what the browser asks for
    out["page_warm+state"] = {**_mem(), "widgets": len(states)}
    del states
    import gc

    gc.collect()
    out["after_gc"] = _mem()
    del app
    return out


def _import_stack() -> None:
    import geopandas  # noqa: F401
    import ipykernel.kernelapp  # noqa: F401
    import ipyleaflet  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import rasterio  # noqa: F401
    import torch  # noqa: F401

    import landslide_app.dashboard  # noqa: F401


def _fork_probe(data: str, children: int = 2) -> dict:
    """What a fork-based kernel launcher would share: import the stack once, ``gc.freeze()``,
    fork ``children`` that each build the page; their USS/PSS against a fresh kernel's."""
    import gc

    _import_stack()
    gc.collect()
    gc.freeze()  # keep the collector from touching (and so copying) the parent's objects
    parent = _mem()
    pipes, pids = [], []
    for _ in range(children):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: one page, then its memory
            os.close(r)
            from landslide_app.dashboard import build_app

            app = build_app(data)
            for t in threading.enumerate():
                if t.name.startswith("landslide"):
                    t.join(600)
            time.sleep(2.0)  # the other child is built too: shared pages counted once each
            os.write(w, json.dumps(_mem()).encode())
            del app
            os._exit(0)
        os.close(w)
        pipes.append(r)
        pids.append(pid)
    kids = []
    for r, pid in zip(pipes, pids):
        with os.fdopen(r) as fh:
            kids.append(json.loads(fh.read() or "{}"))
        os.waitpid(pid, 0)
    return {"parent_after_imports": parent, "children": kids}


def breakdown(data: Path, shared_cache: bool = True, timeout: float = 900) -> dict:
    """Run the steps in a fresh interpreter (as a kernel starts) and return its figures."""
    env = {**os.environ}
    if not shared_cache:
        env["LANDSLIDE_APP_VIEW_CACHE"] = "off"
    r = subprocess.run(
        [sys.executable, __file__, "--child", "--data", str(data)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=True,
    )
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--no-shared-cache", action="store_true")
    ap.add_argument("--fork-probe", action="store_true", help="measure fork-shared imports instead")
    args = ap.parse_args()
    if args.fork_probe:
        print(json.dumps(_fork_probe(args.data), indent=1))
        return
    if args.child:
        import logging

        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        print(json.dumps(_steps(args.data)))
        return
    print(json.dumps(breakdown(Path(args.data), not args.no_shared_cache), indent=1))


if __name__ == "__main__":
    main()
