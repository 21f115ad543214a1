"""Parameter groups: which parameters the optimizer updates, with which lr and weight decay.

``optimizer_groups`` in the config is a ``_target_`` node naming a :class:`ParamGroups`
subclass (null: :class:`DecayGroups`, the groups every run had before the seam existed).
It is built from the node's keys (cheaply: the start check builds it, before any model
loads) and called with the network and the optimizer's ``lr`` and ``weight_decay``; it
returns torch param-group dicts (``params`` plus any per-group option, e.g. ``lr``), which
the optimizer is built with. Frozen parameters (``requires_grad=False``) are left out.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from qa_lightning.errors import ConfigError
from qa_lightning.models.encoder_head import encoder_layers

ParamGroup = dict[str, Any]


class ParamGroups:
    """Base of a parameter-group builder; subclass it and give its class path as
    ``optimizer_groups._target_`` (its constructor's keywords are the node's other keys)."""

    def __call__(self, model: nn.Module, *, lr: float, weight_decay: float) -> list[ParamGroup]:
        """Torch param groups over ``model``'s trainable parameters, each in exactly one."""
        raise NotImplementedError


def trainable(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """``model``'s parameters the optimizer should see: the frozen ones are left out."""
    return [(name, p) for name, p in model.named_parameters() if p.requires_grad]


def decays(param: nn.Parameter) -> bool:
    """Weight decay applies to matrices; biases and LayerNorm weights (1-D) get none."""
    return param.ndim >= 2


class DecayGroups(ParamGroups):
    """Two groups: the weights with ``weight_decay``, biases and LayerNorm weights without
    (the default; the groups of every run before ``optimizer_groups`` existed)."""

    def __call__(self, model: nn.Module, *, lr: float, weight_decay: float) -> list[ParamGroup]:
        params = [p for _, p in trainable(model)]
        return [
            {"params": [p for p in params if decays(p)], "weight_decay": weight_decay},
            {"params": [p for p in params if not decays(p)], "weight_decay": 0.0},
        ]


def pretrained_encoder(model: nn.Module) -> nn.Module:
    """The bare transformers encoder inside ``model`` (``BertModel``, ...): a QA model's
    base model, or ``EncoderWithHead.encoder``."""
    from transformers import PreTrainedModel

    for module in model.modules():  # the model itself first
        if isinstance(module, PreTrainedModel):
            return module.base_model
    raise ConfigError(
        f"optimizer_groups: layer-wise lr decay needs a transformers encoder, and "
        f"{type(model).__name__} holds none; use optimizer_groups=null"
    )


def layer_depths(model: nn.Module) -> dict[int, int]:
    """Depth of each parameter of ``model`` (by ``id``) counted down from the top: the top
    encoder layer and everything outside the encoder's layers and embeddings (the QA head,
    a pooler, a final norm) 0, each layer below one more, the embeddings the deepest."""
    encoder = pretrained_encoder(model)
    layers = encoder_layers(encoder)
    depth: dict[int, int] = {}
    for index, layer in enumerate(layers):
        for p in layer.parameters():
            depth[id(p)] = len(layers) - 1 - index
    for name, p in encoder.named_parameters():
        if id(p) not in depth and "embed" in name:  # embeddings, rel_embeddings, ...
            depth[id(p)] = len(layers)
    return {id(p): depth.get(id(p), 0) for p in model.parameters()}


class LayerwiseDecay(ParamGroups):
    """Layer-wise learning-rate decay (ELECTRA, BEiT fine-tuning): the top encoder layer and
    the QA head train at ``lr``, each layer below at ``lr * decay**depth``, the embeddings
    lowest; the no-decay split of :class:`DecayGroups` is kept within each depth. For
    encoders whose layer stack :func:`encoder_layers` finds (BERT, RoBERTa, DistilBERT ...)."""

    def __init__(self, decay: float = 0.8):
        if isinstance(decay, bool) or not isinstance(decay, int | float) or not 0 < decay <= 1:
            raise ConfigError(f"optimizer_groups.decay={decay!r} must be a number in (0, 1]")
        self.decay = float(decay)

    def __call__(self, model: nn.Module, *, lr: float, weight_decay: float) -> list[ParamGroup]:
        depth = layer_depths(model)
        buckets: dict[tuple[int, bool], list[nn.Parameter]] = {}
        for _, p in trainable(model):
            buckets.setdefault((depth[id(p)], decays(p)), []).append(p)
        # deepest first (the embeddings), as the model lists its parameters
        return [
            {
                "params": params,
                "weight_decay": weight_decay if decayed else 0.0,
                "lr": lr * self.decay**d,
            }
            for (d, decayed), params in sorted(
                buckets.items(), key=lambda kv: (-kv[0][0], not kv[0][1])
            )
        ]
