"""A slice of one's own: how many of the question's words the answer's sentence repeats.

Questions whose words appear around the answer can be solved by matching; low overlap
needs paraphrase or reasoning (Sugawara et al., EMNLP 2018, "What makes reading
comprehension questions easier?"). A model that gains only on high overlap learned to match.
"""

from __future__ import annotations

import re

from qa_lightning.evaluation.slices import Question, Slice

_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "by",
        "with",
        "from",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "which",
        "what",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "many",
        "much",
        "did",
        "does",
        "do",
    ]
)


class QuestionOverlap(Slice):
    """``question_overlap``: the share of the question's content words found in the
    sentence that holds the first gold answer: ``low`` (< ``low``), ``high`` (>= ``high``),
    else ``mid``; ``none`` for an unanswerable question."""

    name = "question_overlap"
    order = ("low", "mid", "high", "none")

    def __init__(self, low: float = 1 / 3, high: float = 2 / 3):
        if not 0 <= low <= high <= 1:
            raise ValueError(f"need 0 <= low <= high <= 1 (got low={low}, high={high})")
        self.low, self.high = low, high

    def label(self, question: Question) -> str:
        if not question.answers:
            return "none"
        words = _content_words(question.question)
        if not words:
            return "high"
        sentence = _sentence_with(question.context, question.answers[0])
        share = len(words & _content_words(sentence)) / len(words)
        return "low" if share < self.low else "high" if share >= self.high else "mid"


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS}


def _sentence_with(context: str, answer: str) -> str:
    """The first sentence of ``context`` holding ``answer`` (the whole context if none)."""
    for sentence in _SENTENCE_END.split(context):
        if answer in sentence:
            return sentence
    return context
