"""Logger set-up: W&B (offline unless credentials are configured) and CSV, named from Hydra."""

from __future__ import annotations

import logging
import netrc
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pytorch_lightning.loggers import CSVLogger, Logger, WandbLogger

from qa_lightning.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_INIT_TIMEOUT = 60.0  # W&B's own default, 90 s of retries, is long for a job start


def wandb_credentials_present() -> bool:
    """True when W&B has an API key: the environment or a netrc entry for its host."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    path = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        return path.is_file() and netrc.netrc(path).authenticators(host) is not None
    except (netrc.NetrcParseError, OSError):
        return False


def resolve_wandb_mode(mode: str) -> str:
    """auto -> WANDB_MODE if the user set it, else online with credentials, else offline."""
    if mode != "auto":
        return mode
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    return "online" if wandb_credentials_present() else "offline"


def sweep_group(sweep_dir: str | Path) -> str:
    """The W&B group of a sweep's jobs (and of its summary run): ``<task>-<time>``."""
    sweep = Path(sweep_dir)
    return f"{sweep.parent.name}-{sweep.name}"


def run_identity(hydra_cfg: Any | None) -> tuple[str | None, str | None]:
    """(group, name) for a Hydra job: the sweep folder groups jobs, overrides name them."""
    if hydra_cfg is None:
        return None, None
    from hydra.types import RunMode

    job = hydra_cfg.job
    overrides = job.override_dirname or ""
    if hydra_cfg.mode == RunMode.MULTIRUN:
        group = sweep_group(hydra_cfg.sweep.dir)
        name = overrides or f"job{job.num}"
        return group, f"{job.num}:{name}"
    run_dir = Path(hydra_cfg.run.dir).name
    return None, overrides or run_dir


class FallbackWandbLogger(WandbLogger):
    """A WandbLogger whose run goes offline, or failing that no-op, when online init fails.

    Lightning creates the W&B run lazily, on the first use of ``experiment`` (the
    hyperparameters logged at the start of a job), so that is where an unreachable server, a
    refused key or a missing one surfaces. Catching it here, once, lets train and eval go on
    with one warning instead of crashing or hanging, and the offline run can still be
    uploaded later with ``wandb sync``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Lightning always passes anonymous=None, which W&B (0.31) warns about on every run.
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)

    @property
    def experiment(self) -> Any:
        if self._experiment is not None or self._wandb_init.get("mode") != "online":
            return super().experiment
        try:
            return super().experiment
        except Exception as err:  # wandb.errors.Error, TimeoutError, a failed service ...
            online_error = err
        reason = _one_line(online_error)
        self._wandb_init["mode"] = "offline"
        try:
            run = super().experiment
        except Exception as err:
            self._wandb_init["mode"] = "disabled"
            run = super().experiment
            log.warning(
                "W&B is unreachable or has no valid API key (%s) and offline W&B failed too (%s); "
                "the run continues without W&B (metrics go to the run folder and the CSV log)",
                reason,
                _one_line(err),
            )
            return run
        folder = Path(run.dir).parent if getattr(run, "dir", None) else self.save_dir
        log.warning(
            "W&B is unreachable or has no valid API key (%s); "
            "the run continues with W&B offline in %s (upload it later: wandb sync %s)",
            reason,
            folder,
            folder,
        )
        return run


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}"[:300]


def build_loggers(
    logger_cfg: Mapping[str, Any],
    *,
    output_dir: str,
    group: str | None = None,
    name: str | None = None,
    tags: list[str] | None = None,
) -> list[Logger]:
    loggers: list[Logger] = []
    csv_cfg = logger_cfg.get("csv")
    if csv_cfg is not None:
        loggers.append(
            CSVLogger(
                save_dir=csv_cfg.get("save_dir") or output_dir,
                name=csv_cfg.get("name", "csv"),
                version="",
            )
        )
    wandb_cfg = logger_cfg.get("wandb")
    if wandb_cfg is not None:
        mode = resolve_wandb_mode(wandb_cfg.get("mode", "auto"))
        if mode == "disabled":
            return loggers
        init_timeout = wandb_cfg.get("init_timeout")
        init_timeout = DEFAULT_INIT_TIMEOUT if init_timeout is None else init_timeout
        if init_timeout <= 0:
            raise ConfigError(f"logger.wandb.init_timeout={init_timeout}; use seconds > 0")
        loggers.append(
            FallbackWandbLogger(
                project=wandb_cfg.get("project", "qa-lightning"),
                entity=wandb_cfg.get("entity"),
                group=wandb_cfg.get("group") or group,
                name=wandb_cfg.get("name") or name,
                tags=[*(tags or []), *(wandb_cfg.get("tags") or [])] or None,
                save_dir=wandb_cfg.get("save_dir") or output_dir,
                log_model=wandb_cfg.get("log_model", False),
                mode=mode,
                settings={"init_timeout": float(init_timeout)},
            )
        )
        log.info("W&B logging %s (logger.wandb.mode=%s)", mode, wandb_cfg.get("mode", "auto"))
    return loggers


def run_tags(hydra_cfg: Any | None, tags: list[str]) -> list[str]:
    """The user's tags plus the config groups chosen (``model:minilm``, ``data:squad`` ...)."""
    chosen = []
    if hydra_cfg is not None:
        choices = hydra_cfg.runtime.choices
        for group in ("model", "data", "experiment", "sweep"):
            if choices.get(group):
                chosen.append(f"{group}:{choices[group]}"[:64])  # W&B's limit on a tag
    return [*tags, *chosen]


def finish_wandb(loggers: list[Logger], *, error: BaseException | None = None) -> str | None:
    """Close this job's W&B run, marked failed with the error in its summary if there was one.

    Returns the run's local folder. A run that never started is left alone.
    """
    for logger in loggers:
        if isinstance(logger, WandbLogger) and logger._experiment is not None:
            run = logger.experiment
            if getattr(run, "disabled", False):  # W&B could not start at all: nothing to show
                run.finish()
                return None
            folder = run.dir and str(Path(run.dir).parent)
            if error is not None:
                run.summary["failure"] = f"{type(error).__name__}: {error}"[:1000]
            run.finish(exit_code=0 if error is None else 1)
            return folder
    return None
