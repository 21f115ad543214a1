"""Every config value of a run checked once, before anything loads: :func:`check_run` is
called by train.py, eval.py and predict.py with their own task name, and calls each owner's
check once (data, models, tracking, evaluation, optimization, readers). The rules on the
trainer, the backend and ``ckpt_path`` are the entry points' own, and live here. A failure is
one :class:`~qa_lightning.errors.ConfigError` line naming the key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from qa_lightning.config import BACKENDS, choice, to_plain
from qa_lightning.data.checks import check_data
from qa_lightning.data.loading import CheckedSets, check_readers
from qa_lightning.errors import ConfigError
from qa_lightning.evaluation.checks import check_evaluation
from qa_lightning.models.checks import check_model_components, check_model_settings
from qa_lightning.models.optimization import check_optimization
from qa_lightning.tracking.checks import check_callbacks, check_loggers

TASKS = ("train", "eval", "predict")


@dataclass(frozen=True)
class CheckedRun:
    """What :func:`check_run` checked, handed on so that nothing is checked twice:
    ``data_sets``, every set the task reads (``data.eval_sets`` resolved) with its reader
    node checked, for the datamodule to build as they are; ``loggers``, the class of every
    ``logger`` entry by key, for the loggers to be built from."""

    data_sets: CheckedSets
    loggers: dict[str, Any] = field(default_factory=dict)


def check_run(cfg: DictConfig, task: str) -> CheckedRun:
    """Check ``cfg`` for the entry point ``task`` (train, eval or predict: the caller says
    which); returns what the later steps build from (:class:`CheckedRun`)."""
    if task not in TASKS:
        raise ValueError(f"task={task!r}; one of {', '.join(TASKS)}")
    check_finite_floats(cfg)
    eval_sets = check_data(cfg.data, task=task)
    model = to_plain(cfg.model)
    check_model_settings(model)
    loggers = check_loggers(cfg.logger) if cfg.get("logger") is not None else {}
    check_trainer(cfg.trainer)
    check_strategy(cfg.trainer)
    check_backend(cfg)
    check_ckpt_path(cfg.get("ckpt_path"), resumable=task == "train")
    check_predictions_source(cfg)
    if cfg.get("callbacks") is not None:
        check_callbacks(cfg.callbacks)
    check_model_components(model)
    if task != "predict":  # optimized_metric, the monitors and evaluation.slices
        check_evaluation(cfg, eval_sets=eval_sets)
    if task == "train":
        check_optimization(
            to_plain(cfg.optimizer), to_plain(cfg.get("optimizer_groups")), to_plain(cfg.scheduler)
        )
    data_sets = check_readers(cfg.data, task=task, eval_sets=eval_sets)  # reader nodes
    return CheckedRun(data_sets=data_sets, loggers=loggers)


def check_strategy(trainer: Mapping[str, Any]) -> None:
    """Strategies whose ranks run in child processes, whose module state (the predictions,
    the scores) never comes back: the entry point would fail once the work is done."""
    strategy = str(trainer.get("strategy", "auto"))
    if any(launch in strategy for launch in ("spawn", "fork", "notebook")):
        raise ConfigError(
            f"trainer.strategy={strategy} is not supported by train.py/eval.py; use "
            "trainer.strategy=ddp (the same data parallelism, one process per device)"
        )


def check_ckpt_path(ckpt: str | None, *, resumable: bool) -> None:
    """``ckpt_path``: a file, or (train.py, ``resumable``) ``last``: the run folder's."""
    if ckpt and not (resumable and ckpt == "last") and not Path(ckpt).is_file():
        accepted = "last (the run folder's last.ckpt, if any) or " if resumable else ""
        raise ConfigError(
            f"ckpt_path={ckpt!r} does not exist; give {accepted}a Lightning checkpoint, e.g. "
            "<run folder>/checkpoints/last.ckpt"
        )


