"""The data config's values checked before anything loads: the sets a task reads (their
files exist, the keys their source needs are given), ``data.source``,
``data.on_bad_record`` and ``data.language``, ``data.eval_sets`` (and each one's language), ``data.columns``, synthetic data's sizes, the
sample limits, batch sizes and the window
(:mod:`qa_lightning.data.window`). The reader nodes: ``loading.check_readers``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qa_lightning.config import LANGUAGES, ON_BAD_RECORD, EvalSetConfig, choice, parse_eval_sets
from qa_lightning.data.window import check_window
from qa_lightning.errors import ConfigError, DataFileNotFoundError

log = logging.getLogger(__name__)

TASKS = ("train", "eval", "predict")
FILE_SOURCES = ("squad_json", "flat", "mrqa")
#: ``data.source``: the shorthands of the built-in readers (``loading.py`` builds each one's
#: node); a new built-in reader adds its name here. A plain string in the schema, no Enum.
SOURCES = ("hub", *FILE_SOURCES, "synthetic")
#: Our names of a flat file's fields: the keys ``data.columns`` maps to the file's columns.
FLAT_FILE_FIELDS: tuple[str, ...] = (
    "id",
    "title",
    "context",
    "question",
    "answers",
    "answer_text",
    "answer_start",
)


def check_columns(columns: Any, key: str) -> None:
    """``columns`` (``data.columns`` or an eval set's): our field names -> the file's."""
    if not columns:
        return
    unknown = sorted(set(columns) - set(FLAT_FILE_FIELDS))
    if unknown:
        raise ConfigError(
            f"{key} has unknown key(s) {', '.join(map(repr, unknown))}; allowed keys are "
            f"{', '.join(FLAT_FILE_FIELDS)} (our names, mapped to the file's column names)"
        )


def check_synthetic(n_examples: Any, unanswerable_fraction: Any, *, key: str, count: str) -> None:
    """Synthetic data's size (``<key>.<count>``) and ``<key>.unanswerable_fraction``."""
    if isinstance(n_examples, bool) or not isinstance(n_examples, int) or n_examples < 0:
        raise ConfigError(f"{key}.{count}={n_examples!r} must be a whole number, 0 or more")
    try:
        fraction = float(unanswerable_fraction)
    except (TypeError, ValueError):
        fraction = math.nan
    if not 0.0 <= fraction <= 1.0:
        raise ConfigError(
            f"{key}.unanswerable_fraction={unanswerable_fraction!r} must be between 0 and 1"
        )


def resolve_eval_sets(data: Mapping[str, Any]) -> dict[str, EvalSetConfig]:
    """``data.eval_sets`` as checked :class:`EvalSetConfig` objects, in the given order.

    Raises :class:`ConfigError` naming ``data.eval_sets.<name>`` for a bad entry, and
    :class:`DataFileNotFoundError` for a file that does not exist.
    """
    resolved = parse_eval_sets(data)
    for name, entry in resolved.items():
        key = f"data.eval_sets.{name}"
        if entry.file is not None and not Path(entry.file).is_file():
            raise DataFileNotFoundError(
                f"data file not found: {entry.file!r} ({key}); give an existing file "
                "(.json, .jsonl, .csv, .parquet) or a Hub dataset name"
            )
        check_columns(entry.columns, f"{key}.columns")
        if entry.language is not None:
            choice(LANGUAGES, entry.language, f"data.eval_sets.{name}.language")
    return resolved


def check_data(data: Mapping[str, Any], *, task: str) -> dict[str, EvalSetConfig]:
    """Every rule on ``data.*`` for the entry point ``task`` (train, eval or predict);
    returns ``data.eval_sets`` resolved, for the rest of the run to use."""
    if data["max_length"] < 32:
        raise ConfigError(f"data.max_length={data['max_length']} is too small; use 32 or more")
    check_window(
        max_length=data["max_length"],
        doc_stride=data["doc_stride"],
        max_question_tokens=data.get("max_question_tokens"),
    )
    source = choice(SOURCES, data["source"], "data.source")
    choice(ON_BAD_RECORD, data.get("on_bad_record", "raise"), "data.on_bad_record")
    choice(LANGUAGES, data.get("language", "en"), "data.language")
    if source == "hub" and not data.get("hub_name"):
        raise ConfigError("data.hub_name is required with data.source=hub (e.g. rajpurkar/squad)")
    if source in FILE_SOURCES and task != "predict":
        _check_split_files(data, source, training=task == "train")
    check_columns(data.get("columns"), "data.columns")
    eval_sets = resolve_eval_sets(data)
    if source == "synthetic":
        for count in ("n_train", "n_eval"):
            check_synthetic(
                data["synthetic"][count],
                data["synthetic"]["unanswerable_fraction"],
                key="data.synthetic",
                count=count,
            )
    if task == "predict":
        _check_predict_file(data.get("predict_file"))
    elif data.get("predict_file"):
        # warned, not refused: one data preset may serve train.py and predict.py
        log.warning(
            "data.predict_file=%s is read by predict.py only; %s.py ignores it",
            data["predict_file"],
            task,
        )
    for key in ("max_train_samples", "max_eval_samples"):
        value = data.get(key)
        if value is not None and value <= 0:
            raise ConfigError(f"data.{key}={value} must be a positive number of examples or null")
    for key in ("batch_size", "eval_batch_size", "n_best_size", "max_answer_length"):
        if data[key] <= 0:
            raise ConfigError(f"data.{key}={data[key]} must be positive")
    return eval_sets


def _check_split_files(data: Mapping[str, Any], source: str, *, training: bool) -> None:
    """The train and validation files a file source needs (eval.py may score only
    ``data.eval_sets``; training always validates)."""
    required = ("train_file", "validation_file") if training else ()
    if not training and not data.get("eval_sets"):
        required = ("validation_file",)
    for key in required:
        if not data.get(key):
            raise ConfigError(f"data.{key} is required with data.source={source}")
    for key in ("train_file", "validation_file") if training else ("validation_file",):
        # a reader node is checked by its own check (loading.check_readers)
        value = data.get(key)
        if isinstance(value, str) and value and not Path(value).is_file():
            raise DataFileNotFoundError(f"data file not found: {value!r} (data.{key})")


def _check_predict_file(value: Any) -> None:
    if not value:
        raise ConfigError(
            "data.predict_file is required by predict.py: a SQuAD JSON (.json) or a "
            "jsonl/csv/parquet file with id, question and context"
        )
    if isinstance(value, str) and not Path(value).is_file():
        raise DataFileNotFoundError(f"data file not found: {value!r} (data.predict_file)")
