"""Structured configs: the typed schema every Hydra run is checked against, and every check
of a config value.

The YAML files under ``conf/`` are merged into these dataclasses, so an unknown key, a value
of the wrong type or a fixed-choice value (an Enum) outside its choices fails at compose time
with the key's name and the values allowed (OmegaConf's own message). The rules OmegaConf
cannot express live here too, each raising a one-line :class:`ConfigError` naming the key:

- :func:`check_config`: every value rule and cross-field rule, run by the entry points before
  any data is read or model loaded (non-finite floats, Lightning's trainer values too); the
  rules on names the evaluation owns (``optimized_metric``, ``monitor``, ``evaluation.slices``)
  are checked by ``qa_lightning.evaluation.checks``, which the entry points run next;
- :func:`check_run_dir`: ``hydra.run.dir`` can be made and written, run by a Hydra callback
  (``cli/task.py``) before Hydra makes the folder;
- :func:`check_against_model`: the values that depend on the model (``data.max_length``
  against its position limit, head settings against its layers), run once the model's own
  config (``transformers.AutoConfig``) is read, before the weights load;
- the small checks both of those and the library functions share (:func:`choice`,
  :func:`check_window`, :func:`check_freeze_layers`, ...): a library function called from
  Python with a bad argument fails with the same message as the config would.
"""

from __future__ import annotations

import logging
import math
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from importlib.util import find_spec
from pathlib import Path
from typing import Any, TypeVar

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf

from qa_lightning.errors import ConfigError, DataFileNotFoundError

log = logging.getLogger(__name__)


