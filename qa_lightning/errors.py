"""Errors the user can act on: bad config, bad data, a model that cannot be loaded.

Each carries a one-line message naming the key, file or record and what would be accepted.
The entry points print that line alone (no traceback) and exit non-zero; everything else is
a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("qa_lightning")


class UserError(Exception):
    """Base of every error caused by the user's input rather than by our code."""


class ConfigError(UserError, ValueError):
    """A config value that type checks but makes no sense; the message names the key."""


class DataFileNotFoundError(UserError, FileNotFoundError):
    """A data file named in the config does not exist (the message names the key)."""


def report_user_errors(task: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Entry-point wrapper: a :class:`UserError` becomes one line on stderr and exit 1.

    Under a Hydra multirun the error is logged and re-raised instead, so the sweeper sees
    the job fail the way Hydra reports any failed job.
    """

    @functools.wraps(task)
    def wrapper(cfg: Any) -> Any:
        try:
            return task(cfg)
        except UserError as err:
            from hydra.core.hydra_config import HydraConfig
            from hydra.types import RunMode

            if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
                log.error("%s", err)
                raise
            raise SystemExit(f"error: {err}") from None  # printed to stderr, exit status 1

    return wrapper
