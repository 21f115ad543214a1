"""Postprocessing of QA logits and official SQuAD v1.1/v2.0 scoring."""

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
    "Postprocessed",
    "QALogitsCollector",
    "deduplicate",
    "evaluate_logits",
    "normalize_answer",
    "postprocess",
    "postprocess_predictions",
    "squad_scores",
]
