"""Span heads for an encoder's hidden states: (B, T, H) -> start and end logits (B, T).

``linear`` is the usual probe (``Linear(H, 2)``, what ``*ForQuestionAnswering`` models
carry); ``mlp`` adds one hidden layer per token; ``bilstm`` and ``transformer`` see the
whole window, so a start can depend on the question and on its neighbours, which a
per-token probe on frozen features cannot learn.

Each head's last layer computes in float32 under mixed precision (``float32_logits``).
Padding positions get ``PAD_LOGIT`` (finite, so half precision and the cross-entropy stay
well defined), so they never win a span and never take probability mass in the loss.
"""

from __future__ import annotations

import torch
from torch import nn

from qa_lightning.config import Head, HeadArgs, choice
from qa_lightning.models.float32_logits import Float32Linear

PAD_LOGIT = -1e4


class SpanHead(nn.Module):
    """Base: subclasses map (B, T, H) states to (B, T, 2) scores; masking is shared."""

    def scores(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.scores(hidden, attention_mask).float()
        logits = logits.masked_fill(~attention_mask.bool().unsqueeze(-1), PAD_LOGIT)
        start, end = logits.unbind(dim=-1)
        return start, end


class LinearHead(SpanHead):
    def __init__(self, hidden: int, args: HeadArgs):
        super().__init__()
        self.dropout = nn.Dropout(args.dropout)
        self.out = Float32Linear(hidden, 2)

    def scores(self, hidden, attention_mask):
        return self.out(self.dropout(hidden))


class MLPHead(SpanHead):
    def __init__(self, hidden: int, args: HeadArgs):
        super().__init__()
        self.net = nn.Sequential(
            nn.Dropout(args.dropout),
            nn.Linear(hidden, args.hidden_size),
            nn.GELU(),
            nn.Dropout(args.dropout),
            Float32Linear(args.hidden_size, 2),
        )

    def scores(self, hidden, attention_mask):
        return self.net(hidden)


class BiLSTMHead(SpanHead):
    """A bidirectional LSTM over the window (padding packed away), then a linear layer."""

    def __init__(self, hidden: int, args: HeadArgs):
        super().__init__()
        self.dropout = nn.Dropout(args.dropout)
        self.lstm = nn.LSTM(
            hidden,
            args.hidden_size,
            num_layers=args.num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=args.dropout if args.num_layers > 1 else 0.0,
        )
        self.out = Float32Linear(2 * args.hidden_size, 2)

    def scores(self, hidden, attention_mask):
        lengths = attention_mask.sum(dim=1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            self.dropout(hidden), lengths, batch_first=True, enforce_sorted=False
        )
        out, _ = self.lstm(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(
            out, batch_first=True, total_length=hidden.shape[1]
        )
        return self.out(self.dropout(out))


class TransformerHead(SpanHead):
    """Transformer layer(s) over the window (padding masked), then a linear layer."""

    def __init__(self, hidden: int, args: HeadArgs):
        super().__init__()
        layer = nn.TransformerEncoderLayer(
            hidden,
            args.num_heads,
            dim_feedforward=4 * hidden,
            dropout=args.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        # The nested-tensor fast path only exists in eval mode; keep both modes on one path.
        self.layers = nn.TransformerEncoder(layer, args.num_layers, enable_nested_tensor=False)
        self.out = Float32Linear(hidden, 2)

    def scores(self, hidden, attention_mask):
        return self.out(self.layers(hidden, src_key_padding_mask=~attention_mask.bool()))


_HEADS: dict[str, type[SpanHead]] = {  # by config.Head
    "linear": LinearHead,
    "mlp": MLPHead,
    "bilstm": BiLSTMHead,
    "transformer": TransformerHead,
}


def build_head(name: str, hidden: int, args: HeadArgs | dict | None = None) -> SpanHead:
    """The head called ``name`` for ``hidden``-wide states."""
    head = choice(Head, name, "model.head").value  # one line naming the heads (a ValueError)
    if not isinstance(args, HeadArgs):
        args = HeadArgs(**(args or {}))
    return _HEADS[head](hidden, args)
