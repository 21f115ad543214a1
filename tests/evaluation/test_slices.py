"""Slice labels of real-looking SQuAD questions, and per-slice scores on random data."""

from __future__ import annotations

import numpy as np
import pytest

from qa_lightning.evaluation.intervals import bootstrap_interval
from qa_lightning.evaluation.slices import (
    SLICE_ORDER,
    answer_length,
    question_type,
    slice_labels,
    slice_scores,
    window_count,
)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What is the capital of Normandy?", "what"),
        ("In what year did the Normans conquer England?", "what"),
        ("The Normans were from which country?", "which"),
        ("Who ruled the duchy of Normandy?", "who"),
        ("To whom did Rollo swear fealty?", "who"),
        ("Whose army won the Battle of Hastings?", "who"),
        ("WHEN was the Bayeux Tapestry made?", "when"),
        ("Where is the Notre-Dame cathedral located?", "where"),
        ("Why did the Vikings settle in France?", "why"),
        ("How did the Normans influence English?", "how"),
        ("How long did the siege last?", "how"),
        ("How many people live in Paris?", "how many/much"),
        ("How much did the bridge cost?", "how many/much"),
        ("how   MANY moons does Jupiter have?", "how many/much"),
        ("The treaty was signed in what city?", "what"),
        ("What's the name of the river?", "what"),
        ("Name the first Duke of Normandy.", "other"),
        ("However large, the army lost at which battle?", "which"),
        ("Somehow the team won the cup in 1998?", "other"),
        ("The somewhat rare mineral is found in which region?", "which"),
        ("Whatever happened to the treaty?", "other"),
        ("The know-how of the guild spread to where?", "where"),
        ("Who was king when the war began?", "who"),  # the first wh-word counts
        ("When did the man who built it die?", "when"),
        ("The Normans were how many in number?", "how many/much"),
        ("", "other"),
    ],
)
def test_question_type(question, expected):
    assert question_type(question) == expected


def test_every_question_type_is_a_known_label():
    for question in ["What?", "who", "Name it", "how much", "Whom?"]:
        assert question_type(question) in SLICE_ORDER["question_type"]


@pytest.mark.parametrize(
    ("golds", "expected"),
    [
        (["1066"], "1"),
        (["Rollo", "Duke Rollo of Normandy"], "1"),  # the first gold answer decides
        (["William the Conqueror"], "2-3"),
        (["  the  Seine "], "2-3"),
        (["the Duchy of Normandy"], "4+"),
        (["a long answer of many words"], "4+"),
        ([], "none"),
        (["", "Rollo"], "1"),  # a gold without words is skipped
        (["   "], "none"),
    ],
)
def test_answer_length(golds, expected):
    assert answer_length(golds) == expected


@pytest.mark.parametrize(("n", "expected"), [(1, "1"), (2, "2"), (3, "3+"), (17, "3+")])
def test_window_count(n, expected):
    assert window_count(n) == expected


def test_window_count_rejects_a_question_without_windows():
    with pytest.raises(ValueError):
        window_count(0)


def test_slice_labels_v1_and_v2():
    questions = ["Who ruled Normandy?", "How many dukes were there?"]
    golds = [["Rollo"], []]
    v1 = slice_labels(questions, golds, [1, 4], version_2=False)
    v2 = slice_labels(questions, golds, [1, 4], version_2=True)
    assert v1 == [
        {"question_type": "who", "answer_length": "1", "windows": "1"},
        {"question_type": "how many/much", "answer_length": "none", "windows": "3+"},
    ]
    assert [labels["answerable"] for labels in v2] == ["has_answer", "no_answer"]
    assert [{k: v for k, v in labels.items() if k != "answerable"} for labels in v2] == v1


def test_slice_labels_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="one entry per question"):
        slice_labels(["What?", "Who?"], [["a"]], [1, 1], version_2=False)


