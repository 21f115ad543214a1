"""A pre-emption on cue, for the resume tests (loaded by train.py via callbacks.extra)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from pytorch_lightning.callbacks import Callback


class SignalAtStep(Callback):
    """Send this process ``signal_name`` once optimiser step ``step`` is done.

    ``job``: only in that Hydra multirun job. ``once``: a file that marks the signal sent;
    when it exists, nothing is sent (a relaunch with the very same command runs through).
    """

    def __init__(
        self,
        step: int,
        signal_name: str = "SIGTERM",
        job: int | None = None,
        once: str | None = None,
    ) -> None:
        self.step = step
        self.signal = getattr(signal, signal_name)
        self.job = job
        self.once = Path(once) if once else None

    def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
        if trainer.global_step != self.step:
            return
        if self.job is not None:
            from hydra.core.hydra_config import HydraConfig

            if HydraConfig.get().job.num != self.job:
                return
        if self.once is not None:
            if self.once.exists():
                return
            self.once.write_text("sent")
        os.kill(os.getpid(), self.signal)
