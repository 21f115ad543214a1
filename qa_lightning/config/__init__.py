"""Structured configs: the typed schema every Hydra run is checked against.

The YAML files under ``conf/`` are merged into these dataclasses, so an unknown key, a value
of the wrong type or a closed-set value (an Enum) outside its choices fails at compose time
with the key's name and the values allowed (OmegaConf's own message). The rules OmegaConf
cannot express live beside the code that owns each rule, and the entry points run them once
before anything loads (``qa_lightning/cli/checks.py:check_run``):

- the data sets, eval sets, columns and the window: ``qa_lightning.data.checks``;
- the model's settings and what its own config allows: ``qa_lightning.models.checks`` and
  ``qa_lightning.models.limits``; optimizer and scheduler: ``qa_lightning.models.optimization``;
- loggers and callbacks: ``qa_lightning.tracking.checks``;
- metric names and slices: ``qa_lightning.evaluation.checks``;
- the trainer, the backend and ``ckpt_path``: ``qa_lightning.cli.checks``.

This package is the foundation: it imports no layer.
"""

from qa_lightning.config.choices import Choice, choice, to_plain
from qa_lightning.config.data import (
    EVAL_SET_KEYS,
    DataConfig,
    DataSource,
    EvalSetConfig,
    OnBadRecord,
    SyntheticConfig,
)
from qa_lightning.config.entries import (
    BUILTIN_SLICE_TARGETS,
    Backend,
    BackendChoice,
    EntryConfig,
    EvalConfig,
    EvaluationConfig,
    ExportConfig,
    ExtrasConfig,
    ModelRunConfig,
    PathsConfig,
    PredictConfig,
    ScoredRunConfig,
    ServeConfig,
    TrainConfig,
    TrustConfig,
    register_configs,
)
from qa_lightning.config.eval_sets import parse_eval_sets
from qa_lightning.config.model import (
    HEADS,
    Freeze,
    HeadArgs,
    ModelConfig,
    SchedulerName,
    TrainerConfig,
)
from qa_lightning.config.tracking import (
    LOGGER_SCHEMAS,
    CallbacksConfig,
    CheckpointConfig,
    CSVConfig,
    EarlyStoppingConfig,
    LoggerConfig,
    LoggingInterval,
    LRMonitorConfig,
    MLflowConfig,
    MonitorMode,
    TensorBoardConfig,
    WandbConfig,
    WandbMode,
)
from qa_lightning.errors import ConfigError

__all__ = [
    "BUILTIN_SLICE_TARGETS",
    "EVAL_SET_KEYS",
    "HEADS",
    "LOGGER_SCHEMAS",
    "Backend",
    "BackendChoice",
    "CSVConfig",
    "CallbacksConfig",
    "CheckpointConfig",
    "Choice",
    "ConfigError",
    "DataConfig",
    "DataSource",
    "EarlyStoppingConfig",
    "EntryConfig",
    "EvalConfig",
    "EvalSetConfig",
    "EvaluationConfig",
    "ExportConfig",
    "ExtrasConfig",
    "Freeze",
    "HeadArgs",
    "LRMonitorConfig",
    "LoggerConfig",
    "LoggingInterval",
    "MLflowConfig",
    "ModelConfig",
    "ModelRunConfig",
    "MonitorMode",
    "OnBadRecord",
    "PathsConfig",
    "PredictConfig",
    "SchedulerName",
    "ScoredRunConfig",
    "ServeConfig",
    "SyntheticConfig",
    "TensorBoardConfig",
    "TrainConfig",
    "TrainerConfig",
    "TrustConfig",
    "WandbConfig",
    "WandbMode",
    "choice",
    "parse_eval_sets",
    "register_configs",
    "to_plain",
]
