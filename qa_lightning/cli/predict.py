"""Answer the questions of an unlabelled file with a checkpoint or a saved model."""

from __future__ import annotations

import logging
from pathlib import Path

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig

from qa_lightning.callbacks.evaluation import EvaluationCallback, LatestResults
from qa_lightning.callbacks.throughput import PredictThroughput
from qa_lightning.cli.checks import check_run
from qa_lightning.cli.common import (
    apply_saved_decoding,
    make_datamodule,
    set_env_defaults,
    trained_module_and_tokenizer,
    write_resolved_config,
)
from qa_lightning.cli.precision import resolve_precision
from qa_lightning.tracking.run_folder import RunFolderWriter

log = logging.getLogger(__name__)


def predict(cfg: DictConfig) -> str:
    """Write predictions.json (official format), nbest_predictions.json and, for v2,
    null_odds.json into the run folder; score nothing. Returns the predictions' path."""
    set_env_defaults()
    apply_saved_decoding(cfg)
    checked = check_run(cfg, "predict")  # every value, once, before anything loads
    resolve_precision(cfg)  # before the config is recorded anywhere
    output_dir = Path(cfg.paths.output_dir)
    write_resolved_config(cfg, output_dir)
    pl.seed_everything(cfg.seed, workers=True)
    module, tokenizer = trained_module_and_tokenizer(cfg)
    datamodule = make_datamodule(cfg, tokenizer, module, predict=True, sets=checked.data_sets)
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
