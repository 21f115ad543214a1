"""SQuAD v1.1 / v2.0 scoring that follows the official evaluation scripts' rules.

The rules reproduced here (and where v1.1 and v2.0 differ):

* Normalisation (both): lowercase, drop every character of ``string.punctuation``, replace
  the whole words ``a``/``an``/``the`` with a space, collapse whitespace. That is the rule
  of ``language="en"`` (the default); every other language (es, de, vi, ar, hi, zh) is
  normalised and tokenised by the MLQA evaluation script's rules: Unicode punctuation, the
  language's articles, and for zh one token per CJK character
  (:mod:`qa_lightning.evaluation.languages`). Only the normalisation depends on the
  language: the v1.1/v2.0 rules below are the same for all.
* v1.1: EM and F1 are maxima over *all* gold texts; token F1 is 0 whenever there is no
  common token, so an empty prediction scores 0 even against an empty gold answer.
* v2.0: gold texts that normalise to nothing are dropped and an example without any
  remaining gold text has the single gold answer ``""``; token F1 is
  ``int(gold_tokens == pred_tokens)`` when either side has no token, so ``""`` is the
  correct answer to an unanswerable question. ``HasAns`` means the raw answer list is
  non-empty (before the normalisation filter), exactly as in the official script.
* v2.0 with null odds (``na_probs`` in the official script): scores of examples whose odds
  exceed ``na_prob_thresh`` are replaced by "answered no-answer" before averaging, and
  ``best_exact``/``best_f1`` (+ thresholds) come from the official threshold walk.

Deliberate deviation, for both versions: a missing prediction is scored 0 and counted in
every total (the v1.1 script does this; the v2.0 script drops it from ``total`` and then
fails on the HasAns/NoAns splits). One warning reports how many were missing.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qa_lightning.evaluation.languages import check_language, normalizer

__all__ = [
    "normalize_answer",
    "get_tokens",
    "exact_match_v1",
    "f1_v1",
    "exact_match_v2",
    "f1_v2",
    "squad_scores",
    "per_question_scores",
    "scores_from_per_question",
    "PerQuestion",
    "find_best_threshold",
]


def normalize_answer(text: str, *, language: str = "en") -> str:
    """The answer normalised for scoring: for ``en`` the official SQuAD normalisation
    (lower, strip punctuation, drop articles, fix spaces), else the MLQA script's rules of
    ``language``; its whitespace-split tokens are the F1 tokens. An unknown language
    raises ``ValueError``."""
    return normalizer(language)(text)


def get_tokens(text: str, *, language: str = "en") -> list[str]:
    """Whitespace tokens of the normalised text (``[]`` for an empty string)."""
    normalize = normalizer(language)
    return normalize(text).split() if text else []


def _overlap_f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    common = Counter(pred_tokens) & Counter(gold_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_tokens)
    recall = num_same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match_v1(prediction: str, gold: str, *, language: str = "en") -> float:
    normalize = normalizer(language)
    return float(normalize(prediction) == normalize(gold))


def f1_v1(prediction: str, gold: str, *, language: str = "en") -> float:
    """v1.1 token F1: no special case for empty strings (no common token -> 0)."""
    normalize = normalizer(language)
    return _overlap_f1(normalize(prediction).split(), normalize(gold).split())


def exact_match_v2(prediction: str, gold: str, *, language: str = "en") -> float:
    normalize = normalizer(language)
    return float(normalize(gold) == normalize(prediction))


def f1_v2(prediction: str, gold: str, *, language: str = "en") -> float:
    """v2.0 token F1: if either side has no token, 1 when both are empty else 0."""
    gold_tokens = get_tokens(gold, language=language)
    pred_tokens = get_tokens(prediction, language=language)
    if not gold_tokens or not pred_tokens:
        return float(gold_tokens == pred_tokens)
    return _overlap_f1(pred_tokens, gold_tokens)


def _v2_gold_texts(texts: Iterable[str], *, language: str = "en") -> list[str]:
    normalize = normalizer(language)
    kept = [t for t in texts if normalize(t)]
    return kept or [""]


def _read_examples(examples: Any) -> tuple[list[str], list[list[str]]]:
    """ids and gold texts from a ``datasets.Dataset``, a column mapping or a list of rows."""
    if hasattr(examples, "select_columns") and hasattr(examples, "with_format"):
        table = examples.select_columns(["id", "answers"]).with_format("arrow")[:]
        ids = [str(i) for i in table.column("id").to_pylist()]
        answers = table.column("answers").to_pylist()
    elif isinstance(examples, Mapping):
        ids = [str(i) for i in examples["id"]]
        answers = list(examples["answers"])
    else:  # a sequence of row dicts
        ids = [str(row["id"]) for row in examples]
        answers = [row["answers"] for row in examples]
    golds = [list(a["text"]) if a is not None else [] for a in answers]
    return ids, golds


def score_prediction(
    prediction: str, golds: Sequence[str], *, version_2: bool, language: str = "en"
) -> tuple[float, float]:
    """(exact, f1) of one prediction, each 0..1: the best over the gold answers, normalised
    by ``language``'s rules."""
    if version_2:
        golds = _v2_gold_texts(golds, language=language)
        return (
            max(exact_match_v2(prediction, g, language=language) for g in golds),
            max(f1_v2(prediction, g, language=language) for g in golds),
        )
    if not golds:  # v1.1 has no rule for unanswerable questions: they score 0
        return 0.0, 0.0
    return (
        max(exact_match_v1(prediction, g, language=language) for g in golds),
        max(f1_v1(prediction, g, language=language) for g in golds),
    )


