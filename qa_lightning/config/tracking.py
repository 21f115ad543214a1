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
    """``logger.wandb``: W&B, online when credentials are configured, else offline in the run
    folder; an online run that cannot start falls back to offline with one warning."""

    # W&B (FallbackWandbLogger): the mode resolved, offline fallback when online init fails
    _target_: str = "qa_lightning.tracking.loggers.wandb_logger"
    project: str = "qa-lightning"  # the W&B project
    entity: str | None = None  # the W&B team or user; null: the account's default
    mode: str = "auto"  # WANDB_MODES; auto: online with W&B credentials, else offline
    # seconds online init may take before the run falls back to offline W&B (one warning)
    init_timeout: float = 60.0
    group: str | None = None  # default: derived from the Hydra sweep
    name: str | None = None  # default: derived from the job's overrides
    tags: list[str] = field(
        default_factory=list
    )  # more tags (the model and data presets are added)
    log_model: bool = False  # upload checkpoints as W&B artifacts
    save_dir: str | None = "${paths.output_dir}"  # where the offline run is written
    # rows of the W&B Table of sample predictions logged after the final evaluation (0: none);
    # read by the evaluation tables, not passed to the logger
    prediction_samples: int = 100


@dataclass
class CSVConfig:
    """``logger.csv``: every logged value in ``<run>/csv/metrics.csv`` (what qa-compare reads
    for training curves)."""

    _target_: str = "pytorch_lightning.loggers.CSVLogger"
    save_dir: str | None = "${paths.output_dir}"  # the folder the log's folder goes in
    name: str = "csv"  # the log's folder
    version: str = ""  # no version_N folder: <run>/csv/metrics.csv


@dataclass
class TensorBoardConfig:
    """``logger.tensorboard``: TensorBoard event files in ``<run>/tensorboard/``."""

    # Lightning's own; the HParams tab shows the resolved config (the first record logged)
    _target_: str = "pytorch_lightning.loggers.TensorBoardLogger"
    save_dir: str | None = "${paths.output_dir}"  # the folder the event files' folder goes in
    name: str = "tensorboard"  # the event files' folder
    version: str = ""  # no version_N folder: <run>/tensorboard/events.out.tfevents.*
    log_graph: bool = False  # also write the model's graph
    default_hp_metric: bool = True  # an hp_metric placeholder for the HParams tab


@dataclass
class MLflowConfig:
    """``logger.mlflow``: an MLflow run, in a local store in the run folder or on a tracking
    server."""

    # Lightning's MLFlowLogger; without tracking_uri (or MLFLOW_TRACKING_URI), a local store
    # in <save_dir>/<name>/ (mlflow.db and artifacts/)
    _target_: str = "qa_lightning.tracking.loggers.mlflow_logger"
    experiment_name: str = "qa-lightning"  # the MLflow experiment the run belongs to
    run_name: str | None = None  # default: the job's name, as for W&B
    tracking_uri: str | None = None  # e.g. http://mlflow.example.org, sqlite:///runs.db
    tags: dict[str, str] = field(default_factory=dict)  # more tags (the sweep's group is added)
    save_dir: str | None = "${paths.output_dir}"  # the folder the local store's folder goes in
    name: str = "mlflow"  # the local store's folder
    log_model: bool = False  # log checkpoints as MLflow artifacts


@dataclass
class LoggerConfig:
    """``logger``: one entry per logger (null: off), each built from its ``_target_``."""

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
    """``callbacks.checkpoint``: the best checkpoints and ``last.ckpt``, written atomically,
    with what an exact resume needs."""

    monitor: str = "val/f1"  # a metric logged while fitting: val/..., train/loss
    mode: str = "max"  # MONITOR_MODES
    save_top_k: int = 1  # how many of the best checkpoints are kept
    save_last: bool = True  # also keep last.ckpt, the one a resume starts from
    dirpath: str = "${paths.output_dir}/checkpoints"  # where checkpoints are written
    # also write last.ckpt every n optimiser steps, so a SIGKILL loses at most n steps
    # (SIGTERM and Ctrl-C always save last.ckpt where training stopped)
    every_n_train_steps: int | None = None
    # the signal a cluster sends ahead of the time limit: stop, save last.ckpt, requeue the
    # job (submitit's handler, else scontrol requeue). auto: SIGUSR2 in a submitit SLURM
    # job, none elsewhere; or a name (SIGUSR1 with `#SBATCH --signal=USR1@120`); null: off
    requeue_signal: str | None = "auto"


@dataclass
class EarlyStoppingConfig:
    """``callbacks.early_stopping`` (callbacks=early_stopping): stop when the monitored
    metric stops improving."""

    _target_: str = "pytorch_lightning.callbacks.EarlyStopping"
    monitor: str = "val/f1"  # a metric logged while fitting: val/..., train/loss
    mode: str = "max"  # MONITOR_MODES
    patience: int = 3  # validations without improvement before training stops
    min_delta: float = 0.0  # the smallest change that counts as an improvement


@dataclass
class LRMonitorConfig:
    """``callbacks.lr_monitor``: the learning rate of each parameter group, logged."""

    _target_: str = "pytorch_lightning.callbacks.LearningRateMonitor"
    logging_interval: str | None = "step"  # LOGGING_INTERVALS; null: as the scheduler steps


@dataclass
class CallbacksConfig:
    """``callbacks``: the Lightning callbacks of train.py."""

    # the checkpoints are plumbing (resume, SIGTERM): built by the entry point, not a _target_
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    # the others are built by hydra.utils.instantiate from their _target_; null: off
    early_stopping: EarlyStoppingConfig | None = None
    lr_monitor: LRMonitorConfig | None = field(default_factory=LRMonitorConfig)  # null: off
    # more callbacks by name, each a config with _target_ (hydra.utils.instantiate), e.g.
    # +callbacks.extra.swa._target_=pytorch_lightning.callbacks.StochasticWeightAveraging
    # +callbacks.extra.rich._target_=pytorch_lightning.callbacks.RichProgressBar
    extra: dict[str, Any] = field(default_factory=dict)
