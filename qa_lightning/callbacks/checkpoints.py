"""Checkpoints a killed run can resume from, landing where an uninterrupted run would.

Three things Lightning leaves to the user (written here because no library does them for a
plain Trainer):

* :class:`AtomicCheckpointIO`: Lightning (through fsspec) writes a checkpoint to a file in
  the system temp folder and then moves it over the old one. When the checkpoints live on
  another filesystem (node-local /tmp, shared checkpoint disk: the usual cluster set-up) the
  move is a copy into the final path, so a kill during it truncates ``last.ckpt``. Here the
  bytes go to a temporary file beside the target, synced, then renamed over it.
* :class:`CheckpointOnInterrupt`: on SIGTERM (a pre-emption, ``scancel``, ``kill``) or
  Ctrl-C, stop where a resumed run continues exactly and save ``last.ckpt`` there;
  :class:`MidEpochCheckpoint` saves it every n steps, for a SIGKILL.
* :class:`RandomStateCheckpoint`: Lightning checkpoints do not hold the RNG states, so
  a resumed run would draw other dropout masks than the uninterrupted one. They are saved
  with every checkpoint and put back just before the first batch trained after a resume.

The batch order is restored by the train loader itself (``qa_lightning.data.sampling``).
"""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from pytorch_lightning.utilities.exceptions import SIGTERMException

from qa_lightning.storage.atomic import atomic_file

log = logging.getLogger(__name__)

LAST_CHECKPOINT = ModelCheckpoint.CHECKPOINT_NAME_LAST + ModelCheckpoint.FILE_EXTENSION


