"""The ``logger`` and ``callbacks`` config checked before anything loads: every entry's
``_target_`` imports, the packages a logger needs are installed, W&B's mode and init timeout,
the monitors' modes and the checkpoint settings hold. The loggers are then built from the
classes that passed (``loggers.py``), and
their monitored metric names are the evaluation's check (``evaluation.checks``).
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from importlib.util import find_spec
from typing import Any

from qa_lightning.config import LOGGING_INTERVALS, MONITOR_MODES, WANDB_MODES, choice
from qa_lightning.errors import ConfigError

# what a logger entry needs installed: any one of the modules (the `loggers` extra has them)
LOGGER_MODULES = {"tensorboard": ("tensorboard", "tensorboardX"), "mlflow": ("mlflow",)}


def check_loggers(logger: Mapping[str, Any]) -> dict[str, Any]:
    """``logger.*``: W&B's mode and init timeout, the packages TensorBoard and MLflow need,
    and an importable ``_target_`` for every entry (``logger.extra`` too). Returns each
    entry's class by its key (``logger.csv``, ``logger.extra.tb``): the loggers are built from
    those (``loggers.build_loggers``), not imported again."""
    wandb_cfg = logger.get("wandb")
    if wandb_cfg is not None:
        choice(WANDB_MODES, wandb_cfg.get("mode", "auto"), "logger.wandb.mode")
        check_init_timeout(wandb_cfg.get("init_timeout"))
    for name, modules in LOGGER_MODULES.items():
        if logger.get(name) is not None and not any(find_spec(m) for m in modules):
            raise ConfigError(
                f"logger.{name} needs the {modules[0]} package: pip install -e '.[loggers]' "
                f"(make install does), or choose another logger (logger=wandb|csv|none)"
            )
    entries = [(f"logger.{k}", v) for k, v in logger.items() if k != "extra" and v is not None]
    entries += [(f"logger.extra.{k}", v) for k, v in (logger.get("extra") or {}).items()]
    return {key: import_target(key, spec, "logger") for key, spec in entries}


def check_init_timeout(timeout: float | None) -> None:
    """``logger.wandb.init_timeout``: seconds > 0 (null: the default)."""
    if timeout is not None and timeout <= 0:
        raise ConfigError(f"logger.wandb.init_timeout={timeout}; use seconds > 0")


def check_callbacks(callbacks: Mapping[str, Any]) -> None:
    """``callbacks.*``: the checkpoint settings, the monitors' ``mode`` and the LR monitor's
    ``logging_interval``, and an importable ``_target_`` for every other entry
    (``callbacks.extra`` too). Their ``monitor`` names: qa_lightning.evaluation.checks."""
    checkpoint = callbacks["checkpoint"]
    for name in ("checkpoint", "early_stopping"):
        spec = callbacks.get(name)
        if spec is not None and "mode" in spec:
            choice(MONITOR_MODES, spec["mode"], f"callbacks.{name}.mode")
    lr_monitor = callbacks.get("lr_monitor")
    if lr_monitor is not None and lr_monitor.get("logging_interval") is not None:
        key = "callbacks.lr_monitor.logging_interval"
        choice(LOGGING_INTERVALS, lr_monitor["logging_interval"], key)
    every = checkpoint.get("every_n_train_steps")
    if every is not None and every <= 0:
        raise ConfigError(
            f"callbacks.checkpoint.every_n_train_steps={every} must be positive or null"
        )
    requeue = checkpoint.get("requeue_signal")
    if requeue not in (None, "auto") and requeue not in signal.Signals.__members__:
        raise ConfigError(
            f"callbacks.checkpoint.requeue_signal={requeue!r} is not a signal; use auto, null "
            "or a name such as SIGUSR1 or SIGUSR2"
        )
    for name, spec in callbacks.items():
        if name not in ("checkpoint", "extra") and spec is not None:
            import_target(f"callbacks.{name}", spec, "callback")
    for name, spec in (callbacks.get("extra") or {}).items():
        import_target(f"callbacks.extra.{name}", spec, "callback")


def import_target(key: str, spec: Any, kind: str) -> Any:
    """The object the ``_target_`` of ``spec`` (the entry at ``key``) names, imported; a
    one-line :class:`ConfigError` when it has none or it cannot be imported."""
    from hydra.utils import get_object

    if not isinstance(spec, Mapping) or not spec.get("_target_"):
        raise ConfigError(f"{key} needs a _target_ (the {kind}'s class path)")
    target = spec["_target_"]
    try:
        return get_object(target)
    except Exception as err:
        reason = " ".join(str(err).split())[:200]
        raise ConfigError(f"{key}._target_={target!r} cannot be imported ({reason})") from None
