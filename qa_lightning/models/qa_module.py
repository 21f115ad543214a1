"""QAModule: any ``AutoModelForQuestionAnswering`` checkpoint as a LightningModule.

It computes the span loss for training and start/end logits for evaluation and prediction,
nothing else: the evaluation sets' evaluators (built on the data side) take the logits
from each step's output and score them.

It is also the LightningModule seam (``model._target_``). A researcher's module subclasses
it (or ``HeadQAModule``) and keeps its protocol:

- ``forward(batch)`` -> an output with ``start_logits`` and ``end_logits`` (B, T), from the
  model inputs alone (``input_ids``, ``attention_mask``, ``token_type_ids``, or the cached
  ``hidden_states``); ``training_step`` adds ``model.loss`` (which sees the whole batch);
- ``validation_step`` / ``predict_step`` return ``{"start_logits", "end_logits"}``;
- ``save_pretrained(folder)`` writes what ``from_pretrained`` (or ``qa_head.json``) reads;
- ``encoder_states()``: a frozen encoder whose outputs the data side may cache, or None;
- ``model_config``: the pretrained part's transformers config.

Checkpoints record the class path (``module_class``), resolved on load only to a subclass,
and leave out the weights that do not train (``frozen_weights``: names and a hash, checked
against the module's own on load).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytorch_lightning as pl
import torch

from qa_lightning.components import class_path
from qa_lightning.errors import TrainingDivergedError
from qa_lightning.models.distillation import keep_layers
from qa_lightning.models.float32_logits import float32_span_layer
from qa_lightning.models.frozen_weights import (
    drop_frozen,
    frozen_names,
    restore_frozen,
    weights_digest,
)
from qa_lightning.models.loading import config_from_dict, load_qa_model
from qa_lightning.models.losses import make_loss
from qa_lightning.models.optimization import build_optimizer, build_scheduler

if TYPE_CHECKING:
    from qa_lightning.models.encoder_head import FrozenEncoderStates

# what the network is given; labels and every other column a batch carries reach the loss
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# the checkpoint entry naming the module's class (older checkpoints: chosen by their head)
MODULE_CLASS = "module_class"
# Evaluation settings that checkpoints written before evaluation moved to the data side
# carry as hyper-parameters; accepted and dropped so those checkpoints still load.
_FORMER_EVAL_SETTINGS = (
    "version_2",
    "max_length",
    "n_best_size",
    "max_answer_length",
    "null_score_diff_threshold",
)


class QAModule(pl.LightningModule):
    """Fine-tunes a QA model; its evaluation steps return start/end logits.

    ``optimizer`` (a Hydra partial node: ``_target_`` + kwargs), ``optimizer_groups`` (a
    ``ParamGroups`` node, None: decay / no-decay groups), ``scheduler`` and ``loss`` (a
    :class:`~qa_lightning.models.losses.SpanLoss` node, None: the span cross-entropy) are
    kept as plain dicts, so checkpoints stay loadable without the config tree.
    ``student_layers``: keep only these encoder layers of the loaded model (a student made
    from its teacher, :func:`~qa_lightning.models.distillation.keep_layers`).
    """

    def __init__(
        self,
        model_name_or_path: str,
        *,
        optimizer: dict[str, Any] | None = None,
        optimizer_groups: dict[str, Any] | None = None,
        scheduler: dict[str, Any] | None = None,
        revision: str | None = None,
        trust_remote_code: bool = False,
        attn_implementation: str | None = None,
        model_config: dict[str, Any] | None = None,
        loss: dict[str, Any] | None = None,
        student_layers: list[int] | None = None,
        **former_eval_settings: Any,
    ):
        super().__init__()
        unknown = set(former_eval_settings) - set(_FORMER_EVAL_SETTINGS)
        if unknown:
            raise TypeError(f"QAModule got unexpected arguments: {', '.join(sorted(unknown))}")
        self.save_hyperparameters(ignore=[*former_eval_settings, "model_config"])
        # a checkpoint's own model config: the architecture is built from it, so that a
        # checkpoint holding every weight loads without the base model's files (offline)
        self._saved_config = config_from_dict(model_config) if model_config else None
        self.model = self.build_model()
        self.loss = make_loss(loss)
        # from_pretrained returns eval mode and Lightning keeps each submodule's mode:
        # without this, fine-tuning would run with dropout off.
        self.model.train()

    def build_model(self) -> torch.nn.Module:
        """The network; subclasses build others (an encoder with one of our heads). Its
        span layer computes in float32 under mixed precision (``float32_logits``)."""
        model = load_qa_model(
            self.hparams.model_name_or_path,
            revision=self.hparams.revision,
            trust_remote_code=self.hparams.trust_remote_code,
            attn_implementation=self.hparams.get("attn_implementation"),
            config=self._saved_config,
        )
        layers = self.hparams.get("student_layers")
        if layers and self._saved_config is None:  # a checkpoint's config is the student's
            keep_layers(model, layers)
        float32_span_layer(model)
        return model

    @property
    def model_config(self) -> Any:
        """The transformers config of the network's pretrained part."""
        return self.model.config

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # plain data (a dict of numbers and strings): read back with weights_only loading
        checkpoint["model_config"] = self.model_config.to_dict()
        checkpoint[MODULE_CLASS] = class_path(type(self))
        names = frozen_names(self)
        if names:
            drop_frozen(checkpoint, names, self._frozen_digest(names))

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # before Lightning loads the state dict (resume, validate(ckpt_path=...),
        # load_from_checkpoint): the frozen weights come from this module, if they match
        restore_frozen(
            checkpoint,
            self,
            source=self.hparams.model_name_or_path,
            digest=self._frozen_digest,
        )

    def _frozen_digest(self, names: list[str]) -> str:
        """``weights_digest`` of the frozen weights, hashed once per set of names: frozen
        weights do not change (a callback that unfreezes some changes the names)."""
        memo = getattr(self, "_frozen_digest_memo", None)
        if memo is None or memo[0] != tuple(names):
            memo = self._frozen_digest_memo = (tuple(names), weights_digest(self, names))
        return memo[1]

    def save_pretrained(self, directory: str | Path) -> None:
        """The model as ``transformers`` saves it (loadable by ``from_pretrained``)."""
        self.model.save_pretrained(directory)

    def encoder_states(self, autocast: torch.dtype | None = None) -> FrozenEncoderStates | None:
        """A frozen encoder whose outputs the data side may cache (``HeadQAModule``); a model
        fine-tuned whole has none."""
        return None

    # -- steps ---------------------------------------------------------------------------
    def forward(self, batch: dict[str, torch.Tensor]):
        """Start/end logits of a batch, from its model inputs alone."""
        return self.model(**{k: batch[k] for k in MODEL_INPUTS if k in batch})

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        out = self(batch)
        loss = self.loss(out.start_logits, out.end_logits, batch)
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

    def validation_step(
        self, batch: dict[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> dict[str, torch.Tensor]:
        """Start/end logits of a batch of eval features (for the set's evaluator)."""
        out = self(batch)
        return {"start_logits": out.start_logits, "end_logits": out.end_logits}

    def predict_step(
        self, batch: dict[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> dict[str, torch.Tensor]:
        return self.validation_step(batch, batch_idx, dataloader_idx)

    # -- optimisation --------------------------------------------------------------------
    def configure_optimizers(self):
        """``optimizer`` over the groups ``optimizer_groups`` makes of the trainable
        parameters, and the ``scheduler``'s schedule, stepped every optimizer step (see
        ``models/optimization.py``)."""
        optimizer = build_optimizer(
            self.model, self.hparams.optimizer, self.hparams.get("optimizer_groups")
        )
        total = int(self.trainer.estimated_stepping_batches)
        scheduler = build_scheduler(optimizer, self.hparams.scheduler, total)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }
