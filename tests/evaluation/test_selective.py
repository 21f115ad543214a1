"""Selective answering numbers against values derived by hand, and the intervals' behaviour."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy.stats import bootstrap

from qa_lightning.evaluation.selective import (
    answer_confidence,
    aurc,
    coverage_at_accuracy,
    expected_calibration_error,
    null_threshold_curve,
    paired_aurc_difference,
    reliability,
    risk_coverage,
    selective_scores,
)

# ----------------------------------------------------------------------------- AURC

N, M = 10, 3  # questions, wrong ones
CORRECT = np.array([True] * (N - M) + [False] * M)
# all right answers more confident than all wrong ones: risk 0 until k = 7, then (k - 7) / k
BEST = (1 / 8 + 2 / 9 + 3 / 10) / N * 100
# all wrong answers first: risk 1 for k = 1..3, then 3 / k
WORST = (3 + sum(3 / k for k in range(4, 11))) / N * 100


def test_perfect_ordering_gives_the_analytic_minimum():
    confidence = np.linspace(1.0, 0.1, N)  # decreasing: right answers first
    assert aurc(confidence, CORRECT) == pytest.approx(BEST)
    m, n = M, N  # the general formula gives the same number
    formula = sum((k - (n - m)) / k for k in range(n - m + 1, n + 1)) / n * 100
    assert aurc(confidence, CORRECT) == pytest.approx(formula)


def test_reversed_ordering_gives_the_analytic_maximum():
    confidence = np.linspace(0.1, 1.0, N)  # increasing: wrong answers first
    assert aurc(confidence, CORRECT) == pytest.approx(WORST)


def test_random_orders_lie_between_the_extremes():
    rng = np.random.default_rng(0)
    values = [aurc(rng.random(N), CORRECT) for _ in range(200)]
    assert min(values) >= BEST - 1e-9 and max(values) <= WORST + 1e-9
    assert min(values) < max(values)  # the order matters


def test_all_tied_is_the_constant_risk():
    assert aurc(np.full(N, 0.4), CORRECT) == pytest.approx(100 * M / N)


def test_a_tie_block_counts_its_expected_errors():
    # k=1: 0 wrong; the tied block (one right, one wrong) holds 0.5 errors expected at k=2
    # and 1 at k=3; k=4: 2 wrong of 4
    expected = (0 + 0.5 / 2 + 1 / 3 + 2 / 4) / 4 * 100
    assert aurc([0.9, 0.5, 0.5, 0.2], [True, True, False, False]) == pytest.approx(expected)
    assert aurc([0.9, 0.5, 0.5, 0.2], [True, False, True, False]) == pytest.approx(expected)


def test_input_order_does_not_matter_with_ties():
    rng = np.random.default_rng(1)
    confidence = rng.integers(0, 5, 300) / 4  # five distinct values: big tie blocks
    correct = rng.random(300) < confidence
    reference = aurc(confidence, correct)
    for _ in range(5):
        order = rng.permutation(300)
        assert aurc(confidence[order], correct[order]) == pytest.approx(reference, abs=1e-12)


def test_aurc_edge_cases():
    assert math.isnan(aurc([], []))
    assert aurc([0.3], [True]) == 0.0
    assert aurc([0.3], [False]) == 100.0
    assert aurc([0.9, 0.1], [1, 0]) == pytest.approx(25.0)  # 0/1 accepted for correct
    with pytest.raises(ValueError, match="boolean"):
        aurc([0.9, 0.1], [100.0, 0.0])
    with pytest.raises(ValueError, match="length"):
        aurc([0.9, 0.1], [True])
    with pytest.raises(ValueError, match="finite"):
        aurc([0.9, float("nan")], [True, False])


def test_risk_coverage_has_one_point_per_threshold_and_ends_at_the_error_rate():
    curve = risk_coverage([0.9, 0.5, 0.5, 0.2], [True, True, False, False])
    np.testing.assert_allclose(curve.coverage, [25, 75, 100])
    np.testing.assert_allclose(curve.risk, [0, 100 / 3, 50])


# ----------------------------------------------------------------------------- coverage


def test_coverage_at_accuracy_on_a_hand_example():
    confidence = [0.9, 0.8, 0.7, 0.6, 0.5]
    correct = [True, True, False, True, False]  # accuracy after k: 1, 1, 2/3, 3/4, 3/5
    assert coverage_at_accuracy(confidence, correct, 0.8) == pytest.approx(40.0)
    # the LOWEST threshold that reaches it, though an earlier one fell below
    assert coverage_at_accuracy(confidence, correct, 0.75) == pytest.approx(80.0)
    assert coverage_at_accuracy(confidence, correct, 0.6) == pytest.approx(100.0)


def test_coverage_at_accuracy_is_zero_when_unreachable():
    assert coverage_at_accuracy([0.9, 0.8], [False, True], 1.0) == 0.0
    assert coverage_at_accuracy([0.9, 0.8, 0.1], [False, False, False], 0.8) == 0.0
    assert math.isnan(coverage_at_accuracy([], [], 0.8))
    with pytest.raises(ValueError, match="fraction"):
        coverage_at_accuracy([0.9], [True], 80)


def test_coverage_at_accuracy_answers_tie_blocks_whole():
    confidence = [0.9, 0.7, 0.7, 0.5]
    correct = [True, True, False, True]  # accuracy after each block: 1 (k=1), 2/3, 3/4
    # splitting the tie with its right answer first would give 50% at 100% accuracy
    assert coverage_at_accuracy(confidence, correct, 0.8) == pytest.approx(25.0)
    assert coverage_at_accuracy(confidence, correct, 0.75) == pytest.approx(100.0)


# ----------------------------------------------------------------------------- calibration


def test_reliability_bins_on_a_hand_example():
    confidence = [0.05, 0.15, 0.12, 0.95, 1.0, 0.1]  # 0.1 opens bin 1; 1.0 closes bin 9
    correct = [False, True, False, True, True, True]
    bins = reliability(confidence, correct)
    np.testing.assert_allclose(bins.edges, np.linspace(0, 1, 11))
    np.testing.assert_array_equal(bins.counts, [1, 3, 0, 0, 0, 0, 0, 0, 0, 2])
    np.testing.assert_allclose(bins.confidence[[0, 1, 9]], [0.05, 0.37 / 3, 0.975])
    np.testing.assert_allclose(bins.accuracy[[0, 1, 9]], [0.0, 2 / 3, 1.0])
    assert np.all(np.isnan(bins.accuracy[2:9])) and np.all(np.isnan(bins.confidence[2:9]))
    expected = (1 / 6 * 0.05 + 3 / 6 * abs(2 / 3 - 0.37 / 3) + 2 / 6 * 0.025) * 100
    assert expected_calibration_error(confidence, correct) == pytest.approx(expected)


def test_ece_of_a_calibrated_model_is_near_zero():
    rng = np.random.default_rng(0)
    confidence = rng.random(20_000)
    correct = rng.random(20_000) < confidence
    assert expected_calibration_error(confidence, correct) < 2.0


def test_ece_of_an_overconfident_model_is_large():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.8, 1.0, 20_000)  # mean 0.9
    correct = rng.random(20_000) < 0.5
    assert expected_calibration_error(confidence, correct) == pytest.approx(40.0, abs=2.0)


def test_calibration_needs_probabilities():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        reliability([0.5, 1.5], [True, False])
    assert math.isnan(expected_calibration_error([], []))


# ----------------------------------------------------------------------------- SQuAD 2.0


def test_null_threshold_curve_on_a_hand_example():
    # A, B, D have answers (span F1 1.0, 0.5, 0.8); C, E have none. C and D tie at odds 1.
    null_odds = [-2.0, 0.0, 1.0, 1.0, 3.0]
    has_answer = [True, True, False, True, False]
    span_f1 = [1.0, 0.5, 0.0, 0.8, 0.3]  # a no-answer question's span scores 0 anyway
    curve = null_threshold_curve(null_odds, has_answer, span_f1)
    # below the smallest odds (-2 - 5% of the range 5): every question answered ""
    np.testing.assert_allclose(curve.thresholds, [-2.25, -2, 0, 1, 3])
    np.testing.assert_allclose(curve.has_ans_f1, [0, 100 / 3, 50, 230 / 3, 230 / 3])
    np.testing.assert_allclose(curve.no_ans_f1, [100, 100, 100, 50, 0])
    np.testing.assert_allclose(curve.f1, [40, 60, 70, 66, 46])


def test_null_threshold_curve_without_no_answer_questions_and_empty():
    curve = null_threshold_curve([0.5, 0.5], [True, True], [1.0, 0.0])
    np.testing.assert_allclose(curve.thresholds, [-0.5, 0.5])  # equal odds: min - 1
    np.testing.assert_allclose(curve.has_ans_f1, [0, 50])
    assert np.all(np.isnan(curve.no_ans_f1))
    np.testing.assert_allclose(curve.f1, [0, 50])
    assert null_threshold_curve([], [], []).thresholds.size == 0
    with pytest.raises(ValueError, match="fraction"):
        null_threshold_curve([0.0], [True], [100.0])


# ----------------------------------------------------------------------------- intervals


def simulated(n: int, seed: int, *, sharpness: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A reader whose confidence tells right from wrong, more so with a larger sharpness."""
    rng = np.random.default_rng(seed)
    correct = rng.random(n) < 0.7
    confidence = 1 / (1 + np.exp(-(sharpness * (2 * correct - 1) + rng.normal(0, 1, n))))
    return confidence, correct


