"""Selective answering: how good a reader is when it answers only where it is confident.

A deployed reader may abstain on its least confident questions. From each question's
confidence (the probability of the model's answer) and whether that answer is correct
(exact match), this module gives the numbers of selective QA (Kamath, Jia and Liang, ACL
2020): the risk-coverage curve and its area (AURC, Geifman and El-Yaniv 2017) with a
bootstrap interval, the coverage at a target accuracy, the expected calibration error
(Guo et al. 2017) with its reliability bins, and for SQuAD 2.0 the HasAns / NoAns F1 along
the null-odds threshold.

Percent everywhere (0..100, like EM/F1 in this project), except confidences and the
per-bin confidence / accuracy of a reliability diagram (0..1, the probability scale).

Pure numpy/scipy: the compare command imports this module and must stay light (no torch,
no transformers, no matplotlib).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

# Resamples are evaluated in batches of about this many (resample, block) elements: each
# temporary array (256 KB of float64) stays in the CPU cache. Batches of a million elements
# took 2 to 3 times as long (memory-bound); the draws, and so the intervals, do not depend
# on the batch size.
_ELEMENTS_PER_BATCH = 32_768
_CONFIDENCE_LEVEL = 0.95


# ----------------------------------------------------------------------------- checks


def _as_arrays(confidence: Any, correct: Any) -> tuple[np.ndarray, np.ndarray]:
    """``confidence`` as finite float64, ``correct`` as bool, both 1-D and of one length."""
    conf = np.asarray(confidence, dtype=np.float64)
    corr = np.asarray(correct)
    if conf.ndim != 1 or corr.ndim != 1:
        raise ValueError(
            f"expected one confidence and one correctness per question (1-D), "
            f"got shapes {conf.shape} and {corr.shape}"
        )
    if conf.shape != corr.shape:
        raise ValueError(
            f"confidence and correct differ in length: {conf.size} and {corr.size} questions"
        )
    if not np.all(np.isfinite(conf)):
        raise ValueError("confidences must be finite (found nan or inf)")
    if corr.dtype != np.bool_:
        if corr.size and not np.all((corr == 0) | (corr == 1)):
            raise ValueError(
                "correct must be boolean (or 0/1) per question; for exact-match scores "
                "in percent pass `exact == 100`"
            )
        corr = corr.astype(bool)
    return conf, corr


def _check_probabilities(conf: np.ndarray) -> None:
    if conf.size and (conf.min() < 0.0 or conf.max() > 1.0):
        raise ValueError(
            f"confidences must be probabilities in [0, 1], got {conf.min()}..{conf.max()}"
        )


# ----------------------------------------------------------------------------- AURC
#
# The questions are sorted by confidence, most confident first, and cut into blocks of equal
# confidence (ties). A threshold answers whole blocks; between two block ends the order of
# tied questions is arbitrary, so every position k inside a block counts with its EXPECTED
# number of errors over a random order of the block: with S questions and C errors before a
# block of N questions and E errors (rate r = E / N), the first j of the block hold j * r
# errors in expectation, and the block's risks sum in closed form:
#
#     sum_{j=1..N} (C + j r) / (S + j)  =  E + (C - r S) * (H(S + N) - H(S))
#
# (H the harmonic numbers). So an AURC needs per-block counts only, and a bootstrap
# resample (a multiset of the questions, hence the same blocks with other counts) needs no
# new sort: resamples become a (resamples x blocks) count matrix, evaluated at once.


@dataclass(frozen=True)
class _Blocks:
    """One run's tie blocks: which block each question falls in, and its error (0/1)."""

    block_of: np.ndarray  # int64 per question, 0 = the most confident block
    wrong: np.ndarray  # float64 per question, 1.0 where the answer is wrong
    n_blocks: int


def _blocks(conf: np.ndarray, corr: np.ndarray) -> _Blocks:
    order = np.argsort(-conf, kind="stable")
    sorted_conf = conf[order]
    new_block = np.ones(conf.size, dtype=bool)
    new_block[1:] = sorted_conf[1:] != sorted_conf[:-1]
    block_of = np.empty(conf.size, dtype=np.int64)
    block_of[order] = np.cumsum(new_block) - 1
    return _Blocks(block_of, (~corr).astype(np.float64), int(new_block.sum()))


