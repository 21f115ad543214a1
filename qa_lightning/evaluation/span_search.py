"""The n-best span search: per-window start/end logits -> the best valid spans of every
example, ranked.

The selection rule is Hugging Face's ``postprocess_qa_predictions`` (run_qa): in every
window take the ``n_best_size`` best start and end positions, keep the pairs whose tokens
both lie in the context with ``start <= end`` and ``end - start + 1 <= max_answer_length``,
score a pair by ``start_logit + end_logit`` and keep the ``n_best_size`` best candidates
over all windows of the example.

It runs on all windows at once: ``torch.topk`` for the best starts and ends of every
window, a broadcast k x k pair score with invalid pairs at -inf, one argsort to rank the
candidates of each example; in the logits' float32 (or float64). Padding positions (past a
row's length) never take part in the top-k. Answers alone keep only each window's best pair
instead of its n best, which gives the same answers unless a v2 answer must skip spans with
empty texts (zero-width offsets); then the n best are ranked as for n-best lists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from qa_lightning.evaluation.feature_arrays import FeatureArrays

__all__ = ["Candidates", "example_candidates", "window_candidates"]

# Rows handled per numpy step; bounds the k x k candidate tensors' memory.
_CHUNK_ROWS = 2048


@dataclass
class Candidates:
    """The (up to) ``n_best_size`` best spans of every example, best first: example ``e``'s
    are the entries ``group_start[e]:group_end[e]`` of every array in ``spans`` (``row``,
    ``start``, ``end``, ``start_logit``, ``end_logit``, ``score``, ``char_start``,
    ``char_end``); ``example`` is each entry's example."""

    spans: dict[str, np.ndarray]
    example: np.ndarray
    group_start: np.ndarray
    group_end: np.ndarray


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


def window_candidates(
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


def example_candidates(
    start: np.ndarray,
    end: np.ndarray,
    feats: FeatureArrays,
    num_examples: int,
    *,
    n_best_size: int,
    max_answer_length: int,
    answers_only: bool = False,
    version_2: bool = False,
) -> Candidates:
    """The ``n_best_size`` best valid spans of each of ``num_examples`` examples over all
    their windows (``start``/``end``: float logits aligned with ``feats``).

    ``answers_only`` keeps each window's best span alone (all an answer needs), unless
    (``version_2``) some valid span has an empty text: an answer must then skip those, so the
    n best are ranked as for n-best lists.
    """
    cand, any_empty_text = window_candidates(
        start, end, feats, n_best_size, max_answer_length, best_only=answers_only
    )
    if answers_only and version_2 and any_empty_text:
        cand, _ = window_candidates(start, end, feats, n_best_size, max_answer_length)
    cand_ex = feats.example_index[cand["row"]]
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
    return Candidates(cand, cand_ex, group_start, group_end)
