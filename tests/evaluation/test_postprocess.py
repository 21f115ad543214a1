import math

import numpy as np
import pytest
import torch

from qa_lightning.evaluation import postprocess, postprocess_predictions, squad_scores
from tests.evaluation.builders import build, padded_logits, word_spans

# Two examples, 10 words each: windows of 6 words every 3 words -> windows [0..5], [3..8],
# [6..9]; words 3-5 and 6-8 appear in two windows.
CONTEXTS = [
    "w0 w1 w2 alpha beta gamma w6 w7 w8 w9",
    "the quick brown fox jumps over the lazy old dog",
]


def gold(context, first_word, last_word):
    spans = word_spans(context)
    start, end = spans[first_word][0], spans[last_word][1]
    return context[start:end], start


def point_at(built, start, end, feature, first_word, last_word, value=8.0):
    """Put a high start logit on ``first_word`` and end logit on ``last_word``."""
    s = built.positions_of_word(feature, first_word)
    e = built.positions_of_word(feature, last_word)
    assert s is not None and e is not None
    start[feature, s] = value
    end[feature, e] = value


@pytest.fixture()
def two_examples():
    answers = [[gold(CONTEXTS[0], 3, 5)], [gold(CONTEXTS[1], 7, 9)]]
    return build(CONTEXTS, answers, question_lens=[2, 4])


def test_logits_on_gold_give_full_marks(two_examples):
    b = two_examples
    start, end = padded_logits(b)
    rng = np.random.default_rng(0)
    start += rng.normal(0, 0.1, start.shape).astype(np.float32)
    end += rng.normal(0, 0.1, end.shape).astype(np.float32)
    # example 0's answer (words 3-5) lies in windows 0 and 1; point at it in window 1 only
    f0 = b.features_of(0)
    point_at(b, start, end, f0[1], 3, 5)
    f1 = b.features_of(1)
    point_at(b, start, end, f1[-1], 7, 9)
    preds = postprocess_predictions(b.examples, b.features, start, end)
    assert preds == {"q0": "alpha beta gamma", "q1": "lazy old dog"}
    s = squad_scores(b.examples, preds, version_2=False)
    assert s["exact"] == 100.0 and s["f1"] == 100.0


def test_v2_null_is_minimum_over_windows():
    b = build([CONTEXTS[0]], [[gold(CONTEXTS[0], 3, 3)]])
    start, end = padded_logits(b, base=-5.0)
    w_a, w_b = b.features_of(0)[:2]
    # window A: null 5 + 5 = 10 and the best span "alpha" 3 + 3 = 6
    start[w_a, 0], end[w_a, 0] = 5.0, 5.0
    point_at(b, start, end, w_a, 3, 3, value=3.0)
    # window B: null -1 + -1 = -2 (the minimum); window C: null -5 + -5 = -10 would be lower,
    # so give C a high null to make B the minimum
    start[w_b, 0], end[w_b, 0] = -1.0, -1.0
    w_c = b.features_of(0)[2]
    start[w_c, 0], end[w_c, 0] = 4.0, 4.0
    out = postprocess(b.examples, b.features, start, end, version_2=True)
    # score_diff = min null (-2) - best span (6) = -8 <= 0 -> answer; a max over windows
    # (10 - 6 = 4 > 0) would have predicted "" instead
    assert out.predictions == {"q0": "alpha"}
    assert out.null_odds["q0"] == pytest.approx(-8.0)
    null_entries = [e for e in out.nbest["q0"] if e["text"] == ""]
    assert len(null_entries) == 1
    assert null_entries[0]["start_logit"] == -1.0 and null_entries[0]["end_logit"] == -1.0
    # a threshold below -8 makes the null win
    out2 = postprocess(
        b.examples, b.features, start, end, version_2=True, null_score_diff_threshold=-9.0
    )
    assert out2.predictions == {"q0": ""}


