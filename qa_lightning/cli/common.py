"""Plumbing shared by train.py and eval.py: run folder, loggers, callbacks, tokenizer."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import (
    Callback,
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
    RichProgressBar,
)

from qa_lightning.tracking.loggers import build_loggers, run_identity
from qa_lightning.tracking.run_folder import RunFolderWriter

log = logging.getLogger(__name__)


def set_env_defaults() -> None:
    """Quiet defaults the user can still override from the environment."""
    # The tokenizer is used before the DataLoader may fork; let Rust parallelism stay
    # unless the user chose otherwise (never forced on).
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def hydra_config() -> Any | None:
    return HydraConfig.get() if HydraConfig.initialized() else None


def write_resolved_config(cfg: DictConfig, output_dir: str | Path) -> None:
    """The config with every interpolation resolved, as the run actually used it."""
    path = Path(output_dir) / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, path, resolve=True)


def make_loggers(cfg: DictConfig):
    group, name = run_identity(hydra_config())
    return build_loggers(
        OmegaConf.to_container(cfg.logger, resolve=True),
        output_dir=cfg.paths.output_dir,
        group=group,
        name=name,
        tags=list(cfg.tags),
    )


def make_callbacks(cfg: DictConfig, *, with_loggers: bool) -> list[Callback]:
    callbacks: list[Callback] = [RunFolderWriter(cfg.paths.output_dir)]
    cb = cfg.get("callbacks")
    if cb is None:
        return callbacks
    ckpt = cb.checkpoint
    callbacks.append(
        ModelCheckpoint(
            dirpath=ckpt.dirpath,
            monitor=ckpt.monitor,
            mode=ckpt.mode,
            save_top_k=ckpt.save_top_k,
            save_last=ckpt.save_last,
            filename="epoch{epoch}-step{step}",
            auto_insert_metric_name=False,
        )
    )
    if cb.early_stopping is not None:
        es = cb.early_stopping
        callbacks.append(
            EarlyStopping(
                monitor=es.monitor, mode=es.mode, patience=es.patience, min_delta=es.min_delta
            )
        )
    if cb.lr_monitor and with_loggers:
        callbacks.append(LearningRateMonitor(logging_interval="step"))
    if cb.rich_progress:
        callbacks.append(RichProgressBar())
    return callbacks
