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


class AutocastSeen(Callback):
    """Write ``path``: the trainer's precision, and the autocast the module's forward ran
    under in the first training step (a dtype's name, or "none")."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.seen: str | None = None

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        import torch

        def record(module: Any, args: Any) -> None:
            if self.seen is None and module.training:
                on = torch.is_autocast_enabled("cpu")
                self.seen = str(torch.get_autocast_dtype("cpu")) if on else "none"

        pl_module.register_forward_pre_hook(record)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        record = {"precision": str(trainer.precision), "autocast": self.seen}
        self.path.write_text(json.dumps(record))
