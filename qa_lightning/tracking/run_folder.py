"""The run folder: every evaluation's predictions and scores as plain JSON files.

Files are written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.trainer.states import TrainerFn
from pytorch_lightning.utilities import rank_zero_only

from qa_lightning.tracking.run_files import METRICS_FILE, write_json_atomic

__all__ = ["METRICS_FILE", "RunFolderWriter", "write_evaluation", "write_json_atomic"]


def write_evaluation(
    output_dir: str | Path,
    scores: dict[str, float],
    outputs: Any,
    extra: dict[str, Any] | None = None,
) -> None:
    """predictions.json, nbest_predictions.json, null_odds.json (v2) and metrics.json."""
    output_dir = Path(output_dir)
    write_json_atomic(output_dir / "predictions.json", outputs.predictions)
    write_json_atomic(output_dir / "nbest_predictions.json", outputs.nbest)
    if outputs.null_odds:
        write_json_atomic(output_dir / "null_odds.json", outputs.null_odds)
    write_json_atomic(output_dir / METRICS_FILE, {**(extra or {}), **scores})


class RunFolderWriter(pl.Callback):
    """Writes the module's latest evaluation to the run folder after each validation."""

    def __init__(self, output_dir: str | Path):
        self.output_dir = Path(output_dir)

    @rank_zero_only
    def _write(self, trainer: pl.Trainer, pl_module: pl.LightningModule, split: str) -> None:
        if trainer.sanity_checking or getattr(pl_module, "last_eval", None) is None:
            return
        scores, outputs = pl_module.last_eval
        # Mid-training scores are progress, not a result: readers (compare) tell them apart.
        status = "training" if trainer.state.fn == TrainerFn.FITTING else "completed"
        extra = {
            "status": status,
            "split": split,
            "epoch": trainer.current_epoch,
            "global_step": trainer.global_step,
        }
        write_evaluation(self.output_dir, scores, outputs, extra)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._write(trainer, pl_module, "validation")

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._write(trainer, pl_module, "test")