def test_selective_scores_interval_contains_the_estimate_and_repeats_with_its_seed():
    confidence, correct = simulated(1000, 0)
    scores = selective_scores(confidence, correct, seed=3)
    assert scores["questions"] == 1000
    assert scores["aurc"] == pytest.approx(aurc(confidence, correct))
    low, high = scores["aurc_ci"]
    assert low < scores["aurc"] < high
    assert scores == selective_scores(confidence, correct, seed=3)
    assert selective_scores(confidence, correct, seed=4)["aurc_ci"] != [low, high]
    assert scores["coverage_at_80"] == coverage_at_accuracy(confidence, correct, 0.8)
    assert scores["coverage_at_90"] <= scores["coverage_at_80"]
    assert scores["ece"] == expected_calibration_error(confidence, correct)
    json.dumps(scores, allow_nan=False)  # plain floats
    assert all(type(v) is float for v in [scores["aurc"], *scores["aurc_ci"], scores["ece"]])


def test_selective_scores_interval_matches_scipy_bca():
    # a small set of a good reader: the AURC's bootstrap distribution is skewed, and BCa's
    # upper end lies about 0.4 above the percentile interval's (3.93, 12.40), so a
    # percentile interval or a wrong jackknife fails here. Other seeds than scipy's: the
    # two agree within the resampling noise (about 0.08 at 20,000 resamples).
    confidence, correct = simulated(100, 1, sharpness=1.5)
    ours = selective_scores(confidence, correct, seed=2, n_resamples=20_000)["aurc_ci"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = bootstrap(
            (confidence, correct),
            aurc,
            paired=True,
            vectorized=False,
            n_resamples=20_000,
            method="BCa",
            rng=np.random.default_rng(0),
        ).confidence_interval
    assert ours[0] == pytest.approx(theirs.low, abs=0.1)
    assert ours[1] == pytest.approx(theirs.high, abs=0.25)


def test_selective_scores_of_degenerate_sets():
    empty = selective_scores([], [])
    assert empty["questions"] == 0 and math.isnan(empty["aurc"])
    assert all(math.isnan(v) for v in empty["aurc_ci"])
    all_right = selective_scores([0.9, 0.2, 0.5], [True, True, True])
    assert all_right["aurc"] == 0.0 and all_right["aurc_ci"] == [0.0, 0.0]
    assert all_right["coverage_at_90"] == 100.0


def test_identical_settings_differ_by_zero():
    confidence, correct = simulated(500, 0)
    runs = ([confidence, confidence * 0.9], [correct, correct])
    assert paired_aurc_difference(*runs, *runs) == (0.0, 0.0, 0.0)


def test_a_better_ordering_has_a_negative_difference_excluding_zero():
    sharp = [simulated(1000, seed, sharpness=2.0) for seed in (0, 1)]
    blunt_confidence = [simulated(1000, seed + 10, sharpness=0.2)[0] for seed in (0, 1)]
    correct = [c for _, c in sharp]
    # both settings on the same questions with the same answers: only the ordering differs
    correct = [correct[0], correct[0]]
    difference, low, high = paired_aurc_difference(
        [c for c, _ in sharp], correct, blunt_confidence, correct, seed=0
    )
    assert difference < 0 and low < difference < high < 0


def test_the_difference_averages_the_runs_of_each_setting():
    a1, a2, b1 = simulated(400, 0), simulated(400, 1), simulated(400, 2)
    difference, low, high = paired_aurc_difference(
        [a1[0], a2[0]], [a1[1], a2[1]], [b1[0]], [b1[1]], n_resamples=500
    )
    expected = (aurc(*a1) + aurc(*a2)) / 2 - aurc(*b1)
    assert difference == pytest.approx(expected)
    assert low < difference < high


def test_paired_difference_rejects_unaligned_runs():
    a, b = simulated(10, 0), simulated(11, 1)
    with pytest.raises(ValueError, match="same questions"):
        paired_aurc_difference([a[0]], [a[1]], [b[0]], [b[1]])
    with pytest.raises(ValueError, match="no run"):
        paired_aurc_difference([], [], [b[0]], [b[1]])
    with pytest.raises(ValueError, match="sequence of runs"):
        paired_aurc_difference(a[0], a[1], [a[0]], [a[1]])


# ----------------------------------------------------------------------------- confidence


def test_answer_confidence_reads_the_first_entry_with_the_answer():
    nbest = [
        {"text": "Paris", "probability": 0.6},
        {"text": "", "probability": 0.25},  # v2's null answer
        {"text": "Paris", "probability": 0.1},
    ]
    assert answer_confidence("Paris", nbest) == 0.6
    assert answer_confidence("", nbest) == 0.25
    assert answer_confidence("Lyon", nbest) is None
    assert answer_confidence("", []) is None


def test_selective_module_stays_light():
    # the compare command imports it: importing it must not load torch, transformers or
    # matplotlib (a fresh interpreter, since this test process may have loaded them)
    code = (
        "import sys, qa_lightning.evaluation.selective; "
        "print([m for m in ('torch', 'transformers', 'matplotlib') if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
