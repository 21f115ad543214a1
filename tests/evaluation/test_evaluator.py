"""Evaluator and EvaluationResult: scores, intervals, slices and records that agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from datasets import Dataset

from qa_lightning.evaluation.evaluator import Evaluator, score_decoded
from qa_lightning.evaluation.metric import evaluate_logits
from qa_lightning.evaluation.postprocessing import Postprocessed
from qa_lightning.evaluation.scoring import squad_scores
from tests.evaluation.builders import build, padded_logits, word_spans


def examples_with_answers(n: int) -> Dataset:
    """``q<i>`` with golds ``the answer <i>`` / ``answer <i>``; ``q3`` is unanswerable."""
    rows = [
        {
            "id": f"q{i}",
            "title": "t",
            "question": ["What is it?", "Who said it?", "How many are there?"][i % 3],
            "context": f"the answer {i} is here",
            "answers": {"text": [f"the answer {i}", f"answer {i}"], "answer_start": [0, 4]},
        }
        for i in range(n)
    ]
    if n > 3:
        rows[3]["answers"] = {"text": [], "answer_start": []}
    return Dataset.from_list(rows)


def random_predictions(n: int, seed: int) -> dict[str, str]:
    rng = np.random.default_rng(seed)
    choices = ["the answer {i}", "answer", "", "nothing", "answer {i} is", "Answer {i}."]
    return {f"q{i}": choices[rng.integers(len(choices))].format(i=i) for i in range(n)}


@pytest.mark.parametrize("version_2", [False, True])
def test_records_intervals_and_slices_agree_with_the_official_scores(version_2):
    n = 120
    examples = examples_with_answers(n)
    predictions = random_predictions(n, seed=3)
    rng = np.random.default_rng(4)
    null_odds = {k: float(rng.normal()) for k in predictions} if version_2 else {}
    windows = rng.integers(1, 5, n)
    result = score_decoded(
        "new_wiki",
        examples,
        windows,
        Postprocessed(predictions=predictions, null_odds=null_odds),
        version_2=version_2,
        null_score_diff_threshold=0.3,
    )
    official = squad_scores(
        examples,
        predictions,
        version_2=version_2,
        **({"null_odds": null_odds, "na_prob_thresh": 0.3} if version_2 else {}),
    )
    assert result.scores == official
    f1 = np.array([r["f1"] for r in result.records])
    exact = np.array([r["exact"] for r in result.records])
    assert f1.mean() == pytest.approx(official["f1"]) and exact.mean() == pytest.approx(
        official["exact"]
    )
    assert 0 < official["f1"] < 100  # the data is mixed, so the intervals have width
    for key in ("exact", "f1"):
        low, high = result.intervals[key]
        assert low < official[key] < high
    if version_2:
        has = np.array([r["has_answer"] for r in result.records])
        assert (
            result.intervals["HasAns_f1"][0] <= f1[has].mean() <= result.intervals["HasAns_f1"][1]
        )
        assert {r["null_odds"] for r in result.records} == set(null_odds.values())
    for family, labels in result.slices.items():
        assert sum(s["count"] for s in labels.values()) == n, family
        members = [r for r in result.records if r[family]]
        for label, s in labels.items():
            in_slice = [r["f1"] for r in members if r[family] == label]
            assert s["f1"] == pytest.approx(np.mean(in_slice)), (family, label)
    assert result.slices["windows"]["3+"]["count"] == int((windows >= 3).sum())
    metrics = result.metrics()
    assert metrics["eval/new_wiki/f1"] == official["f1"]
    assert metrics["eval/new_wiki/f1_ci_low"] == result.intervals["f1"][0]


def test_the_validation_set_is_logged_under_val_and_described_in_one_line():
    examples = examples_with_answers(10)
    predictions = random_predictions(10, seed=1)
    result = score_decoded(
        "validation", examples, [1] * 10, Postprocessed(predictions), version_2=False
    )
    assert set(result.metrics()) >= {"val/exact", "val/f1", "val/f1_ci_low", "val/f1_ci_high"}
    line = result.describe()
    assert line.startswith("validation: EM ") and f"F1 {result.scores['f1']:.2f} [" in line
    assert "(10 of 10 questions)" in line


@pytest.mark.parametrize("version_2", [False, True])
@pytest.mark.parametrize(("name", "prefix"), [("validation", "val"), ("new_wiki", "eval/new_wiki")])
def test_the_config_knows_every_metric_a_set_logs(name, prefix, version_2):
    """The catalogue optimized_metric and the monitors are checked against (metric_names)
    must be what a result logs, no more and no fewer."""
    from qa_lightning.evaluation.metric_names import set_metrics

    n = 12  # q3 is unanswerable: v2 has HasAns and NoAns questions
    predictions = random_predictions(n, seed=2)
    null_odds = {k: float(i) for i, k in enumerate(predictions)} if version_2 else {}
    # a model's answers come with their n-best probabilities: the selective numbers too
    nbest = {k: [{"text": text, "probability": 0.5}] for k, text in predictions.items()}
    result = score_decoded(
        name,
        examples_with_answers(n),
        [1] * n,
        Postprocessed(predictions=predictions, nbest=nbest, null_odds=null_odds),
        version_2=version_2,
    )
    assert sorted(result.metrics()) == sorted(set_metrics(prefix, version_2=version_2))


CONTEXTS = [
    "w0 w1 w2 alpha beta gamma w6 w7 w8 w9",  # 3 windows
    "short context here",  # 1 window
    "one two three four five six seven",  # 2 windows
]


def _built():
    spans = word_spans(CONTEXTS[0])
    answers = [[(CONTEXTS[0][spans[3][0] : spans[4][1]], spans[3][0])], [], [("two", 4)]]
    return build(CONTEXTS, answers, question_lens=[1, 2, 3])


def test_an_evaluator_scores_the_complete_examples_of_what_it_was_fed():
    b = _built()
    start, end = padded_logits(b, base=0.0)
    rng = np.random.default_rng(0)  # no ties: their order is not what this test is about
    start[start == 0.0] = rng.normal(size=int((start == 0.0).sum()))
    end[end == 0.0] = rng.normal(size=int((end == 0.0).sum()))
    evaluator = Evaluator("other", b.examples, b.features, version_2=False, max_length=16)
    # every window but the last of example 0, in a shuffled order with a duplicate
    fed = [5, 3, 1, 2, 4, 1]
    evaluator.update(torch.tensor(fed), torch.tensor(start[fed]), torch.tensor(end[fed]))
    result = evaluator.compute()
    scores, outputs = evaluate_logits(
        b.examples, b.features, fed, start[fed], end[fed], version_2=False
    )
    assert result.scores == scores and result.outputs.predictions == outputs.predictions
    assert result.scores["total"] == 2 and result.examples == 3
    assert set(result.outputs.predictions) == {"q1", "q2"}
    assert [r["windows"] for r in result.records] == ["1", "2"]
    # compute() starts afresh: nothing fed, nothing scored
    assert evaluator.compute().scores["total"] == 0


def test_an_unlabelled_evaluator_answers_and_scores_nothing():
    b = _built()
    start, end = padded_logits(b, base=0.0)
    evaluator = Evaluator(
        "predict", b.examples, b.features, version_2=True, max_length=16, labelled=False
    )
    every = list(range(len(b.word_at)))
    evaluator.update(torch.tensor(every), torch.tensor(start), torch.tensor(end))
    result = evaluator.compute()
    assert not result.labelled and result.scores == {} and result.records == []
    assert set(result.outputs.predictions) == {"q0", "q1", "q2"}
    assert set(result.outputs.null_odds) == {"q0", "q1", "q2"}
    assert result.describe() == "predict: 3 of 3 questions answered"
    assert result.metrics() == {}