def _harmonic(n: int) -> np.ndarray:
    """H(0..n): H(0) = 0, H(k) = 1 + 1/2 + ... + 1/k."""
    h = np.zeros(n + 1)
    np.cumsum(1.0 / np.arange(1, n + 1), out=h[1:])
    return h


def _block_terms(
    sizes: np.ndarray, errors: np.ndarray, harmonic: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per block (last axis): its summed risks, start S, errors before C, error rate r.

    ``sizes`` are integer counts (they index the harmonic numbers), ``errors`` floats."""
    end = np.cumsum(sizes, axis=-1)
    start = end - sizes
    before = np.cumsum(errors, axis=-1) - errors
    rate = errors / np.maximum(sizes, 1)  # an empty block has no errors: rate 0
    spread = harmonic[end] - harmonic[start]
    return errors + (before - rate * start) * spread, start, before, rate


def _aurc_from_counts(sizes: np.ndarray, errors: np.ndarray, harmonic: np.ndarray) -> np.ndarray:
    """AURC (percent) from per-block sizes and errors, vectorised over leading axes."""
    terms = _block_terms(sizes, errors, harmonic)[0]
    return terms.sum(axis=-1) / sizes.sum(axis=-1) * 100.0


def _run_aurc(blocks: _Blocks, harmonic: np.ndarray) -> float:
    sizes = np.bincount(blocks.block_of, minlength=blocks.n_blocks)
    errors = np.bincount(blocks.block_of, weights=blocks.wrong, minlength=blocks.n_blocks)
    return float(_aurc_from_counts(sizes, errors, harmonic))


def aurc(confidence: Any, correct: Any) -> float:
    """Area under the risk-coverage curve, percent (lower is better).

    The mean over k = 1..n of the risk (error rate, %) among the k most confident questions
    (Geifman and El-Yaniv 2017; Geifman et al. 2019). Tied confidences count with the
    expected value over a random order of the tied questions, so the result does not depend
    on the input order; all confidences tied gives the plain error rate. Only the order of
    the confidences matters (any finite scores work). Empty input: nan.
    """
    conf, corr = _as_arrays(confidence, correct)
    if conf.size == 0:
        return float("nan")
    return _run_aurc(_blocks(conf, corr), _harmonic(conf.size))


def _jackknife(blocks: _Blocks, harmonic: np.ndarray) -> np.ndarray:
    """Leave-one-out AURC for every question (percent), in O(n).

    Leaving out one question changes its own block (one question and maybe one error fewer)
    and shifts every later block up by one position (S - 1) and by its error (C - e). For a
    later block that gives E + (C - r S + r) * D' - e * D', with D' = H(S+N-1) - H(S-1):
    suffix sums over the later blocks serve every left-out question at once. A question's
    value depends only on its block and its error, so 2 per block are computed and spread.
    """
    n = blocks.block_of.size
    sizes = np.bincount(blocks.block_of, minlength=blocks.n_blocks)
    errors = np.bincount(blocks.block_of, weights=blocks.wrong, minlength=blocks.n_blocks)
    terms, start, before, rate = _block_terms(sizes, errors, harmonic)
    earlier = np.cumsum(terms) - terms  # sum of the unchanged blocks before each block
    shifted = np.zeros_like(terms)  # D' of each block, were one earlier question left out
    shifted[1:] = harmonic[start[1:] + sizes[1:] - 1] - harmonic[start[1:] - 1]
    later_terms = errors + (before - rate * start + rate) * shifted
    later_terms[0] = 0.0  # never "later" than anything
    # sums over the blocks strictly after each block
    later_sum = np.cumsum(later_terms[::-1])[::-1] - later_terms
    later_spread = np.cumsum(shifted[::-1])[::-1] - shifted
    values = np.empty((blocks.n_blocks, 2))
    own_sizes = sizes - 1
    own_spread = harmonic[start + own_sizes] - harmonic[start]
    for e in (0, 1):  # the left-out question's error (a block without one never uses it)
        own_errors = np.maximum(errors - e, 0.0)
        own_rate = own_errors / np.maximum(own_sizes, 1)
        own = own_errors + (before - own_rate * start) * own_spread
        values[:, e] = (earlier + own + later_sum - e * later_spread) / (n - 1) * 100.0
    return values[blocks.block_of, blocks.wrong.astype(np.int64)]


# ----------------------------------------------------------------------------- bootstrap


def _resampled_statistic(
    runs_a: Sequence[_Blocks], runs_b: Sequence[_Blocks], n: int, seed: int, n_resamples: int
) -> np.ndarray:
    """Mean AURC of the runs of A minus that of B (0 without B), per resample of questions.

    Every resample draws one set of question indices, used for every run of both sides.
    """
    harmonic = _harmonic(n)
    rng = np.random.default_rng(seed)
    batch = max(1, _ELEMENTS_PER_BATCH // n)
    out = np.empty(n_resamples)
    for first in range(0, n_resamples, batch):
        picked = rng.integers(0, n, size=(min(batch, n_resamples - first), n))
        rows = picked.shape[0]
        side_b = _mean_resampled_aurc(runs_b, picked, harmonic) if runs_b else 0.0
        out[first : first + rows] = _mean_resampled_aurc(runs_a, picked, harmonic) - side_b
    return out


def _mean_resampled_aurc(
    runs: Sequence[_Blocks], picked: np.ndarray, harmonic: np.ndarray
) -> np.ndarray:
    """Mean AURC over ``runs`` for each row of resampled question indices ``picked``.

    A resample keeps each run's tie blocks (a repeated question ties with itself), so its
    per-block counts, one bincount over (row, block) pairs, are all an AURC needs."""
    rows = picked.shape[0]
    offset = np.arange(rows)[:, None]
    total = np.zeros(rows)
    for run in runs:
        flat = (run.block_of[picked] + offset * run.n_blocks).ravel()
        length = rows * run.n_blocks
        sizes = np.bincount(flat, minlength=length)
        errors = np.bincount(flat, weights=run.wrong[picked].ravel(), minlength=length)
        shape = (rows, run.n_blocks)
        total += _aurc_from_counts(sizes.reshape(shape), errors.reshape(shape), harmonic)
    return total / len(runs)


def _interval(
    estimate: float, resampled: np.ndarray, jackknife: np.ndarray | None
) -> tuple[float, float]:
    """95% BCa interval from bootstrap values and per-question jackknife values.

    BCa (bias-corrected and accelerated), as for EM/F1 in ``intervals.py``: an AURC is
    bounded below by the best possible ordering and a good reader's lies near 0, where its
    bootstrap distribution is skewed and plain percentile intervals under-cover. The bias
    correction counts resamples equal to the estimate as half below (AURC differences of
    near-identical runs take that value often). BCa's jackknife needs n AURC evaluations;
    here it is exact and O(n) in total (see ``_jackknife``), so BCa costs no more than the
    percentile interval. Where BCa is undefined (every resample on one side of the
    estimate, or fewer than 3 questions) the percentile interval is used; a constant
    jackknife gives no acceleration (bias correction only); all resamples equal gives
    (v, v).
    """
    low_q, high_q = (1 - _CONFIDENCE_LEVEL) / 2, 1 - (1 - _CONFIDENCE_LEVEL) / 2
    spread = np.ptp(resampled)
    if spread <= 1e-12 * max(1.0, abs(estimate)):
        value = float(resampled[0])
        return (value, value)
    quantiles = np.array([low_q, high_q])
    if jackknife is not None and jackknife.size >= 3:
        below = np.mean(resampled < estimate) + 0.5 * np.mean(resampled == estimate)
        if 0.0 < below < 1.0:
            bias = ndtri(below)
            deviation = jackknife.mean() - jackknife
            denominator = 6.0 * np.sum(deviation**2) ** 1.5
            accel = np.sum(deviation**3) / denominator if denominator > 0 else 0.0
            z = ndtri(quantiles)
            adjusted = ndtr(bias + (bias + z) / (1 - accel * (bias + z)))
            if np.all(np.isfinite(adjusted)):
                quantiles = adjusted
    low, high = np.percentile(resampled, quantiles * 100.0)
    return (float(low), float(high))


def paired_aurc_difference(
    confidence_a: Sequence[np.ndarray],
    correct_a: Sequence[np.ndarray],
    confidence_b: Sequence[np.ndarray],
    correct_b: Sequence[np.ndarray],
    *,
    seed: int = 0,
    n_resamples: int = 2000,
) -> tuple[float, float, float]:
    """AURC of setting A minus that of setting B, with a 95% paired bootstrap interval.

    Returns ``(difference, low, high)`` in AURC percent points (negative: A abstains
    better). Every array holds the SAME questions in the same order; A and B each give one
    ``(confidence, correct)`` pair per run (seeds), and a setting's AURC is the mean of its
    runs' AURCs. Each resample draws one set of question indices, used for every run of both
    settings, so the interval reflects the question sample only once for both sides. BCa
    interval (see ``_interval``); identical settings give ``(0, 0, 0)``. No questions: nan.
    """
    runs_a = _aligned_runs(confidence_a, correct_a, "A")
    runs_b = _aligned_runs(confidence_b, correct_b, "B")
    sizes = {run[0].size for run in runs_a + runs_b}
    if len(sizes) != 1:
        raise ValueError(
            f"every run must hold the same questions; got question counts {sorted(sizes)}"
        )
    n = sizes.pop()
    if n == 0:
        return (float("nan"), float("nan"), float("nan"))
    harmonic = _harmonic(n)
    blocks_a = [_blocks(conf, corr) for conf, corr in runs_a]
    blocks_b = [_blocks(conf, corr) for conf, corr in runs_b]
    estimate = np.mean([_run_aurc(b, harmonic) for b in blocks_a]) - np.mean(
        [_run_aurc(b, harmonic) for b in blocks_b]
    )
    resampled = _resampled_statistic(blocks_a, blocks_b, n, seed, n_resamples)
    jackknife = None
    if n >= 3:
        jackknife = np.mean([_jackknife(b, harmonic) for b in blocks_a], axis=0) - np.mean(
            [_jackknife(b, harmonic) for b in blocks_b], axis=0
        )
    low, high = _interval(float(estimate), resampled, jackknife)
    return (float(estimate), low, high)


def _aligned_runs(
    confidences: Sequence[Any], corrects: Sequence[Any], side: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    if isinstance(confidences, np.ndarray) and confidences.ndim == 1:
        raise ValueError(
            f"setting {side}: pass a sequence of runs (a list of arrays), not one array"
        )
    if len(confidences) != len(corrects):
        raise ValueError(
            f"setting {side}: {len(confidences)} confidence arrays but {len(corrects)} "
            "correctness arrays (one of each per run)"
        )
    if len(confidences) == 0:
        raise ValueError(f"setting {side} has no run")
    return [_as_arrays(conf, corr) for conf, corr in zip(confidences, corrects, strict=True)]


# ----------------------------------------------------------------------------- confidence


def answer_confidence(prediction: str, nbest: Sequence[Mapping[str, Any]]) -> float | None:
    """The probability (0..1) the model gave its answer ``prediction``.

    That of the first n-best entry whose ``"text"`` equals the prediction (n-best lists are
    sorted by score, so the first is the best-scored span with that text; v2 lists hold the
    null answer with text ``""``). None when the list is empty or no entry has that text
    (e.g. a v2 prediction of "" decided by a threshold whose list holds no null entry).
    """
    for entry in nbest:
        if entry["text"] == prediction:
            return float(entry["probability"])
    return None


# ----------------------------------------------------------------------------- risk-coverage


@dataclass(frozen=True)
class RiskCoverage:
    """The risk-coverage curve, percent: one point per distinct confidence threshold, from
    the most confident block of questions to all of them (last point: coverage 100,
    risk = 100 - accuracy). Empty arrays for no questions."""

    coverage: np.ndarray
    risk: np.ndarray


def _block_ends(conf: np.ndarray, corr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Answered count and correct count at each threshold (after each tie block)."""
    order = np.argsort(-conf, kind="stable")
    sorted_conf, sorted_corr = conf[order], corr[order]
    last = np.ones(conf.size, dtype=bool)
    last[:-1] = sorted_conf[1:] != sorted_conf[:-1]
    answered = np.flatnonzero(last) + 1
    right = np.cumsum(sorted_corr)[last]
    return answered, right


def risk_coverage(confidence: Any, correct: Any) -> RiskCoverage:
    """Coverage (% of questions answered) and risk (% of the answered ones wrong) when the
    reader answers exactly the questions at or above each distinct confidence."""
    conf, corr = _as_arrays(confidence, correct)
    if conf.size == 0:
        return RiskCoverage(np.empty(0), np.empty(0))
    answered, right = _block_ends(conf, corr)
    return RiskCoverage(answered / conf.size * 100.0, (1.0 - right / answered) * 100.0)


def coverage_at_accuracy(confidence: Any, correct: Any, accuracy: float) -> float:
    """Percent of questions answered at the lowest confidence threshold whose answered
    questions are at least ``accuracy`` (0..1, e.g. 0.8) correct.

    Thresholds lie only between distinct confidences (a block of tied questions is answered
    whole or not at all). 0.0 when no threshold reaches the accuracy; nan for no questions.
    """
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"accuracy is a fraction in [0, 1] (e.g. 0.8), got {accuracy}")
    conf, corr = _as_arrays(confidence, correct)
    if conf.size == 0:
        return float("nan")
    answered, right = _block_ends(conf, corr)
    # a tolerance for the fraction's rounding: 4 of 5 right is 80%, not 79.999...
    reached = right >= accuracy * answered - 1e-9
    if not reached.any():
        return 0.0
    return float(answered[reached].max() / conf.size * 100.0)


