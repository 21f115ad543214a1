"""Answer questions with a saved model: the same windows and decoding as evaluation.

``Answerer``: lists of ``{question, context}`` answered in batches (the service's model).
``ExtractiveQAPipeline``: transformers 5 removed the ``question-answering`` pipeline task;
importing this package registers ours as ``extractive-question-answering``.
"""

from qa_lightning.inference.answerer import Answerer, DecodingSettings
from qa_lightning.inference.pipeline import (
    TASK,
    ExtractiveQAPipeline,
    qa_pipeline,
    register_pipeline,
)

__all__ = [
    "TASK",
    "Answerer",
    "DecodingSettings",
    "ExtractiveQAPipeline",
    "qa_pipeline",
    "register_pipeline",
]
