"""A pre-emption on cue, for the resume tests (loaded by train.py via callbacks.extra)."""

from __future__ import annotations

import os
import signal
from typing import Any

from pytorch_lightning.callbacks import Callback


class SignalAtStep(Callback):
    """Send this process ``signal_name`` once optimiser step ``step`` is done."""

    def __init__(self, step: int, signal_name: str = "SIGTERM") -> None:
        self.step = step
        self.signal = getattr(signal, signal_name)

    def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signal)
