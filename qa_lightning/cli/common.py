"""Plumbing shared by the entry points: run folder, loggers, callbacks, modules."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from pytorch_lightning.utilities import rank_zero_only

from qa_lightning.callbacks.checkpoints import (
    CheckpointOnInterrupt,
    MidEpochCheckpoint,
    RandomStateCheckpoint,
)
from qa_lightning.callbacks.evaluation import EvaluationCallback, Receiver
from qa_lightning.components import resolve_class
from qa_lightning.config import to_plain
from qa_lightning.data.datamodule import SquadDataModule
from qa_lightning.evaluation.slices import build_slices
from qa_lightning.models.checks import adapter_arguments, module_class
from qa_lightning.models.head_module import HeadQAModule, saved_head_settings
from qa_lightning.models.heads import head_label, head_node
from qa_lightning.models.limits import check_against_model
from qa_lightning.models.loading import load_model_config, resolve_model_path
from qa_lightning.models.precision import autocast_dtype
from qa_lightning.models.qa_module import MODULE_CLASS, QAModule
from qa_lightning.tracking.loggers import build_loggers, run_identity, run_tags
from qa_lightning.tracking.run_folder import RunFolderWriter

log = logging.getLogger(__name__)


def set_env_defaults() -> None:
    """Quiet defaults the user can still override from the environment."""
    # The tokenizer is used before the DataLoader may fork; let Rust parallelism stay
    # unless the user chose otherwise (never forced on).
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def hydra_config() -> Any | None:
    return HydraConfig.get() if HydraConfig.initialized() else None


@rank_zero_only
def write_resolved_config(cfg: DictConfig, output_dir: str | Path) -> None:
    """The config with every interpolation resolved, as the run actually used it.

    Rank 0 only: Lightning's ``ddp`` launcher runs the entry point again for every other
    rank, into the same run folder (the rank is known from the environment at import).
    """
    path = Path(output_dir) / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(to_plain(cfg), path)
    if cfg.get("extras") is None or cfg.extras.print_config:
        print_config_tree(cfg)


# The groups a reader looks for first; the rest follow in the config's own order.
_TREE_ORDER = (
    "data",
    "model",
    "optimizer",
    "optimizer_groups",
    "scheduler",
    "trainer",
    "logger",
    "callbacks",
)


def print_config_tree(cfg: DictConfig) -> None:
    """The resolved config as a rich tree, one branch per group (``extras.print_config``)."""
    from rich import print as rich_print
    from rich.syntax import Syntax
    from rich.tree import Tree

    resolved = to_plain(cfg)
    order = [k for k in _TREE_ORDER if k in resolved]
    order += [k for k in resolved if k not in order]
    tree = Tree("config", style="bold")
    for key in order:
        value = resolved[key]
        text = OmegaConf.to_yaml(value) if isinstance(value, dict | list) else str(value)
        tree.add(key, style="bold").add(Syntax(text.rstrip(), "yaml", theme="ansi_dark"))
    rich_print(tree)


def make_loggers(cfg: DictConfig, targets: Mapping[str, Any] | None = None) -> list:
    """The loggers of ``cfg.logger``, each built from its ``_target_`` (``targets``: the
    classes the start check imported) with the run folder and this Hydra job's W&B group,
    name and tags (see qa_lightning.tracking.loggers)."""
    hydra_cfg = hydra_config()
    group, name = run_identity(hydra_cfg)
    return build_loggers(
        to_plain(cfg.logger),
        output_dir=cfg.paths.output_dir,
        group=group,
        name=name,
        tags=run_tags(hydra_cfg, list(cfg.tags)),
        targets=targets,
    )


def run_hyperparams(cfg: DictConfig) -> dict[str, Any]:
    """What loggers record as the run's config: the resolved config plus the overrides."""
    hydra_cfg = hydra_config()
    overrides = list(hydra_cfg.overrides.task) if hydra_cfg is not None else []
    return {**to_plain(cfg), "overrides": overrides}


# callbacks.* entries built by the entry point itself (checkpoints: resume and SIGTERM)
# or holding other entries; every other non-null entry is a _target_ config.
_PLUMBING_CALLBACKS = ("checkpoint", "extra")


def make_callbacks(
    cfg: DictConfig, *, with_loggers: bool, receivers: Sequence[Receiver] = ()
) -> list[Callback]:
    """Evaluation (results to the run folder and to ``receivers``), checkpoints, then every
    ``callbacks.*`` entry (early stopping, LR monitor, ..., ``extra``) from its ``_target_``."""
    writer = RunFolderWriter(cfg.paths.output_dir, system_name=cfg.get("system_name"))
    evaluation = EvaluationCallback([writer, *receivers])
    callbacks: list[Callback] = [evaluation]
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
            # one last.ckpt, always the newest: several writers share it (the periodic and
            # interrupt saves, a resumed run), and writes are atomic (AtomicCheckpointIO)
            enable_version_counter=False,
        )
    )
    if ckpt.every_n_train_steps:  # what a SIGKILL'd run resumes from
        callbacks.append(MidEpochCheckpoint(ckpt.dirpath, ckpt.every_n_train_steps))
    callbacks += [
        CheckpointOnInterrupt(ckpt.dirpath, ckpt.get("requeue_signal", "auto")),
        RandomStateCheckpoint(),
    ]
    specs = [v for k, v in cb.items() if k not in _PLUMBING_CALLBACKS and v is not None]
    for spec in [*specs, *cb.extra.values()]:
        callback = instantiate(to_plain(spec), _convert_="all")
        if isinstance(callback, LearningRateMonitor) and not with_loggers:
            continue  # it refuses a trainer without loggers (logger=none, fast_dev_run)
        callbacks.append(callback)
    return callbacks


