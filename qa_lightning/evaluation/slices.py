"""Slices of an evaluation set: which kinds of question a model gets wrong.

One overall F1 hides where a change helped or hurt. Each question gets a label in a few
families, and every slice (a family's label) gets its own EM, F1 and F1 interval. A family is
a :class:`Slice`: the built-ins label a question's wh-word, its answer's length, how many
windows its context needed and, on v2.0, whether it has an answer; a researcher's own is any
``Slice`` subclass named in ``evaluation.slices`` (a ``_target_`` node each). The families,
and each family's label order, travel with the scores into metrics.json, so the plots and the
compare command show a researcher's family as they show the built-ins.

Pure: no torch, no model, data or logger imports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qa_lightning.components import check_component, class_path
from qa_lightning.errors import ConfigError
from qa_lightning.evaluation.intervals import bootstrap_interval
from qa_lightning.evaluation.metric_names import RECORD_FIELDS


@dataclass(frozen=True)
class Question:
    """What the evaluator knows of one scored question: what a :class:`Slice` labels.

    ``answers`` are the gold texts as the set has them (empty: a v2.0 unanswerable question);
    ``windows`` how many windows the tokenizer split the context into (0: unknown, a
    predictions file scored without a tokenizer); ``prediction`` the
    model's answer ("" for no answer), for slices of the model's behaviour (e.g. answer
    length predicted).
    """

    question: str
    answers: tuple[str, ...]
    windows: int
    version_2: bool
    id: str = ""
    title: str = ""
    context: str = ""
    prediction: str = ""


class Slice:
    """One slice family: a name and a label for every question of a set.

    Subclass it, set ``name`` (the family, as metrics.json, per_question.jsonl, slices.png
    and ``qa-compare`` show it) and ``order`` (its labels' display order; labels not in it
    come after, sorted), and write :meth:`label`. A family that only makes sense on some sets
    says so in :meth:`applies`. Constructor keywords are the node's keys in
    ``evaluation.slices``.
    """

    name: str = ""
    order: tuple[str, ...] = ()
    # True for a family that labels by ``Question.windows``: left out where no tokenizer cut
    # the contexts (a predictions file scored without a model, ``eval.py predictions_file=``)
    needs_windows: bool = False

    def applies(self, version_2: bool) -> bool:
        """Whether the family labels a set (``version_2``: scored with the SQuAD 2.0 rules)."""
        return True

    def label(self, question: Question) -> str:
        """The label of one question (a short string)."""
        raise NotImplementedError(f"{type(self).__qualname__}.label")


# Whole words only: "however", "somehow", "somewhat", "whatever", "whoever", "whenever" and
# "know-how" are not wh-words here ("what's" is). The next word tells "how many/much" from "how".
_WH_WORD = re.compile(
    r"(?<![\w-])(what|whom|whose|who|when|where|which|why|how)(?![\w-])(?:\s+(\w+))?", re.I
)
_WH_LABEL = {"whom": "who", "whose": "who"}


def question_type(question: str) -> str:
    """The first wh-word anywhere in the question ("In what year ..." -> ``what``).

    ``whom``/``whose`` count as ``who``; ``how`` directly followed by ``many``/``much`` is
    ``how many/much``; a question without a wh-word is ``other``. A relative clause before
    the real question word wins ("The treaty, which ..., ended what war?" -> ``which``): the
    simple rule is kept because such questions are rare in SQuAD.
    """
    match = _WH_WORD.search(question)
    if match is None:
        return "other"
    word, following = match.group(1).lower(), (match.group(2) or "").lower()
    if word == "how" and following in ("many", "much"):
        return "how many/much"
    return _WH_LABEL.get(word, word)


def answer_length(golds: Sequence[str]) -> str:
    """Whitespace-separated words in the first gold answer: ``1``, ``2-3`` or ``4+``.

    Gold texts without any word are skipped; a question left with none (a SQuAD 2.0
    unanswerable question) is ``none``.
    """
    for gold in golds:
        words = len(gold.split())
        if words:
            return "1" if words == 1 else "2-3" if words <= 3 else "4+"
    return "none"


def window_count(n: int) -> str:
    """How many windows the question's context was split into: ``1``, ``2`` or ``3+``."""
    if n < 1:
        raise ValueError(f"a question has at least one window, got {n}")
    return "3+" if n >= 3 else str(n)


