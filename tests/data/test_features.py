"""Tests for qa_lightning.data.features: sliding windows, labels, eval offsets, stride checks."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest
from datasets import Dataset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa_lightning.data.features import (
    check_stride,
    prepare_eval_features,
    prepare_train_features,
    resolve_max_question_tokens,
)
from tests.fixtures import WORDS, make_context, make_squad_examples, word_spans

TOKENIZERS = ["wordpiece_tokenizer", "bpe_tokenizer", "left_tokenizer"]
MAX_LENGTH = 64
STRIDE = 16


@pytest.fixture(params=TOKENIZERS)
def tok(request):
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module")
def examples() -> Dataset:
    """Answerable and unanswerable examples, contexts several windows long."""
    rows = make_squad_examples(40, context_words=120, seed=7, unanswerable_every=4)
    return Dataset.from_list(rows)


def _dataset(context: str, question: str, text: str | None, start: int | None) -> Dataset:
    answers = (
        {"text": [text], "answer_start": [start]}
        if text is not None
        else {"text": [], "answer_start": []}
    )
    row = {"id": "q0", "title": "t", "context": context, "question": question, "answers": answers}
    return Dataset.from_list([row])


def _both(examples, tok, max_length=MAX_LENGTH, doc_stride=STRIDE, **kw):
    train = prepare_train_features(
        examples, tok, max_length=max_length, doc_stride=doc_stride, **kw
    )
    evalf = prepare_eval_features(examples, tok, max_length=max_length, doc_stride=doc_stride, **kw)
    assert train["input_ids"] == evalf["input_ids"]
    assert train["example_index"] == evalf["example_index"]
    return train, evalf


def _context_positions(offsets) -> list[int]:
    return [i for i, (a, b) in enumerate(offsets) if (a, b) != (-1, -1)]


def _reference_labels(offsets, cls, start_char, end_char):
    """Per-token reference labelling (slow, obviously correct) over the context tokens."""
    ctx = _context_positions(offsets)
    if offsets[ctx[0]][0] > start_char or offsets[ctx[-1]][1] < end_char:
        return cls, cls
    start = max(i for i in ctx if offsets[i][0] <= start_char)
    end = min(i for i in ctx if offsets[i][1] >= end_char)
    return start, max(start, end)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


# --- labels ------------------------------------------------------------------------------


# Labels decode to the answer or point at CLS: tests/data/test_label_properties.py checks it
# over generated contexts, answers and strides for every test tokenizer.


def test_labels_match_per_token_reference(tok):
    rows = make_squad_examples(30, context_words=90, seed=11, answer_words=(1, 6))
    examples = Dataset.from_list(rows)
    train, evalf = _both(examples, tok, max_length=48, doc_stride=12)
    for row, offsets in zip(train, evalf["offset_mapping"], strict=True):
        ans = examples[row["example_index"]]["answers"]
        start_char = ans["answer_start"][0]
        expected = _reference_labels(
            offsets, row["cls_index"], start_char, start_char + len(ans["text"][0])
        )
        assert (row["start_positions"], row["end_positions"]) == expected


def test_unanswerable_examples_label_cls(tok):
    examples = Dataset.from_list(make_squad_examples(6, context_words=100, unanswerable_every=1))
    train = prepare_train_features(examples, tok, max_length=MAX_LENGTH, doc_stride=STRIDE)
    assert len(train) > len(examples)
    for row in train:
        assert row["start_positions"] == row["end_positions"] == row["cls_index"] == 0


def _window_end(tok, context, question, max_length=MAX_LENGTH, doc_stride=STRIDE):
    """Offsets of window 0 and the position of its last context token."""
    evalf = prepare_eval_features(
        _dataset(context, question, None, None), tok, max_length=max_length, doc_stride=doc_stride
    )
    assert len(evalf) >= 2
    offsets = evalf[0]["offset_mapping"]
    return offsets, _context_positions(offsets)[-1]


def test_answer_ending_at_last_context_token_of_window_is_labelled(tok):
    context = make_context(150, seed=3)
    question = "Who built the bridge?"
    offsets, last = _window_end(tok, context, question)
    start_char, end_char = offsets[last - 2][0], offsets[last][1]
    text = context[start_char:end_char]
    train = prepare_train_features(
        _dataset(context, question, text, start_char), tok, max_length=MAX_LENGTH, doc_stride=STRIDE
    )
    assert train[0]["start_positions"] == last - 2
    assert train[0]["end_positions"] == last
    assert train[0]["end_positions"] != train[0]["cls_index"]

    # One character past the window: window 0 points at CLS, a later window labels it.
    longer = context[start_char : end_char + 1]
    if end_char < len(context) and offsets[last][1] < end_char + 1:
        train = prepare_train_features(
            _dataset(context, question, longer, start_char),
            tok,
            max_length=MAX_LENGTH,
            doc_stride=STRIDE,
        )
        assert train[0]["start_positions"] == train[0]["end_positions"] == 0
        assert any(r["start_positions"] != 0 for r in train)


def test_answer_starting_at_first_context_token(tok):
    context = make_context(30, seed=5)
    first_word = context.split()[0]
    train, evalf = _both(_dataset(context, "What?", first_word, 0), tok)
    ctx = _context_positions(evalf[0]["offset_mapping"])
    assert train[0]["start_positions"] == ctx[0]


def test_mid_word_start_maps_to_the_token_holding_it(tok):
    context = "The old kingdom crossed the river in 1200 and ruled the valley."
    start_char = context.index("kingdom") + 4  # "dom"
    train, evalf = _both(_dataset(context, "What?", "dom", start_char), tok)
    offsets = evalf[0]["offset_mapping"]
    s, e = train[0]["start_positions"], train[0]["end_positions"]
    assert offsets[s][0] <= start_char < offsets[s][1]
    assert "dom" in context[offsets[s][0] : offsets[e][1]]


def test_whitespace_preceded_answer_handled_like_hf(tok):
    context = "Alice founded the city of Paris in 1200."
    start_char = context.index(" Paris")
    train, evalf = _both(_dataset(context, "Which city?", " Paris", start_char), tok)
    offsets = evalf[0]["offset_mapping"]
    s, e = train[0]["start_positions"], train[0]["end_positions"]
    # HF run_qa: the last token starting at or before the answer start (the word before).
    assert (s, e) == _reference_labels(offsets, 0, start_char, start_char + len(" Paris"))
    assert context[offsets[e][0] : offsets[e][1]] == "Paris"


# --- windows and eval features ------------------------------------------------------------


def test_eval_offsets_round_trip(tok, examples):
    evalf = prepare_eval_features(examples, tok, max_length=MAX_LENGTH, doc_stride=STRIDE)
    context_first = tok.padding_side == "left"
    for row in evalf:
        context = examples[row["example_index"]]["context"]
        offsets, ids = row["offset_mapping"], row["input_ids"]
        assert len(offsets) == len(ids)
        ctx = _context_positions(offsets)
        assert ctx == list(range(ctx[0], ctx[-1] + 1)), "context tokens are contiguous"
        if context_first:
            assert ctx[0] == 1
        else:
            assert ctx[-1] == len(ids) - 2
        tokens = tok.convert_ids_to_tokens(ids)
        for i in ctx:
            a, b = offsets[i]
            assert 0 <= a <= b <= len(context)
            if tokens[i].startswith("##") or tok.cls_token == "[CLS]":
                assert context[a:b].lower() == tokens[i].removeprefix("##")
            else:
                assert tok.convert_tokens_to_string([tokens[i]]).strip() == context[a:b]
        starts = [offsets[i][0] for i in ctx]
        assert starts == sorted(starts)


def test_windows_overlap_by_doc_stride_tokens(tok):
    context = make_context(300, seed=9)
    evalf = prepare_eval_features(
        _dataset(context, "Who ruled the city?", None, None),
        tok,
        max_length=MAX_LENGTH,
        doc_stride=STRIDE,
    )
    assert len(evalf) >= 4
    spans = [[tuple(o) for o in r["offset_mapping"] if tuple(o) != (-1, -1)] for r in evalf]
    for prev, nxt in zip(spans, spans[1:], strict=False):
        assert prev[-STRIDE:] == nxt[:STRIDE]
        assert nxt[STRIDE][0] >= prev[-1][1]
    assert spans[0][0][0] == 0
    assert spans[-1][-1][1] == len(context.rstrip())


def test_every_example_has_features_in_tokenizer_order(tok, examples):
    for features in _both(examples, tok):
        idx = features["example_index"]
        assert sorted(set(idx)) == list(range(len(examples)))
        assert idx == sorted(idx)


def test_rows_are_unpadded_and_carry_cls_index(tok, examples):
    train, evalf = _both(examples, tok)
    lengths = set()
    for features in (train, evalf):
        for row in features:
            ids = row["input_ids"]
            assert len(ids) <= MAX_LENGTH
            assert tok.pad_token_id not in ids
            assert set(row["attention_mask"]) == {1}
            assert row["cls_index"] == ids.index(tok.cls_token_id) == 0
            lengths.add(len(ids))
    assert len(lengths) > 1
    has_types = "token_type_ids" in tok.model_input_names
    assert ("token_type_ids" in train.column_names) == has_types
    assert ("token_type_ids" in evalf.column_names) == has_types
    assert "offset_mapping" not in train.column_names
    assert {"start_positions", "end_positions"} <= set(train.column_names)


def test_left_padding_tokenizer_puts_context_first(left_tokenizer):
    context = make_context(20, seed=1)
    evalf = prepare_eval_features(
        _dataset(context, "Which city?", None, None), left_tokenizer, max_length=64, doc_stride=8
    )
    row = evalf[0]
    ctx = _context_positions(row["offset_mapping"])
    assert ctx[0] == 1
    assert row["token_type_ids"][ctx[0]] == 0
    assert row["token_type_ids"][-1] == 1


def test_question_leading_whitespace_is_stripped(wordpiece_tokenizer):
    context = make_context(20, seed=2)
    a = prepare_eval_features(
        _dataset(context, "   \n\t  Which city?", None, None),
        wordpiece_tokenizer,
        max_length=64,
        doc_stride=8,
    )
    b = prepare_eval_features(
        _dataset(context, "Which city?", None, None),
        wordpiece_tokenizer,
        max_length=64,
        doc_stride=8,
    )
    assert a["input_ids"] == b["input_ids"]


# --- long questions and stride checks -------------------------------------------------------


def test_question_longer_than_max_length_is_capped(tok, caplog):
    context = make_context(80, seed=4)
    long_q = " ".join(WORDS[:100]) + " sunflowerfield?"
    spans = word_spans(context)
    start, end = spans[3][0], spans[3][1]
    ds = Dataset.from_list(
        [
            {
                "id": str(i),
                "title": "t",
                "context": context,
                "question": q,
                "answers": {"text": [context[start:end]], "answer_start": [start]},
            }
            for i, q in enumerate([long_q, "Who?", long_q])
        ]
    )
    with caplog.at_level(logging.WARNING, logger="qa_lightning.data.features"):
        train, evalf = _both(ds, tok, max_length=MAX_LENGTH, doc_stride=8, max_question_tokens=20)
    warnings = [r.getMessage() for r in caplog.records if "questions were longer" in r.getMessage()]
    assert len(warnings) == 2  # one per prepare call
    assert warnings[0].startswith("2 of 3 questions")
    assert sorted(set(train["example_index"])) == [0, 1, 2]
    specials = tok.num_special_tokens_to_add(pair=True)
    for row in evalf:
        n_question = len(row["input_ids"]) - len(_context_positions(row["offset_mapping"]))
        assert n_question - specials <= 20
    assert any(r["start_positions"] != 0 for r in train)


def test_default_question_cap():
    assert resolve_max_question_tokens(384, None) == 64
    assert resolve_max_question_tokens(64, None) == 32
    assert resolve_max_question_tokens(384, 100) == 100
    with pytest.raises(ValueError, match="data.max_question_tokens"):
        resolve_max_question_tokens(384, 0)


def test_question_longer_than_max_length_with_default_cap(wordpiece_tokenizer):
    context = make_context(50, seed=4)
    long_q = " ".join(WORDS[:200])
    ds = _dataset(context, long_q, None, None)
    evalf = prepare_eval_features(ds, wordpiece_tokenizer, max_length=64, doc_stride=8)
    assert len(evalf) >= 1


def test_check_stride_message(wordpiece_tokenizer, bpe_tokenizer):
    msg = (
        "data.doc_stride=200 leaves no room: with max_length=256 and questions capped at 64 "
        "tokens the context window is 189 tokens; use doc_stride < 189"
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        check_stride(wordpiece_tokenizer, max_length=256, doc_stride=200, max_question_tokens=64)
    # RoBERTa adds four special tokens to a pair.
    with pytest.raises(ValueError, match="use doc_stride < 188"):
        check_stride(bpe_tokenizer, max_length=256, doc_stride=188, max_question_tokens=None)
    check_stride(bpe_tokenizer, max_length=256, doc_stride=187, max_question_tokens=None)
    check_stride(wordpiece_tokenizer, max_length=384, doc_stride=128, max_question_tokens=None)


@pytest.mark.parametrize(
    ("max_length", "doc_stride", "cap", "match"),
    [
        (64, -1, None, r"data.doc_stride=-1 must be >= 0"),
        (64, 64, None, r"data.doc_stride=64 leaves no room"),
        (64, 29, None, r"data.doc_stride=29 leaves no room.*use doc_stride < 29"),
        (64, 8, 62, r"data.max_length=64 leaves no room for the context"),
    ],
)
def test_check_stride_rejects(wordpiece_tokenizer, max_length, doc_stride, cap, match):
    with pytest.raises(ValueError, match=match) as info:
        check_stride(
            wordpiece_tokenizer,
            max_length=max_length,
            doc_stride=doc_stride,
            max_question_tokens=cap,
        )
    assert "\n" not in str(info.value)


def test_prepare_functions_check_stride_first(wordpiece_tokenizer, examples):
    for prepare in (prepare_train_features, prepare_eval_features):
        with pytest.raises(ValueError, match="data.doc_stride=40"):
            prepare(examples, wordpiece_tokenizer, max_length=64, doc_stride=40)


def test_largest_allowed_stride_does_not_hang(tok):
    """doc_stride = room - 1 with a question at the cap: windows advance by one token."""
    context = make_context(40, seed=6)
    cap = 10
    question = " ".join(WORDS[:40])
    room = 48 - cap - tok.num_special_tokens_to_add(pair=True)
    evalf = prepare_eval_features(
        _dataset(context, question, None, None),
        tok,
        max_length=48,
        doc_stride=room - 1,
        max_question_tokens=cap,
    )
    assert len(evalf) > 1


# --- datasets behaviour ---------------------------------------------------------------------


def test_num_proc_and_fingerprint_are_deterministic(wordpiece_tokenizer, examples):
    kw = {"max_length": MAX_LENGTH, "doc_stride": STRIDE}
    a = prepare_train_features(examples, wordpiece_tokenizer, **kw)
    b = prepare_train_features(examples, wordpiece_tokenizer, **kw)
    c = prepare_train_features(examples, wordpiece_tokenizer, num_proc=2, **kw)
    assert a._fingerprint == b._fingerprint
    assert a.to_dict() == c.to_dict()
    d = prepare_train_features(examples, wordpiece_tokenizer, max_length=MAX_LENGTH, doc_stride=8)
    assert d._fingerprint != a._fingerprint


def test_empty_dataset(wordpiece_tokenizer, examples):
    empty = examples.select([])
    train = prepare_train_features(empty, wordpiece_tokenizer, max_length=64, doc_stride=8)
    assert len(train) == 0


def _pair_windows(tok, question: str, context: str, max_length: int, doc_stride: int):
    """The windows of tokenising the (question, context) pair with overflow: what the
    paragraph-once builder must reproduce."""
    first, second = (context, question) if tok.padding_side == "left" else (question, context)
    enc = tok(
        first,
        second,
        truncation="only_first" if tok.padding_side == "left" else "only_second",
        max_length=max_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    context_id = 0 if tok.padding_side == "left" else 1
    windows = []
    for i in range(len(enc["input_ids"])):
        offsets = [
            list(o) if s == context_id else [-1, -1]
            for o, s in zip(enc["offset_mapping"][i], enc.sequence_ids(i), strict=True)
        ]
        windows.append(
            (enc["input_ids"][i], enc.get("token_type_ids", [None] * (i + 1))[i], offsets)
        )
    return windows


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n_words=st.integers(0, 160),
    questions=st.lists(st.integers(1, 40), min_size=1, max_size=4),
    max_length=st.sampled_from([48, 64, 96]),
    stride_fraction=st.floats(0.0, 0.9),
    seed=st.integers(0, 10_000),
)
def test_paragraph_once_windows_equal_pair_tokenisation(
    tok, n_words, questions, max_length, stride_fraction, seed
):
    """Several questions on one paragraph, tokenised once: the same windows, token types and
    offsets as each (question, context) pair through the tokenizer, capped questions too."""
    import random

    rng = random.Random(seed)
    context = make_context(n_words, seed=seed) if n_words else " "
    cap = resolve_max_question_tokens(max_length, None)
    room = max_length - cap - tok.num_special_tokens_to_add(pair=True)
    doc_stride = int(stride_fraction * (room - 1))
    rows = [
        {
            "id": f"q{i}",
            "title": "t",
            "context": context,
            "question": " ".join(rng.choice(WORDS) for _ in range(n)) + "?",
            "answers": {"text": [], "answer_start": []},
        }
        for i, n in enumerate(questions)
    ]
    features = prepare_eval_features(
        Dataset.from_list(rows), tok, max_length=max_length, doc_stride=doc_stride
    )
    expected = []
    for row in rows:
        ids = tok(row["question"], add_special_tokens=False)["input_ids"][:cap]
        question = tok.decode(ids) if len(ids) == cap else row["question"]
        expected += _pair_windows(tok, question, context, max_length, doc_stride)
    assert features["input_ids"] == [w[0] for w in expected]
    if "token_type_ids" in features.column_names:
        assert features["token_type_ids"] == [w[1] for w in expected]
    assert features["offset_mapping"] == [w[2] for w in expected]


def test_in_memory_windows_equal_the_datasets(tok, examples) -> None:
    """eval_windows (the pipeline's and the service's) builds the windows evaluation does."""
    from qa_lightning.data.features import eval_windows

    expected = prepare_eval_features(examples, tok, max_length=64, doc_stride=16)
    got = eval_windows(examples["question"], examples["context"], tok, max_length=64, doc_stride=16)
    assert sorted(got) == sorted(expected.column_names)
    for name in expected.column_names:
        assert [np.asarray(row).tolist() for row in got[name]] == expected[name], name


@pytest.mark.parametrize("max_question_tokens", [None, 4])
def test_window_counts_equal_the_windows_built(tok, examples, max_question_tokens) -> None:
    """count_windows (the service's per-item limit) counts what eval_windows builds."""
    from qa_lightning.data.features import count_windows, eval_windows

    questions = [*examples["question"], "  a very long question " * 20]
    contexts = [*examples["context"], examples["context"][0] * 3]
    kw = dict(max_length=64, doc_stride=16, max_question_tokens=max_question_tokens)
    windows = eval_windows(questions, contexts, tok, **kw)
    built = np.bincount(windows["example_index"], minlength=len(questions)).tolist()
    counted = count_windows(questions, contexts, tok, **kw)
    assert counted == built and max(counted) > 1
