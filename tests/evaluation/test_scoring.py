import random
import re
import string
import warnings
from collections import Counter

import pytest

from qa_lightning.evaluation import normalize_answer, squad_scores
from qa_lightning.evaluation.scoring import f1_v1, f1_v2
from tests.evaluation.builders import make_examples


def ex(answers, ids=None):
    """Examples whose only relevant field is the gold answers (start offsets unused)."""
    return make_examples(
        ["ctx"] * len(answers), [[(a, 0) for a in golds] for golds in answers], ids=ids
    )


# ----------------------------------------------------------------------------- normalisation
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("The Eiffel Tower", "eiffel tower"),
        ("an apple a day", "apple day"),
        ("theatre another answer", "theatre another answer"),  # articles only as words
        ("A", ""),
        ("  lots\tof \n space  ", "lots of space"),
        ("U.S.A.!", "usa"),
        ("rock-n-roll's", "rocknrolls"),  # punctuation removed, not replaced
        ("the,cat", "thecat"),  # punctuation is stripped first: no whole-word article left
        ("the cat, the hat", "cat hat"),
        ("Ünïcode CAFÉ", "ünïcode café"),
        ("", ""),
    ],
)
def test_normalize_answer(raw, expected):
    assert normalize_answer(raw) == expected


def test_token_f1_hand_computed():
    # pred tokens [tower, in, paris]; gold [eiffel, tower, in, paris]:
    # common 3, P = 3/3, R = 3/4 -> F1 = 2 * 1 * .75 / 1.75 = 6/7
    assert f1_v1("tower in Paris", "Eiffel Tower in Paris") == pytest.approx(6 / 7)
    # duplicates are counted with multiplicity: common = min(2, 1) = 1, P = 1/2, R = 1 -> 2/3
    assert f1_v2("paris paris", "Paris") == pytest.approx(2 / 3)
    # v1 has no empty special case: "" vs "" has no common token -> 0; v2 says 1
    assert f1_v1("", "") == 0.0
    assert f1_v2("", "") == 1.0
    assert f1_v2("a", "the") == 1.0  # both normalise to no token
    assert f1_v2("x", "") == 0.0


# ----------------------------------------------------------------------------- v1.1
def test_v1_hand_computed():
    examples = ex(
        [
            ["The Eiffel Tower", "Eiffel Tower in Paris"],  # pred exact after normalising
            ["The Eiffel Tower", "Eiffel Tower in Paris"],  # F1 = max(0.4, 6/7) = 6/7
            ["blue whale"],  # pred "whale": P=1, R=1/2 -> F1 = 2/3, EM 0
            ["red"],  # pred "green": 0 / 0
        ]
    )
    preds = {"q0": "the eiffel tower!", "q1": "tower in Paris", "q2": "whale", "q3": "green"}
    s = squad_scores(examples, preds, version_2=False)
    assert set(s) == {"exact", "f1", "total"}
    assert s["total"] == 4
    assert s["exact"] == pytest.approx(100 * 1 / 4)
    assert s["f1"] == pytest.approx(100 * (1 + 6 / 7 + 2 / 3 + 0) / 4)


def test_v1_vs_v2_empty_prediction_and_gold():
    # q0 unanswerable, pred "": v1 -> 0 (no gold text to match), v2 -> EM 1, F1 1
    # q1 gold "the" (normalises to ""), pred "":
    #   v1: EM normalize("")==normalize("the") -> 1; F1 no common token -> 0
    #   v2: gold list filtered to [""] (still a HasAns question) -> EM 1, F1 1
    # q2 gold "cat", pred "": 0 everywhere
    examples = ex([[], ["the"], ["cat"]])
    preds = {"q0": "", "q1": "", "q2": ""}
    v1 = squad_scores(examples, preds, version_2=False)
    assert v1["exact"] == pytest.approx(100 / 3)
    assert v1["f1"] == pytest.approx(0.0)
    v2 = squad_scores(examples, preds, version_2=True)
    assert v2["exact"] == pytest.approx(200 / 3)
    assert v2["f1"] == pytest.approx(200 / 3)
    assert v2["HasAns_total"] == 2 and v2["NoAns_total"] == 1
    assert v2["HasAns_exact"] == pytest.approx(50.0)
    assert v2["NoAns_exact"] == pytest.approx(100.0)


def test_v2_split_only_present_kinds():
    only_has = squad_scores(ex([["a b"], ["c"]]), {"q0": "a b", "q1": "x"}, version_2=True)
    assert "HasAns_exact" in only_has and "NoAns_exact" not in only_has
    assert only_has["HasAns_exact"] == pytest.approx(50.0)
    only_no = squad_scores(ex([[], []]), {"q0": "", "q1": "x"}, version_2=True)
    assert "NoAns_f1" in only_no and "HasAns_f1" not in only_no
    assert only_no["NoAns_f1"] == pytest.approx(50.0)
    assert "best_f1" not in only_no  # no null odds given


def test_missing_predictions_warn_once_and_score_zero():
    examples = ex([["yes"], ["no"], []])
    for version_2 in (False, True):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            s = squad_scores(examples, {"q0": "yes"}, version_2=version_2)
        assert len(caught) == 1 and "2 of 3" in str(caught[0].message)
        assert s["total"] == 3
        assert s["exact"] == pytest.approx(100 / 3)


# ----------------------------------------------------------------------------- thresholds
def _threshold_case():
    # q0 HasAns "Paris", pred "Paris"            (EM 1, F1 1)    odds -2
    # q1 HasAns "blue whale", pred "whale"       (EM 0, F1 2/3)  odds -1
    # q2 NoAns, pred "London" (non-empty)        (EM 0, F1 0)    odds 0.5
    # q3 NoAns, pred ""                          (EM 1, F1 1)    odds 3
    examples = ex([["Paris"], ["blue whale"], [], []])
    preds = {"q0": "Paris", "q1": "whale", "q2": "London", "q3": ""}
    odds = {"q0": -2.0, "q1": -1.0, "q2": 0.5, "q3": 3.0}
    return examples, preds, odds


def test_best_thresholds_hand_built():
    examples, preds, odds = _threshold_case()
    s = squad_scores(examples, preds, version_2=True, null_odds=odds)
    # Walk from "all no-answer" (2 NoAns correct), by increasing odds:
    #   EM: q0 +1 -> 3 (best, thr -2); q1 +0 -> 3; q2 -1 -> 2; q3 +0 -> 2  => 3/4, -2
    #   F1: q0 +1 -> 3 (thr -2); q1 +2/3 -> 3.667 (best, thr -1); q2 -1; q3 0  => 3.667/4, -1
    assert s["best_exact"] == pytest.approx(75.0)
    assert s["best_exact_thresh"] == -2.0
    assert s["best_f1"] == pytest.approx(100 * (3 + 2 / 3) / 4)
    assert s["best_f1_thresh"] == -1.0
    # default na_prob_thresh = 1.0: only q3 (odds 3) is forced to "no answer", it already is
    assert s["exact"] == pytest.approx(50.0)
    assert s["f1"] == pytest.approx(100 * (1 + 2 / 3 + 0 + 1) / 4)
    assert s["HasAns_f1"] == pytest.approx(100 * (1 + 2 / 3) / 2)
    assert s["NoAns_exact"] == pytest.approx(50.0)


def test_na_prob_thresh_forces_no_answer():
    examples, preds, odds = _threshold_case()
    # with threshold 0: q2 (0.5) and q3 (3) become "no answer": q2 now scores 1
    s = squad_scores(examples, preds, version_2=True, null_odds=odds, na_prob_thresh=0.0)
    assert s["exact"] == pytest.approx(75.0)
    assert s["f1"] == pytest.approx(100 * (1 + 2 / 3 + 1 + 1) / 4)
    assert s["NoAns_exact"] == pytest.approx(100.0)
    # the best_* search uses the raw scores, not the thresholded ones
    assert s["best_exact"] == pytest.approx(75.0)


