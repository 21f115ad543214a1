"""Parameter groups of one's own: a new head learns faster than the pretrained encoder."""

from __future__ import annotations

from torch import nn

from qa_lightning.models.param_groups import ParamGroups, decays, pretrained_encoder, trainable


class HeadLearningRate(ParamGroups):
    """Everything outside the pretrained encoder (the freshly initialised span head or QA
    layer) at ``lr * head_scale``, the encoder at ``lr``; biases and LayerNorm weights
    without weight decay, as in the default groups."""

    def __init__(self, head_scale: float = 10.0):
        if head_scale <= 0:
            raise ValueError(f"head_scale={head_scale} must be positive")
        self.head_scale = head_scale

    def __call__(self, model: nn.Module, *, lr: float, weight_decay: float):
        encoder = {id(p) for p in pretrained_encoder(model).parameters()}
        groups = []
        for in_encoder, group_lr in ((True, lr), (False, lr * self.head_scale)):
            params = [p for _, p in trainable(model) if (id(p) in encoder) == in_encoder]
            for decay in (True, False):
                chosen = [p for p in params if decays(p) == decay]
                if chosen:
                    groups.append(
                        {
                            "params": chosen,
                            "lr": group_lr,
                            "weight_decay": weight_decay if decay else 0.0,
                        }
                    )
        return groups
