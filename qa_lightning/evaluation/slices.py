"""Slices of an evaluation set: which kinds of question a model gets wrong.

One overall F1 hides where a change helped or hurt. Each question gets a label in a few
families (its wh-word, its answer's length, how many windows its context needed, and on
v2.0 whether it has an answer), and every slice gets its own EM, F1 and F1 interval.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from qa_lightning.evaluation.intervals import bootstrap_interval

SLICE_ORDER: dict[str, tuple[str, ...]] = {
    "question_type": (
        "what",
        "who",
        "when",
        "where",
        "which",
        "why",
        "how",
        "how many/much",
        "other",
    ),
    "answer_length": ("1", "2-3", "4+", "none"),
    "windows": ("1", "2", "3+"),
    "answerable": ("has_answer", "no_answer"),  # v2.0 only
}

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


def slice_labels(
    questions: Sequence[str],
    golds: Sequence[Sequence[str]],
    windows: Sequence[int],
    *,
    version_2: bool,
) -> list[dict[str, str]]:
    """One ``{family: label}`` dict per question, in the order of ``questions``.

    ``answerable`` (v2.0 only) follows the official script's HasAns rule: the raw gold list
    is non-empty.
    """
    if not len(questions) == len(golds) == len(windows):
        raise ValueError(
            f"one entry per question expected: {len(questions)} questions, "
            f"{len(golds)} gold lists, {len(windows)} window counts"
        )
    labels = []
    for question, gold, n_windows in zip(questions, golds, windows, strict=True):
        label = {
            "question_type": question_type(question),
            "answer_length": answer_length(gold),
            "windows": window_count(n_windows),
        }
        if version_2:
            label["answerable"] = "has_answer" if len(gold) > 0 else "no_answer"
        labels.append(label)
    return labels


def slice_scores(
    labels: Sequence[Mapping[str, str]],
    exact: np.ndarray,
    f1: np.ndarray,
    *,
    seed: int = 0,
) -> dict[str, dict[str, dict]]:
    """family -> label -> ``{"count", "exact", "f1", "f1_ci"}`` (scores in percent).

    Families and labels follow ``SLICE_ORDER``; a label no question has is left out, so the
    counts of each family add up to the number of questions.
    """
    exact = np.asarray(exact, dtype=np.float64)
    f1 = np.asarray(f1, dtype=np.float64)
    if not len(labels) == exact.size == f1.size:
        raise ValueError(
            f"one score per question expected: {len(labels)} labels, "
            f"{exact.size} exact, {f1.size} f1"
        )
    families = _families(labels)
    scores: dict[str, dict[str, dict]] = {}
    for family in families:
        column = np.array([label[family] for label in labels])
        unknown = set(column) - set(SLICE_ORDER[family])
        if unknown:
            raise ValueError(f"unknown {family} labels {sorted(unknown)}")
        scores[family] = {}
        for name in SLICE_ORDER[family]:
            members = column == name
            if not members.any():
                continue
            low, high = bootstrap_interval(f1[members], seed=seed)
            scores[family][name] = {
                "count": int(members.sum()),
                "exact": float(exact[members].mean()),
                "f1": float(f1[members].mean()),
                "f1_ci": [low, high],
            }
    return scores


def _families(labels: Sequence[Mapping[str, str]]) -> list[str]:
    """The families every question is labelled with, in ``SLICE_ORDER`` order."""
    if not labels:
        return []
    present = set(labels[0])
    unknown = present - set(SLICE_ORDER)
    if unknown:
        raise ValueError(f"unknown slice families {sorted(unknown)}")
    if any(set(label) != present for label in labels):
        raise ValueError("every question must be labelled with the same slice families")
    return [family for family in SLICE_ORDER if family in present]