def find_best_threshold(
    qids: Sequence[str],
    raw_scores: np.ndarray,
    has_answer: np.ndarray,
    pred_nonempty: np.ndarray,
    null_odds: Mapping[str, float],
) -> tuple[float, float]:
    """The official v2.0 ``find_best_thresh``, vectorised.

    Start with every question answered "no answer" (score = number of NoAns questions),
    then walk the questions by increasing null odds (stable: ties keep ``null_odds``'s
    order), switching each to its prediction: HasAns adds its raw score, a NoAns question
    with a non-empty prediction loses 1. The best running score (first strict maximum)
    and the odds of the question where it was reached are returned; the score is a
    percentage of all scored questions.
    """
    total = len(qids)
    if total == 0:
        return 0.0, 0.0
    position = {q: i for i, q in enumerate(qids)}
    walk = [(position[q], float(v)) for q, v in null_odds.items() if q in position]
    num_no_ans = int(np.count_nonzero(~has_answer))
    if not walk:
        return 100.0 * num_no_ans / total, 0.0
    rows = np.array([r for r, _ in walk], dtype=np.int64)
    odds = np.array([v for _, v in walk], dtype=np.float64)
    order = np.argsort(odds, kind="stable")
    rows, odds = rows[order], odds[order]
    diff = np.where(has_answer[rows], raw_scores[rows], np.where(pred_nonempty[rows], -1.0, 0.0))
    # Prepending the start value keeps the additions in the script's exact order.
    running = np.cumsum(np.concatenate([[float(num_no_ans)], diff]))
    best = int(np.argmax(running))  # first maximum == the script's strict ">" update
    best_score = running[best]
    best_thresh = float(odds[best - 1]) if best > 0 else 0.0
    return 100.0 * float(best_score) / total, best_thresh


@dataclass
class PerQuestion:
    """Each question's official scores as fractions (EM 0 or 1, F1 0..1), in ``ids`` order.

    For v2 with null odds, ``exact``/``f1`` already carry the official no-answer override,
    so their means are the reported ``exact``/``f1``; ``raw_exact``/``raw_f1`` are the
    predictions' own scores, which the best-threshold walk needs.
    """

    ids: list[str]
    exact: np.ndarray
    f1: np.ndarray
    raw_exact: np.ndarray
    raw_f1: np.ndarray
    has_answer: np.ndarray
    pred_nonempty: np.ndarray


