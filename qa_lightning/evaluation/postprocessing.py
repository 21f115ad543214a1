"""Turn per-window start/end logits into answer texts, n-best lists and (v2) null odds.

Three steps, one function each: the n-best span search of every example
(:mod:`~qa_lightning.evaluation.span_search`, Hugging Face's ``postprocess_qa_predictions``
rule), the v2 null score of every example (``start[cls] + end[cls]`` of a window, the
*minimum* over its windows), then the answers (``""`` when ``null - best_non_null >
null_score_diff_threshold``) and the n-best lists. All but building the texts and n-best
dicts is vectorised over every window at once, in float32 whatever the precision of the
logits (float64 input stays float64). The columns are read once
(:mod:`~qa_lightning.evaluation.feature_arrays`).

Differences from the Hugging Face code, all in corner cases:
* padding positions (past a row's length) never take part in the top-k;
* the null token is ``cls_index`` of the window rather than position 0;
* v2 compares the null with the best candidate whose text is not empty (as HF's loop
  does) among the example's n best non-null candidates;
* an example without any valid span predicts ``""`` (HF inserts the text ``"empty"``);
  its null odds are then ``null_score - 0`` as in HF (its placeholder has zero logits),
  or ``0.0`` when the example has no window at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qa_lightning.evaluation.feature_arrays import (
    FeatureArrays,
    logits_to_numpy,
    read_feature_arrays,
    read_ids_and_contexts,
)
from qa_lightning.evaluation.span_search import Candidates, example_candidates

__all__ = [
    "Postprocessed",
    "FeatureArrays",
    "read_feature_arrays",
    "read_ids_and_contexts",
    "logits_to_numpy",
    "postprocess",
    "postprocess_arrays",
    "postprocess_predictions",
]


@dataclass
class Postprocessed:
    """Output of :func:`postprocess`.

    ``predictions``: {example id: answer text}. ``nbest``: {example id: candidates sorted by
    score, each ``{"text", "start", "end", "probability", "start_logit", "end_logit"}``
    with ``start``/``end`` the answer's character span in the context} (empty when
    ``with_nbest=False``). ``null_odds``: {example id: null score - best span score}
    (v2 only; empty for v1), the ``na_probs`` of the official v2.0 script.
    """

    predictions: dict[str, str]
    nbest: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    null_odds: dict[str, float] = field(default_factory=dict)


@dataclass
class _NullScores:
    """The null score ``start[cls] + end[cls]`` of every window (``start`` and ``end`` its
    two logits) and, per example, the row of its window with the lowest (``-1``: none)."""

    start: np.ndarray
    end: np.ndarray
    window: np.ndarray
    row: np.ndarray


def _null_scores(
    start: np.ndarray, end: np.ndarray, feats: FeatureArrays, num_examples: int
) -> _NullScores:
    """v2's null score of every example: the minimum over its windows (first on ties)."""
    rows = np.arange(len(feats))
    win_null_s = start[rows, feats.cls_index] if len(feats) else np.zeros(0, start.dtype)
    win_null_e = end[rows, feats.cls_index] if len(feats) else np.zeros(0, end.dtype)
    win_null = win_null_s + win_null_e
    null_row = np.full(num_examples, -1, dtype=np.int64)
    if len(feats):
        ex_of_row = feats.example_index
        by_null = np.lexsort((rows, win_null, ex_of_row))
        ex_sorted = ex_of_row[by_null]
        first = np.ones(len(by_null), dtype=bool)
        first[1:] = ex_sorted[1:] != ex_sorted[:-1]
        null_row[ex_sorted[first]] = by_null[first]
    return _NullScores(win_null_s, win_null_e, win_null, null_row)