class Choice(str, Enum):
    """A fixed-choice config value. YAML and the command line give the member's name, which is
    its value too; a member compares equal to its string and formats as it (``f"{x}"``), and
    :func:`to_plain` turns it back into that string wherever the config leaves the process
    (config.yaml, logger configs, checkpoints' hyper-parameters)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(member.value for member in cls)


C = TypeVar("C", bound=Choice)


def choice(kind: type[C], value: Any, key: str) -> C:
    """``value`` as a member of ``kind``, or a one-line :class:`ConfigError` naming ``key`` and
    the values allowed. The schema's Enum fields already fail at compose time; this is the
    same check for code called with a plain string (a library function, an old checkpoint)."""
    try:
        return kind(value)
    except ValueError:
        raise ConfigError(f"{key}={value!r}; use one of {', '.join(kind.values())}") from None


def to_plain(node: Any) -> Any:
    """A config node as plain Python (interpolations resolved, Enum members as their strings):
    what is handed to code outside the config (loggers, callbacks, checkpoints' hyper-
    parameters) and written to files."""
    if isinstance(node, DictConfig | ListConfig):
        return OmegaConf.to_container(node, resolve=True, enum_to_str=True)
    if isinstance(node, Mapping):
        return {k: to_plain(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return type(node)(to_plain(v) for v in node)
    return node.value if isinstance(node, Enum) else node


class DataSource(Choice):
    hub = "hub"  # a Hugging Face Hub dataset in the "squad" schema (rajpurkar/squad, ...)
    squad_json = "squad_json"  # local files in the official nested SQuAD JSON format
    flat = "flat"  # local jsonl/csv/parquet with a column mapping
    mrqa = "mrqa"  # local MRQA 2019 shared-task files (.jsonl / .jsonl.gz)
    synthetic = "synthetic"  # generated SQuAD-style data (offline quick start, tests)


@dataclass
class SyntheticConfig:
    n_train: int = 2000
    n_eval: int = 300
    unanswerable_fraction: float = 0.0
    seed: int = 0


@dataclass
class EvalSetConfig:
    """One more set scored after training (and by eval.py): a file, a Hub dataset or a
    reader node.

    On the command line a path or a Hub name is enough:
    ``+data.eval_sets.new_wiki=../shared/data/squad_shifts/new_wiki_subset.json``
    (``.json``: official SQuAD JSON; ``.jsonl``/``.jsonl.gz`` whose first line is an MRQA
    header or context: MRQA; other ``.jsonl``/``.csv``/``.parquet``: flat, read with
    ``data.columns``; anything else: a Hub dataset name, ``name`` or ``name:split``). A
    mapping with a ``_target_`` is a reader node (``qa_lightning.data.readers.Reader``).
    """

    file: str | None = None
    hub_name: str | None = None
    reader: Any = None  # a reader node {_target_: ..., ...}; checked by the data side
    split: str = "validation"  # of a Hub dataset
    version_2: bool | None = None  # null: data.version_2
    columns: dict[str, str] | None = None  # flat files; null: data.columns
    max_samples: int | None = None  # the first N examples; null: all of them


EVAL_SET_KEYS = tuple(EvalSetConfig.__dataclass_fields__)
#: Our names of a flat file's fields: the keys ``data.columns`` maps to the file's columns.
FLAT_FILE_FIELDS: tuple[str, ...] = (
    "id",
    "title",
    "context",
    "question",
    "answers",
    "answer_text",
    "answer_start",
)


def check_columns(columns: Any, key: str) -> None:
    """``columns`` (``data.columns`` or an eval set's): our field names -> the file's."""
    if not columns:
        return
    unknown = sorted(set(columns) - set(FLAT_FILE_FIELDS))
    if unknown:
        raise ConfigError(
            f"{key} has unknown key(s) {', '.join(map(repr, unknown))}; allowed keys are "
            f"{', '.join(FLAT_FILE_FIELDS)} (our names, mapped to the file's column names)"
        )


def check_synthetic(n_examples: Any, unanswerable_fraction: Any, *, key: str, count: str) -> None:
    """Synthetic data's size (``<key>.<count>``) and ``<key>.unanswerable_fraction``."""
    if isinstance(n_examples, bool) or not isinstance(n_examples, int) or n_examples < 0:
        raise ConfigError(f"{key}.{count}={n_examples!r} must be a whole number, 0 or more")
    try:
        fraction = float(unanswerable_fraction)
    except (TypeError, ValueError):
        fraction = math.nan
    if not 0.0 <= fraction <= 1.0:
        raise ConfigError(
            f"{key}.unanswerable_fraction={unanswerable_fraction!r} must be between 0 and 1"
        )


# data.on_bad_record: "raise" is a keyword, so this Enum is made by a call rather than a class
OnBadRecord = Choice("OnBadRecord", [("raise", "raise"), ("drop", "drop")])

DEFAULT_MAX_QUESTION_TOKENS = 64  # HF's max_question_length


@dataclass
class DataConfig:
    source: DataSource = DataSource.synthetic
    version_2: bool = False
    hub_name: str | None = None
    train_split: str = "train"
    validation_split: str = "validation"
    # a path (read as data.source says) or a reader node {_target_: my_pkg.MyReader, ...}
    train_file: Any = None
    validation_file: Any = None
    # flat files: our column name -> the file's (`+data.columns.context=passage`); an empty
    # mapping, not null, which Hydra cannot add keys to from the command line
    columns: dict[str, str] = field(default_factory=dict)
    on_bad_record: OnBadRecord = OnBadRecord["raise"]  # or drop: skip and count bad records
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    max_train_samples: int | None = None  # counts examples, never features
    max_eval_samples: int | None = None
    max_length: int = 384
    doc_stride: int = 128
    max_question_tokens: int | None = None  # cap on question tokens; null: min(64, max_length // 2)
    batch_size: int = 16
    eval_batch_size: int = 64
    group_by_length: bool = True  # length-grouped train batches, length-sorted eval batches
    pad_to_max_length: bool = False  # pad every batch to max_length (the plain recipe)
    pad_to_multiple_of: int | None = None  # e.g. 8 for tensor cores on GPUs
    num_workers: int = 0
    preprocessing_num_proc: int | None = None
    cache_dir: str = "${paths.cache_dir}/features"
    # a frozen encoder's cached outputs (model.freeze=all, model.encoder_cache=true)
    encoder_cache_dir: str = "${paths.cache_dir}/encoder"
    n_best_size: int = 20
    max_answer_length: int = 30
    null_score_diff_threshold: float = 0.0
    # more evaluation sets by name, each a path, a Hub name or an EvalSetConfig mapping;
    # scored with the best checkpoint after training (logged as eval/<name>/...)
    eval_sets: dict[str, Any] = field(default_factory=dict)
    # predict.py: a SQuAD JSON (.json), MRQA or flat (.jsonl/.csv/.parquet) file, or a
    # reader node; answers optional
    predict_file: Any = None


# model.head's short names for the built-in heads (conf/model/head/<name>.yaml holds each
# as a node; qa_lightning.models.heads.NAMED_HEADS maps them to classes)
HEADS = ("linear", "mlp", "bilstm", "transformer")


class Freeze(Choice):
    """model.freeze: which part of the encoder under one of our heads stays frozen."""

    none = "none"
    embeddings = "embeddings"
    layers = "layers"  # the embeddings and the bottom model.freeze_layers layers
    all = "all"


class AttnImplementation(Choice):
    """model.attn_implementation: transformers' attention kernel (null: transformers picks)."""

    eager = "eager"
    sdpa = "sdpa"  # PyTorch's fused scaled-dot-product attention
    flash_attention_2 = "flash_attention_2"  # needs flash-attn and a recent GPU
    flex_attention = "flex_attention"


@dataclass
class HeadArgs:
    """Hyper-parameters of the built-in heads given by name (``model.head=mlp``); each head
    reads the ones it has. A head given as a node takes its arguments in the node."""

    dropout: float = 0.1
    hidden_size: int = 256  # mlp: inner width; bilstm: width of each direction
    num_layers: int = 1  # bilstm layers or transformer layers
    num_heads: int = 4  # transformer attention heads


@dataclass
class ModelConfig:
    name_or_path: str = MISSING  # Hub name, local directory, or "bundled:minilm"
    tokenizer: str | None = None  # defaults to name_or_path
    revision: str | None = None
    trust_remote_code: bool = False  # never run Hub code unless the user asks
    # transformers' attention kernel: eager | sdpa (fused, PyTorch's) | flash_attention_2
    # (needs flash-attn and a recent GPU) | flex_attention; null lets transformers pick
    # (sdpa where supported)
    attn_implementation: AttnImplementation | None = None
    # torch.compile the module for training (GPUs: fewer, fused kernels; the first steps pay
    # for compilation, and dynamic padding compiles with dynamic shapes)
    compile: bool = False
    # the LightningModule (a qa_lightning.models.QAModule subclass); null: QAModule, or
    # HeadQAModule with a head. module_args: its own keyword arguments
    _target_: str | None = None
    module_args: dict[str, Any] = field(default_factory=dict)
    # null: the checkpoint's own QA model (AutoModelForQuestionAnswering), fine-tuned whole.
    # A span head on the bare encoder (AutoModel): a node naming any SpanHead subclass
    # (model/head=linear|mlp|bilstm|transformer or your own YAML), or a built-in's name
    head: Any = None
    # the training loss: a node naming a SpanLoss subclass; null: start/end cross-entropy
    loss: Any = None
    head_args: HeadArgs = field(default_factory=HeadArgs)
    # with a head: none | embeddings | layers (embeddings + the bottom freeze_layers) | all
    freeze: Freeze = Freeze.none
    freeze_layers: int = 0
    hidden_layer: int = -1  # which hidden_states entry feeds the head (-1: the last layer)
    # with freeze=all: compute the encoder's outputs once, memory-map them from disk
    encoder_cache: bool = True


class SchedulerName(Choice):
    """scheduler.name: the transformers.get_scheduler schedules sized by warm-up and total
    steps alone (the others need arguments or a monitored metric this config does not give).
    Checked by models/optimization.py: the scheduler node may be a ``_target_`` instead."""

    linear = "linear"
    cosine = "cosine"
    cosine_with_restarts = "cosine_with_restarts"
    polynomial = "polynomial"
    constant = "constant"
    constant_with_warmup = "constant_with_warmup"
    inverse_sqrt = "inverse_sqrt"


@dataclass
class TrainerConfig:
    _target_: str = "pytorch_lightning.Trainer"
    accelerator: str = "auto"
    devices: Any = "auto"
    strategy: str = "auto"
    num_nodes: int = 1
    precision: Any = "32-true"  # any Lightning precision, or auto (cli/precision.py)
    max_epochs: int = 2
    max_steps: int = -1
    min_epochs: int | None = None
    accumulate_grad_batches: int = 1
    gradient_clip_val: float | None = 1.0
    val_check_interval: Any = 1.0
    check_val_every_n_epoch: int | None = 1
    limit_train_batches: Any = 1.0
    limit_val_batches: Any = 1.0
    num_sanity_val_steps: int = 2
    log_every_n_steps: int = 10
    fast_dev_run: Any = False
    deterministic: Any = False
    benchmark: bool | None = None
    enable_progress_bar: bool = True
    default_root_dir: str = "${paths.output_dir}"


# Loggers and callbacks are built by hydra.utils.instantiate from their ``_target_``: the
# entries below are the constructor arguments (or those of a small factory in
# qa_lightning.tracking.loggers); save_dir null means the run folder.


class WandbMode(Choice):
    """logger.wandb.mode: auto is online when W&B credentials are configured, else offline."""

    auto = "auto"
    online = "online"
    offline = "offline"
    disabled = "disabled"


@dataclass
class WandbConfig:
    # W&B (FallbackWandbLogger): the mode resolved, offline fallback when online init fails
    _target_: str = "qa_lightning.tracking.loggers.wandb_logger"
    project: str = "qa-lightning"
    entity: str | None = None
    mode: WandbMode = WandbMode.auto  # auto: online with W&B credentials, else offline
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


class MonitorMode(Choice):
    """Whether a monitored metric is better when lower (min) or higher (max)."""

    min = "min"
    max = "max"


class LoggingInterval(Choice):
    """callbacks.lr_monitor.logging_interval: when the learning rate is logged."""

    step = "step"
    epoch = "epoch"


@dataclass
class CheckpointConfig:
    monitor: str = "val/f1"  # a metric logged while fitting: val/..., train/loss
    mode: MonitorMode = MonitorMode.max
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
    mode: MonitorMode = MonitorMode.max
    patience: int = 3
    min_delta: float = 0.0


@dataclass
class LRMonitorConfig:
    _target_: str = "pytorch_lightning.callbacks.LearningRateMonitor"
    logging_interval: LoggingInterval | None = LoggingInterval.step  # null: as the scheduler steps


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


@dataclass
class PathsConfig:
    root_dir: str = "."
    output_dir: str = "${hydra:runtime.output_dir}"
    cache_dir: str = "${paths.root_dir}/.cache"


@dataclass
class ExtrasConfig:
    print_config: bool = True  # the resolved config as a tree on the console at start


# evaluation.slices' default: the built-in families (qa_lightning.evaluation.slices; the
# schema cannot import it, tests/evaluation/test_slices.py holds the two lists equal).
BUILTIN_SLICE_TARGETS = tuple(
    f"qa_lightning.evaluation.slices.{name}"
    for name in ("QuestionType", "AnswerLength", "Windows", "Answerable")
)


@dataclass
class EvaluationConfig:
    """``evaluation``: what every scored set reports besides its scores (train.py, eval.py)."""

    # slice families, each a _target_ node of a qa_lightning.evaluation.slices.Slice subclass
    # (a researcher's own too): every question gets a label in each, every label its own
    # EM/F1 in metrics.json, slices.png, per_question.jsonl, W&B and qa-compare
    slices: list[Any] = field(
        default_factory=lambda: [{"_target_": target} for target in BUILTIN_SLICE_TARGETS]
    )


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    # open nodes, checked at start by qa_lightning/models/optimization.py (any keys a
    # target takes): optimizer, a _partial_ torch.optim.Optimizer node; optimizer_groups,
    # null (decay / no-decay groups) or a ParamGroups node (conf/optimizer_groups/);
    # scheduler, {name, warmup_ratio, warmup_steps} or a _partial_ scheduler node
    optimizer: Any = field(default_factory=dict)
    optimizer_groups: Any = None
    scheduler: Any = field(default_factory=dict)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    callbacks: CallbacksConfig = field(default_factory=CallbacksConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    extras: ExtrasConfig = field(default_factory=ExtrasConfig)
    task_name: str = "train"
    # the researcher's packages to import first (their heads, losses, readers ...); a class
    # path a saved run names is only built from these or qa_lightning
    imports: list[str] = field(default_factory=list)
    seed: int = 42
    tags: list[str] = field(default_factory=list)
    # resume training from this Lightning checkpoint; "last": the run folder's last.ckpt if
    # there is one, else start (a requeued job needs no edited command). Multirun jobs
    # behave as "last" when this is null: a relaunched sweep skips, resumes or reruns jobs.
    ckpt_path: str | None = None
    rerun_failed: bool = True  # a relaunched sweep runs its failed jobs again (false: skips)
    # the metric returned to Hydra sweepers: any metric the final evaluation logs (val/...,
    # eval/<name>/... for data.eval_sets entries)
    optimized_metric: str = "val/f1"
    save_best_model: bool = True


class Backend(Choice):
    """What runs the model in eval.py, predict.py and serve.py."""

    torch = "torch"  # the PyTorch model (checkpoint or saved folder)
    onnx = "onnx"  # onnxruntime on an exported folder's onnx/ graph (export.py onnx=true)


@dataclass
class EvalConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    extras: ExtrasConfig = field(default_factory=ExtrasConfig)
    task_name: str = "eval"
    # the researcher's packages to import first (their heads, losses, readers ...); a class
    # path a saved run names is only built from these or qa_lightning
    imports: list[str] = field(default_factory=list)
    seed: int = 42
    tags: list[str] = field(default_factory=list)
    ckpt_path: str | None = None  # a Lightning checkpoint; else model.name_or_path is scored
    # onnx: model.name_or_path is an exported folder, its onnx/model.onnx runs in onnxruntime
    backend: Backend = Backend.torch
    quantized: bool = False  # with backend=onnx: onnx/model_quantized.onnx (int8)


@dataclass
class PredictConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    extras: ExtrasConfig = field(default_factory=ExtrasConfig)
    task_name: str = "predict"
    # the researcher's packages to import first (their heads, losses, readers ...); a class
    # path a saved run names is only built from these or qa_lightning
    imports: list[str] = field(default_factory=list)
    seed: int = 42
    ckpt_path: str | None = None  # a Lightning checkpoint; else model.name_or_path answers
    backend: Backend = Backend.torch  # as EvalConfig.backend
    quantized: bool = False


@dataclass
class TrustConfig:
    """``model.trust_remote_code`` of the entry points that read a folder (export.py,
    serve.py): the user's word on custom model code; the folder's own config is not asked."""

    trust_remote_code: bool = False  # run a model's custom code (auto_map) only when given


@dataclass
class ExportConfig:
    """export.py: a run's model as one folder anyone can load, with a model card."""

    run: str = MISSING  # a train.py run folder (its best_model/), or a .ckpt inside one
    out: str | None = None  # the folder to write; null: <run folder>/export
    overwrite: bool = False  # replace an earlier export at out= (anything else is refused)
    model: TrustConfig = field(default_factory=TrustConfig)
    push_to_hub: str | None = None  # a Hub repo id (user/name) to upload the folder to
    private: bool = True  # a repo push_to_hub creates is private
    onnx: bool = False  # also onnx/model.onnx: the graph backend=onnx runs (onnxruntime, CPU)
    quantize: bool = False  # also onnx/model_quantized.onnx: int8 weights (implies onnx)
    paths: PathsConfig = field(default_factory=PathsConfig)
    extras: ExtrasConfig = field(default_factory=ExtrasConfig)
    task_name: str = "export"
    # the researcher's packages to import first (their heads, losses, readers ...); a class
    # path a saved run names is only built from these or qa_lightning
    imports: list[str] = field(default_factory=list)


@dataclass
class ServeConfig:
    """serve.py: answer POST /predict over HTTP from an exported (or any saved QA) folder."""

    # an export.py folder or any saved QA model directory (not "model": that is a config group)
    model_dir: str = MISSING
    backend: Backend = Backend.torch  # onnx: model_dir's onnx/ graph (export.py onnx=true)
    quantized: bool = False  # with backend=onnx: onnx/model_quantized.onnx (int8)
    model: TrustConfig = field(default_factory=TrustConfig)
    host: str = "127.0.0.1"  # only this machine; 0.0.0.0 to listen on every interface
    port: int = 8000
    batching: bool = True  # answer the items of concurrent requests in shared batches
    # windows per model call (a question has one window per doc_stride step of its context;
    # the calls take the waiting requests' questions in turn, so a small request waits for
    # about one call, not for a large request); a question with more windows goes alone
    max_batch_size: int = 16
    # how long a batch waits to fill once it has a question. 0: it takes what queued while
    # the model was busy (no added latency when idle); more pays only where a bigger batch is
    # nearly free (GPUs): on 2 CPU cores 10 ms cost 10 ms at 1 client and gained nothing
    max_wait_ms: float = 0.0
    max_request_bytes: int = 1_000_000  # larger bodies get 413
    max_items: int = 64  # questions per request; more get 413
    # windows per question; more get 413 before anything queues. 8 holds the longest SQuAD
    # paragraph at 256/96 and costs the MiniLM export about 0.3 s (27-37 ms a window)
    max_windows_per_item: int = 8
    body_timeout_s: float = 10.0  # a request body must arrive within this; else 408, closed
    threads: int | None = None  # model threads (torch / onnxruntime); null: their default
    paths: PathsConfig = field(default_factory=PathsConfig)
    extras: ExtrasConfig = field(default_factory=ExtrasConfig)
    task_name: str = "serve"
    # the researcher's packages to import first (their heads, losses, readers ...); a class
    # path a saved run names is only built from these or qa_lightning
    imports: list[str] = field(default_factory=list)


def _looks_like_file(value: str) -> bool:
    """A path, not a Hub name: it starts like one (``/``, ``./``, ``../``), has a data
    file's suffix or exists. A path that does not exist then fails naming its key, never
    after a Hub lookup."""
    return (
        value.startswith(("/", "./", "../"))
        or Path(value).suffix.lower() in (".json", ".jsonl", ".csv", ".parquet", ".gz")
        or Path(value).exists()
    )


def resolve_eval_sets(data: Mapping[str, Any]) -> dict[str, EvalSetConfig]:
    """``data.eval_sets`` as checked :class:`EvalSetConfig` objects, in the given order.

    Raises :class:`ConfigError` naming ``data.eval_sets.<name>`` for a bad entry, and
    :class:`DataFileNotFoundError` for a file that does not exist.
    """
    resolved: dict[str, EvalSetConfig] = {}
    for name, spec in (data.get("eval_sets") or {}).items():
        key = f"data.eval_sets.{name}"
        if name in ("train", "validation", "predict") or "/" in str(name):
            raise ConfigError(
                f"{key}: the name {name!r} is taken or has a '/'; choose another "
                "(e.g. new_wiki, amazon)"
            )
        if isinstance(spec, str):
            if _looks_like_file(spec):
                entry = EvalSetConfig(file=spec)
            else:
                hub_name, _, split = spec.partition(":")
                entry = EvalSetConfig(hub_name=hub_name, split=split or "validation")
        elif isinstance(spec, Mapping) and "_target_" in spec:
            entry = EvalSetConfig(reader=dict(spec))
        elif isinstance(spec, Mapping):
            unknown = sorted(set(spec) - set(EVAL_SET_KEYS))
            if unknown:
                raise ConfigError(
                    f"{key} has unknown key(s) {', '.join(unknown)}; allowed: "
                    f"{', '.join(EVAL_SET_KEYS)}"
                )
            entry = EvalSetConfig(**{k: v for k, v in spec.items()})
        else:
            raise ConfigError(
                f"{key}={spec!r}: give a file path, a Hub dataset name, a reader node "
                f"{{_target_: ...}} or a mapping with {', '.join(EVAL_SET_KEYS)}"
            )
        if sum(x is not None for x in (entry.file, entry.hub_name, entry.reader)) != 1:
            raise ConfigError(f"{key}: give exactly one of file, hub_name and reader")
        if entry.reader is not None and not (
            isinstance(entry.reader, Mapping) and entry.reader.get("_target_")
        ):
            raise ConfigError(f"{key}.reader needs a _target_ (the data reader's class path)")
        if entry.file is not None and not Path(entry.file).is_file():
            raise DataFileNotFoundError(
                f"data file not found: {entry.file!r} ({key}); give an existing file "
                "(.json, .jsonl, .csv, .parquet) or a Hub dataset name"
            )
        if entry.max_samples is not None and entry.max_samples <= 0:
            raise ConfigError(f"{key}.max_samples={entry.max_samples} must be positive or null")
        resolved[str(name)] = entry
    return resolved


def register_configs() -> None:
    """Register the schemas that the entry configs in conf/ extend."""
    cs = ConfigStore.instance()
    cs.store(name="train_schema", node=TrainConfig)
    cs.store(name="eval_schema", node=EvalConfig)
    cs.store(name="predict_schema", node=PredictConfig)
    cs.store(name="export_schema", node=ExportConfig)
    cs.store(name="serve_schema", node=ServeConfig)


def check_backend(cfg: DictConfig) -> None:
    """eval.py / predict.py ``backend`` and ``quantized`` (serve.py: ``model_dir`` instead)."""
    if "backend" not in cfg:
        return
    backend = Backend(cfg.backend)
    if cfg.quantized and backend is not Backend.onnx:
        raise ConfigError("quantized=true needs backend=onnx (the int8 graph of an export)")
    if backend is Backend.onnx and cfg.get("ckpt_path"):
        raise ConfigError(
            f"backend=onnx runs an export.py folder given as model.name_or_path, not "
            f"ckpt_path={cfg.ckpt_path}; export the run with `python export.py run=<run folder> "
            "onnx=true`"
        )


# The groups whose float settings must be finite numbers (the loggers' timeouts may be inf).
FLOAT_GROUPS = (
    "data",
    "model",
    "optimizer",
    "optimizer_groups",
    "scheduler",
    "trainer",
    "callbacks",
)


def _leaves(node: Any, key: str) -> list[tuple[str, Any]]:
    """(dotted key, value) of every leaf under ``node``."""
    if isinstance(node, Mapping):
        return [leaf for k, v in node.items() for leaf in _leaves(v, f"{key}.{k}")]
    if isinstance(node, list | tuple):
        return [leaf for i, v in enumerate(node) for leaf in _leaves(v, f"{key}[{i}]")]
    return [(key, node)]


def check_finite_floats(cfg: DictConfig) -> None:
    """No float setting is nan or inf: torch takes ``lr=inf`` and trains to empty answers,
    and ``nan`` fails deep inside an optimiser. Every float leaf of :data:`FLOAT_GROUPS`
    (unresolved: an interpolation is checked where it points)."""
    for group in FLOAT_GROUPS:
        if cfg.get(group) is None:
            continue
        for key, value in _leaves(OmegaConf.to_container(cfg[group], resolve=False), group):
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{key}={value} is not a finite number; give a finite one")


# Lightning's smallest accepted value of each integer trainer setting (null is always allowed).
TRAINER_MINIMUMS = {
    "max_epochs": -1,  # -1: no limit
    "max_steps": -1,
    "min_epochs": 0,
    "accumulate_grad_batches": 1,
    "num_nodes": 1,
    "num_sanity_val_steps": -1,  # -1: the whole validation set
    "log_every_n_steps": 1,
    "check_val_every_n_epoch": 1,
}


def lightning_precisions() -> tuple[str, ...]:
    """Every ``precision`` Lightning's Trainer takes, as the strings a config gives."""
    from typing import get_args

    from lightning_fabric.plugins.precision.precision import _PRECISION_INPUT

    values = (str(v) for literal in get_args(_PRECISION_INPUT) for v in get_args(literal))
    return tuple(dict.fromkeys(values))  # 16 is both an int and a string alias


def check_trainer(trainer: Mapping[str, Any]) -> None:
    """The trainer settings Lightning would refuse only once the model has loaded (with a
    multi-line message): ``precision`` (or auto, resolved by cli/precision.py) and the
    integer counts of :data:`TRAINER_MINIMUMS`."""
    precision = trainer.get("precision")
    accepted = ("auto", *lightning_precisions())
    if precision is not None and str(precision) not in accepted:
        raise ConfigError(f"trainer.precision={precision!r}; use one of {', '.join(accepted)}")
    for key, least in TRAINER_MINIMUMS.items():
        value = trainer.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"trainer.{key}={value!r} must be a whole number >= {least}")


def warn_unused_predict_file(cfg: DictConfig) -> None:
    """``data.predict_file`` is read by predict.py alone; elsewhere say once that it is not
    (warned, not refused: one data preset may serve train.py and predict.py)."""
    if cfg.task_name != "predict" and cfg.data.get("predict_file"):
        log.warning(
            "data.predict_file=%s is read by predict.py only; %s.py ignores it",
            cfg.data.predict_file,
            cfg.task_name,
        )


def check_run_dir(path: str | os.PathLike, key: str = "hydra.run.dir") -> None:
    """The run folder ``path`` (the value of ``key``) can be created and written to."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(
            f"{key}={str(path)!r} cannot be created ({err.strerror or err}); "
            "give a folder you can write"
        ) from None
    # asked, not probed with a file: every DDP rank runs this, and only rank 0 writes there
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{key}={str(path)!r} cannot be written to; give a folder you can write")


def check_config(cfg: DictConfig) -> None:
    """Every rule on config values that the schema's types cannot express, checked before any
    data is read or model loaded; a failure is one :class:`ConfigError` naming the key. (The
    optimizer, optimizer_groups and scheduler nodes are checked by their owner,
    ``models/optimization.py:check_optimization``, which train.py calls next.)"""
    check_finite_floats(cfg)
    data = cfg.data
    if data.max_length < 32:
        raise ConfigError(f"data.max_length={data.max_length} is too small; use 32 or more")
    check_window(
        max_length=data.max_length,
        doc_stride=data.doc_stride,
        max_question_tokens=data.get("max_question_tokens"),
    )
    source = DataSource(data.source)
    if source is DataSource.hub and not data.hub_name:
        raise ConfigError("data.hub_name is required with data.source=hub (e.g. rajpurkar/squad)")
    file_sources = (DataSource.squad_json, DataSource.flat, DataSource.mrqa)
    if source in file_sources and cfg.task_name != "predict":
        training = cfg.task_name == "train"
        # eval.py may score only data.eval_sets; training always validates
        required = ("train_file", "validation_file") if training else ()
        if not training and not data.get("eval_sets"):
            required = ("validation_file",)
        for key in required:
            if not data[key]:
                raise ConfigError(f"data.{key} is required with data.source={source.value}")
        for key in ("train_file", "validation_file") if training else ("validation_file",):
            # a reader node is checked by the data side (qa_lightning.data.loading)
            if isinstance(data[key], str) and data[key] and not Path(data[key]).is_file():
                raise DataFileNotFoundError(f"data file not found: {data[key]!r} (data.{key})")
    check_columns(data.get("columns"), "data.columns")
    for name, entry in resolve_eval_sets(data).items():
        check_columns(entry.columns, f"data.eval_sets.{name}.columns")
    if source is DataSource.synthetic:
        for count in ("n_train", "n_eval"):
            check_synthetic(
                data.synthetic[count],
                data.synthetic.unanswerable_fraction,
                key="data.synthetic",
                count=count,
            )
    if cfg.task_name == "predict":
        if not data.predict_file:
            raise ConfigError(
                "data.predict_file is required by predict.py: a SQuAD JSON (.json) or a "
                "jsonl/csv/parquet file with id, question and context"
            )
        if isinstance(data.predict_file, str) and not Path(data.predict_file).is_file():
            raise DataFileNotFoundError(
                f"data file not found: {data.predict_file!r} (data.predict_file)"
            )
    for key in ("max_train_samples", "max_eval_samples"):
        value = data.get(key)
        if value is not None and value <= 0:
            raise ConfigError(f"data.{key}={value} must be a positive number of examples or null")
    for key in ("batch_size", "eval_batch_size", "n_best_size", "max_answer_length"):
        if data[key] <= 0:
            raise ConfigError(f"data.{key}={data[key]} must be positive")
    model = cfg.model
    if model.head is None and model.freeze != Freeze.none:
        raise ConfigError(
            f"model.freeze={model.freeze} needs one of our heads: set model.head to one of "
            f"{', '.join(HEADS)} (linear is the usual probe)"
        )
    check_freeze_layers(model.freeze_layers)
    if model.freeze_layers and model.freeze != Freeze.layers:
        raise ConfigError(
            f"model.freeze_layers={model.freeze_layers} is read only with model.freeze=layers "
            f"(here model.freeze={model.freeze}); add model.freeze=layers or drop it"
        )
    warn_unused_predict_file(cfg)
    if cfg.get("logger") is not None:
        check_loggers(cfg.logger)
    if cfg.get("trainer") is not None:
        check_trainer(cfg.trainer)
    check_backend(cfg)
    strategy = str(cfg.trainer.get("strategy", "auto"))
    if any(launch in strategy for launch in ("spawn", "fork", "notebook")):
        # Their ranks run in child processes, whose module state (the predictions, the
        # scores) never comes back: the entry point would fail once the work is done.
        raise ConfigError(
            f"trainer.strategy={strategy} is not supported by train.py/eval.py; use "
            "trainer.strategy=ddp (the same data parallelism, one process per device)"
        )
    resumable = "rerun_failed" in cfg  # train.py: ckpt_path=last reads the run folder
    ckpt = cfg.get("ckpt_path")
    if ckpt and not (resumable and ckpt == "last") and not Path(ckpt).is_file():
        accepted = "last (the run folder's last.ckpt, if any) or " if resumable else ""
        raise ConfigError(
            f"ckpt_path={ckpt!r} does not exist; give {accepted}a Lightning checkpoint, e.g. "
            "<run folder>/checkpoints/last.ckpt"
        )
    if cfg.get("callbacks") is not None:
        check_callbacks(cfg.callbacks)
    # optimized_metric, the monitors and evaluation.slices: qa_lightning.evaluation.checks


# -- data: the window ------------------------------------------------------------------------


def resolve_max_question_tokens(max_length: int, max_question_tokens: int | None) -> int:
    """The question cap in tokens: ``data.max_question_tokens`` or ``min(64, max_length // 2)``."""
    if max_question_tokens is None:
        return max(1, min(DEFAULT_MAX_QUESTION_TOKENS, max_length // 2))
    if max_question_tokens < 1:
        raise ConfigError(f"data.max_question_tokens={max_question_tokens} must be >= 1 (or null)")
    return int(max_question_tokens)


def check_window(
    *,
    max_length: int,
    doc_stride: int,
    max_question_tokens: int | None,
    n_special: int | None = None,
) -> None:
    """``data.max_length``, ``data.doc_stride`` and ``data.max_question_tokens`` together.

    The window keeps ``room = max_length - question_cap - n_special`` context tokens, and HF
    tokenizers fail (or loop) when ``doc_stride >= room``. ``n_special``, the special tokens
    the tokenizer adds to a pair, is known once the tokenizer is loaded (features.check_stride);
    without it only what holds for every tokenizer is checked.
    """
    cap = resolve_max_question_tokens(max_length, max_question_tokens)
    room = max_length - cap - (n_special or 0)
    if room < 1:
        specials = f" plus {n_special} special tokens" if n_special is not None else ""
        raise ConfigError(
            f"data.max_length={max_length} leaves no room for the context: questions capped at "
            f"{cap} tokens{specials} fill it; raise data.max_length or lower "
            "data.max_question_tokens"
        )
    if n_special is None:
        if not 0 <= doc_stride < max_length:
            raise ConfigError(
                f"data.doc_stride={doc_stride} must be >= 0 and < data.max_length={max_length}"
            )
        return
    if doc_stride < 0:
        raise ConfigError(
            f"data.doc_stride={doc_stride} must be >= 0; use 0 <= doc_stride < {room}"
        )
    if doc_stride >= max_length or doc_stride >= room:
        raise ConfigError(
            f"data.doc_stride={doc_stride} leaves no room: with max_length={max_length} and "
            f"questions capped at {cap} tokens the context window is {room} tokens; "
            f"use doc_stride < {room}"
        )


# -- model: values that depend on the model's own config ---------------------------------------

# Model types whose position ids start after the padding index (fairseq's RoBERTa lineage):
# max_position_embeddings counts pad_token_id + 1 positions (2 for RoBERTa) no token gets.
PADDING_OFFSET_MODEL_TYPES = frozenset(
    {
        "roberta",
        "roberta-prelayernorm",
        "xlm-roberta",
        "xlm-roberta-xl",
        "camembert",
        "longformer",
        "data2vec-text",
        "mpnet",
        "ibert",
        "luke",
        "markuplm",
    }
)


def position_limit(model_config: Any) -> tuple[int, int] | None:
    """(the longest input the model takes, the positions its ids start after), or None when
    it has no absolute position embeddings (DeBERTa's relative positions) or no known limit.
    ``model_config``: a ``transformers.PretrainedConfig`` (its attributes only are read)."""
    n = getattr(model_config, "max_position_embeddings", None)
    if not isinstance(n, int) or getattr(model_config, "position_biased_input", True) is False:
        return None
    offset = 0
    if getattr(model_config, "model_type", None) in PADDING_OFFSET_MODEL_TYPES:
        pad = getattr(model_config, "pad_token_id", None)
        offset = (pad if isinstance(pad, int) else 1) + 1
    return n - offset, offset


def layer_count(model_config: Any) -> int | None:
    """The encoder's transformer layers (``num_hidden_layers``; DistilBERT: ``n_layers``)."""
    n = getattr(model_config, "num_hidden_layers", None) or getattr(model_config, "n_layers", None)
    return n if isinstance(n, int) else None


def check_freeze_layers(freeze_layers: int, n_layers: int | None = None) -> None:
    """``model.freeze_layers``: 0 up to the encoder's layers (where known)."""
    if n_layers is None:
        if freeze_layers < 0:
            raise ConfigError(f"model.freeze_layers={freeze_layers} must be >= 0")
    elif not 0 <= freeze_layers <= n_layers:
        raise ConfigError(
            f"model.freeze_layers={freeze_layers}; the encoder has {n_layers} layers "
            f"(use 0..{n_layers})"
        )


def check_hidden_layer(hidden_layer: int, n_layers: int) -> None:
    """``model.hidden_layer``: an index into ``hidden_states`` (the embeddings, then each layer)."""
    entries = n_layers + 1
    if not -entries <= hidden_layer < entries:
        raise ConfigError(
            f"model.hidden_layer={hidden_layer}; the encoder's hidden_states has {entries} "
            f"entries (the embeddings, then {n_layers} layers): use {-entries}..{n_layers} "
            "(-1: the last layer)"
        )


def check_against_model(
    cfg: Mapping[str, Any], model_config: Any, *, name: str, head_settings: bool = True
) -> None:
    """The config values that depend on the model ``name``, whose own config (``AutoConfig``)
    is ``model_config``; called before the weights load.

    ``data.max_length`` must fit its position embeddings (``max_position_embeddings`` less
    the offset of RoBERTa-like models). With ``head_settings`` (the module is built from
    ``cfg.model``, not read from a checkpoint) and one of our heads, ``model.hidden_layer``
    and, for ``freeze=layers``, ``model.freeze_layers`` must name layers it has.
    """
    max_length = cfg["data"]["max_length"]
    limit = position_limit(model_config)
    if limit is not None and max_length > limit[0]:
        size, offset = limit
        how = f"max_position_embeddings={size + offset}" + (
            f" less the {offset} positions before its first token" if offset else ""
        )
        raise ConfigError(
            f"data.max_length={max_length} is longer than the model {name!r} takes: its "
            f"position limit is {size} tokens ({how}); use data.max_length <= {size}"
        )
    model = cfg["model"]
    n_layers = layer_count(model_config)
    if head_settings and model.get("head") is not None and n_layers is not None:
        check_hidden_layer(model["hidden_layer"], n_layers)
        if model.get("freeze") == Freeze.layers:
            check_freeze_layers(model["freeze_layers"], n_layers)


# -- loggers and callbacks -------------------------------------------------------------------

# what a logger entry needs installed: any one of the modules (the `loggers` extra has them)
LOGGER_MODULES = {"tensorboard": ("tensorboard", "tensorboardX"), "mlflow": ("mlflow",)}


def check_loggers(logger: Mapping[str, Any]) -> None:
    """``logger.*``: W&B's init timeout, the packages TensorBoard and MLflow need, and an
    importable ``_target_`` for every entry (``logger.extra`` too)."""
    wandb_cfg = logger.get("wandb")
    if wandb_cfg is not None:
        check_init_timeout(wandb_cfg.get("init_timeout"))
    for name, modules in LOGGER_MODULES.items():
        if logger.get(name) is not None and not any(find_spec(m) for m in modules):
            raise ConfigError(
                f"logger.{name} needs the {modules[0]} package: pip install -e '.[loggers]' "
                f"(make install does), or choose another logger (logger=wandb|csv|none)"
            )
    for key, spec in logger.items():
        if key != "extra" and spec is not None:
            import_target(f"logger.{key}", spec, "logger")
    for key, spec in (logger.get("extra") or {}).items():
        import_target(f"logger.extra.{key}", spec, "logger")


def check_init_timeout(timeout: float | None) -> None:
    """``logger.wandb.init_timeout``: seconds > 0 (null: the default)."""
    if timeout is not None and timeout <= 0:
        raise ConfigError(f"logger.wandb.init_timeout={timeout}; use seconds > 0")


def check_callbacks(callbacks: Mapping[str, Any]) -> None:
    """``callbacks.*``: the checkpoint settings and an importable ``_target_`` for every other
    entry (``callbacks.extra`` too). Their ``monitor`` names: qa_lightning.evaluation.checks."""
    checkpoint = callbacks["checkpoint"]
    every = checkpoint.get("every_n_train_steps")
    if every is not None and every <= 0:
        raise ConfigError(
            f"callbacks.checkpoint.every_n_train_steps={every} must be positive or null"
        )
    requeue = checkpoint.get("requeue_signal")
    if requeue not in (None, "auto") and requeue not in signal.Signals.__members__:
        raise ConfigError(
            f"callbacks.checkpoint.requeue_signal={requeue!r} is not a signal; use auto, null "
            "or a name such as SIGUSR1 or SIGUSR2"
        )
    for name, spec in callbacks.items():
        if name not in ("checkpoint", "extra") and spec is not None:
            import_target(f"callbacks.{name}", spec, "callback")
    for name, spec in (callbacks.get("extra") or {}).items():
        import_target(f"callbacks.extra.{name}", spec, "callback")


def import_target(key: str, spec: Any, kind: str) -> Any:
    """The object the ``_target_`` of ``spec`` (the entry at ``key``) names, imported; a
    one-line :class:`ConfigError` when it has none or it cannot be imported."""
    from hydra.utils import get_object

    if not isinstance(spec, Mapping) or not spec.get("_target_"):
        raise ConfigError(f"{key} needs a _target_ (the {kind}'s class path)")
    target = spec["_target_"]
    try:
        return get_object(target)
    except Exception as err:
        reason = " ".join(str(err).split())[:200]
        raise ConfigError(f"{key}._target_={target!r} cannot be imported ({reason})") from None