def random_labelled_set(n: int, seed: int, *, version_2: bool = True):
    """Random labels, EM and F1, with some labels deliberately never drawn."""
    rng = np.random.default_rng(seed)
    wh = ["What is it?", "Who is it?", "How many are there?", "Name it.", "Why?"]
    questions = [wh[i] for i in rng.integers(0, len(wh), n)]
    lengths = rng.choice([0, 1, 5], n)
    golds = [[" ".join(["word"] * k)] if k else [] for k in lengths]
    windows = rng.choice([1, 1, 1, 2, 3, 6], n)
    labels = slice_labels(questions, golds, windows, version_2=version_2)
    f1 = np.where(rng.random(n) < 0.6, 100.0, rng.uniform(0, 100, n))
    exact = np.where(f1 == 100.0, 100.0, 0.0)
    return labels, exact, f1


@pytest.mark.parametrize("version_2", [False, True])
def test_counts_of_every_family_add_up_to_the_number_of_questions(version_2):
    labels, exact, f1 = random_labelled_set(700, seed=3, version_2=version_2)
    scores = slice_scores(labels, exact, f1)
    expected_families = ["question_type", "answer_length", "windows"] + (
        ["answerable"] if version_2 else []
    )
    assert list(scores) == expected_families
    for family, slices in scores.items():
        assert sum(s["count"] for s in slices.values()) == 700, family


def test_slice_means_are_the_plain_means_of_their_members():
    labels, exact, f1 = random_labelled_set(500, seed=4)
    scores = slice_scores(labels, exact, f1, seed=9)
    for family, slices in scores.items():
        for name, result in slices.items():
            members = [i for i, label in enumerate(labels) if label[family] == name]
            assert result["count"] == len(members)
            assert result["exact"] == pytest.approx(float(np.mean(exact[members])))
            assert result["f1"] == pytest.approx(float(np.mean(f1[members])))
            low, high = result["f1_ci"]
            assert [low, high] == list(bootstrap_interval(f1[members], seed=9))
            assert low <= result["f1"] <= high


def test_labels_follow_slice_order_and_absent_labels_are_left_out():
    labels, exact, f1 = random_labelled_set(400, seed=5)
    scores = slice_scores(labels, exact, f1)
    for family, slices in scores.items():
        present = {label[family] for label in labels}
        assert list(slices) == [name for name in SLICE_ORDER[family] if name in present]
    # the generator never draws these
    assert "when" not in scores["question_type"]
    assert "2-3" not in scores["answer_length"]


def test_slice_scores_is_deterministic_for_a_seed():
    labels, exact, f1 = random_labelled_set(300, seed=6)
    assert slice_scores(labels, exact, f1, seed=2) == slice_scores(labels, exact, f1, seed=2)


def test_labels_a_family_does_not_order_come_after_its_order_sorted():
    labels = [{"question_type": q} for q in ("whence", "who", "aught", "what", "who")]
    scores = slice_scores(labels, np.zeros(5), np.zeros(5))
    assert list(scores["question_type"]) == ["what", "who", "aught", "whence"]
    assert scores["question_type"]["who"]["count"] == 2


def test_slice_scores_rejects_families_it_was_not_given():
    with pytest.raises(ValueError, match="unknown slice families"):
        slice_scores([{"topic": "history"}], np.array([0.0]), np.array([0.0]))
    with pytest.raises(ValueError, match="same slice families"):
        slice_scores(
            [{"windows": "1"}, {"windows": "1", "answer_length": "1"}],
            np.zeros(2),
            np.zeros(2),
        )


def test_slice_scores_rejects_a_score_count_that_does_not_match():
    labels, exact, f1 = random_labelled_set(10, seed=7)
    with pytest.raises(ValueError, match="one score per question"):
        slice_scores(labels, exact[:-1], f1)


def test_no_questions_no_slices():
    assert slice_scores([], np.array([]), np.array([])) == {}
