"""The optimizer and learning-rate schedule a module trains with, built from plain settings.

Three config nodes, kept as the module's hyper-parameters (plain data, so checkpoints load
with ``weights_only=True``):

- ``optimizer``: a ``_partial_`` node naming any ``torch.optim.Optimizer`` subclass (yours
  too) with its keyword arguments; it is built over the parameter groups.
- ``optimizer_groups``: null (weights with weight decay, biases and LayerNorm weights
  without) or a :class:`~qa_lightning.models.param_groups.ParamGroups` node, e.g.
  layer-wise lr decay; it is given the optimizer's ``lr`` and ``weight_decay``.
- ``scheduler``: ``{name, warmup_ratio, warmup_steps}``, a ``transformers.get_scheduler``
  schedule; or a ``_partial_`` node naming an ``LRScheduler`` subclass or a function that
  returns one, called with the optimizer plus, by name, each size it takes that the node
  does not give: ``num_training_steps`` and ``total_steps`` (the trainer's estimated
  optimizer steps) and ``num_warmup_steps`` (``warmup_steps``, else ``warmup_ratio`` of the
  total). Either kind steps once per optimizer step.

:func:`check_optimization` checks all three before any data or weights load; building them
checks them again (a checkpoint's hyper-parameters are read back from a file).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from hydra.utils import instantiate
from torch import nn

from qa_lightning.components import HYDRA_KEYS, check_component
from qa_lightning.config import choice
from qa_lightning.errors import ConfigError
from qa_lightning.models.param_groups import DecayGroups, ParamGroups

DEFAULT_OPTIMIZER = {
    "_target_": "torch.optim.AdamW",
    "_partial_": True,
    "lr": 3e-5,
    "weight_decay": 0.01,
}
DEFAULT_SCHEDULER = {"name": "linear", "warmup_ratio": 0.1, "warmup_steps": None}
# scheduler.name: the transformers.get_scheduler schedules sized by warm-up and total steps
# alone (the others need arguments or a monitored metric); any other is a _target_ node
SCHEDULER_NAMES = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
)
WARMUP_KEYS = ("warmup_ratio", "warmup_steps")
# what a scheduler target is handed, by name, when its signature takes it
SCHEDULE_SIZES = ("num_training_steps", "total_steps", "num_warmup_steps")


def check_optimization(
    optimizer: Mapping[str, Any] | None,
    optimizer_groups: Mapping[str, Any] | None,
    scheduler: Mapping[str, Any] | None,
) -> None:
    """The ``optimizer``, ``optimizer_groups`` and ``scheduler`` nodes (plain), checked:
    a one-line :class:`ConfigError` naming the key. Nothing is loaded."""
    check_optimizer(optimizer)
    param_groups(optimizer_groups)
    check_scheduler(scheduler)


# -- optimizer -------------------------------------------------------------------------------


def _number(key: str, value: Any, *, zero: bool) -> None:
    if value is None:
        return
    bad = isinstance(value, bool) or not isinstance(value, int | float)
    if bad or value < 0 or (value == 0 and not zero):
        kind = "number >= 0" if zero else "positive number"
        raise ConfigError(f"{key}={value!r} must be a {kind}")


def _check_partial(key: str, spec: Mapping[str, Any], built_with: str) -> None:
    if spec.get("_partial_") is not True:
        raise ConfigError(f"{key}._partial_ must be true: the {key} is built with {built_with}")


def check_optimizer(spec: Any) -> type[torch.optim.Optimizer]:
    """The optimizer class the node names: a ``torch.optim.Optimizer`` subclass taking the
    node's keys (and ``params``), ``_partial_``, with a positive ``lr`` if given."""
    cls = check_component(
        "optimizer", spec, torch.optim.Optimizer, what="optimizer", supplied=("params",)
    )
    _check_partial("optimizer", spec, "the model's parameter groups")
    _number("optimizer.lr", spec.get("lr"), zero=False)
    _number("optimizer.weight_decay", spec.get("weight_decay"), zero=True)
    return cls


def _default(obj: Callable, name: str) -> Any:
    """The default of ``obj``'s parameter ``name``, or None."""
    param = inspect.signature(obj).parameters.get(name)
    return None if param is None or param.default is inspect.Parameter.empty else param.default


def param_groups(spec: Mapping[str, Any] | None) -> ParamGroups:
    """The builder ``optimizer_groups`` names (null: :class:`DecayGroups`), built."""
    if spec is None:
        return DecayGroups()
    obj = check_component("optimizer_groups", spec, ParamGroups, what="parameter-group builder")
    # called directly, not by instantiate: a ConfigError from its constructor stays one line
    return obj(**{k: v for k, v in spec.items() if k not in HYDRA_KEYS})


