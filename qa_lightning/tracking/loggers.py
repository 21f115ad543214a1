"""Loggers from config: every ``logger.<name>`` entry is built by ``hydra.utils.instantiate``.

An entry's ``_target_`` is a Lightning logger class or one of the small factories below,
which resolve what only the running job knows (the W&B mode, the MLflow store). The run
folder and the job's identity are handed to every target that takes them, unless the entry
sets them: ``save_dir`` (the run folder), ``job_group`` and ``job_name`` (from the Hydra
job: one group per sweep, a name from the overrides) and ``job_tags`` (``tags`` plus the
config groups chosen). W&B runs offline unless credentials are configured.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import netrc
import os
import secrets
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pytorch_lightning.loggers import Logger, WandbLogger
from pytorch_lightning.utilities import rank_zero_only

from qa_lightning.config import LOGGER_SCHEMAS, WANDB_MODES, choice_error
from qa_lightning.errors import ConfigError
from qa_lightning.storage.atomic import atomic_file
from qa_lightning.tracking.checks import check_init_timeout, import_target

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
        if mode not in WANDB_MODES:  # checked at start (tracking/checks.py); a library call
            raise choice_error(WANDB_MODES, mode, "logger.wandb.mode")
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
        # The failed online start still holds the run id in W&B's service process, which
        # would refuse the same id offline ("run ID is in use"): start a fresh service.
        import wandb

        wandb.teardown()
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


# What every target may take from the running job (when its entry leaves it null).
RUN_CONTEXT = ("save_dir", "job_group", "job_name", "job_tags")
# Entry keys read by other code, not passed to the logger (prediction_table.py).
NOT_LOGGER_ARGUMENTS = ("prediction_samples",)


def build_loggers(
    logger_cfg: Mapping[str, Any],
    *,
    output_dir: str,
    group: str | None = None,
    name: str | None = None,
    tags: Sequence[str] | None = None,
    targets: Mapping[str, Any] | None = None,
) -> list[Logger]:
    """One logger per entry of ``logger_cfg`` (``logger.extra``'s last), in config order.

    ``output_dir``, ``group``, ``name`` and ``tags`` are the run folder and the job's
    identity (see the module's notes). A ``csv``, ``wandb``, ``tensorboard`` or ``mlflow``
    entry gets its schema's defaults (``_target_`` too) for the keys it leaves out. A target
    that returns None (W&B ``mode: disabled``, MLflow on a DDP rank other than 0) adds no
    logger. ``targets``: each entry's class by key, as the start check
    (``checks.check_loggers``) returned them; an entry not among them (a caller without the
    CLI) is imported and checked here.
    """
    context = dict(zip(RUN_CONTEXT, (output_dir, group, name, list(tags or [])), strict=True))
    loggers = []
    for key, spec in logger_entries(logger_cfg):
        target = (targets or {}).get(f"logger.{key}")
        logger = _instantiate_logger(key, spec, context, target)
        if logger is not None:
            loggers.append(logger)
    return loggers


def logger_entries(logger_cfg: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(key under ``logger.``, entry) of every logger chosen."""
    entries = [(k, v) for k, v in logger_cfg.items() if k != "extra" and v is not None]
    extra = logger_cfg.get("extra") or {}
    return entries + [(f"extra.{k}", v) for k, v in extra.items() if v is not None]


def _instantiate_logger(
    key: str, spec: Mapping[str, Any], context: Mapping[str, Any], target: Any = None
) -> Any:
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    schema = LOGGER_SCHEMAS.get(key)
    defaults = _schema_defaults(schema) if schema is not None else {}
    spec = {k: v for k, v in {**defaults, **spec}.items() if k not in NOT_LOGGER_ARGUMENTS}
    # the class whose signature says which run values it takes: the start check's, or
    # imported by its rule (tracking.checks), so a bad target called from code fails with
    # the same line
    if target is None:
        target = import_target(f"logger.{key}", spec, "logger")
    takes = _keyword_parameters(target)
    run_kwargs = {k: v for k, v in context.items() if k in takes and spec.get(k) is None}
    spec = {k: v for k, v in spec.items() if k not in run_kwargs}
    try:
        return instantiate(spec, _convert_="all", **run_kwargs)
    except InstantiationException as err:
        if isinstance(err.__cause__, ConfigError):
            raise err.__cause__ from None
        raise


def _schema_defaults(schema: type) -> dict[str, Any]:
    """A typed entry's defaults, for an entry given as a plain mapping (in code, or a config
    written before a key existed); interpolations (the run folder) come from the job."""
    values = {}
    for f in dataclasses.fields(schema):
        if f.default is not dataclasses.MISSING:
            value = f.default
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
        else:
            continue
        if not (isinstance(value, str) and "${" in value):
            values[f.name] = value
    return values


def _keyword_parameters(target: Any) -> set[str]:
    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return set()
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name for p in parameters if p.kind in named}


def wandb_logger(
    *,
    project: str = "qa-lightning",
    entity: str | None = None,
    mode: str = "auto",
    init_timeout: float | None = DEFAULT_INIT_TIMEOUT,
    group: str | None = None,
    name: str | None = None,
    tags: Sequence[str] | None = None,
    log_model: bool | str = False,
    save_dir: str = ".",
    job_group: str | None = None,
    job_name: str | None = None,
    job_tags: Sequence[str] = (),
) -> FallbackWandbLogger | None:
    """``logger.wandb``: ``mode`` resolved (auto: online with credentials, else offline;
    disabled: no logger), the job's group, name and tags unless given."""
    resolved = resolve_wandb_mode(mode)
    if resolved == "disabled":
        return None
    check_init_timeout(init_timeout)
    init_timeout = DEFAULT_INIT_TIMEOUT if init_timeout is None else init_timeout
    logger = FallbackWandbLogger(
        id=job_run_id(save_dir),
        resume="allow",  # a resumed or relaunched job continues its run: one run per job
        project=project,
        entity=entity,
        group=group or job_group,
        name=name or job_name,
        tags=[*job_tags, *(tags or [])] or None,
        save_dir=save_dir,
        log_model=log_model,
        mode=resolved,
        settings={"init_timeout": float(init_timeout)},
    )
    log.info("W&B logging %s (logger.wandb.mode=%s)", resolved, mode)
    return logger


WANDB_ID_FILE = "wandb_run_id"


def job_run_id(run_folder: str | Path) -> str:
    """The W&B run id of the job in ``run_folder``: drawn once and kept there, so every
    attempt at the job (a resume after a kill, a relaunched sweep) logs to the same run.

    Every DDP rank runs the entry point; rank 0 writes the id before the others start.
    """
    path = Path(run_folder) / WANDB_ID_FILE
    if path.is_file():
        return path.read_text().strip()
    # W&B's own ids look like this (8 of [a-z0-9]); its generator is not public API
    run_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))
    if rank_zero_only.rank == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path, "w") as f:
            f.write(run_id)
    return run_id


