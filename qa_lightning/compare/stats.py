"""Is one setting better than another? Paired tests over questions, Holm's correction, and a
test over seeds.

Two settings scored on the same questions are compared question by question: most of the
variation between questions (hard ones are hard for both) cancels in the differences, so a
paired test sees gaps that two separate intervals would hide. The interval is a BCa bootstrap
of the mean difference (the questions resampled, as for a single score); the p-value comes
from a paired permutation test (each question's two scores swapped at random). Seeds are a
second source of noise, training noise, which the test over questions does not see: the
Welch test over seed-level scores says whether a gap stands out from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import permutation_test, ttest_ind

from qa_lightning.evaluation.intervals import bootstrap_interval

# 9,999 random swaps: the p-value's own Monte Carlo error is about 0.002 around p = 0.05.
# A test takes about 0.5 s on 1,000 questions and 5 s on SQuAD's 10,570 dev questions.
PERMUTATIONS = 9999
# Sign flips drawn 1,000 at a time: the fastest batch on 1,000 and on 10,570 questions, and
# at most about 85 MB per batch on SQuAD's dev set.
_BATCH = 1000


@dataclass(frozen=True)
class PairedTest:
    """``a`` against ``b`` on the same questions (scores in percent)."""

    questions: int
    difference: float  # mean of a - b
    ci_low: float
    ci_high: float
    p_value: float  # two-sided


def _mean(differences: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(differences, axis=axis)


def paired_test(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    confidence: float = 0.95,
    permutations: int = PERMUTATIONS,
    seed: int = 0,
) -> PairedTest:
    """Mean difference ``a - b`` with its paired bootstrap interval and permutation p-value.

    ``a[i]`` and ``b[i]`` are the two scores of question ``i``. Identical scores give a
    difference of 0, the interval (0, 0) and p = 1.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"expected two score vectors of the same length, got {a.shape}, {b.shape}")
    if a.size == 0:
        nan = float("nan")
        return PairedTest(0, nan, nan, nan, nan)
    differences = a - b
    low, high = bootstrap_interval(differences, confidence=confidence, seed=seed)
    if np.all(differences == 0):
        p_value = 1.0  # every swap gives the same mean: nothing to test
    else:
        result = permutation_test(
            (differences,),
            _mean,
            # one sample of paired differences: each sign is flipped at random, which is
            # swapping the two scores of each question
            permutation_type="samples",
            vectorized=True,
            n_resamples=permutations,
            batch=_BATCH,
            alternative="two-sided",
            rng=np.random.default_rng(seed),
        )
        p_value = float(result.pvalue)
    return PairedTest(a.size, float(differences.mean()), low, high, p_value)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error), NaN left out of the family.

    scipy.stats offers only false-discovery-rate control (``false_discovery_control``);
    Holm's method is a sort and a running maximum, not worth a statsmodels dependency.
    """
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full_like(p, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    if tested.size == 0:
        return adjusted.tolist()
    order = tested[np.argsort(p[tested], kind="stable")]
    m = order.size
    scaled = (m - np.arange(m)) * p[order]
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted.tolist()


def seeds_p_value(a: Sequence[float], b: Sequence[float]) -> float:
    """Welch's t-test between the seed-level scores of two settings (NaN below two seeds
    each, or when both have no spread at all)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size < 2 or b.size < 2:
        return float("nan")
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return 1.0 if a[0] == b[0] else float("nan")
    return float(ttest_ind(a, b, equal_var=False).pvalue)
