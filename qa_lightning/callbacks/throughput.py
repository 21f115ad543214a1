"""Throughput: features per second of training work (logged) and of prediction.

Lightning's ``ThroughputMonitor`` (``callbacks=throughput``, with :func:`batch_features`
and :func:`batch_tokens` below) reports windowed rates while a run trains: samples and
non-padding tokens per second, FLOPs and MFU where known, wall time including data loading.
:class:`TrainThroughput` stays for the one number a run reports (``metrics.json``'s
``train_features_per_second``, the compare tables, the benchmarks): features per second of
the training steps themselves, cumulated over the whole run, which no Lightning callback
gives.
"""

from __future__ import annotations

import time

import pytorch_lightning as pl


def batch_features(batch: dict) -> int:
    """Windows (features) in a batch: ThroughputMonitor's ``batch_size_fn``."""
    return int(batch["input_ids"].shape[0])


def batch_tokens(batch: dict) -> int:
    """Non-padding tokens in a batch: ThroughputMonitor's ``length_fn`` (its items/s)."""
    mask = batch.get("attention_mask")
    return int(mask.sum()) if mask is not None else int(batch["input_ids"].numel())


class TrainThroughput(pl.Callback):
    """Times each training batch (forward, backward, optimiser step), not validation."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.features = 0
        self._start: float | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._start is None:
            return
        self.seconds += time.perf_counter() - self._start
        self.features += int(batch["input_ids"].shape[0])
        self._start = None

    @property
    def features_per_second(self) -> float:
        return self.features / self.seconds if self.seconds else 0.0

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        pl_module.log("train/features_per_s", self.features_per_second)


class PredictThroughput(pl.Callback):
    """Times the whole prediction loop (model and decoding) and counts its features."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.features = 0
        self._start = 0.0

    def on_predict_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self.features += int(batch["input_ids"].shape[0])

    def on_predict_end(self, trainer, pl_module) -> None:
        self.seconds = time.perf_counter() - self._start

    @property
    def features_per_second(self) -> float:
        return self.features / self.seconds if self.seconds else 0.0
