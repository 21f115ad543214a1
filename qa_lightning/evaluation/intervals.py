"""Bootstrap confidence intervals for EM/F1 over questions.

A dev-set score is a mean over questions; two runs a point apart may differ by chance alone.
Resampling the questions (not the windows or tokens) gives the interval a reader needs to
judge that, without assuming the per-question scores are normal (they are mostly 0 or 100).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
from scipy.stats import DegenerateDataWarning, bootstrap

# scipy keeps about four arrays of (batch x n_questions) float64/int64 alive per batch, for
# the resamples and for BCa's jackknife. A million elements per array keeps the peak near
# 30 MB at any set size; without a batch, 10,570 questions took about 2 GB for the jackknife.
_ELEMENTS_PER_BATCH = 1_000_000

# 2,000 resamples: the end points move by about 0.03 points between seeds on 10,570 questions
# (0.08 on 1,000), and a call takes about 0.5 s there (0.02 s on 1,000), most of it BCa's
# n x n jackknife, which does not depend on this number.
DEFAULT_RESAMPLES = 2000


def bootstrap_interval(
    values: np.ndarray,
    *,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Interval for the mean of per-question scores (percent), resampling questions.

    BCa (bias-corrected and accelerated) is used because F1 is bounded and skewed near 0
    and 100, where plain percentile intervals under-cover. BCa cannot be computed when every
    jackknife mean is equal: all values equal gives ``(v, v)``, and values that differ only by
    float rounding fall back to the percentile interval. Empty input gives ``(nan, nan)``.
    The same ``seed`` always gives the same interval, whatever the batch size.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"expected one score per question (1-D), got shape {values.shape}")
    if values.size == 0:
        return (float("nan"), float("nan"))
    if not np.all(np.isfinite(values)):
        raise ValueError("per-question scores must be finite (found nan or inf)")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if np.all(values == values[0]):
        return (float(values[0]), float(values[0]))

    batch = max(1, _ELEMENTS_PER_BATCH // values.size)
    with warnings.catch_warnings():
        # The only case these warn about here is BCa being undefined, handled below.
        warnings.simplefilter("ignore", DegenerateDataWarning)
        warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
        interval = _resampled_interval(values, "BCa", confidence, n_resamples, seed, batch)
    if not all(np.isfinite(interval)):
        interval = _resampled_interval(values, "percentile", confidence, n_resamples, seed, batch)
    return interval


def _resampled_interval(
    values: np.ndarray, method: str, confidence: float, n_resamples: int, seed: int, batch: int
) -> tuple[float, float]:
    result = bootstrap(
        (values,),
        np.mean,
        n_resamples=n_resamples,
        batch=batch,
        vectorized=True,
        confidence_level=confidence,
        method=method,
        rng=np.random.default_rng(seed),
    )
    return (float(result.confidence_interval.low), float(result.confidence_interval.high))


def score_intervals(
    per_question: Mapping[str, np.ndarray], *, seed: int = 0, confidence: float = 0.95
) -> dict[str, tuple[float, float]]:
    """One interval per named score array (``exact``, ``f1``, ``HasAns_f1``, ...).

    Empty arrays (e.g. ``NoAns_f1`` on a v1.1 set) are left out rather than reported as nan.
    """
    return {
        name: bootstrap_interval(scores, confidence=confidence, seed=seed)
        for name, scores in per_question.items()
        if np.asarray(scores).size > 0
    }
