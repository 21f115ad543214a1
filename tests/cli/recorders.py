"""What a run trained on, recorded for tests (loaded by train.py via callbacks.extra)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytorch_lightning.callbacks import Callback


class TrainOrder(Callback):
    """Append each training batch's feature indices to ``<folder>/rank<r>.jsonl``."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def on_train_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int
    ) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        line = {"epoch": trainer.current_epoch, "features": batch["feature_index"].tolist()}
        with open(self.folder / f"rank{trainer.global_rank}.jsonl", "a") as f:
            f.write(json.dumps(line) + "\n")
