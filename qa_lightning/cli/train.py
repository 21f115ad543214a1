"""Fit, score the best checkpoint on every evaluation set, save it, return the metric."""

from __future__ import annotations

import logging
import signal
import time
import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.utilities import rank_zero_only
from pytorch_lightning.utilities.exceptions import SIGTERMException

from qa_lightning.callbacks.checkpoints import AtomicCheckpointIO, CheckpointOnInterrupt
from qa_lightning.callbacks.evaluation import LatestResults
from qa_lightning.callbacks.throughput import TrainThroughput
from qa_lightning.cli.checks import check_run
from qa_lightning.cli.common import (
    check_model_fits,
    frozen_encoder,
    load_module,
    make_callbacks,
    make_datamodule,
    make_loggers,
    make_module,
    run_hyperparams,
    set_env_defaults,
    write_resolved_config,
)
from qa_lightning.cli.export import decoding_settings
from qa_lightning.cli.precision import resolve_precision
from qa_lightning.cli.resume import FINISHED, announce, previous_attempt, resumes_automatically
from qa_lightning.config import to_plain
from qa_lightning.data.datamodule import SquadDataModule
from qa_lightning.data.loading import CheckedSets
from qa_lightning.errors import ConfigError, TrialPruned
from qa_lightning.models.distillation import TeacherLogits
from qa_lightning.models.encoder_head import parameter_counts
from qa_lightning.models.loading import load_tokenizer
from qa_lightning.models.safe_checkpoint import (
    WEIGHTS_ONLY,
    check_checkpoint_fits,
    read_checkpoint,
)
from qa_lightning.storage.run_files import FAILURE_FILE
from qa_lightning.tracking.loggers import finish_loggers, mark_wandb_pruned
from qa_lightning.tracking.prediction_table import final_evaluation_tables
from qa_lightning.tracking.run_folder import write_metrics

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> float | None:
    """One training job; returns ``cfg.optimized_metric`` for Hydra sweepers.

    With ``ckpt_path=last``, and for every job of a multirun, the run folder says where an
    earlier attempt left off (``resume.py``): a finished (or pruned) job returns its stored
    metric and touches nothing, an interrupted one resumes from its ``last.ckpt``, a failed
    one runs again (unless ``rerun_failed=false``).
    """
    set_env_defaults()
    checked = check_run(cfg, "train")  # every value, once, before anything loads
    resolve_precision(cfg)  # before the config is recorded anywhere
    started = time.perf_counter()
    output_dir = Path(cfg.paths.output_dir)
    ckpt_path = cfg.ckpt_path
    if resumes_automatically(cfg):
        state = previous_attempt(cfg)
        announce(state, output_dir, cfg.optimized_metric)
        if state.status in FINISHED:
            return state.metric
        if state.status == "failed":
            if not cfg.rerun_failed:
                return None
            (output_dir / FAILURE_FILE).unlink(missing_ok=True)
        ckpt_path = str(state.checkpoint) if state.status == "interrupted" else None
    write_resolved_config(cfg, output_dir)
    pl.seed_everything(cfg.seed, workers=True)
    # The data next, read, checked and cached: a bad file fails in seconds, before W&B and
    # the weights load (Lightning's prepare_data then finds the entries built).
    tokenizer, datamodule = _prepared_data(cfg, checked.data_sets)

    # Loggers before the model, so that a job failing later (weights that will not load, a
    # diverged loss) still leaves a W&B run, marked failed.
    # (fast_dev_run swaps in a dummy logger anyway: no run folder logs for a smoke test)
    loggers = [] if cfg.trainer.get("fast_dev_run") else make_loggers(cfg, checked.loggers)
    for logger in loggers:
        logger.log_hyperparams(run_hyperparams(cfg))
    error: BaseException | None = None
    try:
        return _fit_and_evaluate(cfg, loggers, started, ckpt_path, tokenizer, datamodule)
    except BaseException as err:
        error = err
        raise
    finally:
        wandb_dir = finish_loggers(loggers, error=error)
        if wandb_dir:
            log.info(
                "W&B run: %s  (inspect: wandb leet inspect --summary %s)", wandb_dir, wandb_dir
            )