def test_v2_null_wins_when_every_window_prefers_it():
    b = build([CONTEXTS[0]], [[]])
    start, end = padded_logits(b, base=-5.0)
    for f in b.features_of(0):
        start[f, 0], end[f, 0] = 6.0, 6.0  # null 12 everywhere
    point_at(b, start, end, 0, 1, 2, value=4.0)  # best span 8 -> diff 12 - 8 = 4 > 0
    out = postprocess(b.examples, b.features, start, end, version_2=True)
    assert out.predictions == {"q0": ""}
    assert out.null_odds["q0"] == pytest.approx(4.0)
    assert out.nbest["q0"][0]["text"] == ""  # the null is the top n-best entry
    s = squad_scores(b.examples, out.predictions, version_2=True, null_odds=out.null_odds)
    assert s["exact"] == 100.0


def test_max_answer_length_and_reversed_spans_excluded():
    b = build([CONTEXTS[0]], question_lens=1)
    start, end = padded_logits(b)
    f = b.features_of(0)[0]  # words 0..5
    # best start at word 1, best end at word 5: 5 tokens > max_answer_length=4 -> excluded
    start[f, b.positions_of_word(f, 1)] = 10.0
    end[f, b.positions_of_word(f, 5)] = 10.0
    # best end *before* the best start: word 0 end with a high logit -> excluded (end < start)
    end[f, b.positions_of_word(f, 0)] = 9.0
    # the best valid pair: start word 1 (10) with end word 2 (5) -> "w1 w2"
    end[f, b.positions_of_word(f, 2)] = 5.0
    preds = postprocess_predictions(b.examples, b.features, start, end, max_answer_length=4)
    assert preds == {"q0": "w1 w2"}
    # with room for 5 tokens the long span wins
    preds = postprocess_predictions(b.examples, b.features, start, end, max_answer_length=5)
    assert preds == {"q0": "w1 w2 alpha beta gamma"}


def test_question_and_special_tokens_never_answer(two_examples):
    b = two_examples
    start, end = padded_logits(b)
    for f in range(len(b.word_at)):
        for pos, w in enumerate(b.word_at[f]):
            if w < 0:  # question, CLS, SEP: huge logits that must be ignored
                start[f, pos] = 100.0
                end[f, pos] = 100.0
    point_at(b, start, end, 0, 1, 1, value=1.0)
    preds = postprocess_predictions(b.examples, b.features, start, end)
    assert preds["q0"] == "w1"


def test_padding_beyond_row_length_is_ignored(two_examples):
    b = two_examples
    lengths = [len(w) for w in b.word_at]
    start, end = padded_logits(b, width=max(lengths) + 7, pad=1e6)  # huge logit in padding
    point_at(b, start, end, 0, 0, 1)
    point_at(b, start, end, b.features_of(1)[0], 2, 3)
    preds = postprocess_predictions(b.examples, b.features, start, end)
    assert preds == {"q0": "w0 w1", "q1": "brown fox"}
    # the same logits as a list of unpadded 1-D arrays give the same answers
    as_list_s = [start[i, :n] for i, n in enumerate(lengths)]
    as_list_e = [end[i, :n] for i, n in enumerate(lengths)]
    assert postprocess_predictions(b.examples, b.features, as_list_s, as_list_e) == preds
    # plain column mappings work as well as datasets
    cols = b.features.to_dict()
    assert postprocess_predictions(b.examples.to_dict(), cols, start, end) == preds


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_logits_are_widened(two_examples, dtype):
    b = two_examples
    start, end = padded_logits(b)
    # In float16 both 40000 + 40000 and 39000 + 39000 overflow to inf (a tie); widened to
    # float32 first, the larger pair wins. bfloat16 (no numpy twin) must be accepted too.
    point_at(b, start, end, 0, 1, 1, value=39000.0)
    point_at(b, start, end, 1, 4, 5, value=40000.0)
    out = postprocess(
        b.examples, b.features, torch.tensor(start, dtype=dtype), torch.tensor(end, dtype=dtype)
    )
    assert out.predictions["q0"] == "beta gamma"
    assert all(math.isfinite(e["start_logit"] + e["end_logit"]) for e in out.nbest["q0"])


