"""Slice families as a researcher writes them in their own package: named by ``_target_`` in
``evaluation.slices``, nothing in qa_lightning edited (the tests' stand-in for their module)."""

from __future__ import annotations

from qa_lightning.evaluation.slices import Question, Slice


class QuestionLength(Slice):
    """``question_length``: ``short`` (up to ``short_words`` words) or ``long``."""

    name = "question_length"
    order = ("short", "long")  # not alphabetical: the display order must survive

    def __init__(self, short_words: int = 4):
        self.short_words = short_words

    def label(self, question: Question) -> str:
        return "short" if len(question.question.split()) <= self.short_words else "long"


class AnswerGiven(Slice):
    """Whether the model answered (the prediction reaches a slice); its name is a keyword."""

    def __init__(self, name: str = "answer_given"):
        self.name = name

    def label(self, question: Question) -> str:
        return "answered" if question.prediction else "abstained"


class ContextTitle(Slice):
    """The article's title, v2 sets only; no ``order``: labels sorted."""

    name = "title"

    def applies(self, version_2: bool) -> bool:
        return version_2

    def label(self, question: Question) -> str:
        return question.title


class NotASlice:
    name = "nothing"

    def label(self, question: Question) -> str:
        return "x"


class NamedLikeARecordField(QuestionLength):
    name = "prediction"


class NumberLabel(Slice):
    name = "number"

    def label(self, question: Question) -> str:
        return len(question.question)  # type: ignore[return-value]  # not a string: refused
