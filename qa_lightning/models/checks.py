"""The model config checked before anything loads: the LightningModule, the span head and
the loss each resolve to a subclass of their seam and take the keys given, and the settings
that go with a head (``model.freeze``, ``model.freeze_layers``) or with LoRA adapters
(``model.adapter``). What depends on the model's
own config (position limit, layers): :mod:`qa_lightning.models.limits`."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from qa_lightning.components import check_component, class_path
from qa_lightning.config import FREEZE_POLICIES, choice
from qa_lightning.errors import ConfigError
from qa_lightning.models.head_module import HeadQAModule
from qa_lightning.models.heads import NAMED_HEADS, SpanHead, head_node
from qa_lightning.models.limits import check_freeze_layers, check_student_layers
from qa_lightning.models.lora import LoraQAModule
from qa_lightning.models.losses import SpanLoss
from qa_lightning.models.qa_module import QAModule


def module_class(model: Mapping[str, Any]) -> type[QAModule]:
    """The LightningModule ``model._target_`` names (checked), else the built-in one for
    ``model.head`` (QAModule without a head, HeadQAModule with one)."""
    target = model.get("_target_")
    adapters = adapter_rank(model) > 0
    if target is None:
        if adapters:
            return LoraQAModule
        return QAModule if model.get("head") is None else HeadQAModule
    cls = check_component("model", {"_target_": target}, QAModule, what="LightningModule")
    if adapters and not issubclass(cls, LoraQAModule):
        raise ConfigError(
            f"model.adapter.rank={adapter_rank(model)} builds LoRA adapters "
            f"({class_path(LoraQAModule)}), model._target_={target} another module: give "
            "one of them (model.adapter.rank=0 keeps your module)"
        )
    accepted = module_arguments(cls)
    for key in model.get("module_args") or {}:
        if key not in accepted:
            raise ConfigError(
                f"model.module_args.{key}: {cls.__qualname__} takes no {key!r}; its own "
                f"arguments are {', '.join(sorted(accepted - module_arguments(QAModule))) or 'none'}"
            )
    return cls


def module_arguments(cls: type[QAModule]) -> set[str]:
    """The keyword arguments ``cls`` takes: its own and its bases' down to QAModule (each
    passes the rest on with ``**kwargs``)."""
    names: set[str] = set()
    for klass in cls.__mro__[: cls.__mro__.index(QAModule) + 1]:
        if "__init__" in vars(klass):
            params = inspect.signature(klass.__init__).parameters.values()
            names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return names - {"self"}


def check_model_components(model: Mapping[str, Any]) -> None:
    """``model._target_``, ``model.head`` and ``model.loss``; one line naming the key."""
    cls = module_class(model)
    head = model.get("head")
    if isinstance(head, Mapping):
        check_component("model.head", head, SpanHead, what="span head", supplied=("hidden_size",))
    elif head is not None:
        head_node(head)  # a built-in's name, or its one-line error
    if head is None and issubclass(cls, HeadQAModule):
        raise ConfigError(
            f"model._target_={model.get('_target_')!r} builds a span head on the encoder: "
            "give one with model/head=<name> (linear, mlp, bilstm, transformer or yours)"
        )
    if head is not None and not issubclass(cls, HeadQAModule):
        raise ConfigError(
            f"model.head is set but model._target_={model.get('_target_')!r} is not a "
            "HeadQAModule subclass, which builds a head on the encoder; drop one of them"
        )
    if model.get("loss") is not None:
        check_component("model.loss", model["loss"], SpanLoss, what="span loss")


# model.attn_implementation: the kernels of transformers this package knows (null: it picks).
# Not an Enum of the schema: transformers adds kernels; one more is a line here.
ATTN_IMPLEMENTATIONS = ("eager", "sdpa", "flash_attention_2", "flex_attention")


def adapter_rank(model: Mapping[str, Any]) -> int:
    """``model.adapter.rank`` (0: no adapters; older configs have no ``adapter``)."""
    return int((model.get("adapter") or {}).get("rank") or 0)


def adapter_arguments(model: Mapping[str, Any]) -> dict[str, Any]:
    """LoraQAModule's arguments from ``model.adapter`` ({} without adapters)."""
    adapter = model.get("adapter") or {}
    if adapter_rank(model) == 0:
        return {}
    keys = ("rank", "alpha", "dropout", "target_modules")
    return {key: adapter[key] for key in keys if key in adapter}


def check_adapter(model: Mapping[str, Any]) -> None:
    """``model.adapter``: a rank of 0 (none) or more, a positive alpha, a dropout in [0, 1),
    and adapters only on a QA model fine-tuned whole (not under a span head)."""
    adapter = model.get("adapter") or {}
    rank = adapter.get("rank") or 0
    if rank < 0:
        raise ConfigError(f"model.adapter.rank={rank}; give 0 (no adapters) or a positive rank")
    if rank == 0:
        return
    if not adapter.get("alpha", 1.0) > 0:
        raise ConfigError(f"model.adapter.alpha={adapter['alpha']} must be positive")
    if not 0.0 <= adapter.get("dropout", 0.0) < 1.0:
        raise ConfigError(f"model.adapter.dropout={adapter['dropout']} must be in [0, 1)")
    if model.get("head") is not None:
        raise ConfigError(
            f"model.adapter.rank={rank} adapts a QA model fine-tuned whole, model.head a frozen "
            "encoder's span head: give one of them (model.head=null, or model.adapter.rank=0)"
        )


def check_model_settings(model: Mapping[str, Any]) -> None:
    """``model.attn_implementation`` is a known kernel; ``model.freeze`` is a policy and
    needs a head; ``model.freeze_layers`` goes with ``freeze=layers``; ``model.adapter``
    (:func:`check_adapter`)."""
    check_adapter(model)
    if model.get("student_layers") is not None:
        check_student_layers(model["student_layers"])
        if model.get("head") is not None:
            raise ConfigError(
                "model.student_layers makes a student QA model from its teacher's layers; "
                "it does not combine with model.head (drop one)"
            )
    attn = model.get("attn_implementation")
    if attn is not None and attn not in ATTN_IMPLEMENTATIONS:
        raise ConfigError(
            f"model.attn_implementation={attn!r}; use one of {', '.join(ATTN_IMPLEMENTATIONS)} "
            "(or null: transformers picks)"
        )
    freeze = choice(FREEZE_POLICIES, model.get("freeze", "none"), "model.freeze")
    if model.get("head") is None and freeze != "none":
        raise ConfigError(
            f"model.freeze={freeze} needs one of our heads: set model.head to one of "
            f"{', '.join(NAMED_HEADS)} (linear is the usual probe)"
        )
    freeze_layers = model.get("freeze_layers", 0)
    check_freeze_layers(freeze_layers)
    if freeze_layers and freeze != "layers":
        raise ConfigError(
            f"model.freeze_layers={freeze_layers} is read only with model.freeze=layers "
            f"(here model.freeze={freeze}); add model.freeze=layers or drop it"
        )
