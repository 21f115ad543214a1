"""A LightningModule of one's own: R-Drop (Liang et al., NeurIPS 2021) for span heads."""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

from qa_lightning.models import HeadQAModule


class RDropHeadModule(HeadQAModule):
    """Each training batch runs twice (two dropout masks); the loss adds ``rdrop_alpha``
    times the symmetric KL between the two passes' start and end distributions, so the
    head's answers do not depend on which units dropped. Everything else (the frozen
    encoder, its cache, saving, evaluation) is HeadQAModule's."""

    def __init__(self, model_name_or_path: str, *, rdrop_alpha: float = 1.0, **kwargs: Any):
        super().__init__(model_name_or_path, **kwargs)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        first, second = self(batch), self(batch)
        span = (
            self.loss(first.start_logits, first.end_logits, batch)
            + self.loss(second.start_logits, second.end_logits, batch)
        ) / 2
        agreement = sum(
            _symmetric_kl(a, b)
            for a, b in (
                (first.start_logits, second.start_logits),
                (first.end_logits, second.end_logits),
            )
        )
        loss = span + self.hparams.rdrop_alpha * agreement / 2
        batch_size = len(batch["input_ids"])
        self.log(
            "train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=batch_size
        )
        self.log("train/rdrop_kl", agreement / 2, on_step=True, batch_size=batch_size)
        return loss


def _symmetric_kl(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    log_a, log_b = a.float().log_softmax(-1), b.float().log_softmax(-1)
    kl = F.kl_div(log_a, log_b, log_target=True, reduction="batchmean")
    return (kl + F.kl_div(log_b, log_a, log_target=True, reduction="batchmean")) / 2
