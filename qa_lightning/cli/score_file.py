"""Score any system's predictions file as a run: ``eval.py predictions_file=preds.json``.

A published system's official-format predictions ({question id: answer text}) are read,
scored on every configured set exactly as a model's answers are (official scores,
intervals, slices, per-question records), and written to a run folder that ``qa-compare``
ranks and tests beside trained runs. No model, tokenizer or trainer is involved.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf

from qa_lightning.cli.checks import check_run
from qa_lightning.cli.common import (
    make_loggers,
    run_hyperparams,
    set_env_defaults,
    write_resolved_config,
)
from qa_lightning.data.loading import VALIDATION, build_reader, load_examples
from qa_lightning.errors import ConfigError
from qa_lightning.evaluation.evaluator import EvaluationResult, score_answers
from qa_lightning.evaluation.slices import build_slices
from qa_lightning.tracking.loggers import finish_loggers
from qa_lightning.tracking.prediction_table import log_evaluation_tables
from qa_lightning.tracking.run_folder import set_folder, write_metrics, write_set_files

log = logging.getLogger(__name__)

SOURCE_KIND = "predictions_file"  # metrics.json "source.kind" of such a run


def _read_json(path: str, key: str) -> Any:
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{key}={path} does not exist; give the path of a JSON file")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{key}={path} is not a JSON file ({err})") from None


def read_predictions_file(path: str, key: str = "predictions_file") -> dict[str, str]:
    """The official predictions format, checked: a JSON object of question id -> answer
    text ("" = no answer)."""
    data = _read_json(path, key)
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{key}={path} holds a JSON {type(data).__name__}; expected the official format, "
            '{"question id": "answer text", ...}'
        )
    for qid, answer in data.items():
        if not isinstance(answer, str):
            raise ConfigError(
                f"{key}={path}: the answer of question {qid!r} is {answer!r}; an answer is a "
                'string ("" for no answer)'
            )
    return dict(data)


def read_null_odds_file(path: str, key: str = "null_odds_file") -> dict[str, float]:
    """The official v2.0 na_prob file, checked: question id -> a finite number."""
    data = _read_json(path, key)
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{key}={path} holds a JSON {type(data).__name__}; expected "
            '{"question id": no-answer probability, ...}'
        )
    odds = {}
    for qid, value in data.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ConfigError(
                f"{key}={path}: question {qid!r} has {value!r}; expected a finite number"
            )
        odds[qid] = float(value)
    return odds


def _sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def source_record(cfg: DictConfig) -> dict[str, Any]:
    """Where the answers came from (metrics.json ``source``): the files and their digests,
    so a comparison can be traced to the exact bytes it scored."""
    null_odds_file = cfg.get("null_odds_file")
    return {
        "kind": SOURCE_KIND,
        "predictions_file": str(Path(cfg.predictions_file).resolve()),
        "sha256": _sha256(cfg.predictions_file),
        "null_odds_file": str(Path(null_odds_file).resolve()) if null_odds_file else None,
        "null_odds_sha256": _sha256(null_odds_file) if null_odds_file else None,
    }


def score_predictions_file(cfg: DictConfig) -> dict[str, dict[str, float]]:
    """Score ``cfg.predictions_file`` on the validation set and every ``data.eval_sets``
    entry; write the run folder and log to the configured loggers. Returns each set's
    scores by name."""
    set_env_defaults()
    checked = check_run(cfg, "eval")  # every value, once, before anything loads
    answers = read_predictions_file(cfg.predictions_file)
    null_odds = read_null_odds_file(cfg.null_odds_file) if cfg.get("null_odds_file") else None
    output_dir = Path(cfg.paths.output_dir)
    write_resolved_config(cfg, output_dir)
    pl.seed_everything(cfg.seed, workers=True)
    slices = build_slices(OmegaConf.select(cfg, "evaluation.slices"))
    results: list[EvaluationResult] = []
    for name, spec in checked.data_sets.items():
        examples = load_examples(build_reader(spec), spec, VALIDATION, seed=cfg.seed)
        if not any(str(qid) in answers for qid in examples["id"]):
            raise ConfigError(
                f"predictions_file={cfg.predictions_file} answers none of the {len(examples)} "
                f"questions of the {name} set ({spec['reader_key']}); is it for this data?"
            )
        results.append(
            score_answers(
                name,
                examples,
                answers,
                version_2=bool(spec.get("version_2")),
                null_odds=null_odds,
                seed=cfg.seed,
                slices=slices,
                language=str(spec.get("language") or "en"),
            )
        )
    for result in results:
        write_set_files(set_folder(output_dir, result.name), result)
    extra = {"status": "completed", "system": cfg.get("system_name"), "source": source_record(cfg)}
    write_metrics(output_dir, results, extra)
    loggers = make_loggers(cfg, checked.loggers)
    error: BaseException | None = None
    try:
        for logger in loggers:
            logger.log_hyperparams(run_hyperparams(cfg))
            for result in results:
                logger.log_metrics(result.metrics(), step=0)
        wandb_cfg = cfg.logger.get("wandb") if cfg.get("logger") else None
        samples = int(wandb_cfg.prediction_samples) if wandb_cfg is not None else 0
        log_evaluation_tables(loggers, results, samples=samples, output_dir=output_dir)
    except BaseException as err:
        error = err
        raise
    finally:
        finish_loggers(loggers, error=error)
    for result in results:
        log.info("%s", result.describe())
        if result.unanswered:
            log.info(
                "%s: %d of %d questions have no answer in %s (scored as the empty answer)",
                result.name,
                result.unanswered,
                result.examples,
                cfg.predictions_file,
            )
    log.info("run folder: %s", output_dir)
    return {r.name: r.scores for r in results}
