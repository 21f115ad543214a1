"""Span losses: the training objective both modules use (``model.loss``).

A loss sees the start/end logits and the whole batch, so a column a reader adds to the
batch (a teacher's logits, a per-example weight) can reach it. ``model.loss`` is a
``_target_`` node naming any :class:`SpanLoss` subclass; null is :class:`SpanCrossEntropy`,
the loss every ``*ForQuestionAnswering`` model computes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from qa_lightning.components import HYDRA_KEYS, check_signature, class_path, resolve_class


class SpanLoss(nn.Module):
    """The loss seam: ``forward(start_logits, end_logits, batch) -> scalar``. ``batch`` holds
    ``start_positions`` / ``end_positions`` (token indices; positions outside the window
    mean "not in this window") and every other column the batch carries."""

    def forward(
        self,
        start_logits: torch.Tensor,
        end_logits: torch.Tensor,
        batch: Mapping[str, torch.Tensor],
    ) -> torch.Tensor:
        raise NotImplementedError


class SpanCrossEntropy(SpanLoss):
    """The mean of the start and end cross-entropies, as transformers' QA models compute it:
    a label outside the window (clamped to its width) is ignored."""

    def forward(self, start_logits, end_logits, batch):
        width = start_logits.shape[1]

        def cross_entropy(logits: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(logits.float(), positions.clamp(0, width), ignore_index=width)

        return (
            cross_entropy(start_logits, batch["start_positions"])
            + cross_entropy(end_logits, batch["end_positions"])
        ) / 2


DEFAULT_LOSS = {"_target_": class_path(SpanCrossEntropy)}


def make_loss(node: Mapping[str, Any] | None, *, where: str = "model.loss") -> SpanLoss:
    """The loss ``node`` names (null: :class:`SpanCrossEntropy`); a class path, saved or
    given, is resolved only to a :class:`SpanLoss` subclass, its keys checked."""
    node = dict(node or DEFAULT_LOSS)
    cls = resolve_class(node.get("_target_"), SpanLoss, where=f"{where}._target_")
    kwargs = {k: v for k, v in node.items() if k not in HYDRA_KEYS}
    check_signature(where, cls, kwargs)
    return cls(**kwargs)
