"""Turn per-window start/end logits into answer texts (n-best search, v2 null score).

The selection rule is Hugging Face's ``postprocess_qa_predictions`` (run_qa): in every
window take the ``n_best_size`` best start and end positions, keep the pairs whose tokens
both lie in the context with ``start <= end`` and ``end - start + 1 <= max_answer_length``,
score a pair by ``start_logit + end_logit`` and keep the ``n_best_size`` best candidates
over all windows of the example. For SQuAD v2.0 the null score of a window is
``start[cls] + end[cls]`` and the example's null score is the *minimum* over its windows;
the prediction is ``""`` when ``null - best_non_null > null_score_diff_threshold``.

Everything up to the final text slicing runs on all windows at once: ``torch.topk`` for
the best starts and ends of every window, a broadcast k x k pair score with invalid pairs at
-inf, one argsort to rank the candidates of each example; in float32 whatever the precision
of the logits (float64 input stays float64). Answers alone (:func:`postprocess_predictions`)
keep only each window's best pair instead of its n best, which gives the same answers
unless a v2 answer must skip spans with empty texts (zero-width offsets); then the n best
are ranked as for n-best lists. Only building the texts and n-best dicts loops in Python.

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import torch

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

# Rows handled per numpy step; bounds the k x k candidate tensors' memory.
_CHUNK_ROWS = 2048


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
class FeatureArrays:
    """The feature columns postprocessing needs, as flat numpy arrays.

    Token offsets stay flat: the character span of token ``t`` of feature ``i`` is
    ``char_start[row_start[i] + t]`` to ``char_end[row_start[i] + t]`` (``-1`` for
    non-context tokens), ``t < lengths[i]``, so selecting features never copies them.
    """

    example_index: np.ndarray
    cls_index: np.ndarray
    lengths: np.ndarray
    row_start: np.ndarray
    char_start: np.ndarray
    char_end: np.ndarray

    def __len__(self) -> int:
        return len(self.example_index)

    def take(self, rows: np.ndarray) -> FeatureArrays:
        return FeatureArrays(
            self.example_index[rows],
            self.cls_index[rows],
            self.lengths[rows],
            self.row_start[rows],
            self.char_start,
            self.char_end,
        )

    def chars_at(self, lo: int, hi: int, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(char_start, char_end) of token ``positions`` (rows, k) of features ``lo:hi``.

        Positions past a row's length read some other token: callers mask them out.
        """
        if len(self.char_start) == 0:
            missing = np.full(positions.shape, -1, dtype=np.int64)
            return missing, missing
        flat = self.row_start[lo:hi, None] + positions
        np.minimum(flat, len(self.char_start) - 1, out=flat)
        return self.char_start.take(flat), self.char_end.take(flat)


def read_feature_arrays(features: Any) -> FeatureArrays:
    """Read ``example_index``, ``cls_index`` and ``offset_mapping`` once, column-wise.

    Accepts a ``datasets.Dataset`` (read through Arrow, without a Python loop over rows or
    tokens) or a mapping of column name -> per-row values.
    """
    if hasattr(features, "select_columns") and hasattr(features, "with_format"):
        columns = ["example_index", "cls_index", "offset_mapping"]
        table = features.with_format("arrow", columns=columns)[:]
        example_index = table.column("example_index").to_numpy().astype(np.int64)
        cls_index = table.column("cls_index").to_numpy().astype(np.int64)
        outer = table.column("offset_mapping").combine_chunks()
        lengths = outer.value_lengths().to_numpy(zero_copy_only=False)
        lengths = lengths.astype(np.int64, copy=False)
        flat = outer.flatten().flatten().to_numpy(zero_copy_only=False)
        flat = flat.astype(np.int64, copy=False)
    elif isinstance(features, Mapping):
        example_index = np.asarray(features["example_index"], dtype=np.int64)
        cls_index = np.asarray(features["cls_index"], dtype=np.int64)
        rows = list(features["offset_mapping"])
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        flat = np.asarray([v for r in rows for pair in r for v in pair], dtype=np.int64)
    else:
        raise TypeError(f"unsupported features type: {type(features).__name__}")
    if flat.size != 2 * int(lengths.sum()):
        raise ValueError("offset_mapping must hold one [start_char, end_char] pair per token")
    row_start = np.cumsum(lengths) - lengths
    pairs = flat.reshape(-1, 2)
    return FeatureArrays(
        example_index,
        cls_index,
        lengths,
        row_start,
        np.ascontiguousarray(pairs[:, 0]),
        np.ascontiguousarray(pairs[:, 1]),
    )