def check_model_fits(
    cfg: DictConfig, model_name: str, *, revision: str | None = None, head_settings: bool = True
) -> None:
    """The config values that depend on the model (``data.max_length``, head settings),
    checked against its own config (``AutoConfig``) before any weights load. ``revision``:
    ``model.revision`` unless given (a checkpoint's own)."""
    model_config = load_model_config(
        model_name,
        revision=revision if revision is not None else cfg.model.revision,
        trust_remote_code=cfg.model.trust_remote_code,
    )
    check_against_model(cfg, model_config, name=model_name, head_settings=head_settings)


def make_module(cfg: DictConfig, *, training: bool) -> QAModule:
    """The LightningModule of ``cfg.model``: ``model._target_`` (checked), else QAModule for
    ``model.head=null`` and HeadQAModule with a head (also for a saved head directory).

    Every setting is handed over as plain Python: they are the module's hyper-parameters,
    which checkpoints keep and ``weights_only`` loading reads.
    """
    model = to_plain(cfg.model)
    cls = module_class(model)
    kwargs: dict[str, Any] = {
        "revision": model["revision"],
        "attn_implementation": model["attn_implementation"],
        "trust_remote_code": model["trust_remote_code"],
        "loss": model.get("loss"),
        **adapter_arguments(model),  # model.adapter.rank > 0: LoraQAModule's
        **({"student_layers": model["student_layers"]} if model.get("student_layers") else {}),
        **(model.get("module_args") or {}),
    }
    if training:
        kwargs["optimizer"] = to_plain(cfg.optimizer)
        kwargs["optimizer_groups"] = to_plain(cfg.get("optimizer_groups"))
        kwargs["scheduler"] = to_plain(cfg.scheduler)
    if not issubclass(cls, HeadQAModule):
        saved = saved_head_settings(resolve_model_path(model["name_or_path"]))
        if saved is None or model.get("_target_") is not None:
            return cls(model["name_or_path"], **kwargs)
        cls, head = HeadQAModule, {"head": saved["head"], "head_args": saved.get("head_args")}
        head["hidden_layer"] = saved["hidden_layer"]
        # model.head=null means the model as saved, fine-tuned whole; scoring it, the
        # encoder stays frozen (its outputs can then be cached)
        freeze = "none" if training else "all"
        if training:
            label = head_label(head_node(head["head"], head["head_args"]))
            log.info(
                "%s holds a saved %s head: fine-tuning it with its encoder (model.head=null); "
                "to train the head alone give model/head=%s model.freeze=all",
                model["name_or_path"],
                label,
                label,
            )
    else:
        head = {
            "head": model["head"],
            "head_args": model["head_args"],
            "hidden_layer": model["hidden_layer"],
        }
        freeze = model["freeze"]
    return cls(
        model["name_or_path"],
        **head,
        freeze=freeze,
        freeze_layers=model["freeze_layers"],
        encoder_cache=model["encoder_cache"],
        **kwargs,
    )


def frozen_encoder(cfg: DictConfig, module: QAModule) -> Any | None:
    """``module``'s frozen encoder, if it has one whose outputs are cached
    (``model.encoder_cache``), for batches to carry them; it runs under the trainer's
    autocast, as it would inside a step."""
    return module.encoder_states(autocast_dtype(cfg.trainer.precision))


def make_datamodule(
    cfg: DictConfig, tokenizer: Any, module: QAModule | None = None, **kwargs: Any
) -> SquadDataModule:
    """``cfg.data`` for ``module`` (its :func:`frozen_encoder`); without one, the encoder
    can be handed over later (``SquadDataModule.use_encoder``). Its evaluators label
    questions with ``evaluation.slices`` (predict.py: none to label, the built-ins)."""
    encoder = frozen_encoder(cfg, module) if module is not None else None
    slices = build_slices(OmegaConf.select(cfg, "evaluation.slices"))
    return SquadDataModule(
        cfg.data, tokenizer, seed=cfg.seed, encoder=encoder, slices=slices, **kwargs
    )


