"""Serve ``app.ipynb`` with Voila: sources stripped, no tracebacks, bound to localhost by default.

Each browser session gets its own kernel; a kernel idle for :data:`CULL_IDLE_S` (no widget
message, no running cell) and without a connected page is shut down (Voila's
``MappingKernelManager.cull_*`` settings), so closed tabs stop holding memory. What the kernels
compute from a workspace (overlays, ordered predictions, figures) is shared between them through
the on-disk cache of :mod:`landslide_app.dashboard.viewcache` (``WORKSPACE/.dashboard-cache/``;
``LANDSLIDE_APP_VIEW_CACHE=off`` disables it). Voila's preheated kernels (``--preheat_kernel``)
are not used: they are separate processes started ahead (no shared memory), idle ones hold theirs.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from landslide_app.errors import InputError

log = logging.getLogger(__name__)

#: Seconds a kernel may stay idle and unconnected before it is culled; how often that is checked.
CULL_IDLE_S, CULL_INTERVAL_S = 600, 60


def notebook_path() -> Path:
    """``app.ipynb``: in the current directory, else beside the package (a source checkout)."""
    for p in (Path.cwd() / "app.ipynb", Path(__file__).resolve().parents[2] / "app.ipynb"):
        if p.exists():
            return p
    raise InputError("app.ipynb not found: run `landslide-app app` from the project folder")


def voila_command(port: int, open_browser: bool, ip: str = "127.0.0.1") -> list[str]:
    """The Voila command line for the dashboard."""
    return [
        sys.executable,
        "-m",
        "voila",
        str(notebook_path()),
        f"--port={port}",
        f"--Voila.ip={ip}",
        "--Voila.port_retries=0",  # a busy port fails instead of serving elsewhere than the URL printed
        "--strip_sources=True",
        "--show_tracebacks=False",
        f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_S}",
        f"--MappingKernelManager.cull_interval={CULL_INTERVAL_S}",
        "--MappingKernelManager.cull_connected=False",  # an open page keeps its kernel
        "--MappingKernelManager.cull_busy=False",  # a running stage is never cut off
        *([] if open_browser else ["--no-browser"]),
    ]


def serve(data_dir: str | Path, port: int = 8866, open_browser: bool = True, root: str | Path | None = None) -> int:
    """Run Voila in the foreground until interrupted; returns its exit code.

    ``data_dir``: the workspace opened first (any folder the CLI made, or a folder of workspaces);
    ``root``: the folder whose workspaces the page's picker lists (default: ``data_dir``'s parent).
    """
    from landslide_app.experiments.workspace import is_workspace, list_workspaces

    data = Path(data_dir).resolve()
    if not data.is_dir() or not (is_workspace(data) or list_workspaces(data)):
        raise InputError(
            f"no workspace at {data}: run `landslide-app demo --data {data_dir}` for the demo, or "
            "give a folder made by `chips`, `train`, `predict` or `respond` (or a folder of them)"
        )
    env = {**os.environ, "LANDSLIDE_APP_DATA": str(data)}
    if root is not None:
        env["LANDSLIDE_APP_ROOT"] = str(Path(root).resolve())
    cmd = voila_command(port, open_browser)
    log.info("dashboard at http://127.0.0.1:%d/", port)
    sys.stdout.write(f"Open http://127.0.0.1:{port}/ in a browser (Ctrl-C stops the server)\n")
    sys.stdout.flush()
    try:
        return subprocess.call(cmd, env=env, cwd=notebook_path().parent)
    except KeyboardInterrupt:
        return 0