def mlflow_logger(
    *,
    experiment_name: str = "qa-lightning",
    run_name: str | None = None,
    tracking_uri: str | None = None,
    tags: Mapping[str, str] | None = None,
    save_dir: str = ".",
    name: str = "mlflow",
    log_model: bool | str = False,
    job_group: str | None = None,
    job_name: str | None = None,
    job_tags: Sequence[str] = (),
) -> Logger | None:
    """``logger.mlflow``: Lightning's MLFlowLogger, run named after the job, the job's group
    and tags as MLflow tags. Without ``tracking_uri`` (or ``MLFLOW_TRACKING_URI``) the store
    is local, in ``<save_dir>/<name>/``: an SQLite database (MLflow 3 refuses its old file
    store unless MLFLOW_ALLOW_FILE_STORE is set) and the artifacts beside it.

    Only rank 0 logs, as with every Lightning logger; the other DDP ranks do not open the
    store either (two processes would create the same database at once).
    """
    from pytorch_lightning.loggers import MLFlowLogger

    if rank_zero_only.rank != 0:
        return None
    tracking_uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    artifact_location = None
    store = Path(save_dir, name).resolve()
    if not tracking_uri:
        store.mkdir(parents=True, exist_ok=True)
        tracking_uri = f"sqlite:///{store / 'mlflow.db'}"
        artifact_location = (store / "artifacts").as_uri()
    run_tags = dict(tags or {})
    if job_group:
        run_tags.setdefault("group", job_group)
    if job_tags:
        run_tags.setdefault("tags", ", ".join(job_tags))
    return MLFlowLogger(
        experiment_name=experiment_name,
        run_name=run_name or job_name,
        tracking_uri=tracking_uri,
        tags=run_tags or None,
        save_dir=str(store),
        log_model=log_model,
        artifact_location=artifact_location,
    )


def run_tags(hydra_cfg: Any | None, tags: list[str]) -> list[str]:
    """The user's tags plus the config groups chosen (``model:minilm``, ``data:squad`` ...)."""
    chosen = []
    if hydra_cfg is not None:
        choices = hydra_cfg.runtime.choices
        for group in ("model", "data", "experiment", "sweep"):
            if choices.get(group):
                chosen.append(f"{group}:{choices[group]}"[:64])  # W&B's limit on a tag
    return [*tags, *chosen]


def mark_wandb_pruned(loggers: list[Logger], reason: str) -> None:
    """A sweep's pruner stopped this run: its W&B run says so (summary ``status: pruned``
    and the reason, tag ``pruned``); it still finishes as a success, W&B's states being
    finished, failed and crashed only."""
    for logger in loggers:
        if isinstance(logger, WandbLogger) and logger._experiment is not None:
            run = logger.experiment
            if getattr(run, "disabled", False):
                return
            run.summary["status"] = "pruned"
            run.summary["pruned"] = reason[:1000]
            run.tags = (*(run.tags or ()), "pruned")


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


def finish_loggers(loggers: list[Logger], *, error: BaseException | None = None) -> str | None:
    """End the job's logging: every logger finalised as ``success`` or ``failed`` (an MLflow
    run is marked FAILED, the TensorBoard and CSV files flushed), the W&B run finished by
    :func:`finish_wandb`, whose local folder is returned."""
    status = "success" if error is None else "failed"
    for logger in loggers:
        if not isinstance(logger, WandbLogger):
            try:
                logger.finalize(status)
            except Exception as err:  # a logger that cannot close must not hide the job's error
                log.warning("Could not close the %s: %s", type(logger).__name__, _one_line(err))
    return finish_wandb(loggers, error=error)