def build_optimizer(
    model: nn.Module,
    spec: Mapping[str, Any] | None = None,
    groups: Mapping[str, Any] | None = None,
) -> torch.optim.Optimizer:
    """The optimizer ``spec`` names over the groups ``groups`` makes of ``model``'s
    trainable parameters."""
    spec = dict(spec or DEFAULT_OPTIMIZER)
    cls = check_optimizer(spec)
    lr = spec["lr"] if "lr" in spec else _default(cls, "lr")
    built = param_groups(groups)(model, lr=lr, weight_decay=spec.get("weight_decay", 0.0))
    return instantiate(spec, _convert_="all")(built)


# -- scheduler -------------------------------------------------------------------------------


def _takes(obj: Callable) -> set[str]:
    try:
        return set(inspect.signature(obj).parameters)
    except (TypeError, ValueError):
        return set()


def _check_warmup(spec: Mapping[str, Any]) -> None:
    ratio = spec.get("warmup_ratio")
    if ratio is not None and (
        isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio < 1
    ):
        raise ConfigError(f"scheduler.warmup_ratio={ratio!r} must be in [0, 1)")
    steps = spec.get("warmup_steps")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 0):
        raise ConfigError(f"scheduler.warmup_steps={steps!r} must be a whole number >= 0 or null")


def check_scheduler(spec: Any) -> Callable | None:
    """A named schedule's settings, or the scheduler class or function a ``_target_`` node
    names (returned), checked."""
    spec = {} if spec is None else spec
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"scheduler={spec!r} must be a node: {{name, warmup_ratio, warmup_steps}} or a _target_"
        )
    _check_warmup(spec)
    if "_target_" not in spec:
        unknown = [k for k in spec if k not in DEFAULT_SCHEDULER]
        if unknown:
            raise ConfigError(
                f"scheduler.{unknown[0]} is not a setting of a named schedule: it takes "
                f"{', '.join(DEFAULT_SCHEDULER)} (or give scheduler._target_, a scheduler "
                "class or function)"
            )
        choice(SCHEDULER_NAMES, spec.get("name", DEFAULT_SCHEDULER["name"]), "scheduler.name")
        return None
    if "name" in spec:
        raise ConfigError(
            "scheduler.name and scheduler._target_ are both given: give one (name picks a "
            "transformers.get_scheduler schedule; drop it with ~scheduler.name)"
        )
    node = {k: v for k, v in spec.items() if k not in WARMUP_KEYS}
    obj = check_component(
        "scheduler", node, None, what="learning-rate scheduler (an LRScheduler or a function)"
    )
    target = node["_target_"]
    if inspect.isclass(obj):
        from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

        if not issubclass(obj, LRScheduler):
            raise ConfigError(
                f"scheduler._target_={target!r} is not a learning-rate scheduler: give a "
                "subclass of torch.optim.lr_scheduler.LRScheduler or a function returning one"
            )
        if issubclass(obj, ReduceLROnPlateau):
            raise ConfigError(
                f"scheduler._target_={target!r} steps on a monitored metric, which this "
                "module does not give; use a schedule sized by steps"
            )
    _check_partial("scheduler", spec, "the optimizer")
    if "num_warmup_steps" not in _takes(obj):
        for key in WARMUP_KEYS:
            if spec.get(key) is not None:
                raise ConfigError(
                    f"scheduler.{key}={spec[key]!r} would be ignored: {target} takes no "
                    f"num_warmup_steps; drop it (~scheduler.{key})"
                )
    return obj


def warmup_steps(spec: Mapping[str, Any], total: int) -> int:
    """``warmup_steps`` if set, else ``warmup_ratio`` of ``total`` steps, rounded up."""
    spec = {**DEFAULT_SCHEDULER, **spec}
    if spec["warmup_steps"] is not None:
        return int(spec["warmup_steps"])
    return math.ceil(spec["warmup_ratio"] * total)


def build_scheduler(
    optimizer: torch.optim.Optimizer, spec: Mapping[str, Any] | None, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """The schedule ``spec`` describes over ``total_steps`` optimizer steps."""
    spec = dict(spec or {})
    obj = check_scheduler(spec)
    warmup = warmup_steps(spec, total_steps)
    if obj is None:
        from transformers import get_scheduler

        name = str(spec.get("name", DEFAULT_SCHEDULER["name"]))  # check_scheduler's check
        return get_scheduler(
            name, optimizer, num_warmup_steps=warmup, num_training_steps=total_steps
        )
    node = {k: v for k, v in spec.items() if k not in WARMUP_KEYS}
    sizes = {"num_training_steps": total_steps, "total_steps": total_steps}
    sizes["num_warmup_steps"] = warmup
    takes = _takes(obj)
    given = {k: v for k, v in sizes.items() if k in takes and k not in node}
    scheduler = instantiate(node, _convert_="all")(optimizer, **given)
    if not isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler):
        raise ConfigError(
            f"scheduler._target_={node['_target_']!r} returned a {type(scheduler).__name__}, "
            "not a torch.optim.lr_scheduler.LRScheduler"
        )
    return scheduler
