"""Span heads for an encoder's hidden states: (B, T, H) -> start and end logits (B, T).

``model.head`` is a ``_target_`` node naming any :class:`SpanHead` subclass (the researcher's
own too) with its keyword arguments; ``conf/model/head/*.yaml`` hold the built-ins, and
their old names (``model.head=mlp``) still work. ``linear`` is the usual probe (``Linear(H, 2)``, what ``*ForQuestionAnswering`` models
carry); ``mlp`` adds one hidden layer per token; ``bilstm`` and ``transformer`` see the
whole window, so a start can depend on the question and on its neighbours, which a
per-token probe on frozen features cannot learn.

Each head's last layer computes in float32 under mixed precision (``float32_logits``).
Padding positions get ``PAD_LOGIT`` (finite, so half precision and the cross-entropy stay
well defined), so they never win a span and never take probability mass in the loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import torch
from torch import nn

from qa_lightning.components import HYDRA_KEYS, check_signature, class_path, resolve_class
from qa_lightning.config import HeadArgs
from qa_lightning.errors import ConfigError
from qa_lightning.models.dropout import Dropout
from qa_lightning.models.float32_logits import Float32Linear

PAD_LOGIT = -1e4


class SpanHead(nn.Module):
    """The span-head seam (``model.head``): ``(B, T, H)`` states -> ``(B, T)`` start and end
    logits. A subclass takes the encoder's width first (``hidden_size``, supplied by the
    module) and its own keyword arguments (the YAML node's other keys), and implements
    :meth:`scores`; padding is masked here, in float32, for every head alike."""

    def scores(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """``(B, T, 2)`` start/end scores for ``(B, T, H)`` states (padding masked later)."""
        raise NotImplementedError

    def forward(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.scores(hidden, attention_mask).float()
        logits = logits.masked_fill(~attention_mask.bool().unsqueeze(-1), PAD_LOGIT)
        start, end = logits.unbind(dim=-1)
        return start, end


class LinearHead(SpanHead):
    """``Linear(H, 2)`` on each token: the usual probe, what ``*ForQuestionAnswering`` has."""

    def __init__(self, hidden_size: int, *, dropout: float = 0.1):
        super().__init__()
        self.dropout = Dropout(dropout)
        self.out = Float32Linear(hidden_size, 2)

    def scores(self, hidden, attention_mask):
        return self.out(self.dropout(hidden))


class MLPHead(SpanHead):
    """One hidden GELU layer of ``width`` per token, then the span layer."""

    def __init__(self, hidden_size: int, *, width: int = 256, dropout: float = 0.1):
        super().__init__()
        self.net = nn.Sequential(
            Dropout(dropout),
            nn.Linear(hidden_size, width),
            nn.GELU(),
            Dropout(dropout),
            Float32Linear(width, 2),
        )

    def scores(self, hidden, attention_mask):
        return self.net(hidden)


class BiLSTMHead(SpanHead):
    """A bidirectional LSTM over the window (padding packed away), then a linear layer."""

    def __init__(
        self, hidden_size: int, *, width: int = 256, num_layers: int = 1, dropout: float = 0.1
    ):
        super().__init__()
        self.dropout = Dropout(dropout)
        self.lstm = nn.LSTM(
            hidden_size,
            width,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.out = Float32Linear(2 * width, 2)

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

    def __init__(
        self, hidden_size: int, *, num_layers: int = 1, num_heads: int = 4, dropout: float = 0.1
    ):
        super().__init__()
        layer = nn.TransformerEncoderLayer(
            hidden_size,
            num_heads,
            dim_feedforward=4 * hidden_size,
            dropout=dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        # The nested-tensor fast path only exists in eval mode; keep both modes on one path.
        self.layers = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.out = Float32Linear(hidden_size, 2)

    def scores(self, hidden, attention_mask):
        return self.out(self.layers(hidden, src_key_padding_mask=~attention_mask.bool()))


# The built-in heads by the names ``model.head`` took before heads were nodes, and the
# ``model.head_args`` each reads (config.HeadArgs' names -> the class's keyword arguments).
NAMED_HEADS: dict[str, tuple[type[SpanHead], dict[str, str]]] = {
    "linear": (LinearHead, {"dropout": "dropout"}),
    "mlp": (MLPHead, {"hidden_size": "width", "dropout": "dropout"}),
    "bilstm": (
        BiLSTMHead,
        {"hidden_size": "width", "num_layers": "num_layers", "dropout": "dropout"},
    ),
    "transformer": (
        TransformerHead,
        {"num_layers": "num_layers", "num_heads": "num_heads", "dropout": "dropout"},
    ),
}


def head_node(head: Any, head_args: Mapping[str, Any] | HeadArgs | None = None) -> dict | None:
    """``model.head`` as a plain ``_target_`` node: a node as given, or a built-in head's
    name (with the ``model.head_args`` it reads) as its node; None for the QA model's own
    layer. What a run saves (hyper-parameters, ``qa_head.json``) is this plain data."""
    if head is None:
        return None
    if isinstance(head, Mapping):
        return dict(head)
    if head not in NAMED_HEADS:
        raise ConfigError(
            f"model.head={head!r}; use a node with a _target_ (model/head=<yaml>) or one of "
            f"{', '.join(NAMED_HEADS)}"
        )
    cls, renamed = NAMED_HEADS[head]
    if isinstance(head_args, HeadArgs):
        head_args = asdict(head_args)
    args = {**asdict(HeadArgs()), **(head_args or {})}
    return {"_target_": class_path(cls), **{new: args[old] for old, new in renamed.items()}}


def head_label(node: Mapping[str, Any] | None) -> str:
    """A short name for logs and cards: the built-in's name, else the class's."""
    if node is None:
        return "transformers QA layer"
    target = str(node.get("_target_", ""))
    for name, (cls, _) in NAMED_HEADS.items():
        if target == class_path(cls):
            return name
    return target.rsplit(".", 1)[-1]


def make_head(node: Mapping[str, Any], hidden_size: int, *, where: str = "model.head") -> SpanHead:
    """The head ``node`` names, for ``hidden_size``-wide states. The class path is resolved
    only to a :class:`SpanHead` subclass (a saved file cannot name anything else), and its
    keys are checked against the class's signature."""
    cls = resolve_class(node.get("_target_"), SpanHead, where=f"{where}._target_")
    kwargs = {k: v for k, v in node.items() if k not in HYDRA_KEYS}
    check_signature(where, cls, kwargs, supplied=("hidden_size",))
    return cls(hidden_size, **kwargs)


def build_head(name: str, hidden: int, args: HeadArgs | dict | None = None) -> SpanHead:
    """The built-in head called ``name`` for ``hidden``-wide states (``model.head_args``)."""
    return make_head(head_node(name, args), hidden)