# -- the built-in families ----------------------------------------------------------------


class QuestionType(Slice):
    """``question_type``: the question's wh-word (:func:`question_type`)."""

    name = "question_type"
    order = ("what", "who", "when", "where", "which", "why", "how", "how many/much", "other")

    def label(self, question: Question) -> str:
        return question_type(question.question)


class AnswerLength(Slice):
    """``answer_length``: words in the first gold answer (:func:`answer_length`)."""

    name = "answer_length"
    order = ("1", "2-3", "4+", "none")

    def label(self, question: Question) -> str:
        return answer_length(question.answers)


class Windows(Slice):
    """``windows``: how many windows the context needed (:func:`window_count`)."""

    name = "windows"
    order = ("1", "2", "3+")
    needs_windows = True

    def label(self, question: Question) -> str:
        return window_count(question.windows)


class Answerable(Slice):
    """``answerable`` (v2.0 sets only), the official script's HasAns rule: the raw gold list
    is non-empty."""

    name = "answerable"
    order = ("has_answer", "no_answer")

    def applies(self, version_2: bool) -> bool:
        return version_2

    def label(self, question: Question) -> str:
        return "has_answer" if len(question.answers) > 0 else "no_answer"


BUILTIN_SLICES: tuple[type[Slice], ...] = (QuestionType, AnswerLength, Windows, Answerable)
DEFAULT_SLICES: tuple[Slice, ...] = tuple(kind() for kind in BUILTIN_SLICES)
# The built-in families' label orders (what older code imported; the compare command reads
# the order a run wrote into metrics.json instead).
SLICE_ORDER: dict[str, tuple[str, ...]] = {s.name: s.order for s in DEFAULT_SLICES}


def default_slice_nodes() -> list[dict[str, str]]:
    """``evaluation.slices``' default: the four built-ins as ``_target_`` nodes."""
    return [{"_target_": class_path(kind)} for kind in BUILTIN_SLICES]


# -- labels and scores ---------------------------------------------------------------------


def label_questions(
    questions: Sequence[Question],
    slices: Sequence[Slice] = DEFAULT_SLICES,
    *,
    version_2: bool,
    windows_known: bool = True,
) -> list[dict[str, str]]:
    """One ``{family: label}`` dict per question, in order, for the ``slices`` that apply to
    a set scored with ``version_2`` (without those that need window counts unless
    ``windows_known``)."""
    applying = [
        s for s in slices if s.applies(version_2) and (windows_known or not s.needs_windows)
    ]
    labels = []
    for question in questions:
        row = {}
        for family in applying:
            label = family.label(question)
            if not isinstance(label, str):
                raise TypeError(
                    f"slice {family.name!r} ({class_path(type(family))}) labelled question "
                    f"{question.id!r} with {label!r}; a label is a string"
                )
            row[family.name] = label
        labels.append(row)
    return labels


def slice_labels(
    questions: Sequence[str],
    golds: Sequence[Sequence[str]],
    windows: Sequence[int],
    *,
    version_2: bool,
    slices: Sequence[Slice] = DEFAULT_SLICES,
) -> list[dict[str, str]]:
    """:func:`label_questions` from the question texts, gold lists and window counts alone."""
    if not len(questions) == len(golds) == len(windows):
        raise ValueError(
            f"one entry per question expected: {len(questions)} questions, "
            f"{len(golds)} gold lists, {len(windows)} window counts"
        )
    records = [
        Question(question=q, answers=tuple(g), windows=int(n), version_2=version_2)
        for q, g, n in zip(questions, golds, windows, strict=True)
    ]
    return label_questions(records, slices, version_2=version_2)