def load_module(
    cfg: DictConfig, ckpt_path: str, checkpoint: dict[str, Any] | None = None
) -> QAModule:
    """A module from a Lightning checkpoint of either kind (``checkpoint``: its content, if
    already read).

    Read weights-only (nothing in the file can run code), and the checkpoint's own
    ``trust_remote_code`` is overridden by this config's: only the user can trust Hub code.
    The architecture comes from the model config the checkpoint keeps (older checkpoints:
    from the base model), so a checkpoint scores without the base model's files, unless it
    left frozen weights out: those are the base model's.
    """
    from qa_lightning.models.frozen_weights import FROZEN_WEIGHTS
    from qa_lightning.models.safe_checkpoint import WEIGHTS_ONLY, read_checkpoint

    if checkpoint is None:
        checkpoint = read_checkpoint(ckpt_path)
    settings = {
        "trust_remote_code": cfg.model.trust_remote_code,
        "map_location": "cpu",
        "weights_only": WEIGHTS_ONLY,
        # a checkpoint that leaves out frozen weights is built from its base model, whose
        # weights it checks by hash (models/frozen_weights.py)
        "model_config": None if checkpoint.get(FROZEN_WEIGHTS) else checkpoint.get("model_config"),
    }
    saved_class = checkpoint.get(MODULE_CLASS)
    if saved_class is None:  # written before checkpoints named their class
        has_head = checkpoint.get("hyper_parameters", {}).get("head") is not None
        cls = HeadQAModule if has_head else QAModule
    else:
        cls = resolve_class(saved_class, QAModule, where=f"{ckpt_path}: {MODULE_CLASS}")
    return cls.load_from_checkpoint(ckpt_path, **settings)


def apply_saved_decoding(cfg: DictConfig) -> None:
    """An export folder's ``qa_decoding.json`` (the windows, decoding, batch size and
    precision its model was scored with) fills the ``data.*`` keys, ``data.eval_batch_size``
    and ``trainer.precision`` that the command line did not set (the precision not under
    ``backend=onnx``: no autocast reaches the graph)."""
    from qa_lightning.storage.decoding_file import DECODING_FILE, DecodingSettings

    folder = Path(str(cfg.model.name_or_path))
    if cfg.get("ckpt_path") or not (folder / DECODING_FILE).is_file():
        return
    hydra_cfg = hydra_config()
    overrides = list(hydra_cfg.overrides.task) if hydra_cfg is not None else []
    given = {o.split("=", 1)[0].lstrip("+~") for o in overrides}
    saved = asdict(DecodingSettings.of_folder(folder))
    del saved["encoder_states"]  # eval/predict score a saved head from that cache too
    if cfg.get("backend", "torch") == "onnx":
        del saved["precision"]
    renamed = {"precision": "trainer.precision", "batch_size": "data.eval_batch_size"}
    keys = {k: renamed.get(k, f"data.{k}") for k in saved}
    taken = {
        key: saved[name]
        for name, key in keys.items()
        if key not in given and OmegaConf.select(cfg, key) != saved[name]
    }
    for key, value in taken.items():
        OmegaConf.update(cfg, key, value)
    if taken:
        log.info(
            "From %s: %s",
            folder / DECODING_FILE,
            ", ".join(f"{k}={v}" for k, v in taken.items()),
        )


def trained_module_and_tokenizer(cfg: DictConfig) -> tuple[QAModule, Any]:
    """eval.py's and predict.py's model: ``ckpt_path`` if given, else ``model.name_or_path``
    (a saved model directory or a Hub name), with its tokenizer.

    A checkpoint brings its model config and tokenizer files (``model.tokenizer`` still
    overrides the latter): it scores offline, without the base model's files.
    ``backend=onnx``: the export folder's ONNX graph, run by onnxruntime.
    """
    from qa_lightning.data.datamodule import tokenizer_from_checkpoint
    from qa_lightning.models.loading import config_from_dict, load_tokenizer
    from qa_lightning.models.safe_checkpoint import read_checkpoint

    tokenizer = None
    if cfg.get("backend", "torch") == "onnx":
        model_name = cfg.model.name_or_path
        check_model_fits(cfg, model_name, head_settings=False)
        # imported here: the inference package registers the transformers pipeline, whose
        # import costs every entry point about a second when it is not needed
        from qa_lightning.inference.onnx_runner import OnnxQAModule, OnnxSpanModel

        module = OnnxQAModule(OnnxSpanModel.from_folder(model_name, quantized=cfg.quantized))
    elif cfg.ckpt_path:
        checkpoint = read_checkpoint(cfg.ckpt_path)
        hparams = checkpoint.get("hyper_parameters", {})
        model_name = hparams.get("model_name_or_path", cfg.model.name_or_path)
        saved_config = config_from_dict(checkpoint.get("model_config") or {})
        # the checkpoint's model and head settings, not cfg.model's, build the module
        if saved_config is not None:
            check_against_model(cfg, saved_config, name=model_name, head_settings=False)
        else:
            check_model_fits(cfg, model_name, revision=hparams.get("revision"), head_settings=False)
        module = load_module(cfg, cfg.ckpt_path, checkpoint)
        if not cfg.model.tokenizer:
            tokenizer = tokenizer_from_checkpoint(checkpoint)
        del checkpoint
    else:
        model_name = cfg.model.name_or_path
        check_model_fits(cfg, model_name)
        module = make_module(cfg, training=False)
    if tokenizer is None:
        tokenizer = load_tokenizer(
            cfg.model.tokenizer or model_name,
            revision=cfg.model.revision,
            trust_remote_code=cfg.model.trust_remote_code,
        )
    return module, tokenizer
