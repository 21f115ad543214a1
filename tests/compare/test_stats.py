"""Paired tests, Holm's correction and the seeds test, on scores with a known truth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import ttest_ind

from qa_lightning.compare.stats import holm, paired_test, seeds_p_value


def test_identical_scores_differ_by_zero_with_p_one():
    rng = np.random.default_rng(0)
    scores = rng.choice([0.0, 40.0, 100.0], size=500)
    test = paired_test(scores, scores.copy())
    assert test.questions == 500
    assert test.difference == 0.0
    assert (test.ci_low, test.ci_high) == (0.0, 0.0)
    assert test.p_value == 1.0


def test_a_run_better_on_known_questions_is_significant_and_the_sign_is_right():
    rng = np.random.default_rng(1)
    base = rng.choice([0.0, 100.0], size=400)
    better = base.copy()
    wrong = np.flatnonzero(base == 0)[:30]
    better[wrong] = 100.0  # 30 questions fixed, nothing broken
    test = paired_test(better, base)
    assert test.difference == pytest.approx(100.0 * 30 / 400)
    assert 0 < test.ci_low < test.difference < test.ci_high
    assert test.p_value < 0.001
    reverse = paired_test(base, better)
    assert reverse.difference == pytest.approx(-test.difference)
    assert reverse.ci_high < 0


def test_a_few_swapped_answers_are_not_significant():
    """One question fixed and one broken: the mean is unchanged, p is large."""
    base = np.array([0.0, 100.0] * 100)
    other = base.copy()
    other[0], other[1] = 100.0, 0.0
    test = paired_test(other, base)
    assert test.difference == 0.0
    assert test.p_value > 0.5


def _population(rng: np.random.Generator, size: int, gain: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-question F1 of two systems on a large population of questions: mostly 0 or 100,
    some partial credit, strongly correlated (hard questions are hard for both); B fixes a
    ``gain`` share of A's wrong answers and breaks a smaller share of its right ones."""
    difficulty = rng.random(size)
    a = np.where(rng.random(size) < difficulty, 100.0, 0.0)
    partial = rng.random(size) < 0.15
    a[partial] = rng.uniform(10, 90, partial.sum())
    b = a.copy()
    fix = (a < 100) & (rng.random(size) < gain)
    brk = (a == 100) & (rng.random(size) < gain / 3)
    b[fix], b[brk] = 100.0, 0.0
    return a, b


def test_the_paired_interval_covers_the_true_difference_at_about_the_nominal_rate():
    """Questions drawn from a population with a known mean difference: the 95% interval
    must cover it in about 95% of draws (not 80%, not 100%)."""
    rng = np.random.default_rng(2)
    pop_a, pop_b = _population(rng, 200_000, gain=0.08)
    truth = float(np.mean(pop_b - pop_a))
    assert truth > 1.0
    draws, n, covered = 300, 250, 0
    for seed in range(draws):
        idx = rng.integers(0, pop_a.size, n)
        test = paired_test(pop_b[idx], pop_a[idx], permutations=99, seed=seed)
        covered += test.ci_low <= truth <= test.ci_high
    rate = covered / draws
    assert 0.91 <= rate <= 0.985, rate


def test_p_values_under_no_difference_reject_about_five_percent():
    rng = np.random.default_rng(3)
    draws, n, rejected = 300, 200, 0
    for seed in range(draws):
        a, b = _population(rng, n, gain=0.0)
        # exchangeable pairs: each question's two scores drawn from the same distribution
        swap = rng.random(n) < 0.5
        noisy = np.where(rng.random(n) < 0.1, 100.0 - a, a)
        x, y = np.where(swap, a, noisy), np.where(swap, noisy, a)
        rejected += paired_test(x, y, permutations=199, seed=seed).p_value < 0.05
    assert 0.02 <= rejected / draws <= 0.09, rejected / draws


def test_holm_matches_its_definition():
    # sorted p: 0.01, 0.03, 0.04 -> 3*0.01, max(2*0.03, 0.03), max(1*0.04, 0.06)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    adjusted = holm([0.2, float("nan"), 0.6, 0.001])
    assert adjusted[0] == pytest.approx(0.4) and adjusted[2] == pytest.approx(0.6)
    assert adjusted[3] == pytest.approx(0.003) and math.isnan(adjusted[1])
    assert holm([0.5, 0.9]) == [1.0, 1.0]  # capped at 1
    assert holm([]) == []


def test_seeds_test_is_welch_and_needs_two_seeds_each():
    a, b = [55.0, 56.5, 54.8], [52.0, 53.9, 51.1, 52.2]
    assert seeds_p_value(a, b) == pytest.approx(ttest_ind(a, b, equal_var=False).pvalue)
    assert math.isnan(seeds_p_value([55.0], b))
    assert seeds_p_value([50.0, 50.0], [50.0, 50.0]) == 1.0


def _scipy_p_value(differences: np.ndarray, permutations: int, seed: int) -> float:
    from scipy.stats import permutation_test

    return float(
        permutation_test(
            (differences,),
            lambda d, axis: np.mean(d, axis=axis),
            permutation_type="samples",
            vectorized=True,
            n_resamples=permutations,
            alternative="two-sided",
            rng=np.random.default_rng(seed),
        ).pvalue
    )


@pytest.mark.parametrize("n", [2, 6, 12])
def test_few_questions_get_scipys_exact_p_value(n):
    """Up to 2^n <= permutations, every sign pattern is counted: the p-value is exact and
    equals scipy's exact test, ties included (the scores are 0/50/100)."""
    rng = np.random.default_rng(n)
    a, b = rng.choice([0.0, 50.0, 100.0], size=(2, n))
    if np.all(a == b):
        a[0] = 100.0 - b[0] if b[0] != 50.0 else 0.0
    assert paired_test(a, b).p_value == pytest.approx(_scipy_p_value(a - b, 9999, 0), abs=1e-12)


@pytest.mark.parametrize("fixed", [3, 12, 25])
def test_many_questions_get_the_sign_tests_p_value_up_to_monte_carlo_error(fixed):
    """Answers that are right or wrong: only the questions that changed count, each +100 or
    -100, and the permutation test is the exact sign test (binomial, p = 1/2). 9,999 random
    flips give its p-value within about 4.5 standard errors (0.04 at p = 0.5), from clearly
    significant to not at all, as do scipy's."""
    from scipy.stats import binom

    rng = np.random.default_rng(fixed)
    base = rng.choice([0.0, 100.0], size=600)
    other = base.copy()
    other[np.flatnonzero(base == 0)[:fixed]] = 100.0
    other[np.flatnonzero(base == 100)[:8]] = 0.0
    changed, up = fixed + 8, fixed
    exact = min(1.0, 2 * min(binom.cdf(up, changed, 0.5), binom.sf(up - 1, changed, 0.5)))
    error = 4 * np.sqrt(max(exact, 0.01) * (1 - min(exact, 0.99)) / 9999)
    ours = paired_test(other, base).p_value
    assert abs(ours - exact) <= 2 * error, (ours, exact)
    assert abs(_scipy_p_value(other - base, 9999, 1) - exact) <= 2 * error