@pytest.mark.parametrize("version_2", [False, True])
def test_nbest_sorted_and_probabilities_sum_to_one(two_examples, version_2):
    b = two_examples
    rng = np.random.default_rng(1)
    start, end = padded_logits(b)
    start += rng.normal(0, 2, start.shape).astype(np.float32)
    end += rng.normal(0, 2, end.shape).astype(np.float32)
    out = postprocess(b.examples, b.features, start, end, version_2=version_2, n_best_size=5)
    assert set(out.nbest) == {"q0", "q1"}
    assert (set(out.null_odds) == {"q0", "q1"}) is version_2
    for entries in out.nbest.values():
        assert 1 <= len(entries) <= 6  # v2 may append the null after the 5 best
        scores = [e["start_logit"] + e["end_logit"] for e in entries]
        if version_2 and len(entries) == 6:
            assert entries[-1]["text"] == ""
            scores = scores[:-1]
        assert scores == sorted(scores, reverse=True)
        assert sum(e["probability"] for e in entries) == pytest.approx(1.0)
        assert set(entries[0]) == {
            "text",
            "start",
            "end",
            "probability",
            "start_logit",
            "end_logit",
        }
        context = b.examples[0 if entries is out.nbest["q0"] else 1]["context"]
        assert all(context[e["start"] : e["end"]] == e["text"] for e in entries)


def test_no_valid_candidate_predicts_empty():
    b = build(["only words here"], question_lens=1, window_words=6)
    start, end = padded_logits(b)
    f = 0
    # start logits favour the last word, end logits the first: with n_best_size=1 the only
    # pair is reversed -> no candidate at all
    start[f, b.positions_of_word(f, 2)] = 5.0
    end[f, b.positions_of_word(f, 0)] = 5.0
    out = postprocess(b.examples, b.features, start, end, n_best_size=1)
    assert out.predictions == {"q0": ""}
    assert out.nbest["q0"] == [
        {"text": "", "start": 0, "end": 0, "start_logit": 0.0, "end_logit": 0.0, "probability": 1.0}
    ]
    out = postprocess(b.examples, b.features, start, end, n_best_size=1, version_2=True)
    assert out.predictions == {"q0": ""}
    assert [e["text"] for e in out.nbest["q0"]] == [""]


# --------------------------------------------------------------------- reference comparison
def _reference(examples, built, start, end, n_best, max_len, version_2, thresh):
    """The plain Hugging Face double loop (per window, n-best starts x n-best ends)."""
    contexts = list(examples["context"])
    ids = list(examples["id"])
    offsets = list(built.features["offset_mapping"])
    ex_index = list(built.features["example_index"])
    preds, odds = {}, {}
    for ex, (qid, ctx) in enumerate(zip(ids, contexts, strict=True)):
        cands, min_null = [], None
        for f, e in enumerate(ex_index):
            if e != ex:
                continue
            n = len(offsets[f])
            s_log, e_log = start[f][:n], end[f][:n]
            null = s_log[0] + e_log[0]
            if min_null is None or null < min_null:
                min_null = null
            s_idx = np.argsort(s_log)[-1 : -n_best - 1 : -1]
            e_idx = np.argsort(e_log)[-1 : -n_best - 1 : -1]
            for i in s_idx:
                for j in e_idx:
                    if offsets[f][i] == [-1, -1] or offsets[f][j] == [-1, -1]:
                        continue
                    if j < i or j - i + 1 > max_len:
                        continue
                    cands.append(
                        (
                            s_log[i] + e_log[j],
                            s_log[i],
                            e_log[j],
                            offsets[f][i][0],
                            offsets[f][j][1],
                        )
                    )
        cands = sorted(cands, key=lambda c: c[0], reverse=True)[:n_best]
        if not version_2:
            preds[qid] = ctx[cands[0][3] : cands[0][4]] if cands else ""
            continue
        best = next((c for c in cands if ctx[c[3] : c[4]]), None)
        diff = float(min_null - best[1] - best[2]) if best else float(min_null)
        odds[qid] = diff
        preds[qid] = "" if diff > thresh or best is None else ctx[best[3] : best[4]]
    return preds, odds


