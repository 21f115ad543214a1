"""The entry points' schemas (train.py, eval.py, predict.py, export.py, serve.py).

Each field is written once: :class:`EntryConfig` holds what every entry point has,
:class:`ModelRunConfig` what the three that run a model on data add, :class:`ScoredRunConfig`
what the two that score and log add; :class:`BackendChoice` what the three that may run an
exported graph add. An entry's own schema holds only its own fields and its ``task_name``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from qa_lightning.config.data import DataConfig
from qa_lightning.config.model import ModelConfig, TrainerConfig
from qa_lightning.config.tracking import CallbacksConfig, LoggerConfig


@dataclass
class PathsConfig:
    """``paths``: where a run writes and where the caches live."""

    root_dir: str = "."  # the project's folder (conf/paths/default.yaml: where Hydra started)
    output_dir: str = "${hydra:runtime.output_dir}"  # the run folder (hydra.run.dir moves it)
    cache_dir: str = "${paths.root_dir}/.cache"  # features and encoder states, shared by runs


@dataclass
class ExtrasConfig:
    """``extras``: what the entry points show at start."""

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


# backend: what runs the model in eval.py, predict.py and serve.py: torch (the PyTorch
# model, a checkpoint or saved folder) or onnx (onnxruntime on an exported folder's onnx/
# graph, export.py onnx=true). Checked at start (cli/checks.py, cli/serve.py).
BACKENDS = ("torch", "onnx")


@dataclass
class EntryConfig:
    """What every entry point has."""

    paths: PathsConfig = field(default_factory=PathsConfig)
    extras: ExtrasConfig = field(default_factory=ExtrasConfig)
    task_name: str = MISSING  # each entry's own schema gives its name
    # the researcher's packages to import first (their heads, losses, readers ...); a class
    # path a saved run names is only built from these or qa_lightning
    imports: list[str] = field(default_factory=list)


@dataclass
class ModelRunConfig(EntryConfig):
    """train.py, eval.py and predict.py: a model run on data by a Lightning trainer."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    seed: int = 42  # seeds Python, numpy, torch, the train order and the bootstrap intervals
    # a Lightning checkpoint (train.py: to resume from); else model.name_or_path is run.
    # train.py: "last" is the run folder's last.ckpt if there is one, else a fresh start (a
    # requeued job needs no edited command); multirun jobs behave as "last" when it is null,
    # so a relaunched sweep skips, resumes or reruns its jobs
    ckpt_path: str | None = None


@dataclass
class ScoredRunConfig(ModelRunConfig):
    """train.py and eval.py: every set scored, sliced and logged."""

    logger: LoggerConfig = field(default_factory=LoggerConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    tags: list[str] = field(default_factory=list)  # the run's tags in W&B and MLflow
    # the name qa-compare shows for this run's setting (tables, plots) instead of its
    # overrides, e.g. "MiniLM recipe" or a published system's name; null: the overrides
    system_name: str | None = None


@dataclass
class BackendChoice:
    """eval.py, predict.py and serve.py: the PyTorch model or an export's ONNX graph."""

    # onnx: the exported folder's onnx/model.onnx runs in onnxruntime (export.py onnx=true)
    backend: str = "torch"  # BACKENDS
    quantized: bool = False  # with backend=onnx: onnx/model_quantized.onnx (int8)


@dataclass
class TrainConfig(ScoredRunConfig):
    task_name: str = "train"
    # open nodes, checked at start by qa_lightning/models/optimization.py (any keys their
    # target takes). optimizer: a _partial_ torch.optim.Optimizer node
    optimizer: Any = field(default_factory=dict)
    # null: weight decay on weights, not on biases and LayerNorm weights; or a ParamGroups
    # node (conf/optimizer_groups/: llrd, layer-wise lr decay)
    optimizer_groups: Any = None
    # {name, warmup_ratio, warmup_steps} (a transformers.get_scheduler schedule) or a
    # _partial_ scheduler node
    scheduler: Any = field(default_factory=dict)
    callbacks: CallbacksConfig = field(default_factory=CallbacksConfig)
    rerun_failed: bool = True  # a relaunched sweep runs its failed jobs again (false: skips)
    # the metric returned to Hydra sweepers: any metric the final evaluation logs (val/...,
    # eval/<name>/... for data.eval_sets entries)
    optimized_metric: str = "val/f1"
    save_best_model: bool = True  # save_pretrained the best checkpoint's model in best_model/


@dataclass
class EvalConfig(BackendChoice, ScoredRunConfig):
    task_name: str = "eval"
    # any system's answers in the official format, {question id: answer text} ("" = no
    # answer), scored on every configured set with no model; a question the file does not
    # answer counts as "" (and the run says how many)
    predictions_file: str | None = None
    # with predictions_file, SQuAD 2.0: the official script's na_prob file, {question id:
    # no-answer probability}, for best_exact/best_f1 and the null-threshold curve
    null_odds_file: str | None = None


@dataclass
class PredictConfig(BackendChoice, ModelRunConfig):
    task_name: str = "predict"


@dataclass
class TrustConfig:
    """``model.trust_remote_code`` of the entry points that read a folder (export.py,
    serve.py): the user's word on custom model code; the folder's own config is not asked."""

    trust_remote_code: bool = False  # run a model's custom code (auto_map) only when given


@dataclass
class ExportConfig(EntryConfig):
    """export.py: a run's model as one folder anyone can load, with a model card."""

    task_name: str = "export"
    run: str = MISSING  # a train.py run folder (its best_model/), or a .ckpt inside one
    out: str | None = None  # the folder to write; null: <run folder>/export
    overwrite: bool = False  # replace an earlier export at out= (anything else is refused)
    model: TrustConfig = field(default_factory=TrustConfig)
    push_to_hub: str | None = None  # a Hub repo id (user/name) to upload the folder to
    private: bool = True  # a repo push_to_hub creates is private
    onnx: bool = False  # also onnx/model.onnx: the graph backend=onnx runs (onnxruntime, CPU)
    # also onnx/model_quantized.onnx (implies onnx): none | dynamic | static | true (the
    # best int8 measured here); static calibrates on calibration_windows training windows
    quantize: str = "none"
    calibration_windows: int = 256


@dataclass
class ServeConfig(BackendChoice, EntryConfig):
    """serve.py: answer POST /predict over HTTP from an exported (or any saved QA) folder."""

    task_name: str = "serve"
    # an export.py folder or any saved QA model directory (not "model": that is a config group)
    model_dir: str = MISSING
    model: TrustConfig = field(default_factory=TrustConfig)
    host: str = "127.0.0.1"  # only this machine; 0.0.0.0 to listen on every interface
    port: int = 8000  # the TCP port to listen on
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


def register_configs() -> None:
    """Register the schemas that the entry configs in conf/ extend."""
    cs = ConfigStore.instance()
    cs.store(name="train_schema", node=TrainConfig)
    cs.store(name="eval_schema", node=EvalConfig)
    cs.store(name="predict_schema", node=PredictConfig)
    cs.store(name="export_schema", node=ExportConfig)
    cs.store(name="serve_schema", node=ServeConfig)
