"""Postprocessing of QA logits, official SQuAD v1.1/v2.0 scoring, and per-set evaluation
(intervals, slices, per-question records)."""

from qa_lightning.evaluation.evaluator import (
    DecodingSettings,
    EvaluationResult,
    Evaluator,
)
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
