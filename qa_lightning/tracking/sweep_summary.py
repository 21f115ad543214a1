"""Hydra callback: at the end of a multirun, compare its jobs and list the failed ones."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class SweepSummary(Callback):
    """Writes ``comparison.md``/``.csv`` (and plots) into the sweep folder when it ends.

    Runs in the launching process after every job returned, whichever launcher ran them
    (in process, submitit local or SLURM). A summary that cannot be written is logged;
    it never turns a finished sweep into a failed command.
    """

    def __init__(self, plots: bool = True) -> None:
        self.plots = plots

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from qa_lightning.compare import compare_runs
        from qa_lightning.compare.runs import FAILED

        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            comparison = compare_runs(
                [sweep_dir],
                metric=config.get("optimized_metric") or "f1",
                plots=self.plots,
                show=True,
            )
        except Exception:
            log.exception("Could not summarise the sweep in %s", sweep_dir)
            return
        counts = comparison.counts()
        log.info(
            "Sweep done: %s. Table: %s",
            ", ".join(f"{n} {status}" for status, n in counts.items()),
            sweep_dir / "comparison.md",
        )
        best = comparison.best
        if best is not None:
            log.info(
                "Best: job %s (%s) %s=%.2f",
                best.job,
                ", ".join(f"{k}={v}" for k, v in best.params.items() if k in comparison.varied),
                comparison.metric,
                best.metrics.get(comparison.metric, float("nan")),
            )
        for run in comparison.runs:
            if run.status == FAILED:
                log.error("Failed: job %s: %s", run.job, run.error)
