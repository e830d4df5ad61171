"""The analyst dashboard's runs: Run (one configuration in a background thread), Run whole table (the
page's queue as ``landslide-app ablate``, or ``run_ablation`` in this process), cancel, the run list,
and the Run button's state.

Training runs in a :class:`~landslide_app.dashboard.jobs.BackgroundJob` that moves the progress bar;
when it ends the page is refreshed and a message says how it went.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from landslide_app.dashboard.analyst_base import AnalystBase
from landslide_app.dashboard.messages import user_text
from landslide_app.experiments.ablation import AblationSettings, RunSpec

StepFn = Callable[[float, str], None]


class RunsMixin(AnalystBase):
    """The runs of the analyst's dashboard (see module docstring)."""

    def _start_run(self, specs: list[RunSpec] | None) -> None:
        """Run ``specs`` (None: the whole Table 2 with ``run_ablation``) in the background."""
        st = self.state
        assert st is not None
        if self._busy or self.job.running:
            self.show("A run is in progress; wait for it to finish.", "warn")
            return
        epochs = int(self.epochs.value) if hasattr(self, "epochs") else st.epochs
        sel = self._selection if hasattr(self, "_selection") else None
        thresholds = sel.thresholds if sel else None
        if specs is not None and specs[0].inputs != "dem" and not st.has_sar:
            self.show(f"{specs[0].key} needs SAR but this chip store is DEM-only: choose DEM only.")
            return

        def work() -> dict[str, Any]:
            if specs is not None:
                self._running_key = (specs[0].inputs, specs[0].revisits)
                return st.run(specs[0], epochs, on_step=self._step)
            return self._run_table(epochs, thresholds, self._step)

        self._set_running(True)
        if hasattr(self, "progress"):
            self.progress.bar_style, self.progress.value = "info", 0.0
        if not self.job.start(work, self._run_done, self._run_failed):
            self._set_running(False)
            self.show("A run is in progress; wait for it to finish.", "warn")

    def _step(self, frac: float, text: str) -> None:
        """The progress bar and its line (from the run's thread)."""
        if hasattr(self, "progress"):
            self.progress.value = max(0.0, min(1.0, frac))
            self.progress_text.value = f"<span style='color:#0d47a1'>{html.escape(text)}</span>"

    def _run_done(self, res: dict[str, Any]) -> None:
        self._running_key = None
        self._set_running(False)
        if hasattr(self, "progress"):
            self.progress.bar_style = "success"
            self.refresh()
        key = res.get("key", "") if isinstance(res, dict) else ""
        self.show(f"Finished {key or 'the runs'}.", "ok")

    def _run_failed(self, exc: BaseException) -> None:
        self._running_key = None
        self._set_running(False)
        if hasattr(self, "progress"):
            self.progress.bar_style = "danger"
            self.progress_text.value = "<span style='color:#b71c1c'>failed</span>"
            self.refresh()
        self.show(user_text(exc, "The run"))

    def _run_all(self) -> None:
        """The whole Table 2: with the page's queue, ``landslide-app ablate`` as a queued, cancellable
        run (store thresholds only); else in this process (:meth:`_start_run`)."""
        if self.queue is None or self._selection.thresholds is not None:
            self._start_run(None)
            return
        from landslide_app.dashboard.queue import StageRun, cli_command

        st = self.state
        assert st is not None
        args = [
            "ablate",
            "--chips",
            str(st.store.path),
            "--out",
            str(st.paths.ablation),
            "--epochs",
            str(int(self.epochs.value)),
            "--seed",
            str(st.seed),
            "--seeds",
            str(int(self.seeds.value)),
        ]
        if not st.has_sar:
            args += ["--inputs", "dem"]
        self.queue.submit(
            StageRun(
                f"Table 2, {int(self.seeds.value)} seed(s)",
                cli_command(*args),
                on_done=lambda _r: self._guard("Updating the table", self.refresh)(),
            )
        )
        self.show(f"Table 2 queued ({int(self.seeds.value)} seed(s), {int(self.epochs.value)} epochs).", "info")

    def _cancel_run(self) -> None:
        if self.queue is not None:
            self.queue.cancel()

    def update_runs(self) -> None:
        """The page's run list and cancel button (the queue calls it)."""
        if self.queue is None:
            return
        from landslide_app.dashboard.queue import runs_html

        self.runs_list.value = runs_html(self.queue.runs)
        self.cancel_button.disabled = self.queue.current is None

    def _run_table(self, epochs: int, thresholds, step: StepFn) -> dict[str, Any]:
        """The whole Table 2 through ``run_ablation`` (the same code as ``landslide-app ablate``)."""
        from landslide_app.experiments.ablation import run_ablation

        st = self.state
        assert st is not None
        settings = AblationSettings(
            inputs=("dem", "sar", "fused") if st.has_sar else ("dem",),
            epochs=epochs,
            seed=st.seed,
            thresholds=thresholds,
            train_kwargs=st.train_kwargs,
            baselines=thresholds is None,
            seeds=int(self.seeds.value) if hasattr(self, "seeds") else 1,
        )
        total = len(settings.specs())
        state = {"done": 0}

        def on_fold(e) -> None:  # a FoldEvent of the configuration being computed
            step((state["done"] + e.fraction) / total, f"Table 2: {e.describe()}")

        def on_progress(done: int, n: int, key: str) -> None:
            state["done"] = done
            step(done / n, f"{done}/{n} configurations ({key} finished)")
            self._guard("Updating the table", self.refresh_results)()

        res = run_ablation(
            st.store.path, st.paths.ablation, settings, progress=False, on_progress=on_progress, on_fold=on_fold
        )
        return {"key": f"{total} configurations", **{k: v for k, v in res.items() if k == "seconds"}}

    def _update_run_button(self) -> None:
        """Run, Computed ✓ or Rerun (other epochs) for the selected configuration; off while a run goes."""
        if self._busy:
            self.run_button.disabled = self.run_all_button.disabled = True
            return
        self.run_button.disabled = self.run_all_button.disabled = False
        res = self.view.result if self.view is not None and self.view.computed else None
        if res is None:
            self.run_button.description = "Run"
        elif res.epochs == int(self.epochs.value):
            self.run_button.description = "Computed ✓"
        else:
            self.run_button.description = f"Rerun ({self.epochs.value} epochs)"

    def _set_running(self, running: bool) -> None:
        self._busy = running
        if hasattr(self, "run_button"):
            self.run_button.disabled = self.run_all_button.disabled = running
            if running:
                self.run_button.description = "Running…"
            else:
                self._update_run_button()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background run (tests, benchmarks)."""
        return self.job.wait(timeout)
