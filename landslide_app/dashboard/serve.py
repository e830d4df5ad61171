"""Serve ``app.ipynb`` with Voila: sources stripped, no tracebacks, bound to localhost by default."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from landslide_app.errors import InputError

log = logging.getLogger(__name__)


def notebook_path() -> Path:
    """``app.ipynb``: in the current directory, else beside the package (a source checkout)."""
    for p in (Path.cwd() / "app.ipynb", Path(__file__).resolve().parents[2] / "app.ipynb"):
        if p.exists():
            return p
    raise InputError("app.ipynb not found: run `landslide-app app` from the project folder")


def voila_command(port: int, open_browser: bool, ip: str = "127.0.0.1") -> list[str]:
    """The Voila command line for the dashboard."""
    return [
        sys.executable, "-m", "voila", str(notebook_path()), f"--port={port}", f"--Voila.ip={ip}",
        "--Voila.port_retries=0",  # a busy port fails instead of serving elsewhere than the URL printed
        "--strip_sources=True", "--show_tracebacks=False",
        *([] if open_browser else ["--no-browser"]),
    ]


def serve(data_dir: str | Path, port: int = 8866, open_browser: bool = True) -> int:
    """Run Voila in the foreground until interrupted; returns its exit code."""
    data = Path(data_dir).resolve()
    if not (data / "chips" / "store.json").exists():
        raise InputError(f"no demo data under {data}: run `landslide-app demo --data {data_dir}` first")
    env = {**os.environ, "LANDSLIDE_APP_DATA": str(data)}
    cmd = voila_command(port, open_browser)
    log.info("dashboard at http://127.0.0.1:%d/", port)
    sys.stdout.write(f"Open http://127.0.0.1:{port}/ in a browser (Ctrl-C stops the server)\n")
    sys.stdout.flush()
    try:
        return subprocess.call(cmd, env=env, cwd=notebook_path().parent)
    except KeyboardInterrupt:
        return 0
