"""Bootstrap intervals: they cover the true mean as often as they claim, and behave at edges."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from qa_lightning.evaluation.intervals import bootstrap_interval, score_intervals

# F1-like per-question scores: exact misses, exact hits and partial overlaps.
SHARE_ZERO, SHARE_HUNDRED = 0.25, 0.55
TRUE_MEAN = SHARE_HUNDRED * 100 + (1 - SHARE_ZERO - SHARE_HUNDRED) * 50  # = 65


def f1_like(n: int, rng: np.random.Generator) -> np.ndarray:
    u = rng.random(n)
    partial = rng.uniform(0.0, 100.0, n)
    return np.where(u < SHARE_ZERO, 0.0, np.where(u < SHARE_ZERO + SHARE_HUNDRED, 100.0, partial))


def test_f1_like_mean_is_what_the_coverage_test_assumes():
    assert f1_like(400_000, np.random.default_rng(7)).mean() == pytest.approx(TRUE_MEAN, abs=0.2)


def test_95_percent_intervals_cover_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(2024)
    sets = 200
    covered = 0
    for i in range(sets):
        low, high = bootstrap_interval(f1_like(300, rng), n_resamples=1000, seed=i)
        covered += low <= TRUE_MEAN <= high
    assert 0.90 <= covered / sets <= 0.99


def test_same_seed_same_interval_and_other_seed_other_interval():
    values = f1_like(500, np.random.default_rng(1))
    first = bootstrap_interval(values, seed=3)
    assert bootstrap_interval(values, seed=3) == first
    assert bootstrap_interval(values, seed=4) != first


def test_interval_contains_the_sample_mean():
    values = f1_like(500, np.random.default_rng(5))
    low, high = bootstrap_interval(values)
    assert low < values.mean() < high


def test_interval_narrows_like_one_over_sqrt_n():
    rng = np.random.default_rng(11)
    widths = {}
    for n in (100, 10_000):
        low, high = bootstrap_interval(f1_like(n, rng))
        widths[n] = high - low
    # 100x the questions: about a tenth of the width.
    assert 7 < widths[100] / widths[10_000] < 14


def test_width_matches_the_normal_approximation_on_a_large_set():
    values = f1_like(5000, np.random.default_rng(12))
    low, high = bootstrap_interval(values)
    normal_width = 2 * 1.96 * values.std(ddof=1) / math.sqrt(values.size)
    assert high - low == pytest.approx(normal_width, rel=0.1)


def test_higher_confidence_gives_a_wider_interval():
    values = f1_like(500, np.random.default_rng(13))
    low90, high90 = bootstrap_interval(values, confidence=0.90)
    low99, high99 = bootstrap_interval(values, confidence=0.99)
    assert low99 < low90 and high90 < high99


@pytest.mark.parametrize("value", [0.0, 100.0, 37.5])
@pytest.mark.parametrize("n", [1, 2, 1000])
def test_all_equal_scores_give_a_point_without_warnings(value, n):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert bootstrap_interval(np.full(n, value)) == (value, value)


def test_scores_equal_up_to_rounding_still_give_a_finite_interval_without_warnings():
    values = np.array([50.0] * 9 + [np.nextafter(50.0, 100.0)])  # BCa is undefined here
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        low, high = bootstrap_interval(values)
    assert 50.0 <= low <= high <= values.max()


def test_empty_gives_nan():
    low, high = bootstrap_interval(np.array([]))
    assert math.isnan(low) and math.isnan(high)


@pytest.mark.parametrize("bad", [np.array([1.0, np.nan]), np.array([1.0, np.inf])])
def test_non_finite_scores_are_rejected(bad):
    with pytest.raises(ValueError, match="finite"):
        bootstrap_interval(bad)


def test_two_dimensional_input_is_rejected():
    with pytest.raises(ValueError, match="1-D"):
        bootstrap_interval(np.zeros((3, 2)))


def test_score_intervals_names_each_non_empty_array_and_skips_empty_ones():
    rng = np.random.default_rng(21)
    has_answer, no_answer = f1_like(200, rng), np.where(rng.random(100) < 0.7, 100.0, 0.0)
    per_question = {
        "exact": np.concatenate([np.round(has_answer / 100) * 100, no_answer]),
        "f1": np.concatenate([has_answer, no_answer]),
        "HasAns_f1": has_answer,
        "NoAns_f1": np.array([]),
    }
    intervals = score_intervals(per_question, seed=1)
    assert list(intervals) == ["exact", "f1", "HasAns_f1"]
    for name, (low, high) in intervals.items():
        assert low < per_question[name].mean() < high
        assert (low, high) == bootstrap_interval(per_question[name], seed=1)
