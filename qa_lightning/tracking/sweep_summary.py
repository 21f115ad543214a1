"""Hydra callback: at the end of a multirun, compare its jobs and list the failed ones."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


class SweepSummary(Callback):
    """Writes the comparison (settings with seeds aggregated, paired tests against the
    best, slices, plots) into the sweep folder when it ends, and logs it as the sweep's W&B
    summary run when the sweep logs to W&B (``wandb: false`` turns that off).

    Runs in the launching process after every job returned, whichever launcher ran them
    (in process, submitit local or SLURM). A summary that cannot be written is logged;
    it never turns a finished sweep into a failed command.
    """

    def __init__(self, plots: bool = True, wandb: bool = True) -> None:
        self.plots = plots
        self.wandb = wandb

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from qa_lightning.compare import compare_runs
        from qa_lightning.compare.runs import FAILED

        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            report = compare_runs(
                [sweep_dir],
                metric=config.get("optimized_metric") or "f1",
                plots=self.plots,
                show=True,
            )
        except Exception:
            log.exception("Could not summarise the sweep in %s", sweep_dir)
            return
        comparison = report.comparison
        wandb_cfg = (config.get("logger") or {}).get("wandb")
        if self.wandb and wandb_cfg is not None:
            plain = OmegaConf.to_container(wandb_cfg, resolve=False)
            self._log_to_wandb(report, plain, sweep_dir)
        counts = comparison.counts()
        log.info(
            "Sweep done: %s. Table: %s",
            ", ".join(f"{n} {status}" for status, n in counts.items()),
            sweep_dir / "comparison.md",
        )
        if report.settings:
            best = report.settings[0]
            metric, set_name = comparison.metric, comparison.set_name
            log.info(
                "Best: %s, %s=%.2f over %d run(s)",
                best.label,
                metric,
                best.mean(metric, set_name),
                best.n,
            )
        for run in comparison.runs:
            if run.status == FAILED:
                log.error("Failed: job %s: %s", run.job, run.error)

    @staticmethod
    def _log_to_wandb(report: Any, wandb_cfg: Any, sweep_dir: Path) -> None:
        from qa_lightning.tracking.loggers import sweep_group
        from qa_lightning.tracking.wandb_summary import log_summary_run

        try:
            folder = log_summary_run(
                report, wandb_cfg, group=sweep_group(sweep_dir), save_dir=sweep_dir
            )
        except Exception:
            log.exception("Could not log the sweep's W&B summary run")
            return
        if folder is not None:
            log.info("W&B summary run of the sweep: %s", folder)
