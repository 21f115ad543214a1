"""The ``logger`` and ``callbacks`` groups' schema."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Loggers and callbacks are built by hydra.utils.instantiate from their ``_target_``: the
# entries below are the constructor arguments (or those of a small factory in
# qa_lightning.tracking.loggers); save_dir null means the run folder.


# logger.wandb.mode: auto is online when W&B credentials are configured, else offline
# (checked at start by qa_lightning/tracking/checks.py)
WANDB_MODES = ("auto", "online", "offline", "disabled")


@dataclass
class WandbConfig:
    # W&B (FallbackWandbLogger): the mode resolved, offline fallback when online init fails
    _target_: str = "qa_lightning.tracking.loggers.wandb_logger"
    project: str = "qa-lightning"
    entity: str | None = None
    mode: str = "auto"  # WANDB_MODES; auto: online with W&B credentials, else offline
    # seconds online init may take before the run falls back to offline W&B (one warning)
    init_timeout: float = 60.0
    group: str | None = None  # default: derived from the Hydra sweep
    name: str | None = None  # default: derived from the job's overrides
    tags: list[str] = field(default_factory=list)
    log_model: bool = False
    save_dir: str | None = "${paths.output_dir}"
    # rows of the W&B Table of sample predictions logged after the final evaluation (0: none);
    # read by the evaluation tables, not passed to the logger
    prediction_samples: int = 100


@dataclass
class CSVConfig:
    _target_: str = "pytorch_lightning.loggers.CSVLogger"
    save_dir: str | None = "${paths.output_dir}"
    name: str = "csv"
    version: str = ""  # no version_N folder: <run>/csv/metrics.csv


@dataclass
class TensorBoardConfig:
    # Lightning's own; the HParams tab shows the resolved config (the first record logged)
    _target_: str = "pytorch_lightning.loggers.TensorBoardLogger"
    save_dir: str | None = "${paths.output_dir}"
    name: str = "tensorboard"
    version: str = ""  # no version_N folder: <run>/tensorboard/events.out.tfevents.*
    log_graph: bool = False
    default_hp_metric: bool = True


@dataclass
class MLflowConfig:
    # Lightning's MLFlowLogger; without tracking_uri (or MLFLOW_TRACKING_URI), a local store
    # in <save_dir>/<name>/ (mlflow.db and artifacts/)
    _target_: str = "qa_lightning.tracking.loggers.mlflow_logger"
    experiment_name: str = "qa-lightning"
    run_name: str | None = None  # default: the job's name, as for W&B
    tracking_uri: str | None = None  # e.g. http://mlflow.example.org, sqlite:///runs.db
    tags: dict[str, str] = field(default_factory=dict)
    save_dir: str | None = "${paths.output_dir}"
    name: str = "mlflow"
    log_model: bool = False


@dataclass
class LoggerConfig:
    # in this order: the CSV log first (Lightning's trainer.log_dir is the first logger's)
    csv: CSVConfig | None = None
    wandb: WandbConfig | None = None
    tensorboard: TensorBoardConfig | None = None
    mlflow: MLflowConfig | None = None
    # more loggers by name, each a config with _target_ (hydra.utils.instantiate), e.g.
    # +logger.extra.comet._target_=pytorch_lightning.loggers.CometLogger
    extra: dict[str, Any] = field(default_factory=dict)


# The typed entries of LoggerConfig by key: an entry given without _target_ gets its schema's.
LOGGER_SCHEMAS = {
    "csv": CSVConfig,
    "wandb": WandbConfig,
    "tensorboard": TensorBoardConfig,
    "mlflow": MLflowConfig,
}


# callbacks.*.mode: whether a monitored metric is better when lower (min) or higher (max);
# callbacks.lr_monitor.logging_interval: when the learning rate is logged. Both checked at
# start by qa_lightning/tracking/checks.py.
MONITOR_MODES = ("min", "max")
LOGGING_INTERVALS = ("step", "epoch")


@dataclass
class CheckpointConfig:
    monitor: str = "val/f1"  # a metric logged while fitting: val/..., train/loss
    mode: str = "max"  # MONITOR_MODES
    save_top_k: int = 1
    save_last: bool = True
    dirpath: str = "${paths.output_dir}/checkpoints"
    # also write last.ckpt every n optimiser steps, so a SIGKILL loses at most n steps
    # (SIGTERM and Ctrl-C always save last.ckpt where training stopped)
    every_n_train_steps: int | None = None
    # the signal a cluster sends ahead of the time limit: stop, save last.ckpt, requeue the
    # job (submitit's handler, else scontrol requeue). auto: SIGUSR2 in a submitit SLURM
    # job, none elsewhere; or a name (SIGUSR1 with `#SBATCH --signal=USR1@120`); null: off
    requeue_signal: str | None = "auto"


@dataclass
class EarlyStoppingConfig:
    _target_: str = "pytorch_lightning.callbacks.EarlyStopping"
    monitor: str = "val/f1"  # a metric logged while fitting: val/..., train/loss
    mode: str = "max"  # MONITOR_MODES
    patience: int = 3
    min_delta: float = 0.0


@dataclass
class LRMonitorConfig:
    _target_: str = "pytorch_lightning.callbacks.LearningRateMonitor"
    logging_interval: str | None = "step"  # LOGGING_INTERVALS; null: as the scheduler steps


@dataclass
class CallbacksConfig:
    # the checkpoints are plumbing (resume, SIGTERM): built by the entry point, not a _target_
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    # the others are built by hydra.utils.instantiate from their _target_; null: off
    early_stopping: EarlyStoppingConfig | None = None
    lr_monitor: LRMonitorConfig | None = field(default_factory=LRMonitorConfig)
    # more callbacks by name, each a config with _target_ (hydra.utils.instantiate), e.g.
    # +callbacks.extra.swa._target_=pytorch_lightning.callbacks.StochasticWeightAveraging
    # +callbacks.extra.rich._target_=pytorch_lightning.callbacks.RichProgressBar
    extra: dict[str, Any] = field(default_factory=dict)
