"""Score a Lightning checkpoint or a saved model directory on any evaluation sets."""

from __future__ import annotations

import logging

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig

from qa_lightning.callbacks.evaluation import LatestResults
from qa_lightning.cli.checks import check_run
from qa_lightning.cli.common import (
    apply_saved_decoding,
    make_callbacks,
    make_datamodule,
    make_loggers,
    run_hyperparams,
    set_env_defaults,
    trained_module_and_tokenizer,
    write_resolved_config,
)
from qa_lightning.cli.precision import resolve_precision
from qa_lightning.tracking.loggers import finish_loggers
from qa_lightning.tracking.prediction_table import final_evaluation_tables

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict[str, dict[str, float]]:
    """Score the model on the validation set and every ``data.eval_sets`` entry; returns
    each set's scores by name."""
    set_env_defaults()
    apply_saved_decoding(cfg)
    checked = check_run(cfg, "eval")  # every value, once, before anything loads
    resolve_precision(cfg)  # before the config is recorded anywhere
    write_resolved_config(cfg, cfg.paths.output_dir)
    pl.seed_everything(cfg.seed, workers=True)
    module, tokenizer = trained_module_and_tokenizer(cfg)
    datamodule = make_datamodule(cfg, tokenizer, module, with_train=False, sets=checked.data_sets)
    loggers = make_loggers(cfg, checked.loggers)
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
        finish_loggers(loggers, error=error)
    return {r.name: r.scores for r in latest.results}
