"""What the browser tests share: the skips, a Voila server on a free loopback port, and a headless
Chromium page on it (``tests/test_browser.py``, ``tests/test_browser_workspace.py``).

Voila runs with the same command line as ``landslide-app app``; stopping it stops its process
group and the kernels it started, by pid.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from landslide_app.testing.chromium import CHROMIUM, CHROMIUM_ARGS


def skip_without_browser() -> None:
    """Skip the calling test module when Chromium, Playwright or Voila is missing."""
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"{CHROMIUM} is missing: install Debian's chromium to run the browser tests", allow_module_level=True
        )
    pytest.importorskip("playwright.sync_api", reason="Python playwright is not installed")
    pytest.importorskip("voila", reason="voila is not installed (pip install -e '.[app]')")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"voila exited with code {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"voila did not listen on port {port} within {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    """Stop voila (its process group) and the kernels it started (their own sessions), by pid."""
    kids = []
    try:
        import psutil

        kids = psutil.Process(proc.pid).children(recursive=True)
    except Exception:  # noqa: BLE001 - psutil missing or voila already gone
        pass
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue
    for k in kids:
        try:
            if k.is_running():
                k.kill()
        except Exception:  # noqa: BLE001
            pass


@contextmanager
def voila_server(env: dict[str, str]) -> Iterator[str]:
    """The dashboard served by Voila on a free loopback port, with ``env`` added to the environment;
    yields its URL."""
    from landslide_app.dashboard.serve import notebook_path, voila_command

    port = free_port()
    proc = subprocess.Popen(
        voila_command(port, False),
        env={**os.environ, **env},
        cwd=notebook_path().parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


@contextmanager
def chromium_page(url: str, viewport: dict[str, int], ready: str) -> Iterator[tuple[Any, Any]]:
    """A headless Chromium page opened on ``url`` once ``ready`` (a selector) shows; yields the page
    and the response of its first load."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            pg = browser.new_page(viewport=viewport)
            resp = pg.goto(url, timeout=120_000)
            pg.wait_for_selector(ready, timeout=120_000)
            yield pg, resp
        finally:
            browser.close()
