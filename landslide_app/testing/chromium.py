"""The headless Chromium the browser tests and the dashboard benchmarks drive (through Playwright):
Debian's binary and the flags that keep it off the network and the GPU."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
