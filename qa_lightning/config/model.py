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
    # a plain string: transformers' set of kernels grows with its releases, so the value is
    # checked at start (models/checks.py:ATTN_IMPLEMENTATIONS), not fixed by the schema
    attn_implementation: str | None = None
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
    freeze: str = "none"
    freeze_layers: int = 0
    hidden_layer: int = -1  # which hidden_states entry feeds the head (-1: the last layer)
    # with freeze=all: compute the encoder's outputs once, memory-map them from disk
    encoder_cache: bool = True


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