def _explain_interruption(trainer: pl.Trainer, cause: str, output_dir: Path) -> None:
    """Log the command that continues the run in its own folder (the checkpoint callback's
    best score and files, the CSV log and metrics.json all carry on there)."""
    saved = next((c.saved for c in trainer.callbacks if isinstance(c, CheckpointOnInterrupt)), None)
    if saved is None:
        return
    log.warning(
        "Stopped by %s. Resume with the same command plus: hydra.run.dir=%s ckpt_path=%s",
        cause,
        output_dir.resolve(),
        saved.resolve(),
    )


def check_teacher(path: str, tokenizer: Any) -> None:
    """``model.teacher``: a saved QA model folder or a run's Lightning checkpoint, whose
    tokenizer is the run's (its logits are matched to the run's windows token by token)."""
    from qa_lightning.data.datamodule import tokenizer_from_checkpoint
    from qa_lightning.data.feature_cache import tokenizer_fingerprint

    if Path(path).is_file():
        teacher_tokenizer = tokenizer_from_checkpoint(read_checkpoint(path))
        if teacher_tokenizer is None:
            raise ConfigError(
                f"model.teacher={path} keeps no tokenizer files (a checkpoint from before "
                "they were saved); give the run's best_model/ folder instead"
            )
    elif (Path(path) / "config.json").is_file():
        teacher_tokenizer = load_tokenizer(path)
    else:
        raise ConfigError(
            f"model.teacher={path} is not a saved QA model folder (no config.json) nor a "
            "checkpoint file; give a run's best_model/, an export.py folder or a run's .ckpt"
        )
    if tokenizer_fingerprint(teacher_tokenizer) != tokenizer_fingerprint(tokenizer):
        raise ConfigError(
            f"model.teacher={path} tokenizes otherwise than the model trained here: its "
            "logits would not line up with the windows; give a teacher with the same tokenizer"
        )


def load_teacher(cfg: DictConfig) -> TeacherLogits | None:
    """``model.teacher`` as the data side's teacher: a saved folder, or a checkpoint of any
    kind of run (full, adapters, a head) read weights-only, its network as the teacher."""
    path = cfg.model.get("teacher")
    if not path:
        return None
    if Path(path).is_file():
        return TeacherLogits(load_module(cfg, path).model)
    return TeacherLogits.from_folder(path)


def _prepared_data(cfg: DictConfig, data_sets: CheckedSets) -> tuple[Any, SquadDataModule]:
    """The tokenizer and the datamodule with every set's examples read, checked and cached,
    before the model loads (its frozen encoder, if any, is handed over later)."""
    model_cfg = cfg.model
    check_model_fits(cfg, model_cfg.name_or_path)  # its config only: before data and weights
    tokenizer = load_tokenizer(
        model_cfg.tokenizer or model_cfg.name_or_path,
        revision=model_cfg.revision,
        trust_remote_code=model_cfg.trust_remote_code,
    )
    if model_cfg.get("teacher"):
        check_teacher(model_cfg.teacher, tokenizer)
    datamodule = make_datamodule(cfg, tokenizer, sets=data_sets)
    if rank_zero_only.rank == 0:  # as Lightning's prepare_data (the others load in setup)
        datamodule.prepare_data()
    return tokenizer, datamodule


