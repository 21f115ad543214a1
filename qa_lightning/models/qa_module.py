"""QAModule: any ``AutoModelForQuestionAnswering`` checkpoint as a LightningModule.

Training uses the model's own span loss. Validation collects start/end logits with their
feature index in a torchmetrics state (synchronised across processes, de-duplicated), and
at epoch end turns them into answers and official SQuAD scores.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from pytorch_lightning.utilities import rank_zero_warn
from transformers import get_scheduler

from qa_lightning.errors import TrainingDivergedError
from qa_lightning.evaluation.metric import QALogitsCollector, evaluate_logits
from qa_lightning.models.loading import load_qa_model

DEFAULT_OPTIMIZER = {
    "_target_": "torch.optim.AdamW",
    "_partial_": True,
    "lr": 3e-5,
    "weight_decay": 0.01,
}
DEFAULT_SCHEDULER = {"name": "linear", "warmup_ratio": 0.1, "warmup_steps": None}
_NOT_MODEL_INPUTS = ("feature_index",)


class QAModule(pl.LightningModule):
    """Fine-tunes a QA model; scores validation with the official SQuAD rules.

    ``optimizer`` is a Hydra partial config (``_target_`` + kwargs), kept as a plain dict
    so checkpoints stay loadable without the config tree.
    """

    def __init__(
        self,
        model_name_or_path: str,
        *,
        optimizer: dict[str, Any] | None = None,
        scheduler: dict[str, Any] | None = None,
        version_2: bool = False,
        max_length: int = 384,
        n_best_size: int = 20,
        max_answer_length: int = 30,
        null_score_diff_threshold: float = 0.0,
        revision: str | None = None,
        trust_remote_code: bool = False,
        attn_implementation: str | None = None,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.model = self.build_model()
        # from_pretrained returns eval mode and Lightning keeps each submodule's mode:
        # without this, fine-tuning would run with dropout off.
        self.model.train()
        self.val_logits = QALogitsCollector(max_length=max_length)
        self.last_eval: tuple[dict[str, float], Any] | None = None

    def build_model(self) -> torch.nn.Module:
        """The network; subclasses build others (an encoder with one of our heads)."""
        return load_qa_model(
            self.hparams.model_name_or_path,
            revision=self.hparams.revision,
            trust_remote_code=self.hparams.trust_remote_code,
            attn_implementation=self.hparams.get("attn_implementation"),
        )

    def save_pretrained(self, directory: str | Path) -> None:
        """The model as ``transformers`` saves it (loadable by ``from_pretrained``)."""
        self.model.save_pretrained(directory)

    # -- steps ---------------------------------------------------------------------------
    def forward(self, batch: dict[str, torch.Tensor], split: str = "train"):
        """Model outputs for a batch of ``split`` ("train" or "validation") features."""
        inputs = {k: v for k, v in batch.items() if k not in _NOT_MODEL_INPUTS}
        return self.model(**inputs)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self(batch, "train").loss
        self.log(
            "train/loss",
            loss,
            on_step=True,
            on_epoch=True,
            prog_bar=True,
            batch_size=len(batch["input_ids"]),
        )
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        """Stop a diverged run at once instead of training on NaNs to the end of the epoch.

        Costs one scalar read-back per step, after the optimiser step has been queued.
        """
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is not None and not torch.isfinite(loss):
            lr = self.trainer.optimizers[0].param_groups[0]["lr"]
            raise TrainingDivergedError(
                f"train/loss is {loss.item()} at step {self.global_step} (epoch "
                f"{self.current_epoch}, lr {lr:.3g}): the run diverged; lower optimizer.lr, "
                f"or train in bf16/32 precision rather than 16-mixed"
            )

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        out = self(batch, "validation")
        # The collector pads to max_length and keeps float32, whatever the autocast dtype.
        self.val_logits.update(
            batch["feature_index"],
            out.start_logits,
            out.end_logits,
            batch.get("attention_mask"),
        )

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.validation_step(batch, batch_idx)

    # -- evaluation ----------------------------------------------------------------------
    def on_validation_epoch_end(self) -> None:
        self._score("val")

    def on_test_epoch_end(self) -> None:
        self._score("test")

    def _score(self, prefix: str) -> None:
        datamodule = self.trainer.datamodule
        feature_index, start, end = self.val_logits.compute()
        self.val_logits.reset()
        scores, outputs = evaluate_logits(
            datamodule.eval_examples,
            datamodule.eval_features,
            feature_index.cpu().numpy(),
            start.cpu().numpy(),
            end.cpu().numpy(),
            version_2=self.hparams.version_2,
            n_best_size=self.hparams.n_best_size,
            max_answer_length=self.hparams.max_answer_length,
            null_score_diff_threshold=self.hparams.null_score_diff_threshold,
        )
        self.last_eval = (scores, outputs)
        if not scores.get("total") and not self.trainer.sanity_checking:
            rank_zero_warn(
                "No validation example had all of its windows evaluated (limit_val_batches "
                "too small?): the scores below cover no example."
            )
        # Every rank computed the same scores from the same gathered logits: no reduction.
        self.log_dict(
            {f"{prefix}/{k}": float(v) for k, v in scores.items()},
            sync_dist=False,
            rank_zero_only=False,
        )

    # -- optimisation --------------------------------------------------------------------
    def configure_optimizers(self):
        decay, no_decay = [], []
        for param in self.model.parameters():
            if param.requires_grad:
                # Biases and LayerNorm weights (all 1-D parameters) get no weight decay.
                (no_decay if param.ndim < 2 else decay).append(param)
        spec = dict(self.hparams.optimizer or DEFAULT_OPTIMIZER)
        weight_decay = spec.get("weight_decay", 0.0)
        optimizer = instantiate(spec)(
            [
                {"params": decay, "weight_decay": weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ]
        )
        sched = {**DEFAULT_SCHEDULER, **(self.hparams.scheduler or {})}
        total = int(self.trainer.estimated_stepping_batches)
        warmup = (
            sched["warmup_steps"]
            if sched.get("warmup_steps") is not None
            else math.ceil(sched["warmup_ratio"] * total)
        )
        scheduler = get_scheduler(
            sched["name"], optimizer, num_warmup_steps=warmup, num_training_steps=total
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }
