"""The run folder: every evaluation's predictions and scores as plain JSON files.

Files are written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.utilities import rank_zero_only


def write_json_atomic(path: str | Path, payload: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2, ensure_ascii=False)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; outputs are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    write_json_atomic(output_dir / "metrics.json", {**(extra or {}), **scores})


class RunFolderWriter(pl.Callback):
    """Writes the module's latest evaluation to the run folder after each validation."""

    def __init__(self, output_dir: str | Path):
        self.output_dir = Path(output_dir)

    @rank_zero_only
    def _write(self, trainer: pl.Trainer, pl_module: pl.LightningModule, split: str) -> None:
        if trainer.sanity_checking or getattr(pl_module, "last_eval", None) is None:
            return
        scores, outputs = pl_module.last_eval
        extra = {"split": split, "epoch": trainer.current_epoch, "global_step": trainer.global_step}
        write_evaluation(self.output_dir, scores, outputs, extra)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._write(trainer, pl_module, "validation")

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._write(trainer, pl_module, "test")
