"""The W&B Tables of an evaluation: sample rows from per-question records, slice rows."""

from __future__ import annotations

from qa_lightning.evaluation.evaluator import score_decoded
from qa_lightning.evaluation.postprocessing import Postprocessed
from qa_lightning.tracking.prediction_table import (
    COLUMNS,
    NO_ANSWER,
    SLICE_COLUMNS,
    sample_prediction_rows,
    slice_rows,
)
from tests.evaluation.test_evaluator import examples_with_answers


def result_for(predictions: dict[str, str], *, version_2: bool):
    ds = examples_with_answers(len(predictions))
    null_odds = {k: (1.0 if not v else -1.0) for k, v in predictions.items()} if version_2 else {}
    outputs = Postprocessed(predictions=predictions, null_odds=null_odds)
    return score_decoded(
        "validation", ds, [1] * len(ds), outputs, version_2=version_2, null_score_diff_threshold=0
    )


def test_rows_follow_the_official_rules_against_the_best_gold():
    predictions = {
        "q0": "Answer 0.",  # normalises to a gold answer: right
        "q1": "the answer",  # partial overlap: wrong, some F1
        "q2": "",
        "q3": "",  # v2: the empty answer to an unanswerable question is right
        "q4": "answer 4 here",
        "q5": "nothing",
    }
    result = result_for(predictions, version_2=True)
    rows = {
        r[0]: dict(zip(COLUMNS, r, strict=True))
        for r in sample_prediction_rows(result.records, n=6)
    }
    assert rows["q0"]["correct"] and rows["q0"]["f1"] == 100.0
    assert not rows["q1"]["correct"] and 0 < rows["q1"]["f1"] < 100
    assert rows["q3"]["correct"] and rows["q3"]["gold"] == NO_ANSWER
    assert rows["q2"]["predicted"] == NO_ANSWER and not rows["q2"]["correct"]
    assert rows["q4"]["gold"] == "the answer 4 | answer 4"
    assert rows["q5"]["f1"] == 0.0


def test_every_run_gets_the_same_questions():
    predictions = {f"q{i}": "x" for i in range(30)}
    first = sample_prediction_rows(result_for(predictions, version_2=False).records, n=10)
    other = {**predictions, "q1": "answer 1"}
    again = sample_prediction_rows(result_for(other, version_2=False).records, n=10)
    assert [r[0] for r in first] == [r[0] for r in again]
    records = result_for(predictions, version_2=False).records
    other_seed = sample_prediction_rows(records, n=10, seed=1)
    assert [r[0] for r in other_seed] != [r[0] for r in first]
    assert len(sample_prediction_rows(records, n=100)) == 30


def test_slice_rows_cover_every_slice_with_its_count():
    result = result_for({f"q{i}": "x" for i in range(12)}, version_2=True)
    rows = [dict(zip(SLICE_COLUMNS, r, strict=True)) for r in slice_rows(result.slices)]
    for family in result.slices:
        assert sum(r["count"] for r in rows if r["family"] == family) == 12


def test_a_user_slice_family_gets_its_w_and_b_rows():
    from qa_lightning.evaluation.slices import DEFAULT_SLICES
    from tests.evaluation.user_slices import AnswerGiven

    predictions = {f"q{i}": "" if i % 3 else f"answer {i}" for i in range(12)}
    outputs = Postprocessed(predictions=predictions, null_odds={})
    result = score_decoded(
        "validation",
        examples_with_answers(12),
        [1] * 12,
        outputs,
        version_2=False,
        slices=(*DEFAULT_SLICES, AnswerGiven()),
    )
    rows = [r for r in slice_rows(result.slices) if r[0] == "answer_given"]
    assert [(r[1], r[2]) for r in rows] == [("abstained", 8), ("answered", 4)]
