"""Answer the questions of an unlabelled file with a checkpoint or a saved model."""

from __future__ import annotations

import logging
from pathlib import Path

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig

from qa_lightning.cli.common import (
    load_module,
    make_module,
    set_env_defaults,
    write_resolved_config,
)
from qa_lightning.config import check_config
from qa_lightning.data.datamodule import SquadDataModule
from qa_lightning.models.loading import load_tokenizer
from qa_lightning.tracking.evaluation import EvaluationCallback, LatestResults
from qa_lightning.tracking.run_folder import RunFolderWriter
from qa_lightning.tracking.throughput import PredictThroughput

log = logging.getLogger(__name__)


def predict(cfg: DictConfig) -> str:
    """Write predictions.json (official format), nbest_predictions.json and, for v2,
    null_odds.json into the run folder; score nothing. Returns the predictions' path."""
    set_env_defaults()
    check_config(cfg)
    output_dir = Path(cfg.paths.output_dir)
    write_resolved_config(cfg, output_dir)
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
    datamodule = SquadDataModule(cfg.data, tokenizer, seed=cfg.seed, predict=True)
    latest = LatestResults()
    throughput = PredictThroughput()
    trainer: pl.Trainer = instantiate(
        cfg.trainer,
        logger=False,
        callbacks=[EvaluationCallback([RunFolderWriter(output_dir), latest]), throughput],
    )
    trainer.predict(module, datamodule=datamodule, return_predictions=False)
    (result,) = latest.results
    path = output_dir / "predictions.json"
    written = ["nbest_predictions.json"] + (["null_odds.json"] if result.outputs.null_odds else [])
    log.info("%s; predictions: %s (beside it: %s)", result.describe(), path, ", ".join(written))
    log.info(
        "%d features in %.1fs: %.1f features/s",
        throughput.features,
        throughput.seconds,
        throughput.features_per_second,
    )
    return str(path)
