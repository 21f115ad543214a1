"""Score a Lightning checkpoint or a saved model directory on any evaluation sets."""

from __future__ import annotations

import logging

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig

from qa_lightning.cli.common import (
    load_module,
    make_callbacks,
    make_loggers,
    make_module,
    run_hyperparams,
    set_env_defaults,
    write_resolved_config,
)
from qa_lightning.config import check_config
from qa_lightning.data.datamodule import SquadDataModule
from qa_lightning.models.loading import load_tokenizer
from qa_lightning.tracking.evaluation import LatestResults
from qa_lightning.tracking.loggers import finish_wandb
from qa_lightning.tracking.prediction_table import final_evaluation_tables

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict[str, dict[str, float]]:
    """Score the model on the validation set and every ``data.eval_sets`` entry; returns
    each set's scores by name."""
    set_env_defaults()
    check_config(cfg)
    write_resolved_config(cfg, cfg.paths.output_dir)
    pl.seed_everything(cfg.seed, workers=True)
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
    datamodule = SquadDataModule(cfg.data, tokenizer, seed=cfg.seed, with_train=False)
    loggers = make_loggers(cfg)
    latest = LatestResults()
    tables = final_evaluation_tables(loggers, cfg)
    trainer: pl.Trainer = instantiate(
        cfg.trainer,
        logger=loggers or False,
        callbacks=make_callbacks(cfg, with_loggers=bool(loggers), receivers=[latest, tables]),
    )
    for logger in trainer.loggers:
        logger.log_hyperparams(run_hyperparams(cfg))
    error: BaseException | None = None
    try:
        trainer.validate(module, datamodule=datamodule)
        for result in latest.results:
            log.info("%s", result.describe())
        log.info("run folder: %s", cfg.paths.output_dir)
    except BaseException as err:
        error = err
        raise
    finally:
        finish_wandb(loggers, error=error)
    return {r.name: r.scores for r in latest.results}
