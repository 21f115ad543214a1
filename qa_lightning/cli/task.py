"""The task wrapper of the entry points: one-line errors, and sweep jobs that fail alone.

A :class:`~qa_lightning.errors.UserError` becomes one line on stderr and exit status 1.
Under a Hydra multirun a failing job must not end the sweep, so its error is recorded in
``failure.json`` in the job's folder and the sweep goes on.
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from qa_lightning.components import import_modules
from qa_lightning.errors import ConfigError, ForeignRunFolderError, UserError

log = logging.getLogger("qa_lightning")


def in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def report_user_errors(task: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Entry-point wrapper: a :class:`UserError` becomes one line on stderr and exit 1.

    Under a Hydra multirun a failing job must not end the sweep (Hydra's basic sweeper
    stops at the first failed job), so any exception is logged, recorded as
    ``failure.json`` in the job's folder and the job returns ``None``: the sweep goes on,
    Optuna counts the trial as failed, and the sweep summary lists the job. A job whose
    folder holds another configuration's run stops the sweep (a misdirected relaunch).
    """

    @functools.wraps(task)
    def wrapper(cfg: Any) -> Any:
        try:
            import_modules(cfg.get("imports"))  # the user's own components, before any check
            return task(cfg)
        except Exception as err:
            # a folder of another run is never written into: the sweep stops instead
            if not in_multirun() or isinstance(err, ForeignRunFolderError):
                if isinstance(err, UserError):
                    raise SystemExit(f"error: {err}") from None  # one line on stderr, exit 1
                raise
            record_job_failure(err)
        # The error (and the tensors its traceback holds) is gone here: free them before
        # the next job of an in-process sweep, or one out-of-memory job starves the rest.
        _release_memory()
        return None

    return wrapper


class RunDirCheck(Callback):
    """Hydra callback (conf/hydra/default.yaml): a ``hydra.run.dir`` that cannot be created
    or written fails in one ``error:`` line. Hydra makes the folder before the task runs, so
    the task wrapper never sees its FileNotFoundError, which ends in a traceback."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            run_dir = str(config.hydra.run.dir)
        except Exception:  # e.g. ${hydra:...}, resolvable only inside the job: Hydra's turn
            return
        try:
            check_run_dir(run_dir)
        except UserError as err:
            raise SystemExit(f"error: {err}") from None  # Hydra reports Exceptions only


def _release_memory() -> None:
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def record_job_failure(err: BaseException) -> None:
    """Log a sweep job's error and write ``failure.json`` into its output folder."""
    from hydra.core.hydra_config import HydraConfig

    from qa_lightning.storage.run_files import FAILURE_FILE, write_json_atomic

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


def check_run_dir(path: str | os.PathLike, key: str = "hydra.run.dir") -> None:
    """The run folder ``path`` (the value of ``key``) can be created and written to."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(
            f"{key}={str(path)!r} cannot be created ({err.strerror or err}); "
            "give a folder you can write"
        ) from None
    # asked, not probed with a file: every DDP rank runs this, and only rank 0 writes there
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{key}={str(path)!r} cannot be written to; give a folder you can write")