def check_predictions_source(cfg: DictConfig) -> None:
    """eval.py ``predictions_file`` / ``null_odds_file``: the answers come from files, so
    they exist and nothing that picks a model is given beside them."""
    predictions, null_odds = cfg.get("predictions_file"), cfg.get("null_odds_file")
    if null_odds and not predictions:
        raise ConfigError(
            f"null_odds_file={null_odds} needs predictions_file=<the answers it belongs to>"
        )
    if not predictions:
        return
    if cfg.get("ckpt_path"):
        raise ConfigError(
            f"predictions_file={predictions} scores a file's answers, ckpt_path={cfg.ckpt_path} "
            "a model's: give one of them"
        )
    if cfg.get("backend", "torch") != "torch":
        raise ConfigError(f"predictions_file={predictions} runs no model; drop backend=")
    for key, path in (("predictions_file", predictions), ("null_odds_file", null_odds)):
        if path and not Path(str(path)).is_file():
            raise ConfigError(
                f"{key}={path} does not exist; give the official JSON file "
                '({"question id": answer text} or, for null_odds_file, no-answer probability)'
            )


def check_backend(cfg: DictConfig) -> None:
    """eval.py / predict.py ``backend`` and ``quantized`` (serve.py: ``model_dir`` instead)."""
    if "backend" not in cfg:
        return
    backend = choice(BACKENDS, cfg.backend, "backend")
    if cfg.quantized and backend != "onnx":
        raise ConfigError("quantized=true needs backend=onnx (the int8 graph of an export)")
    if backend == "onnx" and cfg.get("ckpt_path"):
        raise ConfigError(
            f"backend=onnx runs an export.py folder given as model.name_or_path, not "
            f"ckpt_path={cfg.ckpt_path}; export the run with `python export.py run=<run folder> "
            "onnx=true`"
        )


# The groups whose float settings must be finite numbers (the loggers' timeouts may be inf).
FLOAT_GROUPS = (
    "data",
    "model",
    "optimizer",
    "optimizer_groups",
    "scheduler",
    "trainer",
    "callbacks",
)


def _leaves(node: Any, key: str) -> list[tuple[str, Any]]:
    """(dotted key, value) of every leaf under ``node``."""
    if isinstance(node, Mapping):
        return [leaf for k, v in node.items() for leaf in _leaves(v, f"{key}.{k}")]
    if isinstance(node, list | tuple):
        return [leaf for i, v in enumerate(node) for leaf in _leaves(v, f"{key}[{i}]")]
    return [(key, node)]


def check_finite_floats(cfg: DictConfig) -> None:
    """No float setting is nan or inf: torch takes ``lr=inf`` and trains to empty answers,
    and ``nan`` fails deep inside an optimiser. Every float leaf of :data:`FLOAT_GROUPS`
    (unresolved: an interpolation is checked where it points)."""
    for group in FLOAT_GROUPS:
        if cfg.get(group) is None:
            continue
        for key, value in _leaves(OmegaConf.to_container(cfg[group], resolve=False), group):
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{key}={value} is not a finite number; give a finite one")


# Lightning's smallest accepted value of each integer trainer setting (null is always allowed).
TRAINER_MINIMUMS = {
    "max_epochs": -1,  # -1: no limit
    "max_steps": -1,
    "min_epochs": 0,
    "accumulate_grad_batches": 1,
    "num_nodes": 1,
    "num_sanity_val_steps": -1,  # -1: the whole validation set
    "log_every_n_steps": 1,
    "check_val_every_n_epoch": 1,
}


def lightning_precisions() -> tuple[str, ...]:
    """Every ``precision`` Lightning's Trainer takes, as the strings a config gives."""
    from typing import get_args

    from lightning_fabric.plugins.precision.precision import _PRECISION_INPUT

    values = (str(v) for literal in get_args(_PRECISION_INPUT) for v in get_args(literal))
    return tuple(dict.fromkeys(values))  # 16 is both an int and a string alias


def check_trainer(trainer: Mapping[str, Any]) -> None:
    """The trainer settings Lightning would refuse only once the model has loaded (with a
    multi-line message): ``precision`` (or auto, resolved by cli/precision.py) and the
    integer counts of :data:`TRAINER_MINIMUMS`."""
    precision = trainer.get("precision")
    accepted = ("auto", *lightning_precisions())
    if precision is not None and str(precision) not in accepted:
        raise ConfigError(f"trainer.precision={precision!r}; use one of {', '.join(accepted)}")
    for key, least in TRAINER_MINIMUMS.items():
        value = trainer.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"trainer.{key}={value!r} must be a whole number >= {least}")