# ----------------------------------------------------------------------------- calibration


@dataclass(frozen=True)
class Reliability:
    """Equal-width confidence bins over [0, 1] (``edges``: bins + 1 values; each bin holds
    [low, high), the last [low, 1]): per bin, its question count, the mean confidence and
    the accuracy (0..1; nan where the bin is empty)."""

    edges: np.ndarray
    counts: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray


def reliability(confidence: Any, correct: Any, bins: int = 10) -> Reliability:
    """Reliability-diagram bins: equal-width over [0, 1], last bin closed (as np.histogram)."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    conf, corr = _as_arrays(confidence, correct)
    _check_probabilities(conf)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.minimum(np.searchsorted(edges, conf, side="right") - 1, bins - 1)
    counts = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(index, weights=conf, minlength=bins) / counts
        accuracy = np.bincount(index, weights=corr.astype(np.float64), minlength=bins) / counts
    return Reliability(edges, counts, mean_conf, accuracy)


def expected_calibration_error(confidence: Any, correct: Any, bins: int = 10) -> float:
    """ECE, percent (Guo et al. 2017): sum over bins of count / n * |accuracy - mean
    confidence| * 100, with equal-width bins. 0 is perfectly calibrated; an overconfident
    reader at 95% confidence and 50% accuracy scores about 45. Empty input: nan."""
    bins_ = reliability(confidence, correct, bins)
    n = bins_.counts.sum()
    if n == 0:
        return float("nan")
    filled = bins_.counts > 0
    gaps = np.abs(bins_.accuracy[filled] - bins_.confidence[filled])
    return float(np.sum(bins_.counts[filled] / n * gaps) * 100.0)


# ----------------------------------------------------------------------------- SQuAD 2.0


@dataclass(frozen=True)
class ThresholdCurve:
    """F1 (percent) of a SQuAD 2.0 set against the null-odds threshold; ``has_ans_f1`` /
    ``no_ans_f1`` are means over those questions (nan where the set has none)."""

    thresholds: np.ndarray
    has_ans_f1: np.ndarray
    no_ans_f1: np.ndarray
    f1: np.ndarray


def null_threshold_curve(null_odds: Any, has_answer: Any, span_f1: Any) -> ThresholdCurve:
    """HasAns / NoAns / overall F1 when answering "" exactly where the null odds exceed the
    threshold (the official v2 script's rule: ``odds > threshold`` means no answer).

    ``span_f1``: the F1 (0..1) of each question's best span against its gold answers. A
    has-answer question scores its ``span_f1`` when answered with the span and 0 when
    answered ""; a no-answer question scores 1 when answered "" and 0 with a span.

    Points, by increasing threshold (the F1 holds from each threshold up to the next, a
    step function): first, below the smallest odds, every question answered "" (placed at
    ``min - 5%`` of the odds' range, or ``min - 1`` when all odds are equal: any threshold
    below the smallest gives the same scores); then one point per distinct odds value
    (threshold = that value, so the questions with that odds are answered with their span);
    the last point (threshold = the largest odds) answers every question with its span.
    No questions: empty arrays.
    """
    odds = np.asarray(null_odds, dtype=np.float64)
    has = np.asarray(has_answer, dtype=bool)
    f1 = np.asarray(span_f1, dtype=np.float64)
    if not (odds.ndim == has.ndim == f1.ndim == 1 and odds.size == has.size == f1.size):
        raise ValueError(
            f"expected 1-D arrays of one length, got shapes {odds.shape}, {has.shape}, {f1.shape}"
        )
    if not (np.all(np.isfinite(odds)) and np.all(np.isfinite(f1))):
        raise ValueError("null odds and span F1 must be finite (found nan or inf)")
    if f1.size and (f1.min() < 0.0 or f1.max() > 1.0):
        raise ValueError(f"span_f1 is a fraction in [0, 1], got {f1.min()}..{f1.max()}")
    if odds.size == 0:
        empty = np.empty(0)
        return ThresholdCurve(empty, empty, empty, empty)
    order = np.argsort(odds, kind="stable")
    sorted_odds = odds[order]
    last = np.ones(odds.size, dtype=bool)
    last[:-1] = sorted_odds[1:] != sorted_odds[:-1]
    # scores of the questions answered with their span: those at or below the threshold
    span_has = np.r_[0.0, np.cumsum(np.where(has, f1, 0.0)[order])[last]]
    spans_no = np.r_[0, np.cumsum(~has[order])[last]]  # no-answer questions given a span
    n_has, n_no = int(has.sum()), int((~has).sum())
    null_no = n_no - spans_no  # no-answer questions answered "": right
    low, high = sorted_odds[0], sorted_odds[-1]
    below = low - (0.05 * (high - low) if high > low else 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        has_f1 = span_has / n_has * 100.0 if n_has else np.full(span_has.size, np.nan)
        no_f1 = null_no / n_no * 100.0 if n_no else np.full(span_has.size, np.nan)
    return ThresholdCurve(
        thresholds=np.r_[below, sorted_odds[last]],
        has_ans_f1=np.asarray(has_f1, dtype=np.float64),
        no_ans_f1=np.asarray(no_f1, dtype=np.float64),
        f1=(span_has + null_no) / odds.size * 100.0,
    )


# ----------------------------------------------------------------------------- summary


def selective_scores(
    confidence: Any, correct: Any, *, seed: int = 0, n_resamples: int = 2000
) -> dict[str, Any]:
    """The selective-answering numbers of one evaluation set, as plain floats (JSON-ready).

    ``{"questions", "aurc", "aurc_ci": [low, high], "coverage_at_80", "coverage_at_90",
    "ece"}``, percent. ``aurc_ci`` is a 95% BCa bootstrap interval over questions
    (resampling (confidence, correct) pairs; the same seed gives the same interval).
    No questions: every number nan.
    """
    conf, corr = _as_arrays(confidence, correct)
    n = int(conf.size)
    if n == 0:
        nan = float("nan")
        return {
            "questions": 0,
            "aurc": nan,
            "aurc_ci": [nan, nan],
            "coverage_at_80": nan,
            "coverage_at_90": nan,
            "ece": nan,
        }
    harmonic = _harmonic(n)
    blocks = _blocks(conf, corr)
    estimate = _run_aurc(blocks, harmonic)
    resampled = _resampled_statistic([blocks], [], n, seed, n_resamples)
    jackknife = _jackknife(blocks, harmonic) if n >= 3 else None
    low, high = _interval(estimate, resampled, jackknife)
    return {
        "questions": n,
        "aurc": estimate,
        "aurc_ci": [low, high],
        "coverage_at_80": coverage_at_accuracy(conf, corr, 0.8),
        "coverage_at_90": coverage_at_accuracy(conf, corr, 0.9),
        "ece": expected_calibration_error(conf, corr),
    }
