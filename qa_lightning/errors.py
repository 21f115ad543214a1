"""Errors the user can act on: bad config, bad data, a model that cannot be loaded.

Each carries a one-line message naming the key, file or record and what would be accepted.
The entry points print that line alone (no traceback) and exit non-zero; everything else is
a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import gc
import logging
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("qa_lightning")


class UserError(Exception):
    """Base of every error caused by the user's input rather than by our code."""


class ConfigError(UserError, ValueError):
    """A config value that type checks but makes no sense; the message names the key."""


class DataFileNotFoundError(UserError, FileNotFoundError):
    """A data file named in the config does not exist (the message names the key)."""


class TrainingDivergedError(UserError, FloatingPointError):
    """The training loss became NaN or infinite (the message names the step and the lr)."""


def in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def report_user_errors(task: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Entry-point wrapper: a :class:`UserError` becomes one line on stderr and exit 1.

    Under a Hydra multirun a failing job must not end the sweep (Hydra's basic sweeper
    stops at the first failed job), so any exception is logged, recorded as
    ``failure.json`` in the job's folder and the job returns ``None``: the sweep goes on,
    Optuna counts the trial as failed, and the sweep summary lists the job.
    """

    @functools.wraps(task)
    def wrapper(cfg: Any) -> Any:
        try:
            return task(cfg)
        except Exception as err:
            if not in_multirun():
                if isinstance(err, UserError):
                    raise SystemExit(f"error: {err}") from None  # one line on stderr, exit 1
                raise
            record_job_failure(err)
        # The error (and the tensors its traceback holds) is gone here: free them before
        # the next job of an in-process sweep, or one out-of-memory job starves the rest.
        _release_memory()
        return None

    return wrapper


def _release_memory() -> None:
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def record_job_failure(err: BaseException) -> None:
    """Log a sweep job's error and write ``failure.json`` into its output folder."""
    from hydra.core.hydra_config import HydraConfig

    from qa_lightning.tracking.run_files import FAILURE_FILE, write_json_atomic

    hydra_cfg = HydraConfig.get()
    job = f"job {hydra_cfg.job.num} ({hydra_cfg.job.override_dirname or 'no overrides'})"
    if isinstance(err, UserError):
        log.error("%s failed: %s", job, err)
    else:
        log.exception("%s failed: %s: %s", job, type(err).__name__, err)
    write_json_atomic(
        Path(hydra_cfg.runtime.output_dir) / FAILURE_FILE,
        {
            "error": type(err).__name__,
            "message": str(err),
            "job": hydra_cfg.job.num,
            "overrides": list(hydra_cfg.overrides.task),
            "traceback": traceback.format_exception(err),
        },
    )