def per_question_scores(
    examples: Any,
    predictions: Mapping[str, str],
    *,
    version_2: bool,
    null_odds: Mapping[str, float] | None = None,
    na_prob_thresh: float = 1.0,
    language: str = "en",
) -> PerQuestion:
    """Official EM/F1 of every question (see :func:`squad_scores` for the arguments)."""
    check_language(language)  # refused even when there is nothing to score
    ids, golds = _read_examples(examples)
    total = len(ids)
    exact = np.zeros(total, dtype=np.float64)
    f1 = np.zeros(total, dtype=np.float64)
    has_answer = np.array([len(g) > 0 for g in golds], dtype=bool)
    pred_nonempty = np.zeros(total, dtype=bool)
    missing = 0
    for i, (qid, gold) in enumerate(zip(ids, golds, strict=True)):
        pred = predictions.get(qid)
        if pred is None:
            missing += 1
            continue
        pred_nonempty[i] = bool(pred)
        exact[i], f1[i] = score_prediction(pred, gold, version_2=version_2, language=language)
    if missing:
        warnings.warn(
            f"{missing} of {total} questions have no prediction; they score 0.",
            stacklevel=3,
        )
    exact_thr, f1_thr = exact, f1
    if version_2 and null_odds is not None:
        odds = np.array([null_odds.get(q, -np.inf) for q in ids], dtype=np.float64)
        forced_null = odds > na_prob_thresh
        null_score = (~has_answer).astype(np.float64)
        exact_thr = np.where(forced_null, null_score, exact)
        f1_thr = np.where(forced_null, null_score, f1)
    return PerQuestion(ids, exact_thr, f1_thr, exact, f1, has_answer, pred_nonempty)


def _percent(values: np.ndarray) -> float:
    """The official scripts' ``100.0 * sum / total``, in that order (bit for bit)."""
    return 100.0 * float(values.sum()) / len(values) if len(values) else 0.0


def squad_scores(
    examples: Any,
    predictions: Mapping[str, str],
    *,
    version_2: bool,
    null_odds: Mapping[str, float] | None = None,
    na_prob_thresh: float = 1.0,
    language: str = "en",
) -> dict[str, float | int]:
    """Official SQuAD EM/F1 (percentages) of ``predictions`` ({id: text}) on ``examples``.

    v1.1 returns ``exact``, ``f1``, ``total``. v2.0 adds ``HasAns_*``/``NoAns_*`` for the
    kinds present in ``examples`` and, when ``null_odds`` ({id: odds, higher = more likely
    unanswerable}, the official ``na_probs``) is given, applies the official no-answer
    threshold (``na_prob_thresh``, default 1.0 like the script) and adds ``best_exact``,
    ``best_exact_thresh``, ``best_f1``, ``best_f1_thresh``.

    ``language`` picks the answer normalisation: ``en`` (default) SQuAD's official rules,
    ``es``/``de``/``vi``/``ar``/``hi``/``zh`` the MLQA script's
    (:mod:`qa_lightning.evaluation.languages`); another value raises ``ValueError``.
    """
    per_question = per_question_scores(
        examples,
        predictions,
        version_2=version_2,
        null_odds=null_odds,
        na_prob_thresh=na_prob_thresh,
        language=language,
    )
    return scores_from_per_question(per_question, version_2=version_2, null_odds=null_odds)


def scores_from_per_question(
    pq: PerQuestion, *, version_2: bool, null_odds: Mapping[str, float] | None = None
) -> dict[str, float | int]:
    """The official aggregate scores of :func:`per_question_scores`' output."""
    total = len(pq.ids)
    out: dict[str, float | int] = {
        "exact": _percent(pq.exact),
        "f1": _percent(pq.f1),
        "total": total,
    }
    if not version_2:
        return out
    for prefix, mask in (("HasAns", pq.has_answer), ("NoAns", ~pq.has_answer)):
        if mask.any():
            out[f"{prefix}_exact"] = _percent(pq.exact[mask])
            out[f"{prefix}_f1"] = _percent(pq.f1[mask])
            out[f"{prefix}_total"] = int(mask.sum())
    if null_odds is not None:
        walk = (pq.ids, pq.has_answer, pq.pred_nonempty, null_odds)
        best_exact, best_exact_thresh = find_best_threshold(walk[0], pq.raw_exact, *walk[1:])
        best_f1, best_f1_thresh = find_best_threshold(walk[0], pq.raw_f1, *walk[1:])
        out["best_exact"] = best_exact
        out["best_exact_thresh"] = best_exact_thresh
        out["best_f1"] = best_f1
        out["best_f1_thresh"] = best_f1_thresh
    return out
