"""Property tests of the training labels: for random contexts, answers, window settings and
every test tokenizer, a window's labels decode to the answer exactly when the window holds
it, and point at the window's CLS token otherwise.

Contexts are words the test tokenizers know, with casing, punctuation and whitespace
variety (doubled spaces, newlines, tabs: byte-level BPE gives those zero-width or
whitespace tokens). Answers are runs of whole words with any leading/trailing punctuation
dropped, so their characters begin and end on token boundaries for both tokenizers.

Train features carry no offsets: the offsets of the same windows come from
``prepare_eval_features`` with the same settings (the two share their windows; asserted).
Offsets index the raw context, so the labelled span is compared with the answer text
exactly; the labelled *ids* are compared after the tokenizer's own normalisation
(lowercasing for the uncased WordPiece vocabulary; whitespace removed, since decoding
re-spaces WordPiece tokens).
"""

from __future__ import annotations

import pytest
from datasets import Dataset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa_lightning.data.features import (
    prepare_eval_features,
    prepare_train_features,
    resolve_max_question_tokens,
)
from tests.fixtures import WORDS, word_spans

TOKENIZERS = ["wordpiece_tokenizer", "bpe_tokenizer", "left_tokenizer"]

_PREFIXES = ["", "", "", "", "(", '"']
_SUFFIXES = ["", "", "", "", ",", ".", ";", ":", "!", "?", ")", '"', ").", '",']
_SEPARATORS = [" "] * 12 + ["  ", "\n", " \n\n", "\t", "   "]


@pytest.fixture(params=TOKENIZERS)
def tok(request):
    return request.getfixturevalue(request.param)


@st.composite
def _word(draw) -> str:
    word = draw(st.sampled_from(WORDS) | st.integers(0, 3000).map(str))
    word = draw(st.sampled_from([word, word, word.capitalize(), word.upper()]))
    return draw(st.sampled_from(_PREFIXES)) + word + draw(st.sampled_from(_SUFFIXES))


@st.composite
def _context(draw) -> str:
    words = draw(st.lists(_word(), min_size=1, max_size=90))
    text = words[0]
    for word in words[1:]:
        text += draw(st.sampled_from(_SEPARATORS)) + word
    lead = draw(st.sampled_from(["", "", "", " ", "\n"]))
    return lead + text


def _answer_span(context: str, first: int, n_words: int) -> tuple[int, int] | None:
    """Characters of words ``first .. first + n_words - 1`` without their outer punctuation."""
    spans = word_spans(context)
    first = first % len(spans)
    last = min(first + n_words, len(spans)) - 1
    start, end = spans[first][0], spans[last][1]
    while start < end and not context[start].isalnum():
        start += 1
    while end > start and not context[end - 1].isalnum():
        end -= 1
    return (start, end) if start < end else None


@st.composite
def _examples(draw) -> list[dict]:
    """One to three paragraphs, each with one to three questions (SQuAD asks several
    questions per paragraph; features tokenise each paragraph once)."""
    rows = []
    for p in range(draw(st.integers(1, 3))):
        context = draw(_context())
        for q in range(draw(st.integers(1, 3))):
            question = " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=30)))
            answers = {"text": [], "answer_start": []}
            if draw(st.integers(0, 3)):  # one question in four has no answer (v2)
                for _ in range(draw(st.integers(1, 2))):  # train labels use the first answer
                    span = _answer_span(
                        context, draw(st.integers(0, 10_000)), draw(st.integers(1, 8))
                    )
                    if span is not None:
                        answers["text"].append(context[span[0] : span[1]])
                        answers["answer_start"].append(span[0])
            rows.append(
                {
                    "id": f"p{p}-q{q}",
                    "title": "t",
                    "context": context,
                    "question": question.capitalize() + "?",
                    "answers": answers,
                }
            )
    return rows


@st.composite
def _window_settings(draw, n_special: int) -> dict:
    """A valid (max_length, max_question_tokens, doc_stride): at least one context token
    per window and ``doc_stride`` below the room the longest allowed question leaves."""
    max_length = draw(st.integers(16, 128))
    cap = draw(st.none() | st.integers(1, max_length - n_special - 1))
    room = max_length - resolve_max_question_tokens(max_length, cap) - n_special
    doc_stride = draw(st.integers(0, max(room - 1, 0)))
    return {"max_length": max_length, "max_question_tokens": cap, "doc_stride": doc_stride}


def _squash(text: str, lowercase: bool) -> str:
    text = "".join(text.split())
    return text.lower() if lowercase else text


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=_examples(), data=st.data())
def test_labels_decode_to_the_answer_or_point_at_cls(tok, rows, data):
    window = data.draw(_window_settings(tok.num_special_tokens_to_add(pair=True)))
    examples = Dataset.from_list(rows)
    train = prepare_train_features(examples, tok, **window)
    evalf = prepare_eval_features(examples, tok, **window)
    assert train["input_ids"] == evalf["input_ids"]  # same windows: eval offsets apply
    assert train["example_index"] == evalf["example_index"]

    # every window maps back to its example; each example's windows are contiguous, in
    # order, and together cover every non-space character of its context
    example_index = train["example_index"]
    assert example_index == sorted(example_index)
    assert set(example_index) == set(range(len(rows)))
    covered: dict[int, set[int]] = {i: set() for i in range(len(rows))}

    lowercase = bool(getattr(tok, "do_lower_case", False))
    for row, offsets in zip(train, evalf["offset_mapping"], strict=True):
        ex = rows[row["example_index"]]
        context = ex["context"]
        ids, cls = row["input_ids"], row["cls_index"]
        s, e = row["start_positions"], row["end_positions"]
        assert ids[cls] == tok.cls_token_id
        ctx = [i for i, o in enumerate(offsets) if o != [-1, -1]]
        assert ctx and ctx == list(range(ctx[0], ctx[-1] + 1))
        for i in ctx:
            a, b = offsets[i]
            assert 0 <= a <= b <= len(context)
            covered[row["example_index"]].update(range(a, b))

        if not ex["answers"]["text"]:
            assert (s, e) == (cls, cls)
            continue
        text = ex["answers"]["text"][0]
        start_char = ex["answers"]["answer_start"][0]
        end_char = start_char + len(text)
        holds = offsets[ctx[0]][0] <= start_char and end_char <= offsets[ctx[-1]][1]
        if not holds:
            assert (s, e) == (cls, cls)
            continue
        assert ctx[0] <= s <= e <= ctx[-1]
        assert context[offsets[s][0] : offsets[e][1]] == text
        decoded = tok.decode(ids[s : e + 1])
        assert _squash(decoded, lowercase) == _squash(text, lowercase)

    for i, ex in enumerate(rows):
        wanted = {j for j, c in enumerate(ex["context"]) if not c.isspace()}
        assert wanted <= covered[i]
