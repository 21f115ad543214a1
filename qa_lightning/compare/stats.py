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
from scipy.stats import ttest_ind

from qa_lightning.evaluation.intervals import bootstrap_interval

# 9,999 random swaps: the p-value's own Monte Carlo error is about 0.002 around p = 0.05.
PERMUTATIONS = 9999
# Sign flips drawn 1,000 at a time: at most about 85 MB per batch on SQuAD's 10,570 dev
# questions.
_BATCH = 1000


@dataclass(frozen=True)
class PairedTest:
    """``a`` against ``b`` on the same questions (scores in percent)."""

    questions: int
    difference: float  # mean of a - b
    ci_low: float
    ci_high: float
    p_value: float  # two-sided


def sign_flip_p_value(
    differences: np.ndarray, permutations: int, rng: np.random.Generator
) -> float:
    """Two-sided p-value of the paired permutation test of ``mean(differences) == 0``.

    Swapping a question's two scores flips the sign of its difference, so the null
    distribution is the mean under random signs: every one of the 2^n sign patterns when
    there are no more than ``permutations`` (exact), else ``permutations`` random ones, the
    observed mean counted among them. These are ``scipy.stats.permutation_test``'s
    definitions for one paired sample (``permutation_type="samples"``), tolerance for ties
    included. Written here because scipy pairs its resamples in a Python loop: 0.4 s per test
    on 1,000 questions and 5 s on SQuAD's 10,570, which a sweep's summary and qa-compare pay
    for every setting, metric and set; drawn as a matrix it takes milliseconds.
    """
    n = differences.size
    observed = differences.mean()
    total = differences.sum()

    def means(flips: np.ndarray) -> np.ndarray:
        """The mean of each row's differences, its 1s flipping their signs."""
        return (total - 2.0 * (flips @ differences)) / n

    if 2**n <= permutations:  # every sign pattern, once
        null = means((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
        drawn, adjustment = len(null), 0
    else:
        batches = []
        for start in range(0, permutations, _BATCH):
            rows = min(_BATCH, permutations - start)
            # one random bit per question
            packed = rng.integers(0, 256, size=(rows, (n + 7) // 8), dtype=np.uint8)
            batches.append(means(np.unpackbits(packed, axis=1, count=n)))
        null = np.concatenate(batches)
        drawn, adjustment = permutations, 1
    gamma = abs(np.finfo(np.float64).eps * 100 * observed)  # equal in theory, not in floats
    less = (np.count_nonzero(null <= observed + gamma) + adjustment) / (drawn + adjustment)
    greater = (np.count_nonzero(null >= observed - gamma) + adjustment) / (drawn + adjustment)
    return float(min(1.0, 2 * min(less, greater)))


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
        p_value = sign_flip_p_value(differences, permutations, np.random.default_rng(seed))
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
