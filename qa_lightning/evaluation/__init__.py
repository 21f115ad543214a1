"""Postprocessing of QA logits, official SQuAD v1.1/v2.0 scoring, and per-set evaluation
(intervals, slices, per-question records).

The names below load on first use, so that the file-reading tools (the compare command
imports ``intervals`` and ``slices``) do not pull in torch through the evaluator.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "DecodingSettings": "evaluator",
    "EvaluationResult": "evaluator",
    "Evaluator": "evaluator",
    "CollectedLogits": "metric",
    "QALogitsCollector": "metric",
    "deduplicate": "metric",
    "evaluate_logits": "metric",
    "Postprocessed": "postprocessing",
    "postprocess": "postprocessing",
    "postprocess_predictions": "postprocessing",
    "normalize_answer": "scoring",
    "squad_scores": "scoring",
}

__all__ = [
    "CollectedLogits",
    "DecodingSettings",
    "EvaluationResult",
    "Evaluator",
    "Postprocessed",
    "QALogitsCollector",
    "deduplicate",
    "evaluate_logits",
    "normalize_answer",
    "postprocess",
    "postprocess_predictions",
    "squad_scores",
]

if TYPE_CHECKING:
    from qa_lightning.evaluation.evaluator import DecodingSettings, EvaluationResult, Evaluator
    from qa_lightning.evaluation.metric import (
        CollectedLogits,
        QALogitsCollector,
        deduplicate,
        evaluate_logits,
    )
    from qa_lightning.evaluation.postprocessing import (
        Postprocessed,
        postprocess,
        postprocess_predictions,
    )
    from qa_lightning.evaluation.scoring import normalize_answer, squad_scores


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value
