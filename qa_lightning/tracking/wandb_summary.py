"""A sweep's comparison as a W&B run of its own, in the sweep's group (job type ``summary``).

The dashboard then shows the settings table (mean ± sd over seeds, paired differences to the
best with intervals and p-values), the runs table, the slices side by side and the plots
next to the jobs they summarise. Offline unless credentials are configured, like every run,
and finished before the function returns.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qa_lightning.compare.report import ComparisonReport, slice_records
from qa_lightning.compare.setting_table import record_columns
from qa_lightning.compare.table import table_rows
from qa_lightning.tracking.loggers import DEFAULT_INIT_TIMEOUT, resolve_wandb_mode

log = logging.getLogger(__name__)

JOB_TYPE = "summary"


def summary_payload(report: ComparisonReport) -> dict[str, Any]:
    """What the summary run logs: W&B tables and images by key."""
    import wandb

    columns = record_columns(report.setting_records)
    rows = [[record.get(c) for c in columns] for record in report.setting_records]
    payload: dict[str, Any] = {"summary/settings": wandb.Table(columns=columns, data=rows)}
    header, run_rows = table_rows(report.comparison, digits=4)
    payload["summary/runs"] = wandb.Table(columns=header, data=run_rows)
    if report.slices.rows:
        header, slice_rows = slice_records(report.slices)
        payload["summary/slices"] = wandb.Table(columns=header, data=slice_rows)
    for plot in report.plots:
        payload[f"summary/plots/{plot.stem}"] = wandb.Image(str(plot))
    return payload


def log_summary_run(
    report: ComparisonReport,
    wandb_cfg: Mapping[str, Any],
    *,
    group: str,
    save_dir: str | Path,
) -> Path | None:
    """Log ``report`` as the summary run of ``group``; return the run's local folder (None
    when W&B is disabled). An online start that fails falls back to offline, as jobs do."""
    mode = resolve_wandb_mode(wandb_cfg.get("mode") or "auto")
    if mode == "disabled":
        return None
    import wandb

    comparison = report.comparison
    best = report.settings[0] if report.settings else None
    init = {
        "project": wandb_cfg.get("project", "qa-lightning"),
        "entity": wandb_cfg.get("entity"),
        "group": wandb_cfg.get("group") or group,
        "job_type": JOB_TYPE,
        "name": f"summary:{group}",
        "dir": str(save_dir),
        "tags": [*(wandb_cfg.get("tags") or []), JOB_TYPE],
        "config": {
            "metric": comparison.metric,
            "set": comparison.set_name,
            "varied": list(comparison.varied),
            "runs": len(comparison.runs),
            "settings": len(report.settings),
        },
    }
    timeout = wandb_cfg.get("init_timeout") or DEFAULT_INIT_TIMEOUT
    settings = wandb.Settings(init_timeout=float(timeout))
    try:
        run = wandb.init(mode=mode, settings=settings, **init)
    except Exception as err:  # an unreachable server or a refused key: keep it offline
        if mode != "online":
            raise
        log.warning("W&B summary run could not start online (%s); logging it offline", err)
        run = wandb.init(mode="offline", settings=settings, **init)
    try:
        run.log(summary_payload(report))
        if best is not None:
            run.summary["best_setting"] = best.label
            run.summary[f"best/{comparison.metric}_mean"] = best.mean(
                comparison.metric, comparison.set_name
            )
            run.summary["best/n"] = best.n
    except BaseException:
        run.finish(exit_code=1)
        raise
    run.finish()
    return Path(run.dir).parent if getattr(run, "dir", None) else None