def ordered(labels: Sequence[str] | set[str], order: Sequence[str]) -> list[str]:
    """``labels`` in display ``order``; those it does not name after them, sorted."""
    present = set(labels)
    return [x for x in order if x in present] + sorted(present - set(order))


def slice_scores(
    labels: Sequence[Mapping[str, str]],
    exact: np.ndarray,
    f1: np.ndarray,
    *,
    seed: int = 0,
    slices: Sequence[Slice] = DEFAULT_SLICES,
) -> dict[str, dict[str, dict]]:
    """family -> label -> ``{"count", "exact", "f1", "f1_ci"}`` (scores in percent).

    Families follow ``slices``, labels each family's ``order`` (the others after, sorted); a
    label no question has is left out, so the counts of each family add up to the number of
    questions. metrics.json keeps this order: it is the order every reader shows.
    """
    exact = np.asarray(exact, dtype=np.float64)
    f1 = np.asarray(f1, dtype=np.float64)
    if not len(labels) == exact.size == f1.size:
        raise ValueError(
            f"one score per question expected: {len(labels)} labels, "
            f"{exact.size} exact, {f1.size} f1"
        )
    scores: dict[str, dict[str, dict]] = {}
    for family in _families(labels, slices):
        column = np.array([label[family.name] for label in labels])
        scores[family.name] = {}
        for name in ordered(set(column.tolist()), family.order):
            members = column == name
            low, high = bootstrap_interval(f1[members], seed=seed)
            scores[family.name][name] = {
                "count": int(members.sum()),
                "exact": float(exact[members].mean()),
                "f1": float(f1[members].mean()),
                "f1_ci": [low, high],
            }
    return scores


def _families(labels: Sequence[Mapping[str, str]], slices: Sequence[Slice]) -> list[Slice]:
    """The ``slices`` every question is labelled with, in their order."""
    if not labels:
        return []
    present = set(labels[0])
    unknown = present - {s.name for s in slices}
    if unknown:
        raise ValueError(f"unknown slice families {sorted(unknown)}")
    if any(set(label) != present for label in labels):
        raise ValueError("every question must be labelled with the same slice families")
    return [s for s in slices if s.name in present]


# -- evaluation.slices -----------------------------------------------------------------------


def build_slices(specs: Sequence[Any] | None, key: str = "evaluation.slices") -> list[Slice]:
    """The :class:`Slice` of every node in ``specs`` (``None``: the built-ins), checked: each
    imports, is a ``Slice`` subclass and takes its keys, and the families' names are
    distinct strings that no per-question record field uses. A bad node fails in one line
    naming ``<key>[i]``. Cheap (no data): the entry points call it before anything loads."""
    if specs is None:
        return list(DEFAULT_SLICES)
    from hydra.utils import instantiate

    slices: list[Slice] = []
    seen: dict[str, str] = {}
    for i, spec in enumerate(specs):
        where = f"{key}[{i}]"
        check_component(where, spec, Slice, what="slice")
        node = dict(spec.items())
        try:
            family = instantiate(node, _convert_="all")
        except Exception as err:
            reason = " ".join(str(err).split())[:200]
            raise ConfigError(
                f"{where}: {node['_target_']} could not be built ({reason})"
            ) from None
        name = family.name
        if not isinstance(name, str) or not name or not name.isprintable():
            raise ConfigError(f"{where}: {node['_target_']} needs a name (the family), a string")
        if name in RECORD_FIELDS:
            raise ConfigError(
                f"{where}: the family name {name!r} is a per-question record field; "
                f"choose another (taken: {', '.join(RECORD_FIELDS)})"
            )
        if name in seen:
            raise ConfigError(f"{where}: the family {name!r} is {seen[name]}'s too; name it apart")
        seen[name] = where
        slices.append(family)
    return slices
