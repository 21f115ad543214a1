"""The ``model`` group's schema and the trainer's: what runs, how it is frozen and trained."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

# model.head's short names for the built-in heads (conf/model/head/<name>.yaml holds each
# as a node; qa_lightning.models.heads.NAMED_HEADS maps them to classes)
HEADS = ("linear", "mlp", "bilstm", "transformer")


# model.freeze: which part of the encoder under a span head stays frozen: nothing, the
# embeddings, the embeddings and the bottom model.freeze_layers layers, or all of it
# (checked at start by qa_lightning/models/checks.py; applied by models/encoder_head.py)
FREEZE_POLICIES = ("none", "embeddings", "layers", "all")


@dataclass
class HeadArgs:
    """Hyper-parameters of the built-in heads given by name (``model.head=mlp``); each head
    reads the ones it has. A head given as a node takes its arguments in the node."""

    dropout: float = 0.1  # before the head's layers
    hidden_size: int = 256  # mlp: inner width; bilstm: width of each direction
    num_layers: int = 1  # bilstm layers or transformer layers
    num_heads: int = 4  # transformer attention heads


@dataclass
class AdapterConfig:
    """``model.adapter``: LoRA adapters (``peft``) on a QA model instead of fine-tuning it
    whole; only the adapters and the span layer train (qa_lightning.models.lora)."""

    # the adapters' rank r; 0: no adapters (model.adapter.rank=8 turns them on)
    rank: int = 0
    alpha: float = 16.0  # the update is scaled by alpha / rank
    dropout: float = 0.05  # dropout on the adapters' input
    # the linear layers that get adapters, by name; null: peft's default for the
    # architecture (BERT: query, value)
    target_modules: list[str] | None = None


@dataclass
class ModelConfig:
    """``model``: which pretrained model, which LightningModule and span head, what is
    frozen."""

    name_or_path: str = MISSING  # Hub name, local directory, or "bundled:minilm"
    tokenizer: str | None = None  # defaults to name_or_path
    revision: str | None = None  # a Hub branch, tag or commit; null: the default branch
    trust_remote_code: bool = False  # never run Hub code unless the user asks
    # transformers' attention kernel: eager | sdpa (fused, PyTorch's) | flash_attention_2
    # (needs flash-attn and a recent GPU) | flex_attention; null lets transformers pick
    # (sdpa where supported)
    # a plain string: transformers' set of kernels grows with its releases, so the value is
    # checked at start (models/checks.py:ATTN_IMPLEMENTATIONS), not fixed by the schema
    attn_implementation: str | None = None
    # torch.compile the module for training (GPUs: fewer, fused kernels; the first steps pay
    # for compilation, and dynamic padding compiles with dynamic shapes)
    compile: bool = False
    # the LightningModule (a qa_lightning.models.QAModule subclass); null: QAModule, or
    # HeadQAModule with a head
    _target_: str | None = None
    module_args: dict[str, Any] = field(default_factory=dict)  # the module's own arguments
    # null: the checkpoint's own QA model (AutoModelForQuestionAnswering), fine-tuned whole.
    # A span head on the bare encoder (AutoModel): a node naming any SpanHead subclass
    # (model/head=linear|mlp|bilstm|transformer or your own YAML), or a built-in's name
    head: Any = None
    # the training loss: a node naming a SpanLoss subclass; null: start/end cross-entropy
    loss: Any = None
    head_args: HeadArgs = field(default_factory=HeadArgs)
    # with a head: none | embeddings | layers (embeddings + the bottom freeze_layers) | all
    freeze: str = "none"
    freeze_layers: int = 0  # with freeze=layers: how many of the bottom layers
    hidden_layer: int = -1  # which hidden_states entry feeds the head (-1: the last layer)
    # with freeze=all: compute the encoder's outputs once, memory-map them from disk
    encoder_cache: bool = True
    # a student made from model.name_or_path (the teacher) by keeping these encoder
    # layers, e.g. [0, 2, 4]; null: the model as it is
    student_layers: list[int] | None = None
    # a saved QA model folder (a run's best_model/, an export) or a run's .ckpt, whose
    # start/end logits every training batch carries (teacher_start_logits,
    # teacher_end_logits), for a distillation loss; scored once per training window and
    # cached. Its tokenizer must be the run's
    teacher: str | None = None
    # LoRA adapters instead of fine-tuning every weight: rank (0: none), alpha, dropout,
    # target_modules
    adapter: AdapterConfig = field(default_factory=AdapterConfig)


@dataclass
class TrainerConfig:
    """``trainer``: the Lightning Trainer's arguments (the ones in this schema; see
    Lightning's Trainer documentation for each)."""

    _target_: str = "pytorch_lightning.Trainer"
    accelerator: str = "auto"  # cpu, gpu, ... ; auto: a GPU when there is one
    devices: Any = "auto"  # how many devices (or which); auto: all of the accelerator's
    strategy: str = "auto"  # ddp for several devices (trainer=ddp); ddp_spawn is refused
    num_nodes: int = 1  # machines, for multi-node DDP
    precision: Any = "32-true"  # any Lightning precision, or auto (cli/precision.py)
    max_epochs: int = 2  # epochs over the training windows
    max_steps: int = -1  # optimizer steps to stop after; -1: max_epochs decides
    min_epochs: int | None = None  # epochs before early stopping may stop the run
    accumulate_grad_batches: int = 1  # batches per optimizer step
    gradient_clip_val: float | None = 1.0  # clip the gradients' norm to this; null: no clipping
    val_check_interval: Any = 1.0  # validate every fraction of an epoch (float) or N batches
    check_val_every_n_epoch: int | None = 1  # validate every N epochs
    limit_train_batches: Any = 1.0  # train on a fraction (float) or N batches of each epoch
    limit_val_batches: Any = 1.0  # a partial validation scores complete questions only
    num_sanity_val_steps: int = 2  # validation batches run before training starts
    log_every_n_steps: int = 10  # how often training values are logged
    fast_dev_run: Any = False  # true or N: N batches of each loop, nothing saved (debug=fast)
    deterministic: Any = False  # deterministic kernels where PyTorch has them
    benchmark: bool | None = None  # cudnn.benchmark (GPUs)
    enable_progress_bar: bool = True  # Lightning's progress bar on the console
    default_root_dir: str = "${paths.output_dir}"  # where Lightning writes: the run folder
