"""README screenshots of the workspace views, taken by the browser tests on the current code.

Runs ``tests/test_browser_workspace.py`` (headless Chromium against Voila; ~3 min) with its temporary
folder under a scratch directory, then copies the screenshots it took into ``docs/screenshots/``
as ``workspace-<view>.jpg``: the responder's view of a CLI-made unlabelled workspace, the
before/after split map, and a drawn area fetched and mapped with another workspace's model.
Run on purpose (``python benchmarks/screenshots.py``), never by the tests.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

log = logging.getLogger("screenshots")
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
VIEWS = {
    "respond.jpg": "workspace-respond.jpg",
    "split.jpg": "workspace-split.jpg",
    "fetch-respond.jpg": "workspace-fetch-respond.jpg",
    "train.jpg": "workspace-train.jpg",
}


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory(prefix="ls-shots-") as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "browser",
            str(ROOT / "tests" / "test_browser_workspace.py"),
            f"--basetemp={tmp}",
        ]
        rc = subprocess.call(cmd, cwd=ROOT)
        if rc != 0:
            log.error("the browser tests failed (exit %d): no screenshot copied", rc)
            return rc
        found = {p.name: p for p in Path(tmp).rglob("*.jpg") if p.parent.name.startswith("workspace-screenshots")}
        OUT.mkdir(parents=True, exist_ok=True)
        for src, dst in VIEWS.items():
            if src not in found:
                log.error("%s was not taken", src)
                return 1
            shutil.copyfile(found[src], OUT / dst)
            log.info("%s (%d kB)", OUT / dst, (OUT / dst).stat().st_size // 1024)
    return 0


if __name__ == "__main__":
    sys.exit(main())
