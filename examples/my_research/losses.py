"""A label-smoothed span loss: part of each target's mass spread over the window's tokens."""

from __future__ import annotations

import torch

from qa_lightning.models import SpanLoss


class LabelSmoothedSpanLoss(SpanLoss):
    """``(1 - smoothing) * NLL + smoothing * mean NLL over the real tokens`` for the start
    and the end. Padding gets no mass (torch's ``label_smoothing`` would spread it there,
    onto logits of -1e4), and a label outside the window is ignored, as in the default.
    A ``weight`` column in the batch (``WeightedTsvReader`` adds one) weighs each window."""

    def __init__(self, smoothing: float = 0.1):
        super().__init__()
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"smoothing={smoothing} must be in [0, 1)")
        self.smoothing = smoothing

    def forward(self, start_logits, end_logits, batch):
        mask = batch["attention_mask"].bool()
        weight = batch.get("weight")
        if weight is None:
            weight = torch.ones(len(mask), device=mask.device)
        start = self._one(start_logits, batch["start_positions"], mask, weight)
        end = self._one(end_logits, batch["end_positions"], mask, weight)
        return (start + end) / 2

    def _one(self, logits, positions, mask, weight):
        width = logits.shape[1]
        inside = (positions >= 0) & (positions < width)
        logp = logits.float().masked_fill(~mask, -1e4).log_softmax(dim=-1)
        nll = -logp.gather(1, positions.clamp(0, width - 1).unsqueeze(1)).squeeze(1)
        uniform = -(logp * mask).sum(dim=-1) / mask.sum(dim=-1).clamp(min=1)
        per_window = (1 - self.smoothing) * nll + self.smoothing * uniform
        weight = weight.float()[inside]
        return (per_window[inside] * weight).sum() / weight.sum().clamp(min=1e-12)