def _answers(
    example_ids: Sequence[str],
    contexts: Sequence[str],
    cands: Candidates,
    nulls: _NullScores,
    *,
    version_2: bool,
    null_score_diff_threshold: float,
) -> tuple[dict[str, str], dict[str, float]]:
    """(predictions, null odds) of every example, vectorised: v1 its best candidate; v2 its
    best candidate with a non-empty text (HF skips empty texts when choosing vs. null),
    against the null score."""
    num_examples = len(example_ids)
    cand, cand_ex = cands.spans, cands.example
    group_start, group_end = cands.group_start, cands.group_end
    n_windows = len(nulls.window)
    nonempty = cand["char_end"] > cand["char_start"]
    big = len(cand_ex)
    first_nonempty = np.full(num_examples, big, dtype=np.int64)
    np.minimum.at(first_nonempty, cand_ex[nonempty], np.flatnonzero(nonempty))

    pick = first_nonempty if version_2 else group_start
    found = pick < group_end
    safe = np.where(found, pick, 0) if big else np.zeros(num_examples, dtype=np.int64)
    answered = found
    if version_2:
        has_null = nulls.row >= 0
        null_score = (
            nulls.window[np.where(has_null, nulls.row, 0)]
            if n_windows
            else np.zeros(num_examples, dtype=nulls.window.dtype)
        )
        if big:
            # HF's order of operations: null - start_logit - end_logit, in the logits' dtype
            with_span = null_score - cand["start_logit"][safe] - cand["end_logit"][safe]
            diff = np.where(found, with_span, null_score)  # no span with text: HF's 0 logits
        else:
            diff = null_score
        diff = np.where(has_null, diff, 0.0)
        answered = found & ~(diff > null_score_diff_threshold)
        null_odds = dict(zip(example_ids, diff.tolist(), strict=True))
    else:
        null_odds = {}
    if big:
        char_start = np.where(answered, cand["char_start"][safe], 0).tolist()
        char_end = np.where(answered, cand["char_end"][safe], 0).tolist()
    else:
        char_start = char_end = [0] * num_examples
    # an unanswered example slices [0:0], the empty answer
    texts = [c[a:b] for c, a, b in zip(contexts, char_start, char_end, strict=True)]
    return dict(zip(example_ids, texts, strict=True)), null_odds


def _nbest_lists(
    example_ids: Sequence[str],
    contexts: Sequence[str],
    cands: Candidates,
    nulls: _NullScores,
    *,
    version_2: bool,
    n_best_size: int,
) -> dict[str, list[dict[str, Any]]]:
    """n-best lists, as HF builds them: the example's n best candidates; for v2 its null
    entry goes in by score (after equal scores: HF appends it before a stable sort) and
    stays even when it falls outside the n best. Probabilities are a softmax over each
    list's scores, computed for all lists at once."""
    num_examples = len(example_ids)
    cand, cand_ex = cands.spans, cands.example
    group_start, group_end = cands.group_start, cands.group_end
    n_windows = len(nulls.window)
    null_row = nulls.row
    count = group_end - group_start
    rank = np.arange(len(cand_ex)) - group_start[cand_ex]
    has_null = (null_row >= 0) if version_2 else np.zeros(num_examples, dtype=bool)
    null_score = (
        nulls.window[np.where(has_null, null_row, 0)] if n_windows else np.zeros(num_examples)
    )
    null_score = null_score.astype(np.float64)
    ahead_of_null = cand["score"] >= null_score[cand_ex] if n_windows else np.zeros(0, bool)
    null_pos = np.bincount(cand_ex[ahead_of_null], minlength=num_examples)
    drop_last = has_null & (count + 1 > n_best_size) & (null_pos < n_best_size)
    listed = rank < (count - drop_last)[cand_ex]
    scores = cand["score"].astype(np.float64)
    top = np.full(num_examples, -np.inf)
    top[count > 0] = scores[group_start[count > 0]]
    top = np.where(has_null, np.maximum(top, null_score), top)
    weight = np.where(listed, np.exp(scores - top[cand_ex]), 0.0)
    # exp(-inf) = 0 where there is no null: no overflow warning from a meaningless difference
    null_weight = np.exp(np.where(has_null, null_score - top, -np.inf))
    total = np.bincount(cand_ex, weight, minlength=num_examples) + null_weight
    prob = (weight / np.where(total > 0, total, 1.0)[cand_ex]).tolist()
    null_prob = (null_weight / np.where(total > 0, total, 1.0)).tolist()

    cs = cand["char_start"].tolist()
    ce = cand["char_end"].tolist()
    sl = cand["start_logit"].tolist()
    el = cand["end_logit"].tolist()
    g0 = group_start.tolist()
    n_listed = (count - drop_last).tolist()
    null_at = np.minimum(null_pos, count - drop_last).tolist()
    nbest: dict[str, list[dict[str, Any]]] = {}
    for ex in range(num_examples):
        context = contexts[ex]
        a = g0[ex]
        entries = [
            {
                "text": context[cs[i] : ce[i]],
                "start": cs[i],
                "end": ce[i],
                "start_logit": sl[i],
                "end_logit": el[i],
                "probability": prob[i],
            }
            for i in range(a, a + n_listed[ex])
        ]
        if has_null[ex]:
            nr = null_row[ex]
            null_entry = {
                "text": "",
                "start": 0,
                "end": 0,
                "start_logit": float(nulls.start[nr]),
                "end_logit": float(nulls.end[nr]),
                "probability": null_prob[ex],
            }
            entries.insert(null_at[ex], null_entry)
        if not entries:
            entries = [
                {
                    "text": "",
                    "start": 0,
                    "end": 0,
                    "start_logit": 0.0,
                    "end_logit": 0.0,
                    "probability": 1.0,
                }
            ]
        nbest[example_ids[ex]] = entries
    return nbest


