"""Structured configs: the typed schema every Hydra run is checked against.

The YAML files under ``conf/`` are merged into these dataclasses, so an unknown key or a
value of the wrong type fails at start-up with the key's name (OmegaConf's own message),
and :func:`check_config` adds the cross-field rules OmegaConf cannot express.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig

from qa_lightning.errors import ConfigError, DataFileNotFoundError


class DataSource(str, Enum):
    hub = "hub"  # a Hugging Face Hub dataset in the "squad" schema (rajpurkar/squad, ...)
    squad_json = "squad_json"  # local files in the official nested SQuAD JSON format
    flat = "flat"  # local jsonl/csv/parquet with a column mapping
    synthetic = "synthetic"  # generated SQuAD-style data (offline quick start, tests)


@dataclass
class SyntheticConfig:
    n_train: int = 2000
    n_eval: int = 300
    unanswerable_fraction: float = 0.0
    seed: int = 0


@dataclass
class EvalSetConfig:
    """One more set scored after training (and by eval.py): a file or a Hub dataset.

    On the command line a path or a Hub name is enough:
    ``+data.eval_sets.new_wiki=../shared/data/squad_shifts/new_wiki_subset.json``
    (``.json``: official SQuAD JSON; ``.jsonl``/``.csv``/``.parquet``: flat, read with
    ``data.columns``; anything else: a Hub dataset name, ``name`` or ``name:split``).
    """

    file: str | None = None
    hub_name: str | None = None
    split: str = "validation"  # of a Hub dataset
    version_2: bool | None = None  # null: data.version_2
    columns: dict[str, str] | None = None  # flat files; null: data.columns
    max_samples: int | None = None  # the first N examples; null: all of them


EVAL_SET_KEYS = tuple(EvalSetConfig.__dataclass_fields__)


@dataclass
class DataConfig:
    source: DataSource = DataSource.synthetic
    version_2: bool = False
    hub_name: str | None = None
    train_split: str = "train"
    validation_split: str = "validation"
    train_file: str | None = None
    validation_file: str | None = None
    columns: dict[str, str] | None = None  # flat files: our column name -> the file's
    on_bad_record: str = "raise"  # or "drop": skip and count bad records
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
    n_best_size: int = 20
    max_answer_length: int = 30
    null_score_diff_threshold: float = 0.0
    # more evaluation sets by name, each a path, a Hub name or an EvalSetConfig mapping;
    # scored with the best checkpoint after training (logged as eval/<name>/...)
    eval_sets: dict[str, Any] = field(default_factory=dict)
    # predict.py: a SQuAD JSON (.json) or flat (.jsonl/.csv/.parquet) file; answers optional
    predict_file: str | None = None


HEADS = ("linear", "mlp", "bilstm", "transformer")
FREEZE_POLICIES = ("none", "embeddings", "layers", "all")
ATTN_IMPLEMENTATIONS = ("eager", "sdpa", "flash_attention_2", "flex_attention")


@dataclass
class HeadArgs:
    """Hyper-parameters of our span heads; each head reads the ones it has."""

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
    # (needs flash-attn and a recent GPU); null lets transformers pick (sdpa where supported)
    attn_implementation: str | None = None
    # torch.compile the module for training (GPUs: fewer, fused kernels; the first steps pay
    # for compilation, and dynamic padding compiles with dynamic shapes)
    compile: bool = False
    # null: the checkpoint's own QA model (AutoModelForQuestionAnswering), fine-tuned whole.
    # linear | mlp | bilstm | transformer: our head on the bare encoder (AutoModel).
    head: str | None = None
    head_args: HeadArgs = field(default_factory=HeadArgs)
    # with a head: none | embeddings | layers (embeddings + the bottom freeze_layers) | all
    freeze: str = "none"
    freeze_layers: int = 0
    hidden_layer: int = -1  # which hidden_states entry feeds the head (-1: the last layer)
    # with freeze=all: compute the encoder's outputs once, memory-map them from disk
    encoder_cache: bool = True


@dataclass
class OptimizerConfig:
    _target_: str = "torch.optim.AdamW"
    _partial_: bool = True
    lr: float = 3e-5
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8


@dataclass
class SchedulerConfig:
    name: str = "linear"  # any transformers.SchedulerType
    warmup_ratio: float = 0.1
    warmup_steps: int | None = None  # overrides warmup_ratio when set


@dataclass
class TrainerConfig:
    _target_: str = "pytorch_lightning.Trainer"
    accelerator: str = "auto"
    devices: Any = "auto"
    strategy: str = "auto"
    num_nodes: int = 1
    precision: Any = "32-true"
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


@dataclass
class WandbConfig:
    project: str = "qa-lightning"
    entity: str | None = None
    mode: str = "auto"  # auto: online when W&B credentials are configured, else offline
    # seconds online init may take before the run falls back to offline W&B (one warning)
    init_timeout: float = 60.0
    group: str | None = None  # default: derived from the Hydra sweep
    name: str | None = None  # default: derived from the job's overrides
    tags: list[str] = field(default_factory=list)
    log_model: bool = False
    save_dir: str = "${paths.output_dir}"
    # rows of the W&B Table of sample predictions logged after the final evaluation (0: none)
    prediction_samples: int = 100


@dataclass
class CSVConfig:
    save_dir: str = "${paths.output_dir}"
    name: str = "csv"


@dataclass
class LoggerConfig:
    wandb: WandbConfig | None = None
    csv: CSVConfig | None = None


@dataclass
class CheckpointConfig:
    monitor: str = "val/f1"
    mode: str = "max"
    save_top_k: int = 1
    save_last: bool = True
    dirpath: str = "${paths.output_dir}/checkpoints"
    # also write last.ckpt every n optimiser steps, so a SIGKILL loses at most n steps
    # (SIGTERM and Ctrl-C always save last.ckpt where training stopped)
    every_n_train_steps: int | None = None


@dataclass
class EarlyStoppingConfig:
    monitor: str = "val/f1"
    mode: str = "max"
    patience: int = 3
    min_delta: float = 0.0


@dataclass
class CallbacksConfig:
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    early_stopping: EarlyStoppingConfig | None = None
    lr_monitor: bool = True
    rich_progress: bool = False
    # more callbacks by name, each a config with _target_ (hydra.utils.instantiate), e.g.
    # +callbacks.extra.swa._target_=pytorch_lightning.callbacks.StochasticWeightAveraging
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class PathsConfig:
    root_dir: str = "."
    output_dir: str = "${hydra:runtime.output_dir}"
    cache_dir: str = "${paths.root_dir}/.cache"


@dataclass
class ExtrasConfig:
    print_config: bool = True  # the resolved config as a tree on the console at start


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    callbacks: CallbacksConfig = field(default_factory=CallbacksConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    extras: ExtrasConfig = field(default_factory=ExtrasConfig)
    task_name: str = "train"
    seed: int = 42
    tags: list[str] = field(default_factory=list)
    ckpt_path: str | None = None  # resume training from this Lightning checkpoint
    optimized_metric: str = "val/f1"
    save_best_model: bool = True


@dataclass
class EvalConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    extras: ExtrasConfig = field(default_factory=ExtrasConfig)
    task_name: str = "eval"
    seed: int = 42
    tags: list[str] = field(default_factory=list)
    ckpt_path: str | None = None  # a Lightning checkpoint; else model.name_or_path is scored


@dataclass
class PredictConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    extras: ExtrasConfig = field(default_factory=ExtrasConfig)
    task_name: str = "predict"
    seed: int = 42
    ckpt_path: str | None = None  # a Lightning checkpoint; else model.name_or_path answers


def file_source(path: str) -> DataSource:
    """How a data file is read, by its suffix: ``.json`` is nested SQuAD, others flat."""
    return DataSource.squad_json if Path(path).suffix.lower() == ".json" else DataSource.flat


def _looks_like_file(value: str) -> bool:
    return (
        Path(value).suffix.lower() in (".json", ".jsonl", ".csv", ".parquet")
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
                f"{key}={spec!r}: give a file path, a Hub dataset name or a mapping with "
                f"{', '.join(EVAL_SET_KEYS)}"
            )
        if (entry.file is None) == (entry.hub_name is None):
            raise ConfigError(f"{key}: give exactly one of file and hub_name")
        if entry.file is not None and not Path(entry.file).is_file():
            raise DataFileNotFoundError(f"data file not found: {entry.file!r} ({key})")
        if entry.max_samples is not None and entry.max_samples <= 0:
            raise ConfigError(f"{key}.max_samples={entry.max_samples} must be positive or null")
        resolved[str(name)] = entry
    return resolved


def register_configs() -> None:
    """Register the schemas that conf/train.yaml, eval.yaml and predict.yaml extend."""
    cs = ConfigStore.instance()
    cs.store(name="train_schema", node=TrainConfig)
    cs.store(name="eval_schema", node=EvalConfig)
    cs.store(name="predict_schema", node=PredictConfig)


def check_config(cfg: DictConfig) -> None:
    """Cross-field rules, checked before any data is read or model loaded."""
    data = cfg.data
    if data.max_length < 32:
        raise ConfigError(f"data.max_length={data.max_length} is too small; use 64 or more")
    if not 0 <= data.doc_stride < data.max_length:
        raise ConfigError(
            f"data.doc_stride={data.doc_stride} must be >= 0 and < data.max_length={data.max_length}"
        )
    source = DataSource(data.source)
    if source is DataSource.hub and not data.hub_name:
        raise ConfigError("data.hub_name is required with data.source=hub (e.g. rajpurkar/squad)")
    if source in (DataSource.squad_json, DataSource.flat) and cfg.task_name != "predict":
        training = cfg.task_name == "train"
        # eval.py may score only data.eval_sets; training always validates
        required = ("train_file", "validation_file") if training else ()
        if not training and not data.get("eval_sets"):
            required = ("validation_file",)
        for key in required:
            if not data[key]:
                raise ConfigError(f"data.{key} is required with data.source={source.value}")
        for key in ("train_file", "validation_file") if training else ("validation_file",):
            if data[key] and not Path(data[key]).is_file():
                raise DataFileNotFoundError(f"data file not found: {data[key]!r} (data.{key})")
    resolve_eval_sets(data)
    if cfg.task_name == "predict":
        if not data.predict_file:
            raise ConfigError(
                "data.predict_file is required by predict.py: a SQuAD JSON (.json) or a "
                "jsonl/csv/parquet file with id, question and context"
            )
        if not Path(data.predict_file).is_file():
            raise DataFileNotFoundError(
                f"data file not found: {data.predict_file!r} (data.predict_file)"
            )
    if data.on_bad_record not in ("raise", "drop"):
        raise ConfigError(f"data.on_bad_record={data.on_bad_record!r}; use raise or drop")
    for key in ("max_train_samples", "max_eval_samples"):
        value = data.get(key)
        if value is not None and value <= 0:
            raise ConfigError(f"data.{key}={value} must be a positive number of examples or null")
    for key in ("batch_size", "eval_batch_size", "n_best_size", "max_answer_length"):
        if data[key] <= 0:
            raise ConfigError(f"data.{key}={data[key]} must be positive")
    model = cfg.model
    if model.head is None and model.freeze != "none":
        raise ConfigError(
            f"model.freeze={model.freeze} needs one of our heads: set model.head to one of "
            f"{', '.join(HEADS)} (linear is the usual probe)"
        )
    if model.head is not None and model.head not in HEADS:
        raise ConfigError(f"model.head={model.head!r}; use one of {', '.join(HEADS)} or null")
    if model.attn_implementation not in (None, *ATTN_IMPLEMENTATIONS):
        raise ConfigError(
            f"model.attn_implementation={model.attn_implementation!r}; use one of "
            f"{', '.join(ATTN_IMPLEMENTATIONS)} or null"
        )
    if model.freeze not in FREEZE_POLICIES:
        raise ConfigError(f"model.freeze={model.freeze!r}; use one of {', '.join(FREEZE_POLICIES)}")
    if "optimizer" in cfg and cfg.optimizer.lr <= 0:
        raise ConfigError(f"optimizer.lr={cfg.optimizer.lr} must be positive")
    if "scheduler" in cfg and not 0.0 <= cfg.scheduler.warmup_ratio < 1.0:
        raise ConfigError(f"scheduler.warmup_ratio={cfg.scheduler.warmup_ratio} must be in [0, 1)")
    wandb_cfg = cfg.logger.get("wandb") if cfg.get("logger") is not None else None
    if wandb_cfg is not None and wandb_cfg.mode not in ("auto", "online", "offline", "disabled"):
        raise ConfigError(
            f"logger.wandb.mode={wandb_cfg.mode!r}; use auto, online, offline or disabled"
        )
    strategy = str(cfg.trainer.get("strategy", "auto"))
    if any(launch in strategy for launch in ("spawn", "fork", "notebook")):
        # Their ranks run in child processes, whose module state (the predictions, the
        # scores) never comes back: the entry point would fail once the work is done.
        raise ConfigError(
            f"trainer.strategy={strategy} is not supported by train.py/eval.py; use "
            "trainer.strategy=ddp (the same data parallelism, one process per device)"
        )
    if cfg.get("ckpt_path") and not Path(cfg.ckpt_path).is_file():
        raise ConfigError(
            f"ckpt_path={cfg.ckpt_path!r} does not exist; give a Lightning checkpoint, e.g. "
            "<run folder>/checkpoints/last.ckpt"
        )
    callbacks = cfg.get("callbacks")
    if callbacks is not None:
        every = callbacks.checkpoint.every_n_train_steps
        if every is not None and every <= 0:
            raise ConfigError(
                f"callbacks.checkpoint.every_n_train_steps={every} must be positive or null"
            )
        for name, spec in callbacks.extra.items():
            if not isinstance(spec, Mapping) or "_target_" not in spec:
                raise ConfigError(
                    f"callbacks.extra.{name} needs a _target_ (the callback's class path)"
                )
