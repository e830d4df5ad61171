"""Stage runs started from the page: ``landslide-app`` sub-commands in child processes, one at a time.

The dashboard never re-implements a stage: building chips, predicting, training are the CLI's
commands (``chips``, ``predict``, ``ablate``), started here as child processes so that

* a run can be **cancelled** at once (its process group is terminated; every stage is resumable,
  so a later run keeps the finished chips or configurations);
* the page's kernel stays responsive and small (the run's memory is the child's, returned at its
  end);
* progress comes from the stage's own ``tqdm`` bar (its ``NN%|`` updates on stderr) and log lines,
  and a failure is the CLI's one-line ``error: ...`` message.

:class:`RunQueue` runs :class:`StageRun` s in order in a worker thread and keeps their states
(queued / running / done / failed / cancelled) for the page's run list. No widget here.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)
_PERCENT = re.compile(r"(\d{1,3})%\|")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def cli_command(*args: str) -> list[str]:
    """``landslide-app ARGS`` with this interpreter (the same environment as the page)."""
    return [sys.executable, "-m", "landslide_app.cli", *args]


@dataclass
class StageRun:
    """One CLI stage run: its command, state, progress and last message.

    ``on_done`` is called (in the queue's thread) after a successful run, before the state turns
    ``done``: it records the outputs (e.g. the workspace entry); an exception there fails the run.
    """

    label: str
    argv: Sequence[str]
    cwd: Path | None = None
    on_done: Callable[[StageRun], Any] | None = None
    poll: Callable[[StageRun], Any] | None = None
    state: str = QUEUED
    fraction: float = 0.0
    text: str = "queued"
    error: str | None = None
    returncode: int | None = None
    started: float | None = None
    finished: float | None = None
    log_tail: list[str] = field(default_factory=list)
    _proc: subprocess.Popen | None = field(default=None, repr=False)
    _cancel: bool = field(default=False, repr=False)

    @property
    def seconds(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    def cancel(self) -> None:
        """Cancel: a queued run never starts, a running one's process group is terminated."""
        self._cancel = True
        if self.state == QUEUED:
            self.state, self.text, self.finished = CANCELLED, "cancelled before it started", time.monotonic()
            return
        proc = self._proc
        if proc is not None and proc.poll() is None:
            _terminate(proc)

    # ---- running (called by the queue) ---------------------------------------------------
    def run(self, env: dict[str, str] | None = None) -> None:
        if self.state != QUEUED:
            return
        self.state, self.started, self.text = RUNNING, time.monotonic(), "starting"
        try:
            self._proc = subprocess.Popen(
                list(self.argv),
                cwd=self.cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                start_new_session=True,
            )
        except OSError as exc:
            self._finish(FAILED, f"could not start {self.label}: {exc}")
            return
        reader = threading.Thread(target=self._read, name=f"stage-{self.label}", daemon=True)
        reader.start()
        while self._proc.poll() is None:
            if self._cancel:  # cancelled while Popen was starting (cancel() saw no process yet)
                _terminate(self._proc)
                break
            if self.poll is not None:
                _quiet(self.poll, self)
            time.sleep(0.25)
        reader.join(5)
        self.returncode = self._proc.returncode
        if self.poll is not None:
            _quiet(self.poll, self)
        if self._cancel:
            self._finish(CANCELLED, "cancelled (finished work is kept: rerun to resume)")
        elif self.returncode != 0:
            self._finish(FAILED, self._error_text())
        else:
            try:
                if self.on_done is not None:
                    self.on_done(self)
            except Exception as exc:  # noqa: BLE001 - shown in the run list
                log.warning("%s: recording the outputs failed: %s", self.label, exc, exc_info=True)
                self._finish(FAILED, f"{self.label} finished but its outputs could not be read: {exc}")
                return
            self.fraction = 1.0
            self._finish(DONE, f"done in {self.seconds:.0f} s")

    def _finish(self, state: str, text: str) -> None:
        self.finished = time.monotonic()
        if state == FAILED:
            self.error = text
        self.state, self.text = state, text

    def _read(self) -> None:
        """Read the child's output: tqdm's ``\\r`` updates give the fraction, lines the status."""
        assert self._proc is not None and self._proc.stdout is not None
        buf = b""
        while True:
            out = self._proc.stdout
            chunk = out.read1(4096) if hasattr(out, "read1") else out.read(4096)
            if not chunk:
                break
            buf += chunk
            parts = re.split(rb"[\r\n]", buf)
            buf = parts.pop()
            for raw in parts:
                self._line(raw.decode(errors="replace"))
        if buf:
            self._line(buf.decode(errors="replace"))

    def _line(self, line: str) -> None:
        line = _ANSI.sub("", line).strip()
        if not line:
            return
        m = _PERCENT.search(line)
        if m:
            self.fraction = max(0.0, min(1.0, int(m.group(1)) / 100.0))
            self.text = line.split("|")[0].strip() + (" " + line.rsplit("|", 1)[-1].strip() if "|" in line else "")
            return
        self.log_tail = (self.log_tail + [line])[-20:]
        if line.startswith(("INFO ", "WARNING ")):
            self.text = line.split(": ", 1)[-1][:200]

    def _error_text(self) -> str:
        errors = [ln[len("error: ") :] for ln in self.log_tail if ln.startswith("error: ")]
        if errors:
            return errors[-1]
        tail = "; ".join(self.log_tail[-3:])
        return f"{self.label} failed (exit code {self.returncode}){': ' + tail if tail else ''}"


def _terminate(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM to the run's process group, SIGKILL after ``grace`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _quiet(fn: Callable[[StageRun], Any], run: StageRun) -> None:
    try:
        fn(run)
    except Exception as exc:  # noqa: BLE001 - a poll (e.g. reading new chips) must not stop the run
        log.debug("poll of %s failed: %s", run.label, exc)


class RunQueue:
    """Stage runs in submission order, one at a time, in a background thread.

    ``on_change`` is called (from the worker thread, about every half second while a run goes, and
    at every state change) so that the page can redraw its run list and progress bar.
    """

    def __init__(self, on_change: Callable[[], Any] | None = None, env: dict[str, str] | None = None) -> None:
        self.runs: list[StageRun] = []
        self.on_change = on_change
        self.env = env
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, run: StageRun) -> StageRun:
        with self._lock:
            self.runs.append(run)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="landslide-queue", daemon=True)
                self._thread.start()
        self._wake.set()
        self._changed()
        return run

    @property
    def current(self) -> StageRun | None:
        return next((r for r in self.runs if r.state == RUNNING), None)

    @property
    def busy(self) -> bool:
        return any(r.state in (QUEUED, RUNNING) for r in self.runs)

    def cancel(self, run: StageRun | None = None) -> None:
        """Cancel ``run`` (default: the running one)."""
        run = run or self.current
        if run is not None:
            run.cancel()
            self._changed()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or running (tests); False on timeout."""
        end = None if timeout is None else time.monotonic() + timeout
        while self.busy:
            if end is not None and time.monotonic() > end:
                return False
            time.sleep(0.1)
        return True

    def _next(self) -> StageRun | None:
        with self._lock:
            return next((r for r in self.runs if r.state == QUEUED), None)

    def _work(self) -> None:
        while True:
            run = self._next()
            if run is None:
                self._wake.clear()
                if not self._wake.wait(30):
                    with self._lock:
                        if self._next() is None:
                            self._thread = None
                            return
                continue
            ticker = threading.Thread(target=self._tick, args=(run,), daemon=True)
            self._changed()
            ticker.start()
            run.run(self.env)
            ticker.join(2)
            self._changed()

    def _tick(self, run: StageRun) -> None:
        while run.state in (QUEUED, RUNNING):
            time.sleep(0.5)
            self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:  # noqa: BLE001
                log.exception("run list update failed")


def runs_html(runs: Sequence[StageRun]) -> str:
    """The run list as a small HTML table (newest last)."""
    import html

    colours = {QUEUED: "#555", RUNNING: "#0d47a1", DONE: "#1b5e20", FAILED: "#b71c1c", CANCELLED: "#e65100"}
    if not runs:
        return "<i style='color:#555'>no runs yet</i>"
    rows = "".join(
        f"<tr class='ls-run-row ls-run-{r.state}'><td>{html.escape(r.label)}</td>"
        f"<td style='color:{colours[r.state]}'><b>{r.state}</b></td>"
        f"<td>{r.fraction:.0%}</td><td>{r.seconds:.0f} s</td><td>{html.escape(r.text[:160])}</td></tr>"
        for r in runs[-12:]
    )
    return (
        "<table class='ls-runs' style='border-collapse:collapse;font-size:12px'><tr><th>run</th><th>state</th>"
        f"<th>progress</th><th>time</th><th>status</th></tr>{rows}</table>"
    )
