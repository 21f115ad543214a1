"""The W&B Table of sample predictions: official right/wrong, a sample shared by runs."""

from __future__ import annotations

from datasets import Dataset

from qa_lightning.tracking.prediction_table import COLUMNS, NO_ANSWER, sample_prediction_rows


def examples(n: int = 30) -> Dataset:
    rows = [
        {
            "id": f"q{i}",
            "question": f"Question {i}?",
            "context": "ctx",
            "answers": {"text": [f"the answer {i}", f"answer {i}"], "answer_start": [0, 4]},
        }
        for i in range(n)
    ]
    rows[3]["answers"] = {"text": [], "answer_start": []}  # unanswerable (v2)
    return Dataset.from_list(rows)


def test_rows_follow_the_official_rules_against_the_best_gold():
    ds = examples(6)
    predictions = {
        "q0": "Answer 0.",  # normalises to a gold answer: right
        "q1": "the answer",  # partial overlap: wrong, some F1
        "q2": "",
        "q3": "",  # v2: the empty answer to an unanswerable question is right
        "q4": "answer 4 here",
        "q5": "nothing",
    }
    rows = {
        r[0]: dict(zip(COLUMNS, r, strict=True))
        for r in sample_prediction_rows(ds, predictions, version_2=True, n=6)
    }
    assert rows["q0"]["correct"] and rows["q0"]["f1"] == 100.0
    assert not rows["q1"]["correct"] and 0 < rows["q1"]["f1"] < 100
    assert rows["q3"]["correct"] and rows["q3"]["gold"] == NO_ANSWER
    assert rows["q2"]["predicted"] == NO_ANSWER and not rows["q2"]["correct"]
    assert rows["q4"]["gold"] == "the answer 4 | answer 4"
    assert rows["q5"]["f1"] == 0.0


def test_every_run_gets_the_same_questions_and_missing_predictions_are_left_out():
    ds = examples(30)
    predictions = {f"q{i}": "x" for i in range(30) if i != 7}
    first = sample_prediction_rows(ds, predictions, version_2=False, n=29)
    again = sample_prediction_rows(ds, {**predictions, "q1": "y"}, version_2=False, n=29)
    assert [r[0] for r in first] == [r[0] for r in again]
    assert "q7" not in [r[0] for r in first]
    five = sample_prediction_rows(ds, predictions, version_2=False, n=5)
    other_seed = sample_prediction_rows(ds, predictions, version_2=False, n=5, seed=1)
    assert len(five) <= 5 and [r[0] for r in other_seed] != [r[0] for r in five]