def test_best_threshold_never_improving_stays_zero():
    # every switch to an answer hurts: best stays at "all no answer" with threshold 0.0
    examples = ex([[], []])
    s = squad_scores(
        examples, {"q0": "x", "q1": "y"}, version_2=True, null_odds={"q0": -5, "q1": 2}
    )
    assert s["best_exact"] == pytest.approx(100.0)
    assert s["best_exact_thresh"] == 0.0


# ----------------------------------------------------------------------------- independent check
# A deliberately literal re-statement of the official SQuAD v2.0 evaluation logic, written
# with plain loops and dicts (the structure of the script, not of our implementation).
def _ref_norm(s):
    s = s.lower()
    s = "".join(c for c in s if c not in set(string.punctuation))
    s = re.sub(re.compile(r"\b(a|an|the)\b", re.UNICODE), " ", s)
    return " ".join(s.split())


def _ref_tokens(s):
    if not s:
        return []
    return _ref_norm(s).split()


def _ref_exact(gold, pred):
    return int(_ref_norm(gold) == _ref_norm(pred))


def _ref_f1(gold, pred):
    g, p = _ref_tokens(gold), _ref_tokens(pred)
    same = sum((Counter(g) & Counter(p)).values())
    if len(g) == 0 or len(p) == 0:
        return int(g == p)
    if same == 0:
        return 0
    prec, rec = 1.0 * same / len(p), 1.0 * same / len(g)
    return (2 * prec * rec) / (prec + rec)


def _ref_v2(dataset, preds, na_probs=None, na_prob_thresh=1.0):
    has_file = na_probs is not None
    if na_probs is None:
        na_probs = {k: 0.0 for k in preds}
    qid_to_has_ans = {}
    for qa in dataset:
        qid_to_has_ans[qa["id"]] = bool(qa["answers"])
    has_ans = [k for k, v in qid_to_has_ans.items() if v]
    no_ans = [k for k, v in qid_to_has_ans.items() if not v]
    exact_raw, f1_raw = {}, {}
    for qa in dataset:
        golds = [a for a in qa["answers"] if _ref_norm(a)]
        if not golds:
            golds = [""]
        if qa["id"] not in preds:
            continue
        exact_raw[qa["id"]] = max(_ref_exact(a, preds[qa["id"]]) for a in golds)
        f1_raw[qa["id"]] = max(_ref_f1(a, preds[qa["id"]]) for a in golds)

    def threshold(scores):
        out = {}
        for qid, s in scores.items():
            if na_probs[qid] > na_prob_thresh:
                out[qid] = float(not qid_to_has_ans[qid])
            else:
                out[qid] = s
        return out

    def eval_dict(e, f, qids=None):
        if not qids:
            return {
                "exact": 100.0 * sum(e.values()) / len(e),
                "f1": 100.0 * sum(f.values()) / len(e),
                "total": len(e),
            }
        return {
            "exact": 100.0 * sum(e[k] for k in qids) / len(qids),
            "f1": 100.0 * sum(f[k] for k in qids) / len(qids),
            "total": len(qids),
        }

    def best(scores):
        cur = sum(1 for k in qid_to_has_ans if not qid_to_has_ans[k])
        best_score, best_thresh = cur, 0.0
        for qid in sorted(na_probs, key=lambda k: na_probs[k]):
            if qid not in scores:
                continue
            if qid_to_has_ans[qid]:
                diff = scores[qid]
            elif preds[qid]:
                diff = -1
            else:
                diff = 0
            cur += diff
            if cur > best_score:
                best_score, best_thresh = cur, na_probs[qid]
        return 100.0 * best_score / len(scores), best_thresh

    e_thr, f_thr = threshold(exact_raw), threshold(f1_raw)
    out = eval_dict(e_thr, f_thr)
    if has_ans:
        for k, v in eval_dict(e_thr, f_thr, has_ans).items():
            out["HasAns_" + k] = v
    if no_ans:
        for k, v in eval_dict(e_thr, f_thr, no_ans).items():
            out["NoAns_" + k] = v
    if has_file:
        out["best_exact"], out["best_exact_thresh"] = best(exact_raw)
        out["best_f1"], out["best_f1_thresh"] = best(f1_raw)
    return out


