"""The Lightning side of evaluation: logits to evaluators, results to their receivers.

The module's evaluation steps return start/end logits; this callback gives them to the
evaluator of the batch's set (built by the data module, one per dataloader of the running
loop). When the loop ends, each evaluator computes its result (the same on every process),
the scores are logged (``val/...`` for the validation set, ``eval/<name>/...`` for the
others), and the results are handed to every receiver given at construction: the run
folder writer, the W&B tables, the entry point. No result is stored for later reading.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.utilities import rank_zero_warn

from qa_lightning.evaluation.evaluator import EvaluationResult, Evaluator

Receiver = Callable[[list[EvaluationResult], pl.Trainer], None]


class EvaluationCallback(pl.Callback):
    """Feeds each evaluation set's logits to its evaluator; hands the results on.

    Args:
        receivers: called with ``(results, trainer)`` after every validation and
            prediction loop (not the sanity check), on every process.
    """

    def __init__(self, receivers: Sequence[Receiver] = ()):
        self.receivers = list(receivers)
        self._evaluators: list[Evaluator] = []  # those of the loop that is running

    # -- the loop's evaluators -------------------------------------------------------------
    def _start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._evaluators = [e.to(pl_module.device) for e in trainer.datamodule.evaluators()]

    def _update(self, outputs: Any, batch: Any, dataloader_idx: int) -> None:
        self._evaluators[dataloader_idx].update(
            batch["feature_index"],
            outputs["start_logits"],
            outputs["end_logits"],
            batch.get("attention_mask"),
        )

    def _finish(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        evaluators, self._evaluators = self._evaluators, []
        results = [evaluator.compute() for evaluator in evaluators]
        if trainer.sanity_checking:
            return
        for result in results:
            if result.labelled and not result.scores.get("total"):
                rank_zero_warn(
                    f"No {result.name} example had all of its windows evaluated "
                    "(limit_val_batches too small?): its scores cover no example."
                )
            elif result.unscored:
                rank_zero_warn(
                    f"{result.name}: {result.unscored} of {result.examples} questions had "
                    "windows this loop did not evaluate (limit_val_batches?); the scores "
                    f"cover the other {result.examples - result.unscored} only"
                )
            # Every process computed the same result from the same gathered logits.
            pl_module.log_dict(
                result.metrics(), sync_dist=False, rank_zero_only=False, add_dataloader_idx=False
            )
        for receive in self.receivers:
            receive(results, trainer)

    # -- Lightning hooks -------------------------------------------------------------------
    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start(trainer, pl_module)

    def on_validation_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self._update(outputs, batch, dataloader_idx)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._finish(trainer, pl_module)

    def on_predict_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start(trainer, pl_module)

    def on_predict_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self._update(outputs, batch, dataloader_idx)

    def on_predict_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._finish(trainer, pl_module)


class LatestResults:
    """A receiver that keeps the last results it was handed (for the entry points)."""

    def __init__(self) -> None:
        self.results: list[EvaluationResult] = []

    def __call__(self, results: list[EvaluationResult], trainer: pl.Trainer) -> None:
        self.results = results