def _to_float32(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor (float16/bfloat16 have no numpy twin for bf16)
        x = x.detach().to("cpu").float().numpy()
    arr = np.asarray(x)
    if arr.dtype != np.float64:  # keep float64 as given; widen everything else
        arr = arr.astype(np.float32, copy=False)
    return arr


def logits_to_numpy(logits: Any, lengths: np.ndarray) -> np.ndarray:
    """(num_features, >= W) float array of the logits, W the longest feature.

    ``logits`` is a 2-D array/tensor (rows padded to a common width >= each row's length;
    returned without a copy when it is already float32/float64 numpy) or a sequence of 1-D
    arrays/tensors. What lies past a row's length is never read as a candidate.
    """
    n = len(lengths)
    width = int(lengths.max()) if n else 0
    if getattr(logits, "ndim", None) == 2:
        arr = _to_float32(logits)
        if arr.shape[0] != n:
            raise ValueError(f"logits have {arr.shape[0]} rows for {n} features")
        if arr.shape[1] < width:
            raise ValueError(f"logits are {arr.shape[1]} wide but a feature has {width} tokens")
        return arr
    rows = [_to_float32(r).reshape(-1) for r in logits]
    if len(rows) != n:
        raise ValueError(f"{len(rows)} logit rows for {n} features")
    dtype = np.result_type(np.float32, *(r.dtype for r in rows)) if rows else np.float32
    out = np.full((n, width), -np.inf, dtype=dtype)
    for i, r in enumerate(rows):
        if len(r) < lengths[i]:
            raise ValueError(f"logit row {i} is shorter than its feature")
        out[i, : lengths[i]] = r[: lengths[i]]
    return out


def _top_k_desc(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(values, column indices) of the k largest values of every row, best first.

    ``torch.topk`` rather than ``np.argpartition``: numpy partitions row by row, which on
    (windows x max_length) logits costs ~50x a pass over them; topk runs one fused kernel.
    """
    k = min(k, x.shape[1])
    if x.numel() == 0:
        return x[:, :k], torch.zeros((x.shape[0], k), dtype=torch.long)
    return torch.topk(x, k, dim=1, largest=True, sorted=True)


def _top_k_first_of_ties(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_top_k_desc`, but among values equal to the k-th it keeps the first columns.

    ``torch.topk`` picks arbitrarily among ties at the k-th value, so the n-best search
    could keep later pairs of the double loop than the answers-only ``max`` (which returns
    the first) and the two paths answered differently (e.g. on all-equal logits). Only rows
    with a tie across the cut are redone, with a stable sort; a finite cut only: pairs at
    ``-inf`` are dropped anyway.
    """
    values, index = _top_k_desc(x, k)
    if values.numel() == 0:
        return values, index
    cut = values[:, -1:]
    tie_across_cut = (x >= cut).sum(dim=1) > values.shape[1]
    redo = (tie_across_cut & (cut[:, 0] > -torch.inf)).nonzero().squeeze(1)
    if len(redo):
        v, i = torch.sort(x[redo], dim=1, descending=True, stable=True)
        values[redo], index[redo] = v[:, : values.shape[1]], i[:, : values.shape[1]]
    return values, index


def _top_k_within_length(
    x: np.ndarray, lengths: np.ndarray, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_top_k_desc` over the positions ``< lengths`` of every row (-inf beyond).

    The top k of a whole row is already the answer when it picks no position past the
    row's length; only the rows where it does (rows shorter than k, large logits on
    padding) are masked and redone. This saves a masked copy of every logit.
    """
    x_t = torch.from_numpy(x)
    values, index = _top_k_desc(x_t, k)
    length_t = torch.from_numpy(lengths)
    redo = (index >= length_t[:, None]).any(dim=1).nonzero().squeeze(1)
    if len(redo):
        padding = torch.arange(x.shape[1])[None, :] >= length_t[redo, None]
        values[redo], index[redo] = _top_k_desc(x_t[redo].masked_fill(padding, -torch.inf), k)
    return values, index


def _window_candidates(
    start: np.ndarray,
    end: np.ndarray,
    feats: FeatureArrays,
    n_best_size: int,
    max_answer_length: int,
    best_only: bool = False,
) -> tuple[dict[str, np.ndarray], bool]:
    """The (up to) ``n_best_size`` best valid spans of every window, flattened, and whether
    any valid span has an empty text.

    The k x k pair scores are built in torch (elementwise work on all cores), with invalid
    positions and pairs at ``-inf`` so one top-k keeps the best valid pairs of each window.
    ``best_only`` keeps just the best span of each window (the first in the double loop's
    order among equal scores), which is all an answer needs unless it must skip empty texts.
    """
    n = start.shape[0]
    k = min(n_best_size, int(feats.lengths.max()) if n else 0)
    per_window = 1 if best_only else min(n_best_size, k * k)
    any_empty_text = False
    parts: list[dict[str, np.ndarray]] = []
    for lo in range(0, n, _CHUNK_ROWS):
        hi = min(n, lo + _CHUNK_ROWS)
        s_val, si = _top_k_within_length(start[lo:hi], feats.lengths[lo:hi], k)
        e_val, ei = _top_k_within_length(end[lo:hi], feats.lengths[lo:hi], k)
        si_np, ei_np = si.numpy(), ei.numpy()
        s_char_start, s_char_end = feats.chars_at(lo, hi, si_np)  # (r, k) each
        e_char_start, e_char_end = feats.chars_at(lo, hi, ei_np)
        # A position past its row's length has a -inf value (_top_k_within_length), so the
        # pair's score is -inf and it is dropped with the other invalid pairs below.
        s_ok = torch.from_numpy((s_char_start >= 0) & (s_char_end >= 0))
        e_ok = torch.from_numpy((e_char_start >= 0) & (e_char_end >= 0))
        s_masked = s_val.masked_fill(~s_ok, -torch.inf)
        e_masked = e_val.masked_fill(~e_ok, -torch.inf)
        span = ei[:, None, :] - si[:, :, None]
        score = (s_masked[:, :, None] + e_masked[:, None, :]).masked_fill_(
            (span < 0) | (span >= max_answer_length), -torch.inf
        )
        empty_text = torch.from_numpy(e_char_end[:, None, :] <= s_char_start[:, :, None])
        any_empty_text = any_empty_text or bool(((score > -torch.inf) & empty_text).any())
        # Only the n best valid pairs of a window can reach the example's n best.
        if best_only:  # max returns the first of equal values; topk's order is unspecified
            top_score, pair = score.reshape(hi - lo, k * k).max(dim=1, keepdim=True)
        else:
            top_score, pair = _top_k_first_of_ties(score.reshape(hi - lo, k * k), per_window)
            # in the double loop's order, so that the stable ranking below puts equal scores
            # in that order (as max does for best_only)
            pair, by_pair = pair.sort(dim=1)
            top_score = top_score.gather(1, by_pair)
        top_score_np = top_score.numpy()
        keep = top_score_np > -np.inf
        r_idx = np.nonzero(keep)[0]
        pair = pair.numpy()[keep]
        s_rank, e_rank = pair // k, pair % k
        parts.append(
            {
                "row": r_idx + lo,
                "start": si_np[r_idx, s_rank],
                "end": ei_np[r_idx, e_rank],
                "start_logit": s_val.numpy()[r_idx, s_rank],
                "end_logit": e_val.numpy()[r_idx, e_rank],
                "score": top_score_np[keep],
                "char_start": s_char_start[r_idx, s_rank],
                "char_end": e_char_end[r_idx, e_rank],
            }
        )
    if not parts:
        empty_i = np.zeros(0, dtype=np.int64)
        empty_f = np.zeros(0, dtype=start.dtype)
        return {
            "row": empty_i,
            "start": empty_i,
            "end": empty_i,
            "start_logit": empty_f,
            "end_logit": empty_f,
            "score": empty_f,
            "char_start": empty_i,
            "char_end": empty_i,
        }, False
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}, any_empty_text


def _by_example_then_score(example: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Stable order by example, then score (best first); ties keep the candidates' order
    (window, then the double loop's order in the window).

    One argsort of a float64 key ``example * span - score`` instead of a multi-key lexsort
    (10x faster); exact while ``example * span`` stays well inside float64's 2**52.
    """
    if len(score) == 0:
        return np.zeros(0, dtype=np.int64)
    score = score.astype(np.float64)
    span = float(score.max() - score.min()) + 1.0
    if not np.isfinite(span) or span * (int(example.max()) + 1) > 2.0**40:
        return np.lexsort((-score, example))
    return np.argsort(example * span - score, kind="stable")


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

    # --- candidates: best spans per window, then the n-best per example -----------------
    # An answer alone needs only each window's best span, unless (v2) it must skip spans
    # with empty texts (zero-width offsets): then the n best are ranked as for n-best lists.
    cand, any_empty_text = _window_candidates(
        start, end, feats, n_best_size, max_answer_length, best_only=not with_nbest
    )
    if not with_nbest and version_2 and any_empty_text:
        cand, _ = _window_candidates(start, end, feats, n_best_size, max_answer_length)
    cand_ex = ex_of_row[cand["row"]]
    order = _by_example_then_score(cand_ex, cand["score"])
    cand = {key: v[order] for key, v in cand.items()}
    cand_ex = cand_ex[order]
    group_start = np.searchsorted(cand_ex, np.arange(num_examples), side="left")
    rank = np.arange(len(cand_ex)) - group_start[cand_ex]  # position within its example
    kept = rank < n_best_size
    cand = {key: v[kept] for key, v in cand.items()}
    cand_ex = cand_ex[kept]
    group_start = np.searchsorted(cand_ex, np.arange(num_examples), side="left")
    group_end = np.searchsorted(cand_ex, np.arange(num_examples), side="right")

    # best candidate with a non-empty text (HF skips empty texts when choosing vs. null)
    nonempty = cand["char_end"] > cand["char_start"]
    big = len(cand_ex)
    first_nonempty = np.full(num_examples, big, dtype=np.int64)
    np.minimum.at(first_nonempty, cand_ex[nonempty], np.flatnonzero(nonempty))

    # --- v2 null score: minimum over the example's windows ------------------------------
    rows = np.arange(len(feats))
    win_null_s = start[rows, feats.cls_index] if len(feats) else np.zeros(0, start.dtype)
    win_null_e = end[rows, feats.cls_index] if len(feats) else np.zeros(0, end.dtype)
    win_null = win_null_s + win_null_e
    null_row = np.full(num_examples, -1, dtype=np.int64)
    if len(feats):
        by_null = np.lexsort((rows, win_null, ex_of_row))
        ex_sorted = ex_of_row[by_null]
        first = np.ones(len(by_null), dtype=bool)
        first[1:] = ex_sorted[1:] != ex_sorted[:-1]
        null_row[ex_sorted[first]] = by_null[first]

    # The answer of every example, vectorised: v1 its best candidate; v2 its best candidate
    # with text, against the null score.
    pick = first_nonempty if version_2 else group_start
    found = pick < group_end
    safe = np.where(found, pick, 0) if big else np.zeros(num_examples, dtype=np.int64)
    answered = found
    if version_2:
        has_null = null_row >= 0
        null_score = (
            win_null[np.where(has_null, null_row, 0)]
            if len(feats)
            else np.zeros(num_examples, dtype=win_null.dtype)
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
    predictions = dict(zip(example_ids, texts, strict=True))
    nbest: dict[str, list[dict[str, Any]]] = {}
    if not with_nbest:
        return Postprocessed(predictions=predictions, nbest=nbest, null_odds=null_odds)

    # n-best lists, as HF builds them: the example's n best candidates; for v2 its null
    # entry goes in by score (after equal scores: HF appends it before a stable sort) and
    # stays even when it falls outside the n best. Probabilities are a softmax over each
    # list's scores, computed for all lists at once.
    count = group_end - group_start
    rank = np.arange(len(cand_ex)) - group_start[cand_ex]
    has_null = (null_row >= 0) if version_2 else np.zeros(num_examples, dtype=bool)
    null_score = win_null[np.where(has_null, null_row, 0)] if len(feats) else np.zeros(num_examples)
    null_score = null_score.astype(np.float64)
    ahead_of_null = cand["score"] >= null_score[cand_ex] if len(feats) else np.zeros(0, bool)
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
                "start_logit": float(win_null_s[nr]),
                "end_logit": float(win_null_e[nr]),
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
    return Postprocessed(predictions=predictions, nbest=nbest, null_odds=null_odds)


def read_ids_and_contexts(examples: Any) -> tuple[list[str], list[str]]:
    """``id`` and ``context`` columns as lists (through Arrow for a ``datasets.Dataset``)."""
    if hasattr(examples, "select_columns") and hasattr(examples, "with_format"):
        table = examples.with_format("arrow", columns=["id", "context"])[:]
        ids = table.column("id").to_pylist()
        if not pa.types.is_string(table.schema.field("id").type):
            ids = [str(i) for i in ids]
        return ids, table.column("context").to_pylist()
    return [str(i) for i in examples["id"]], list(examples["context"])


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
