"""Structured configs: the typed schema every Hydra run is checked against.

The YAML files under ``conf/`` are merged into these dataclasses, so an unknown key or a
value of the wrong type fails at compose time (OmegaConf's own message). The config object
holds plain values only: a value from a fixed set (``model.freeze``, ``backend``, the
monitors' ``mode`` ...) is a string, its allowed values a tuple defined once (here for the
closed sets, beside their owner for the sets that grow: ``data.source``, ``scheduler.name``,
``model.attn_implementation``). Those and every rule OmegaConf cannot express live beside
the code that owns each rule, and the entry points run them once before anything loads
(``qa_lightning/cli/checks.py:check_run``; serve.py: ``cli/serve.py``):

- the data sets, eval sets, columns and the window: ``qa_lightning.data.checks``;
- the model's settings and what its own config allows: ``qa_lightning.models.checks`` and
  ``qa_lightning.models.limits``; optimizer and scheduler: ``qa_lightning.models.optimization``;
- loggers and callbacks: ``qa_lightning.tracking.checks``;
- metric names and slices: ``qa_lightning.evaluation.checks``;
- the trainer, the backend and ``ckpt_path``: ``qa_lightning.cli.checks``.

This package is the foundation: it imports no layer.
"""

from qa_lightning.config.data import (
    EVAL_SET_KEYS,
    LANGUAGES,
    ON_BAD_RECORD,
    DataConfig,
    EvalSetConfig,
    SyntheticConfig,
)
from qa_lightning.config.entries import (
    BACKENDS,
    BUILTIN_SLICE_TARGETS,
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
from qa_lightning.config.model import FREEZE_POLICIES, HEADS, HeadArgs, ModelConfig, TrainerConfig
from qa_lightning.config.tracking import (
    LOGGER_SCHEMAS,
    LOGGING_INTERVALS,
    MONITOR_MODES,
    WANDB_MODES,
    CallbacksConfig,
    CheckpointConfig,
    CSVConfig,
    EarlyStoppingConfig,
    LoggerConfig,
    LRMonitorConfig,
    MLflowConfig,
    TensorBoardConfig,
    WandbConfig,
)
from qa_lightning.config.values import choice, choice_error, to_plain
from qa_lightning.errors import ConfigError

__all__ = [
    "BACKENDS",
    "BUILTIN_SLICE_TARGETS",
    "EVAL_SET_KEYS",
    "FREEZE_POLICIES",
    "HEADS",
    "LANGUAGES",
    "LOGGER_SCHEMAS",
    "LOGGING_INTERVALS",
    "MONITOR_MODES",
    "ON_BAD_RECORD",
    "WANDB_MODES",
    "BackendChoice",
    "CSVConfig",
    "CallbacksConfig",
    "CheckpointConfig",
    "ConfigError",
    "DataConfig",
    "EarlyStoppingConfig",
    "EntryConfig",
    "EvalConfig",
    "EvalSetConfig",
    "EvaluationConfig",
    "ExportConfig",
    "ExtrasConfig",
    "HeadArgs",
    "LRMonitorConfig",
    "LoggerConfig",
    "MLflowConfig",
    "ModelConfig",
    "ModelRunConfig",
    "PathsConfig",
    "PredictConfig",
    "ScoredRunConfig",
    "ServeConfig",
    "SyntheticConfig",
    "TensorBoardConfig",
    "TrainConfig",
    "TrainerConfig",
    "TrustConfig",
    "WandbConfig",
    "choice",
    "choice_error",
    "parse_eval_sets",
    "register_configs",
    "to_plain",
]
