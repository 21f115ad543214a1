"""Property tests of postprocessing: for random examples, windows, logits (extreme values,
ties, all equal, half precision, padding wider than the rows) and settings, ``postprocess``
and ``postprocess_predictions`` never raise, answer every example once, and every answer
or n-best entry is ``""`` or the character span of context tokens of one of the example's
windows, with probabilities that form a distribution.

Windows come from two sources: ``tests/evaluation/builders.py`` (any window geometry,
examples whose windows were all dropped, empty contexts) and real eval features of the
byte-level BPE test tokenizer (zero-width offsets on repeated spaces give empty spans).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from datasets import Dataset
from hypothesis import given, settings
from hypothesis import strategies as st

from qa_lightning.data.features import prepare_eval_features
from qa_lightning.evaluation import postprocess, postprocess_predictions
from tests.evaluation.builders import build
from tests.fixtures import WORDS

# Values that stress the scoring: huge logits (masking uses -inf, padding often -1e4),
# float16's largest finite values (their sums overflow float16, not float32), tiny ones.
_EXTREMES = [-1e4, 1e4, -65504.0, 65504.0, 0.0, -0.0, 1.0, -1.0, 6e-8, 1e-30]
_SETTINGS = settings(max_examples=120, deadline=None, derandomize=True)


def _words(draw, lo: int, hi: int) -> str:
    words = draw(st.lists(st.sampled_from(WORDS[:40]), min_size=lo, max_size=hi))
    return " ".join(words)


@st.composite
def _builder_windows(draw):
    """Hand-built windows of 1-8 words; some windows dropped (an example may have none)."""
    contexts = [_words(draw, 0, 20) for _ in range(draw(st.integers(1, 4)))]
    window_words = draw(st.integers(1, 8))
    built = build(
        contexts,
        question_lens=[draw(st.integers(0, 4)) for _ in contexts],
        window_words=window_words,
        stride_words=draw(st.integers(1, window_words)),
    )
    features = built.features
    keep = draw(st.lists(st.booleans(), min_size=len(features), max_size=len(features)))
    if not all(keep):  # even every window: examples without any window
        features = features.select([i for i, k in enumerate(keep) if k])
    return built.examples, features


@st.composite
def _bpe_windows(draw, tokenizer):
    """Real eval features: repeated spaces give zero-width tokens (empty-text spans)."""
    rows = []
    for i in range(draw(st.integers(1, 3))):
        words = draw(st.lists(st.sampled_from(WORDS[:40]), min_size=1, max_size=40))
        seps = draw(st.lists(st.sampled_from([" ", " ", "  ", "   "]), min_size=len(words)))
        context = "".join(s + w for s, w in zip(seps, words, strict=False)).lstrip()
        rows.append(
            {
                "id": f"b{i}",
                "title": "t",
                "context": context,
                "question": _words(draw, 1, 6) + "?",
                "answers": {"text": [], "answer_start": []},
            }
        )
    examples = Dataset.from_list(rows)
    max_length = draw(st.integers(24, 48))
    features = prepare_eval_features(
        examples, tokenizer, max_length=max_length, doc_stride=draw(st.integers(0, 4))
    )
    return examples, features


@st.composite
def _logits(draw, lengths: list[int]):
    """(start, end) logits in one of the accepted forms, with padding past each row.

    Values are drawn from a small pool (one value: all equal; a few small integers: ties;
    extremes and float16-representable values) or are Gaussian, placed by a seeded rng.
    """
    width = max(lengths, default=0) + draw(st.integers(0, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["pool", "ties", "gaussian"]))
    arrays = []
    for _ in range(2):
        if kind == "gaussian":
            values = rng.normal(
                0.0, draw(st.sampled_from([1e-3, 1.0, 100.0])), width * len(lengths)
            )
        else:
            element = (
                st.integers(-2, 2).map(float)
                if kind == "ties"
                else st.sampled_from(_EXTREMES) | st.floats(-1e4, 1e4, width=16)
            )
            pool = draw(st.lists(element, min_size=1, max_size=8))
            values = rng.choice(np.array(pool), size=width * len(lengths))
        arrays.append(values.reshape(len(lengths), width))
    form = draw(st.sampled_from(["float32", "float16", "float64", "torch16", "bf16", "rows"]))
    if form == "rows":  # unpadded 1-D rows
        return tuple([a[i, :n].astype(np.float32) for i, n in enumerate(lengths)] for a in arrays)
    if form in ("torch16", "bf16"):
        dtype = torch.float16 if form == "torch16" else torch.bfloat16
        return tuple(torch.tensor(a, dtype=torch.float32).to(dtype) for a in arrays)
    return tuple(a.astype(form) for a in arrays)


def _valid_spans(examples, features, max_answer_length: int) -> list[set[tuple[int, int]]]:
    """Per example: the character spans (start of token s, end of token e) of every pair of
    context tokens s <= e of one window with ``e - s + 1 <= max_answer_length``."""
    spans: list[set[tuple[int, int]]] = [set() for _ in range(len(examples))]
    for ex, offsets in zip(features["example_index"], features["offset_mapping"], strict=True):
        ctx = [i for i, o in enumerate(offsets) if o[0] >= 0 and o[1] >= 0]
        for a, s in enumerate(ctx):
            for e in ctx[a : a + max_answer_length]:
                if e - s + 1 <= max_answer_length:
                    spans[ex].add((offsets[s][0], offsets[e][1]))
    return spans


def _check(examples, features, start, end, opts) -> None:
    ids, contexts = list(examples["id"]), list(examples["context"])
    with warnings.catch_warnings():  # no overflow/invalid-value warnings either
        warnings.simplefilter("error", RuntimeWarning)
        answers = postprocess_predictions(examples, features, start, end, **opts)
        out = postprocess(examples, features, start, end, **opts)
    # one prediction per example; the answers-only path gives the n-best path's answers
    assert list(answers) == ids
    assert answers == out.predictions
    assert list(out.nbest) == ids
    assert (list(out.null_odds) == ids) if opts["version_2"] else (out.null_odds == {})

    spans = _valid_spans(examples, features, opts["max_answer_length"])
    for i, (qid, context) in enumerate(zip(ids, contexts, strict=True)):
        texts = {context[a:b] for a, b in spans[i]}
        prediction = answers[qid]
        assert prediction == "" or prediction in texts
        entries = out.nbest[qid]
        assert 1 <= len(entries) <= opts["n_best_size"] + opts["version_2"]
        for entry in entries:
            assert entry["text"] == context[entry["start"] : entry["end"]]
            assert (entry["start"], entry["end"]) in spans[i] or entry["text"] == ""
            assert 0.0 <= entry["probability"] <= 1.0
            assert math.isfinite(entry["start_logit"]) and math.isfinite(entry["end_logit"])
        assert math.isclose(sum(e["probability"] for e in entries), 1.0, abs_tol=1e-6)
        texts_listed = [e["text"] for e in entries if e["text"]]
        if not opts["version_2"]:
            assert prediction == entries[0]["text"]  # v1: the best candidate
            continue
        odds = out.null_odds[qid]
        assert math.isfinite(odds)
        if prediction:  # v2: the best span with text, when the null does not beat it
            assert odds <= opts["null_score_diff_threshold"]
            if texts_listed:
                assert prediction == texts_listed[0]
        elif texts_listed:
            assert odds > opts["null_score_diff_threshold"]


_OPTIONS = st.fixed_dictionaries(
    {
        "n_best_size": st.integers(1, 25),
        "max_answer_length": st.integers(1, 40),
        "version_2": st.booleans(),
        "null_score_diff_threshold": st.sampled_from([0.0, -1e4, 1e4]) | st.floats(-20, 20),
    }
)


@_SETTINGS
@given(data=st.data(), opts=_OPTIONS)
def test_postprocess_properties_on_built_windows(data, opts):
    examples, features = data.draw(_builder_windows())
    lengths = [len(o) for o in features["offset_mapping"]]
    start, end = data.draw(_logits(lengths))
    _check(examples, features, start, end, opts)


@settings(max_examples=50, deadline=None, derandomize=True)
@given(data=st.data(), opts=_OPTIONS)
def test_postprocess_properties_on_bpe_features(bpe_tokenizer, data, opts):
    examples, features = data.draw(_bpe_windows(bpe_tokenizer))
    lengths = [len(o) for o in features["offset_mapping"]]
    start, end = data.draw(_logits(lengths))
    _check(examples, features, start, end, opts)
