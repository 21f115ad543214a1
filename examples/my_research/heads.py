"""A pointer span head: the end scores see where the start is likely to be."""

from __future__ import annotations

import torch
from torch import nn

from qa_lightning.models import Float32Linear, SpanHead

MASKED = -1e4


class PointerHead(SpanHead):
    """Boundary pointer in the spirit of Match-LSTM's answer pointer: the start distribution
    pools the window into one vector, which conditions every token's end score. A per-token
    probe scores the end without knowing the start; this one cannot."""

    def __init__(self, hidden_size: int, *, width: int = 128, dropout: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.start = Float32Linear(hidden_size, 1)
        self.token = nn.Linear(hidden_size, width)
        self.pooled = nn.Linear(hidden_size, width, bias=False)
        self.end = Float32Linear(width, 1)

    def scores(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.dropout(hidden)
        start = self.start(hidden)  # (B, T, 1)
        weights = start.squeeze(-1).masked_fill(~attention_mask.bool(), MASKED).softmax(-1)
        pooled = torch.einsum("bt,bth->bh", weights.to(hidden.dtype), hidden)
        end_input = torch.tanh(self.token(hidden) + self.pooled(pooled).unsqueeze(1))
        return torch.cat([start, self.end(self.dropout(end_input))], dim=-1)