def _ref_v1(dataset, preds):
    def f1(p, g):
        pt, gt = _ref_norm(p).split(), _ref_norm(g).split()
        same = sum((Counter(pt) & Counter(gt)).values())
        if same == 0:
            return 0
        prec, rec = same / len(pt), same / len(gt)
        return 2 * prec * rec / (prec + rec)

    em = f = total = 0
    for qa in dataset:
        total += 1
        if qa["id"] not in preds:
            continue
        em += max(_ref_norm(preds[qa["id"]]) == _ref_norm(g) for g in qa["answers"])
        f += max(f1(preds[qa["id"]], g) for g in qa["answers"])
    return {"exact": 100.0 * em / total, "f1": 100.0 * f / total, "total": total}


_WORDS = ["the", "a", "an", "paris", "london", "blue", "whale", "red", "river"]
_WORDS += ["bank", "of", "and", "in", "new", "york", "city", "1990"]


def _random_case(rng: random.Random, n: int, allow_no_ans: bool):
    answers, preds, odds = [], {}, {}
    for i in range(n):
        qid = f"id{i}"
        kind = rng.random()
        if allow_no_ans and kind < 0.3:
            golds = []
        elif kind < 0.35:
            golds = ["The", "a"]  # HasAns whose texts all normalise to nothing
        else:
            golds = [
                " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 4)))
                for _ in range(rng.randint(1, 3))
            ]
        answers.append(golds)
        r = rng.random()
        if r < 0.2:
            pred = ""
        elif r < 0.25:
            pred = rng.choice([" ", "the", "!!", "A."])
        elif r < 0.55 and golds:
            pred = rng.choice(golds)
            pred = rng.choice([pred, pred.upper(), pred + ".", "The " + pred])
        elif r < 0.8 and golds:
            toks = rng.choice(golds).split()
            a = rng.randrange(len(toks))
            pred = " ".join(toks[a : rng.randint(a + 1, len(toks))] + [rng.choice(_WORDS)])
        else:
            pred = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 5)))
        preds[qid] = pred
        odds[qid] = round(rng.uniform(-3, 3), 1)  # one decimal: plenty of ties
    ids = [f"id{i}" for i in range(n)]
    return answers, ids, preds, odds


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_v2_matches_literal_official_restatement(seed):
    rng = random.Random(seed)
    answers, ids, preds, odds = _random_case(rng, 300, allow_no_ans=True)
    examples = ex(answers, ids=ids)
    dataset = [{"id": q, "answers": a} for q, a in zip(ids, answers, strict=True)]
    # shuffle the odds dict so the tie order is not the examples' order
    items = list(odds.items())
    rng.shuffle(items)
    odds = dict(items)
    for thresh in (1.0, 0.0, -0.5):
        ours = squad_scores(examples, preds, version_2=True, null_odds=odds, na_prob_thresh=thresh)
        ref = _ref_v2(dataset, preds, odds, na_prob_thresh=thresh)
        assert set(ours) == set(ref)
        for key, value in ref.items():
            assert ours[key] == pytest.approx(value, abs=1e-9, rel=0), key
    ours = squad_scores(examples, preds, version_2=True)
    ref = _ref_v2(dataset, preds)
    assert set(ours) == set(ref)
    for key, value in ref.items():
        assert ours[key] == pytest.approx(value, abs=1e-9, rel=0), key


@pytest.mark.parametrize("seed", [3, 4])
def test_v1_matches_literal_official_restatement(seed):
    rng = random.Random(seed)
    answers, ids, preds, _ = _random_case(rng, 300, allow_no_ans=False)
    examples = ex(answers, ids=ids)
    dataset = [{"id": q, "answers": a} for q, a in zip(ids, answers, strict=True)]
    ours = squad_scores(examples, preds, version_2=False)
    ref = _ref_v1(dataset, preds)
    assert ours == pytest.approx(ref, abs=1e-9, rel=0)