@pytest.mark.parametrize(
    ("seed", "n_best", "max_len", "version_2", "peaked"),
    [
        (0, 20, 30, False, False),
        (1, 5, 3, False, False),
        (2, 20, 30, True, False),
        (3, 4, 2, True, False),
        (4, 2, 1, True, False),
        (5, 3, 30, False, True),
        (6, 5, 4, True, True),
    ],
)
def test_matches_plain_double_loop_on_random_logits(seed, n_best, max_len, version_2, peaked):
    """Random logits (few valid pairs per window) or peaked ones (starts early, ends late in
    the context: most pairs valid) give the same answers and null odds as the plain loop."""
    rng = np.random.default_rng(seed)
    contexts = [
        " ".join(f"t{rng.integers(100)}" for _ in range(rng.integers(3, 25))) for _ in range(25)
    ]
    qlens = [int(rng.integers(1, 6)) for _ in contexts]
    b = build(contexts, question_lens=qlens, window_words=7, stride_words=4)
    start, end = padded_logits(b, width=max(len(w) for w in b.word_at) + 3, pad=50.0)
    lengths = [len(w) for w in b.word_at]
    for f, n in enumerate(lengths):
        start[f, :n] = rng.normal(0, 3, n)
        end[f, :n] = rng.normal(0, 3, n)
        if peaked:
            ctx = [pos for pos, w in enumerate(b.word_at[f]) if w >= 0]
            half = len(ctx) // 2
            start[f, ctx[: half + 1]] += 10.0
            end[f, ctx[half:]] += 10.0
    ref_preds, ref_odds = _reference(
        b.examples, b, start, end, n_best, max_len, version_2, thresh=0.5
    )
    settings = {
        "n_best_size": n_best,
        "max_answer_length": max_len,
        "version_2": version_2,
        "null_score_diff_threshold": 0.5,
    }
    out = postprocess(b.examples, b.features, start, end, **settings)
    assert out.predictions == ref_preds
    assert out.null_odds.keys() == ref_odds.keys()
    for k, v in ref_odds.items():
        assert out.null_odds[k] == pytest.approx(v, abs=1e-5)
    answers_only = postprocess_predictions(b.examples, b.features, start, end, **settings)
    assert answers_only == ref_preds


@pytest.mark.parametrize(("seed", "version_2"), [(0, True), (1, True), (2, False)])
def test_zero_width_tokens_give_empty_texts_that_v2_skips(seed, version_2):
    """Tokens with zero-width offsets make spans with empty texts. v2 answers with the best
    span that has text (v1 takes the best span, even an empty one), with or without n-best
    lists, as the plain loop does."""
    rng = np.random.default_rng(seed)
    contexts = [" ".join(f"w{rng.integers(50)}" for _ in range(12)) for _ in range(20)]
    b = build(contexts, question_lens=2, window_words=6, stride_words=3)
    rows = b.features.to_list()
    zero_width = 0
    for row in rows:
        for pos, (a, _) in enumerate(row["offset_mapping"]):
            if a >= 0 and rng.random() < 0.5:
                row["offset_mapping"][pos] = [a, a]
                zero_width += 1
    assert zero_width > 0
    features = {key: [row[key] for row in rows] for key in rows[0]}
    built = type(b)(b.examples, features, b.word_at)
    start, end = padded_logits(b)
    for f, words in enumerate(b.word_at):
        start[f, : len(words)] = rng.normal(0, 3, len(words))
        end[f, : len(words)] = rng.normal(0, 3, len(words))
    ref_preds, _ = _reference(b.examples, built, start, end, 5, 2, version_2, thresh=0.0)
    settings = {"n_best_size": 5, "max_answer_length": 2, "version_2": version_2}
    assert postprocess(b.examples, features, start, end, **settings).predictions == ref_preds
    assert postprocess_predictions(b.examples, features, start, end, **settings) == ref_preds
    if version_2:  # some example's best span is empty and was skipped
        best_any, _ = _reference(b.examples, built, start, end, 5, 2, False, thresh=0.0)
        assert any(best_any[q] == "" and ref_preds[q] for q in ref_preds)
