"""Score a Lightning checkpoint or a saved model directory on any data config."""

from __future__ import annotations

import logging
from pathlib import Path

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from qa_lightning.cli.common import (
    make_callbacks,
    make_loggers,
    set_env_defaults,
    write_resolved_config,
)
from qa_lightning.config import check_config
from qa_lightning.data.datamodule import SquadDataModule
from qa_lightning.models.loading import load_tokenizer
from qa_lightning.models.qa_module import QAModule
from qa_lightning.tracking.loggers import finish_wandb

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict[str, float]:
    set_env_defaults()
    check_config(cfg)
    write_resolved_config(cfg, cfg.paths.output_dir)
    pl.seed_everything(cfg.seed, workers=True)
    eval_settings = {
        "version_2": cfg.data.version_2,
        "max_length": cfg.data.max_length,
        "n_best_size": cfg.data.n_best_size,
        "max_answer_length": cfg.data.max_answer_length,
        "null_score_diff_threshold": cfg.data.null_score_diff_threshold,
    }
    if cfg.ckpt_path:
        if not Path(cfg.ckpt_path).is_file():
            raise FileNotFoundError(f"ckpt_path={cfg.ckpt_path} does not exist")
        module = QAModule.load_from_checkpoint(cfg.ckpt_path, map_location="cpu", **eval_settings)
        model_name = module.hparams.model_name_or_path
    else:
        model_name = cfg.model.name_or_path
        module = QAModule(
            model_name,
            revision=cfg.model.revision,
            trust_remote_code=cfg.model.trust_remote_code,
            **eval_settings,
        )
    tokenizer = load_tokenizer(
        cfg.model.tokenizer or model_name,
        revision=cfg.model.revision,
        trust_remote_code=cfg.model.trust_remote_code,
    )
    datamodule = SquadDataModule(cfg.data, tokenizer, seed=cfg.seed, with_train=False)
    loggers = make_loggers(cfg)
    trainer: pl.Trainer = instantiate(
        cfg.trainer,
        logger=loggers or False,
        callbacks=make_callbacks(cfg, with_loggers=bool(loggers)),
    )
    for logger in trainer.loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    failed = True
    try:
        trainer.validate(module, datamodule=datamodule)
        scores, _ = module.last_eval
        log.info(
            "EM %.2f  F1 %.2f  (%d examples)  run folder: %s",
            scores["exact"],
            scores["f1"],
            scores["total"],
            cfg.paths.output_dir,
        )
        failed = False
    finally:
        finish_wandb(loggers, failed=failed)
    return scores
