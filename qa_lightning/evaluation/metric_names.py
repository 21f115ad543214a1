"""The names an evaluation produces, in one place: what a set logs, what a per-question record
holds, and the start-up check that ``optimized_metric`` and every ``monitor`` name one of them.

Everything that needs a metric's name reads it here: the config checks below, the compare
tables (``compare/table.py``) and paired tests (``compare/paired.py``). Pure and light (no
torch), so the compare command can import it. ``tests/evaluation/test_evaluator.py`` holds the
catalogue to what a real :class:`~qa_lightning.evaluation.evaluator.EvaluationResult` logs.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from qa_lightning.errors import ConfigError

# The official scores of a set (qa_lightning.evaluation.scoring), under val/ (the validation
# set) or eval/<name>/ (a data.eval_sets entry); v2 sets add the HasAns/NoAns split and the
# best-threshold scores.
SET_SCORES = ("exact", "f1", "total")
SET_SCORES_V2 = (
    "HasAns_exact",
    "HasAns_f1",
    "HasAns_total",
    "NoAns_exact",
    "NoAns_f1",
    "NoAns_total",
    "best_exact",
    "best_exact_thresh",
    "best_f1",
    "best_f1_thresh",
)
# The scores with a bootstrap interval over questions, logged as <score>_ci_low/_ci_high.
SET_INTERVALS = ("exact", "f1")
SET_INTERVALS_V2 = ("HasAns_f1", "NoAns_f1")
# Selective answering (qa_lightning.evaluation.selective), from each question's confidence
# (the probability of its answer): logged by every set a model scored, percent.
SET_SELECTIVE = ("aurc", "coverage_at_80", "coverage_at_90", "ece")
SET_SELECTIVE_INTERVALS = ("aurc",)
# The scores a runs table shows (when any run has them), in this order.
HEADLINE_SCORES = ("exact", "f1", "HasAns_f1", "NoAns_f1", "best_exact", "best_f1")
# What training logs (QAModule.training_step: on step and epoch, both seen by callbacks).
TRAIN_METRICS = ("train/loss", "train/loss_step", "train/loss_epoch")

# One line of per_question.jsonl: these fields, then one per slice family (its label).
RECORD_FIELDS = (
    "id",
    "question",
    "gold_answers",
    "prediction",
    "exact",
    "f1",
    "has_answer",
    "null_odds",
    "confidence",
)
RECORD_SCORES = ("f1", "exact")  # the per-question scores every record carries (percent)


def set_metrics(prefix: str, *, version_2: bool) -> list[str]:
    """The metric names one evaluation set logs under ``prefix`` (``val``, ``eval/<name>``)."""
    scores = SET_SCORES + (SET_SCORES_V2 if version_2 else ())
    intervals = SET_INTERVALS + (SET_INTERVALS_V2 if version_2 else ())
    bounds = [f"{key}_ci_{end}" for key in intervals for end in ("low", "high")]
    selective = [
        *SET_SELECTIVE,
        *(f"{key}_ci_{end}" for key in SET_SELECTIVE_INTERVALS for end in ("low", "high")),
    ]
    return [f"{prefix}/{name}" for name in (*scores, *bounds, *selective)]


def logged_metrics(
    data: Mapping[str, Any], *, fitting: bool, eval_sets: Mapping[str, Any] | None = None
) -> list[str]:
    """The metrics a training run logs. ``fitting``: those its callbacks (checkpoint, early
    stopping) can monitor, ``train/loss`` and the validation set's; otherwise those of the
    final evaluation, the validation set's and every ``data.eval_sets`` entry's
    (``eval_sets``: those entries as the start check resolved them; None: read here)."""
    if eval_sets is None:
        from qa_lightning.config import parse_eval_sets  # here: the compare tables need no Hydra

        eval_sets = parse_eval_sets(data)
    version_2 = bool(data.get("version_2"))
    names = set_metrics("val", version_2=version_2)
    if fitting:
        return [*TRAIN_METRICS, *names]
    for name, spec in eval_sets.items():
        set_v2 = version_2 if spec.version_2 is None else bool(spec.version_2)
        names += set_metrics(f"eval/{name}", version_2=set_v2)
    return names


def check_metric(key: str, metric: str, allowed: Sequence[str]) -> None:
    """``metric`` (the value of ``key``) must be one of the ``allowed`` names."""
    if metric in allowed:
        return
    close = difflib.get_close_matches(str(metric), allowed, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ConfigError(
        f"{key}={metric!r} is not a metric this run logs{hint}; use one of {', '.join(allowed)}"
    )


def check_metric_names(cfg: Mapping[str, Any], eval_sets: Mapping[str, Any] | None = None) -> None:
    """``optimized_metric`` names a metric the final evaluation logs, and every callback's
    ``monitor`` (``callbacks.*``, ``callbacks.extra.*``) one logged while fitting."""
    data = cfg["data"]
    if cfg.get("optimized_metric") is not None:
        allowed = logged_metrics(data, fitting=False, eval_sets=eval_sets)
        check_metric("optimized_metric", cfg["optimized_metric"], allowed)
    callbacks = cfg.get("callbacks")
    if callbacks is None:
        return
    entries = {k: v for k, v in callbacks.items() if k != "extra" and v is not None}
    entries.update({f"extra.{k}": v for k, v in (callbacks.get("extra") or {}).items()})
    allowed = logged_metrics(data, fitting=True)
    for name, spec in entries.items():
        if isinstance(spec, Mapping) and spec.get("monitor") is not None:
            check_metric(f"callbacks.{name}.monitor", spec["monitor"], allowed)