def postprocess_arrays(
    example_ids: Sequence[str],
    contexts: Sequence[str],
    feats: FeatureArrays,
    start_logits: Any,
    end_logits: Any,
    *,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    version_2: bool = False,
    null_score_diff_threshold: float = 0.0,
    with_nbest: bool = True,
) -> Postprocessed:
    """:func:`postprocess` on already-read columns (``feats`` indexes ``example_ids``)."""
    if n_best_size < 1 or max_answer_length < 1:
        raise ValueError("n_best_size and max_answer_length must be >= 1")
    num_examples = len(example_ids)
    if len(contexts) != num_examples:
        raise ValueError("example_ids and contexts differ in length")
    ex_of_row = feats.example_index
    if len(ex_of_row) and (ex_of_row.min() < 0 or ex_of_row.max() >= num_examples):
        raise ValueError("a feature's example_index points outside the examples")
    start = logits_to_numpy(start_logits, feats.lengths)
    end = logits_to_numpy(end_logits, feats.lengths)
    cands = example_candidates(
        start,
        end,
        feats,
        num_examples,
        n_best_size=n_best_size,
        max_answer_length=max_answer_length,
        answers_only=not with_nbest,
        version_2=version_2,
    )
    nulls = _null_scores(start, end, feats, num_examples)
    predictions, null_odds = _answers(
        example_ids,
        contexts,
        cands,
        nulls,
        version_2=version_2,
        null_score_diff_threshold=null_score_diff_threshold,
    )
    if not with_nbest:
        return Postprocessed(predictions=predictions, null_odds=null_odds)
    nbest = _nbest_lists(
        example_ids, contexts, cands, nulls, version_2=version_2, n_best_size=n_best_size
    )
    return Postprocessed(predictions=predictions, nbest=nbest, null_odds=null_odds)


def postprocess(
    examples: Any,
    features: Any,
    start_logits: Any,
    end_logits: Any,
    *,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    version_2: bool = False,
    null_score_diff_threshold: float = 0.0,
    with_nbest: bool = True,
) -> Postprocessed:
    """Answers, n-best lists and (v2) null odds for every example.

    ``features`` are the eval features (one row per window, unpadded); ``start_logits`` and
    ``end_logits`` are aligned with them: a 2-D array/tensor whose rows may be padded past
    the row length, or a list of 1-D arrays. Any float precision; computed in float32.
    """
    feats = read_feature_arrays(features)
    ids, contexts = read_ids_and_contexts(examples)
    return postprocess_arrays(
        ids,
        contexts,
        feats,
        start_logits,
        end_logits,
        n_best_size=n_best_size,
        max_answer_length=max_answer_length,
        version_2=version_2,
        null_score_diff_threshold=null_score_diff_threshold,
        with_nbest=with_nbest,
    )


def postprocess_predictions(
    examples: Any,
    features: Any,
    start_logits: Any,
    end_logits: Any,
    *,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    version_2: bool = False,
    null_score_diff_threshold: float = 0.0,
) -> dict[str, str]:
    """{example id: answer text}; see :func:`postprocess` (n-best lists are not built)."""
    return postprocess(
        examples,
        features,
        start_logits,
        end_logits,
        n_best_size=n_best_size,
        max_answer_length=max_answer_length,
        version_2=version_2,
        null_score_diff_threshold=null_score_diff_threshold,
        with_nbest=False,
    ).predictions
