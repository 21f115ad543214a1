"""Knowledge distillation for span extraction: a student made from its teacher's layers, and
the loss that pulls the student's start/end distributions toward the teacher's.

DistilBERT was made this way (Sanh et al. 2019): its student starts from every other layer
of BERT, and fine-tuning adds a distillation term to the span loss. Both parts are plain
seams here: the loss is a :class:`~qa_lightning.models.losses.SpanLoss` that reads the
teacher's logits from the batch (``teacher_start_logits``, ``teacher_end_logits``), and the
student is any QA model whose encoder keeps chosen layers (``model.student_layers``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from qa_lightning.models.limits import check_student_layers
from qa_lightning.models.losses import SpanCrossEntropy, SpanLoss

TEACHER_COLUMNS = ("teacher_start_logits", "teacher_end_logits")


def _kl_divergence(
    student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor, temperature: float
) -> torch.Tensor:
    """KL(teacher || student) of the softened position distributions, per window, averaged
    over the batch; positions outside ``mask`` (padding) take no part."""
    floor = torch.finfo(torch.float32).min
    student = student.float().masked_fill(~mask, floor) / temperature
    teacher = teacher.float().masked_fill(~mask, floor) / temperature
    log_p_teacher = F.log_softmax(teacher, dim=-1)
    log_p_student = F.log_softmax(student, dim=-1)
    terms = torch.where(mask, log_p_teacher.exp() * (log_p_teacher - log_p_student), 0.0)
    return terms.sum(dim=-1).mean()


class DistillationLoss(SpanLoss):
    """``alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T))`` over start and end
    positions (their mean) ``+ (1 - alpha) *`` the span cross-entropy (Hinton et al. 2015;
    the ``T^2`` keeps the soft term's gradients at the hard term's scale as ``T`` grows).

    Args:
        alpha: the soft term's weight, 0..1 (0: plain training, exactly).
        temperature: ``T`` > 0; higher spreads the teacher's distribution over more
            positions.
    """

    def __init__(self, alpha: float = 0.5, temperature: float = 2.0):
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha={alpha}: the soft term's weight is between 0 and 1")
        if not temperature > 0:
            raise ValueError(f"temperature={temperature} must be positive")
        self.alpha = float(alpha)
        self.temperature = float(temperature)
        self.hard = SpanCrossEntropy()

    def forward(
        self,
        start_logits: torch.Tensor,
        end_logits: torch.Tensor,
        batch: Mapping[str, torch.Tensor],
    ) -> torch.Tensor:
        hard = self.hard(start_logits, end_logits, batch) if self.alpha < 1 else 0.0
        if self.alpha == 0:
            return hard
        missing = [c for c in TEACHER_COLUMNS if c not in batch]
        if missing:
            raise KeyError(
                f"DistillationLoss needs the teacher's logits in the batch ({', '.join(missing)} "
                "missing): give the run a teacher, or set alpha=0"
            )
        mask = batch.get("attention_mask")
        mask = torch.ones_like(start_logits, dtype=torch.bool) if mask is None else mask.bool()
        soft = (
            _kl_divergence(start_logits, batch["teacher_start_logits"], mask, self.temperature)
            + _kl_divergence(end_logits, batch["teacher_end_logits"], mask, self.temperature)
        ) / 2
        return self.alpha * self.temperature**2 * soft + (1 - self.alpha) * hard


def encoder_layers(model: nn.Module) -> nn.ModuleList:
    """The transformer layers of a transformers QA model: the first ``ModuleList`` holding
    as many blocks as the config has layers (``bert.encoder.layer``,
    ``distilbert.transformer.layer``, ``roberta.encoder.layer`` ...)."""
    config = model.config
    count = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layers", None)
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) == count:
            return module
    raise ValueError(
        f"no list of {count} layers found in {type(model).__name__}: student_layers needs "
        "a transformers encoder (BERT, DistilBERT, RoBERTa, ...)"
    )


def keep_layers(model: nn.Module, layers: Sequence[int]) -> nn.Module:
    """``model`` with only the encoder ``layers`` (in their order; the embeddings and the span
    layer kept), its config saying so: the student a teacher's own layers start from."""
    blocks = encoder_layers(model)
    check_student_layers(layers, len(blocks))
    chosen = list(layers)
    kept = nn.ModuleList(blocks[i] for i in chosen)
    for parent in model.modules():
        for name, child in parent.named_children():
            if child is blocks:
                setattr(parent, name, kept)
    config = model.config
    for key in ("num_hidden_layers", "n_layers"):
        if hasattr(config, key):
            setattr(config, key, len(chosen))
    return model


class TeacherLogits:
    """A trained QA model as the data side's teacher (a ``StateEncoder``): a key naming its
    weights by content, and model inputs -> start/end logits (B, T, 2), float32.

    The datamodule scores every training window with it once and caches the logits; the
    inputs are moved to wherever the model is when it is called (``to``)."""

    hidden_size = 2  # start and end

    def __init__(self, model: nn.Module):
        self.model = model.eval().requires_grad_(False)
        self._key: str | None = None

    @classmethod
    def from_folder(cls, path: str) -> TeacherLogits:
        """The QA model saved in ``path`` (a run's ``best_model/``, an export)."""
        from qa_lightning.models.loading import load_qa_model

        return cls(load_qa_model(path))

    def to(self, device: torch.device | str) -> TeacherLogits:
        self.model.to(device)
        return self

    @property
    def key(self) -> str:
        if self._key is None:  # hashed once: the teacher does not train
            from qa_lightning.models.encoder_head import encoder_fingerprint

            self._key = encoder_fingerprint(self.model)
        return self._key

    def __call__(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        device = next(self.model.parameters()).device
        names = ("input_ids", "attention_mask", "token_type_ids")
        with torch.inference_mode():
            out = self.model(**{k: inputs[k].to(device) for k in names if k in inputs})
        return torch.stack([out.start_logits, out.end_logits], dim=-1).float()
