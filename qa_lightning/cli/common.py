"""Plumbing shared by the entry points: run folder, loggers, callbacks, modules."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import (
    Callback,
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
    RichProgressBar,
)
from pytorch_lightning.utilities import rank_zero_only

from qa_lightning.models.head_module import HeadQAModule, saved_head_settings
from qa_lightning.models.loading import resolve_model_path
from qa_lightning.models.qa_module import QAModule
from qa_lightning.tracking.checkpoints import (
    CheckpointOnInterrupt,
    MidEpochCheckpoint,
    RandomStateCheckpoint,
)
from qa_lightning.tracking.evaluation import EvaluationCallback, Receiver
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
    OmegaConf.save(cfg, path, resolve=True)
    if cfg.get("extras") is None or cfg.extras.print_config:
        print_config_tree(cfg)


# The groups a reader looks for first; the rest follow in the config's own order.
_TREE_ORDER = ("data", "model", "optimizer", "scheduler", "trainer", "logger", "callbacks")


def print_config_tree(cfg: DictConfig) -> None:
    """The resolved config as a rich tree, one branch per group (``extras.print_config``)."""
    from rich import print as rich_print
    from rich.syntax import Syntax
    from rich.tree import Tree

    resolved = OmegaConf.to_container(cfg, resolve=True)
    order = [k for k in _TREE_ORDER if k in resolved]
    order += [k for k in resolved if k not in order]
    tree = Tree("config", style="bold")
    for key in order:
        value = resolved[key]
        text = OmegaConf.to_yaml(value) if isinstance(value, dict | list) else str(value)
        tree.add(key, style="bold").add(Syntax(text.rstrip(), "yaml", theme="ansi_dark"))
    rich_print(tree)


def make_loggers(cfg: DictConfig):
    hydra_cfg = hydra_config()
    group, name = run_identity(hydra_cfg)
    return build_loggers(
        OmegaConf.to_container(cfg.logger, resolve=True),
        output_dir=cfg.paths.output_dir,
        group=group,
        name=name,
        tags=run_tags(hydra_cfg, list(cfg.tags)),
    )


def run_hyperparams(cfg: DictConfig) -> dict[str, Any]:
    """What loggers record as the run's config: the resolved config plus the overrides."""
    hydra_cfg = hydra_config()
    overrides = list(hydra_cfg.overrides.task) if hydra_cfg is not None else []
    return {**OmegaConf.to_container(cfg, resolve=True), "overrides": overrides}


def make_callbacks(
    cfg: DictConfig, *, with_loggers: bool, receivers: Sequence[Receiver] = ()
) -> list[Callback]:
    """Evaluation (results to the run folder and to ``receivers``), checkpoints, the rest."""
    evaluation = EvaluationCallback([RunFolderWriter(cfg.paths.output_dir), *receivers])
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
    callbacks += [CheckpointOnInterrupt(ckpt.dirpath), RandomStateCheckpoint()]
    if cb.early_stopping is not None:
        es = cb.early_stopping
        callbacks.append(
            EarlyStopping(
                monitor=es.monitor, mode=es.mode, patience=es.patience, min_delta=es.min_delta
            )
        )
    if cb.lr_monitor and with_loggers:
        callbacks.append(LearningRateMonitor(logging_interval="step"))
    if cb.rich_progress:
        callbacks.append(RichProgressBar())
    callbacks += [instantiate(spec) for spec in cb.extra.values()]
    return callbacks


def make_module(cfg: DictConfig, *, training: bool) -> QAModule:
    """QAModule for ``model.head=null``, else HeadQAModule (also for a saved head directory)."""
    model = cfg.model
    kwargs: dict[str, Any] = {
        "revision": model.revision,
        "attn_implementation": model.attn_implementation,
        "trust_remote_code": model.trust_remote_code,
    }
    if training:
        kwargs["optimizer"] = OmegaConf.to_container(cfg.optimizer, resolve=True)
        kwargs["scheduler"] = OmegaConf.to_container(cfg.scheduler, resolve=True)
    head = {
        "head": model.head,
        "head_args": OmegaConf.to_container(model.head_args, resolve=True),
        "hidden_layer": model.hidden_layer,
    }
    if model.head is None:
        saved = saved_head_settings(resolve_model_path(model.name_or_path))
        if saved is None:
            return QAModule(model.name_or_path, **kwargs)
        head = saved
    return HeadQAModule(
        model.name_or_path,
        **head,
        freeze=model.freeze if model.head is not None else "all",
        freeze_layers=model.freeze_layers,
        encoder_cache=model.encoder_cache,
        encoder_cache_dir=f"{cfg.paths.cache_dir}/encoder",
        **kwargs,
    )


def load_module(cfg: DictConfig, ckpt_path: str) -> QAModule:
    """A module from a Lightning checkpoint of either kind.

    Read weights-only (nothing in the file can run code), and the checkpoint's own
    ``trust_remote_code`` is overridden by this config's: only the user can trust Hub code.
    """
    from qa_lightning.models.safe_checkpoint import WEIGHTS_ONLY, read_checkpoint

    hparams = read_checkpoint(ckpt_path).get("hyper_parameters", {})
    settings = {
        "trust_remote_code": cfg.model.trust_remote_code,
        "map_location": "cpu",
        "weights_only": WEIGHTS_ONLY,
    }
    if hparams.get("head") is None:
        return QAModule.load_from_checkpoint(ckpt_path, **settings)
    return HeadQAModule.load_from_checkpoint(
        ckpt_path, encoder_cache_dir=f"{cfg.paths.cache_dir}/encoder", **settings
    )


def trained_module_and_tokenizer(cfg: DictConfig) -> tuple[QAModule, Any]:
    """eval.py's and predict.py's model: ``ckpt_path`` if given, else ``model.name_or_path``
    (a saved model directory or a Hub name), with its tokenizer."""
    from qa_lightning.models.loading import load_tokenizer

    if cfg.ckpt_path:
        module = load_module(cfg, cfg.ckpt_path)
        model_name = module.hparams.model_name_or_path
    else:
        model_name = cfg.model.name_or_path
        module = make_module(cfg, training=False)
    tokenizer = load_tokenizer(
        cfg.model.tokenizer or model_name,
        revision=cfg.model.revision,
        trust_remote_code=cfg.model.trust_remote_code,
    )
    return module, tokenizer