def requeue_signal_of(name: str | None) -> signal.Signals | None:
    """``callbacks.checkpoint.requeue_signal``: ``auto`` is SIGUSR2 inside a submitit SLURM
    job (submitit asks SLURM for it ahead of the time limit), else none."""
    if name == "auto":
        return signal.SIGUSR2 if os.environ.get("SUBMITIT_EXECUTOR") == "slurm" else None
    return signal.Signals[name] if name else None


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` into a temporary file beside the target, synced, then renamed."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None
    ) -> None:
        if storage_options is not None or "://" in str(path):  # remote: Lightning's own path
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        with atomic_file(path) as f:
            torch.save(checkpoint, f)


class CheckpointOnInterrupt(Callback):
    """On SIGTERM, stop at the next point a checkpoint resumes exactly from, and save it.

    This handler, installed once training starts, only records the request; the run then
    stops after the current batch, or, at the last batch of an epoch, once the epoch's
    validation is done and ``last.ckpt`` saved by the checkpoint callback. Ctrl-C still
    stops at once and saves where it stopped. The exit is Lightning's ``SIGTERMException``,
    so loggers are finalised as for any interruption. With several processes the request is
    shared at every step, so all of them stop at the same one.

    ``requeue_signal``: the signal a cluster sends ahead of a job's time limit (``auto``:
    SIGUSR2 inside a submitit SLURM job, which asks SLURM for it; none elsewhere). It stops
    the run the same way; then :meth:`requeue` hands over to the handler it replaced
    (submitit's, which requeues the job), or runs ``scontrol requeue $SLURM_JOB_ID``. The
    requeued job finds ``last.ckpt`` in its folder (``ckpt_path=last``, or any multirun job).

    Why not Lightning's own (re-checked against 2.6, whose SIGTERM handler this replaces
    while training runs; its SLURM requeue on SIGUSR1 is untouched): it raises after any
    batch, also in the middle of the epoch-end validation (the evaluation loop stops before
    its last batch), and a run resumed from there never runs that validation, so the best
    checkpoint can differ; it shares the request only from rank 0, so a signal that reaches
    another rank alone is lost; and it saves no checkpoint.
    """

    def __init__(self, dirpath: str | Path, requeue_signal: str | None = "auto") -> None:
        self.path = Path(dirpath) / LAST_CHECKPOINT
        self.requeue_signal = requeue_signal_of(requeue_signal)
        self.saved: Path | None = None
        self.received: int | None = None  # the signal that stopped the run
        self._previous: dict[int, Any] = {}  # signal -> the handler ours replaced

    @property
    def _requested(self) -> bool:
        return self.received is not None

    @property
    def cause(self) -> str:
        return signal.Signals(self.received).name if self.received else "SIGTERM"

    def _request(self, signum: int, frame: Any) -> None:
        if self.received is None:
            log.warning(
                "%s received: stopping at the next checkpointable point",
                signal.Signals(signum).name,
            )
            self.received = signum
        elif signum == self.requeue_signal:  # a requeue asked for after a SIGTERM wins
            self.received = signum

    def _stop_requested(self, trainer: pl.Trainer) -> bool:
        # every process stops together, or the others would wait in a collective forever
        return trainer.strategy.reduce_boolean_decision(self._requested, all=False)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGTERM, self.requeue_signal):
            if signum is not None:
                self._previous[signum] = signal.signal(signum, self._request)

    def _restore_handler(self) -> None:
        for signum, handler in self._previous.items():
            if handler is not None and signal.getsignal(signum) == self._request:
                signal.signal(signum, handler)

    def requeue(self) -> None:
        """After the run stopped on ``requeue_signal``: have the job requeued (the
        replaced handler, e.g. submitit's, which also exits; else ``scontrol requeue``)."""
        if self.received is None or self.received != self.requeue_signal:
            return
        previous = self._previous.get(self.received)
        if callable(previous):
            log.warning("Checkpoint saved; handing %s to the launcher to requeue", self.cause)
            previous(self.received, None)
            return
        job = os.environ.get("SLURM_JOB_ID")
        if not job:
            log.warning("%s received outside a SLURM job: nothing to requeue", self.cause)
            return
        done = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True)
        if done.returncode == 0:
            log.warning("Checkpoint saved; SLURM job %s requeued (scontrol requeue)", job)
        else:
            log.warning("scontrol requeue %s failed: %s", job, done.stderr.strip()[:300])

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        last_of_epoch = trainer.fit_loop.epoch_loop.batch_progress.is_last_batch
        if not last_of_epoch and self._stop_requested(trainer):
            raise SIGTERMException  # saved in on_exception, as Ctrl-C is

    # After an epoch's last batch the run goes on through the epoch's validation and the
    # checkpoint callback's epoch-end save (the last hook of the epoch), and stops at the
    # start of the next epoch, or at the end of training, with that save as last.ckpt.
    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._stop_at_epoch_boundary(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._restore_handler()
        self._stop_at_epoch_boundary(trainer)

    def _stop_at_epoch_boundary(self, trainer: pl.Trainer) -> None:
        if not self._stop_requested(trainer):
            return
        last = trainer.checkpoint_callback.last_model_path if trainer.checkpoint_callback else ""
        if last:
            self.saved = Path(last)
        raise SIGTERMException

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        self._restore_handler()
        interrupted = isinstance(exception, SIGTERMException | KeyboardInterrupt)
        if not interrupted or trainer.state.fn != "fit" or trainer.sanity_checking:
            return
        if self.saved is None:
            trainer.save_checkpoint(self.path)
            self.saved = self.path
        log.warning(
            "Training interrupted at epoch %d, step %d; checkpoint: %s",
            trainer.current_epoch,
            trainer.global_step,
            self.saved,
        )


class MidEpochCheckpoint(ModelCheckpoint):
    """``last.ckpt`` every n training steps, except at an epoch's last batch.

    A checkpoint from the end of an epoch's last batch comes before that epoch's
    validation, which a resumed run skips; the checkpoint callback's own ``last.ckpt``,
    written after the validation, covers that point instead.
    """

    def __init__(self, dirpath: str | Path, every_n_train_steps: int) -> None:
        super().__init__(
            dirpath=dirpath,
            save_top_k=0,
            save_last=True,
            every_n_train_steps=every_n_train_steps,
            enable_version_counter=False,
        )

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        if not trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            super().on_train_batch_end(trainer, *args, **kwargs)


def _random_states() -> dict[str, Any]:
    # plain Python types and tensors only: checkpoints load with weights_only=True
    numpy_state = np.random.get_state(legacy=False)
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {**numpy_state, "state": {**numpy_state["state"]}},
        "python": random.getstate(),
    }
    states["numpy"]["state"]["key"] = numpy_state["state"]["key"].tolist()
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_random_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    numpy_state = {**states["numpy"], "state": {**states["numpy"]["state"]}}
    numpy_state["state"]["key"] = np.asarray(numpy_state["state"]["key"], dtype=np.uint32)
    np.random.set_state(numpy_state)
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


class RandomStateCheckpoint(Callback):
    """Carry the torch, numpy and Python RNG states through checkpoints.

    They are restored at the first training batch after a resume, not when the checkpoint
    is read: between the two, Lightning builds loaders and may validate, which in the
    original run happened before the states were saved.
    """

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return _random_states()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = state_dict

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        if self._pending is not None:
            _set_random_states(self._pending)
            self._pending = None