def _fit_and_evaluate(
    cfg: DictConfig,
    loggers: list,
    started: float,
    ckpt_path: str | None,
    tokenizer: Any,
    datamodule: SquadDataModule,
) -> float | None:
    output_dir = Path(cfg.paths.output_dir)
    module = make_module(cfg, training=True)
    datamodule.use_encoder(frozen_encoder(cfg, module))
    teacher = load_teacher(cfg)
    datamodule.use_teacher(teacher)

    throughput = TrainThroughput()
    latest = LatestResults()
    tables = final_evaluation_tables(loggers, cfg)
    callbacks = [
        *make_callbacks(cfg, with_loggers=bool(loggers), receivers=[latest, tables]),
        throughput,
    ]
    trainer: pl.Trainer = instantiate(
        cfg.trainer,
        logger=loggers or False,
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO()],
    )
    if teacher is not None:  # it scores the training windows where the model trains
        teacher.to(trainer.strategy.root_device)
    if cfg.model.compile:
        # The network only, in place: the Lightning hooks stay eager and the parameter names
        # (checkpoints, save_pretrained) stay those of the plain model.
        module.model.compile(dynamic=True)
    if ckpt_path:  # refused in one line unless it is plain data (weights-only)
        check_checkpoint_fits(read_checkpoint(ckpt_path), module, path=ckpt_path)
    try:
        with warnings.catch_warnings():
            # The datamodule restores the place in the epoch (its load_state_dict); Lightning
            # only knows of loaders that do it themselves, and would warn.
            warnings.filterwarnings("ignore", message=".*your dataloader is not resumable.*")
            trainer.fit(
                module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=WEIGHTS_ONLY
            )
    except TrialPruned as pruned:
        log.info("%s", pruned)
        mark_wandb_pruned(loggers, str(pruned))
        return _record_pruned(cfg, trainer, latest.results, started)
    except SIGTERMException:
        interrupt = next(c for c in trainer.callbacks if isinstance(c, CheckpointOnInterrupt))
        _explain_interruption(trainer, interrupt.cause, output_dir)
        interrupt.requeue()  # after a cluster's requeue signal; the launcher's may exit here
        raise SystemExit(128 + signal.SIGTERM) from None
    if trainer.interrupted:
        _explain_interruption(trainer, "Ctrl-C", output_dir)
        raise KeyboardInterrupt("training was interrupted")
    if trainer.fast_dev_run:
        return None
    fit_seconds = time.perf_counter() - started
    checkpoint = next((c for c in trainer.callbacks if isinstance(c, ModelCheckpoint)), None)
    best = checkpoint.best_model_path if checkpoint and checkpoint.best_model_path else None
    # The best checkpoint, on the validation set and every data.eval_sets entry.
    trainer.validate(module, datamodule=datamodule, ckpt_path=best, weights_only=WEIGHTS_ONLY)
    results = latest.results
    metrics = _flat_metrics(results)
    summary = {
        "status": "completed",
        "system": cfg.get("system_name"),  # qa-compare's label for the run
        "best_checkpoint": best,
        "train_features": len(datamodule.train_features),
        **{f"{k}_parameters": n for k, n in parameter_counts(module).items()},
        "train_features_per_second": round(throughput.features_per_second, 2),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "fit_seconds": round(fit_seconds, 1),
    }
    value = metrics.get(cfg.optimized_metric)
    if trainer.is_global_zero:
        if cfg.save_best_model:
            best_dir = output_dir / "best_model"
            module.save_pretrained(best_dir)
            tokenizer.save_pretrained(best_dir)
            # the windows, decoding and precision it was scored with: eval.py, predict.py,
            # the pipeline and serve.py on best_model/ answer as the run did
            decoding_settings(to_plain(cfg)).write(best_dir)
            log.info("Saved the best model to %s", best_dir)
        # last: the entry that marks the job finished for a relaunched sweep (resume.py)
        summary["optimized_metric"] = {"name": cfg.optimized_metric, "value": value}
        write_metrics(output_dir, results, summary)
    for result in results:
        log.info("%s", result.describe())
    log.info(
        "%.1f train features/s  wall %.0fs  run folder: %s",
        throughput.features_per_second,
        summary["wall_seconds"],
        output_dir,
    )
    return value


def _record_pruned(
    cfg: DictConfig, trainer: pl.Trainer, results: list, started: float
) -> float | None:
    """A run its sweep's pruner stopped: ``metrics.json`` says ``pruned``, with the scores of
    the validation that decided it; no final evaluation and no best model (it lost)."""
    value = _flat_metrics(results).get(cfg.optimized_metric)
    if trainer.is_global_zero:
        summary = {
            "status": "pruned",
            "system": cfg.get("system_name"),
            "epoch": trainer.current_epoch,
            "global_step": trainer.global_step,
            "wall_seconds": round(time.perf_counter() - started, 1),
            # what a relaunched sweep reads: the job is over, never resumed (resume.py)
            "optimized_metric": {"name": cfg.optimized_metric, "value": value},
        }
        write_metrics(Path(cfg.paths.output_dir), results, summary)
    return value


def _flat_metrics(results: list) -> dict[str, Any]:
    """val/... and eval/<name>/...: every name check_evaluation allows for optimized_metric."""
    return {k: v for result in results for k, v in result.metrics().items()}
