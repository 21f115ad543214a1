"""The config values the evaluation layer owns, checked once per entry point before anything
loads: ``evaluation.slices`` (each node a :class:`~qa_lightning.evaluation.slices.Slice`),
``optimized_metric`` and every callback ``monitor`` (names the evaluation logs).

They live here, beside the names and classes they check, because the config schema
(``qa_lightning.config``, the foundation) may not import the evaluation layer; train.py and
eval.py call :func:`check_evaluation` once, from ``cli/checks.py:check_run``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qa_lightning.evaluation.metric_names import check_metric_names
from qa_lightning.evaluation.slices import build_slices


def check_evaluation(cfg: Mapping[str, Any], eval_sets: Mapping[str, Any] | None = None) -> None:
    """A one-line :class:`~qa_lightning.errors.ConfigError` naming the key, or nothing.
    ``eval_sets``: ``data.eval_sets`` as resolved by the data side's check (None: read here)."""
    build_slices((cfg.get("evaluation") or {}).get("slices"))
    check_metric_names(cfg, eval_sets)
