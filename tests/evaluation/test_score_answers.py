"""Any system's answers scored like a model's (``eval.py predictions_file=``), and the
selective-answering numbers a model's result carries."""

from __future__ import annotations

import numpy as np
import pytest

from qa_lightning.evaluation.evaluator import score_answers, score_decoded
from qa_lightning.evaluation.postprocessing import Postprocessed
from qa_lightning.evaluation.scoring import squad_scores
from qa_lightning.evaluation.selective import aurc
from tests.evaluation.test_evaluator import examples_with_answers, random_predictions


def test_a_missing_answer_counts_as_empty_and_is_counted() -> None:
    examples = examples_with_answers(40)
    answers = random_predictions(40, seed=5)
    for qid in ("q1", "q2", "q7"):
        del answers[qid]
    result = score_answers("validation", examples, answers, version_2=False)
    filled = {**answers, "q1": "", "q2": "", "q7": ""}
    assert result.scores == squad_scores(examples, filled, version_2=False)
    assert result.unanswered == 3 and result.summary()["unanswered"] == 3
    assert {r["id"]: r["prediction"] for r in result.records} == filled
    # no tokenizer cut the contexts: the windows family is left out, the others stay
    assert "windows" not in result.slices and "question_type" in result.slices
    assert all("windows" not in r for r in result.records)
    # no probabilities: no selective-answering numbers, no confidences
    assert result.selective == {} and all(r["confidence"] is None for r in result.records)
    assert not any(k.endswith("/aurc") for k in result.metrics())


def test_v2_answers_with_the_official_na_prob_file() -> None:
    """On v2 an unanswered question abstains (scores on NoAns questions), and the na_prob
    file gives the official best thresholds at the script's default threshold 1.0."""
    examples = examples_with_answers(30)  # q3 is unanswerable
    answers = random_predictions(30, seed=8)
    del answers["q3"]
    rng = np.random.default_rng(1)
    na_prob = {q: float(rng.uniform()) for q in answers}
    result = score_answers("validation", examples, answers, version_2=True, null_odds=na_prob)
    official = squad_scores(
        examples, {**answers, "q3": ""}, version_2=True, null_odds=na_prob, na_prob_thresh=1.0
    )
    assert result.scores == official
    assert result.scores["NoAns_exact"] == 100.0  # q3, abstained
    assert result.threshold_curve is not None and result.unanswered == 1


def test_a_model_result_carries_confidences_and_selective_numbers() -> None:
    examples = examples_with_answers(60)
    predictions = random_predictions(60, seed=2)
    rng = np.random.default_rng(7)
    probability = {q: float(rng.uniform()) for q in predictions}
    nbest = {
        q: [{"text": "other", "probability": 0.01}, {"text": text, "probability": probability[q]}]
        for q, text in predictions.items()
    }
    result = score_decoded(
        "validation",
        examples,
        np.ones(60, dtype=int),
        Postprocessed(predictions, nbest),
        version_2=False,
    )
    confidence = np.array([r["confidence"] for r in result.records])
    assert confidence.tolist() == [probability[r["id"]] for r in result.records]
    correct = np.array([r["exact"] == 100.0 for r in result.records])
    assert result.selective["aurc"] == pytest.approx(aurc(confidence, correct))
    low, high = result.selective["aurc_ci"]
    assert low <= result.selective["aurc"] <= high
    metrics = result.metrics()
    assert metrics["val/aurc"] == result.selective["aurc"]
    assert metrics["val/ece"] == result.selective["ece"]
    assert "AURC" in result.describe() and result.summary()["selective"] == result.selective
