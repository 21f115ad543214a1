"""Span logits in float32 under mixed precision.

Under bf16 autocast a span layer's output is rounded to bf16's 8-bit mantissa: logits of
typical size land about 0.03 apart, so near-best spans tie and answers flip. The span
layer is a ``Linear(H, 2)``, so computing it in float32 from the encoder's states costs
nothing measurable; on the v1 dev subset it turns 10 of 995 answers that differ from fp32
into 6 (``benchmarks/README.md``). The loss is then taken on float32 logits too.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Float32Linear(nn.Linear):
    """An ``nn.Linear`` that computes in float32 under any autocast. Same parameters and
    state-dict keys: checkpoints and ``save_pretrained`` folders do not change."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.float()
        with torch.autocast(x.device.type, enabled=False):
            return F.linear(x.float(), self.weight.float(), bias)


def float32_span_layer(model: nn.Module) -> None:
    """Make a ``*ForQuestionAnswering`` model's span layer (``qa_outputs``, the name every
    transformers QA model with a linear span layer uses) compute in float32, in place. A
    model without such a layer is left as it is."""
    layer = getattr(model, "qa_outputs", None)
    if type(layer) is nn.Linear:
        layer.__class__ = Float32Linear  # in place: the same parameters, wherever they are
