"""Tests for the synthetic SQuAD-style generator."""

from __future__ import annotations

import pytest

from qa_lightning.data.synthetic import make_synthetic_squad
from qa_lightning.data.validation import SQUAD_FEATURES, validate_examples


def test_deterministic_per_seed():
    a = make_synthetic_squad(200, seed=3, unanswerable_fraction=0.2)
    b = make_synthetic_squad(200, seed=3, unanswerable_fraction=0.2)
    assert a.to_list() == b.to_list()


def test_different_across_seeds():
    a = make_synthetic_squad(200, seed=0)
    b = make_synthetic_squad(200, seed=1)
    assert list(a["context"]) != list(b["context"])
    assert list(a["question"]) != list(b["question"])


@pytest.mark.parametrize("fraction", [0.0, 0.33, 1.0])
def test_passes_validation_with_schema_and_ids(fraction):
    ds = make_synthetic_squad(300, seed=7, unanswerable_fraction=fraction, id_prefix="t")
    assert len(ds) == 300
    assert ds.features == SQUAD_FEATURES
    assert list(ds["id"]) == [f"t-{i}" for i in range(300)]
    assert validate_examples(ds, source="synthetic") is ds
    for row in ds:
        assert row["title"]
        for text, start in zip(row["answers"]["text"], row["answers"]["answer_start"], strict=True):
            assert row["context"][start : start + len(text)] == text


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5])
def test_unanswerable_fraction_respected(fraction):
    ds = make_synthetic_squad(1000, seed=11, unanswerable_fraction=fraction)
    share = sum(1 for a in ds["answers"] if not a["text"]) / len(ds)
    assert share == pytest.approx(fraction, abs=0.01)


def test_unanswerable_questions_ask_about_an_entity_of_the_paragraph():
    """So they are learnable: the entity is there, the asked attribute is not stated."""
    ds = make_synthetic_squad(400, seed=5, unanswerable_fraction=0.5)
    n = 0
    for row in ds:
        if row["answers"]["text"] or "Prize" in row["question"]:
            continue
        words = [w.strip("?,") for w in row["question"].split()[1:]]
        names = [w for w in words if w[:1].isupper()]
        assert names and all(name in row["context"] for name in names), row
        n += 1
    assert n > 100


def test_some_contexts_are_long_and_several_questions_share_a_context():
    ds = make_synthetic_squad(1000, seed=0)
    contexts = list(dict.fromkeys(ds["context"]))
    words = [len(c.split()) for c in contexts]
    long_share = sum(w > 200 for w in words) / len(words)
    assert 0.1 <= long_share <= 0.35
    assert min(words) < 60
    assert len(contexts) < len(ds) / 2  # several questions per context, like SQuAD


def test_question_types_vary():
    questions = list(make_synthetic_squad(500, seed=2)["question"])
    starts = {q.split()[0] for q in questions}
    assert {"Who", "Where", "When", "How"} <= starts


def test_small_and_bad_arguments():
    assert len(make_synthetic_squad(0)) == 0
    assert len(make_synthetic_squad(1)) == 1
    with pytest.raises(ValueError, match="n_examples"):
        make_synthetic_squad(-1)
    with pytest.raises(ValueError, match="unanswerable_fraction"):
        make_synthetic_squad(10, unanswerable_fraction=1.5)
