"""The packaged squad / squad_v2 evaluate modules load offline and score like squad_scores."""

from __future__ import annotations

import socket
import sys

import evaluate
import numpy as np
import pytest
from datasets import Dataset

from qa_lightning.evaluation.metric_modules import SQUAD, SQUAD_V2, metric_inputs
from qa_lightning.evaluation.scoring import squad_scores

# The Hub modules' output keys, in the Hub's order.
SQUAD_KEYS = ["exact_match", "f1"]
SQUAD_V2_KEYS = [
    "exact",
    "f1",
    "total",
    "HasAns_exact",
    "HasAns_f1",
    "HasAns_total",
    "NoAns_exact",
    "NoAns_f1",
    "NoAns_total",
    "best_exact",
    "best_exact_thresh",
    "best_f1",
    "best_f1_thresh",
]

WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "river",
    "stone",
    "north",
    "green",
    "city",
    "paris",
    "1976",
    "red",
    "blue",
]


@pytest.fixture
def offline_load(monkeypatch, tmp_path):
    """``evaluate.load`` with the Hub switched off, sockets refused and caches in tmp_path.

    The dynamic-module cache (where evaluate copies the script to import it) is redirected
    too; the ``evaluate_modules`` package it creates is dropped from ``sys.modules``
    afterwards so that no later import resolves into this temporary folder.
    """
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_EVALUATE_OFFLINE", "1")
    monkeypatch.setenv("HF_MODULES_CACHE", str(tmp_path / "modules"))
    monkeypatch.setattr(evaluate.config, "HF_EVALUATE_OFFLINE", True)
    monkeypatch.setattr(evaluate.config, "HF_MODULES_CACHE", tmp_path / "modules")
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in [m for m in sys.modules if m.split(".")[0] == "evaluate_modules"]:
        monkeypatch.delitem(sys.modules, name)

    def refuse(self, *args, **kwargs):
        raise OSError("network access in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)

    def load(path: str):
        return evaluate.load(path, cache_dir=str(tmp_path / "cache"))

    yield load
    for name in [m for m in sys.modules if m.split(".")[0] == "evaluate_modules"]:
        del sys.modules[name]


def _phrase(rng: np.random.Generator, n: int) -> str:
    return " ".join(rng.choice(WORDS, size=n))


def make_data(seed: int, n: int, *, unanswerable: float):
    """Random examples ({id, answers} rows) and predictions mixing every scoring case."""
    rng = np.random.default_rng(seed)
    rows, predictions = [], {}
    for i in range(n):
        qid = f"q{i:03d}"
        if rng.random() < unanswerable:
            golds = []
        else:
            golds = [_phrase(rng, int(rng.integers(1, 4))) for _ in range(rng.integers(1, 4))]
            if rng.random() < 0.1:
                golds.append("The!")  # normalises to nothing: v2 drops it
        rows.append(
            {
                "id": qid,
                "answers": {"text": golds, "answer_start": [int(s) for s in range(len(golds))]},
            }
        )
        kind = rng.integers(6)
        if kind == 0 and golds:  # an exact gold, up to case / punctuation / articles
            pred = "The " + golds[int(rng.integers(len(golds)))].upper() + "."
        elif kind == 1 and golds:  # partial overlap
            pred = golds[0].split()[0] + " " + _phrase(rng, int(rng.integers(1, 3)))
        elif kind == 2:
            pred = ""
        elif kind == 3:
            pred = "an"  # no token after normalisation
        else:
            pred = "zzz " + _phrase(rng, int(rng.integers(1, 3)))
        predictions[qid] = pred
    # Two decimals: ties in the odds, so the threshold walk's tie order matters.
    null_odds = {r["id"]: float(np.round(rng.random(), 2)) for r in rows}
    return rows, predictions, null_odds


def test_squad_module_matches_squad_scores(offline_load):
    rows, predictions, _ = make_data(0, 300, unanswerable=0.0)
    preds, refs = metric_inputs(rows, predictions)

    result = offline_load(SQUAD).compute(predictions=preds, references=refs)

    expected = squad_scores(rows, predictions, version_2=False)
    assert list(result) == SQUAD_KEYS
    assert result == {"exact_match": expected["exact"], "f1": expected["f1"]}
    assert 0 < result["exact_match"] < result["f1"] < 100  # the mix really is mixed


@pytest.mark.parametrize("threshold", [1.0, 0.5, 0.13])
def test_squad_v2_module_matches_squad_scores(offline_load, threshold):
    rows, predictions, null_odds = make_data(1, 300, unanswerable=0.35)
    examples = Dataset.from_list(rows)
    preds, refs = metric_inputs(examples, predictions, null_odds=null_odds)

    metric = offline_load(SQUAD_V2)
    if threshold == 1.0:  # the Hub default
        result = metric.compute(predictions=preds, references=refs)
    else:
        result = metric.compute(predictions=preds, references=refs, no_answer_threshold=threshold)

    # The module stores no_answer_probability as float32 (as the Hub module does).
    odds32 = {q: float(np.float32(v)) for q, v in null_odds.items()}
    expected = squad_scores(
        examples, predictions, version_2=True, null_odds=odds32, na_prob_thresh=threshold
    )
    assert list(result) == SQUAD_V2_KEYS
    assert result == expected
    assert isinstance(result["total"], int) and result["total"] == 300
    assert result["best_f1_thresh"] in set(odds32.values())
    if threshold == 1.0:  # every odds <= 1: "all answered" is one point of the search
        assert result["best_f1"] >= result["f1"]


def test_squad_v2_threshold_changes_scores(offline_load):
    """no_answer_threshold reaches the scorer: a low one turns answers into "no answer"."""
    rows, predictions, null_odds = make_data(2, 120, unanswerable=0.5)
    preds, refs = metric_inputs(rows, predictions, null_odds=null_odds)
    metric = offline_load(SQUAD_V2)

    default = metric.compute(predictions=preds, references=refs)
    low = metric.compute(predictions=preds, references=refs, no_answer_threshold=-1.0)

    assert low["NoAns_exact"] == low["NoAns_f1"] == 100.0
    assert low["HasAns_exact"] == low["HasAns_f1"] == 0.0
    assert default["NoAns_exact"] < 100.0
    assert {k: low[k] for k in ("best_exact", "best_f1")} == {
        k: default[k] for k in ("best_exact", "best_f1")
    }


def test_missing_prediction_scores_zero_and_counts(offline_load):
    """A reference whose id no prediction carries scores 0 and stays in every total.

    Our deliberate deviation from the Hub squad_v2 script, which drops it from ``total``.
    """
    rows, predictions, null_odds = make_data(3, 40, unanswerable=0.3)
    preds, refs = metric_inputs(rows, predictions, null_odds=null_odds)
    for p in preds[::4]:  # same number of rows, but these ids match no reference
        p["id"] = "unknown-" + p["id"]
    kept = {p["id"]: p["prediction_text"] for p in preds if p["id"] in predictions}

    with pytest.warns(UserWarning, match="10 of 40 questions have no prediction"):
        result = offline_load(SQUAD_V2).compute(predictions=preds, references=refs)
    odds32 = {p["id"]: float(np.float32(p["no_answer_probability"])) for p in preds}
    with pytest.warns(UserWarning, match="have no prediction"):
        expected = squad_scores(rows, kept, version_2=True, null_odds=odds32)
    assert result == expected and result["total"] == 40


def test_metric_inputs_round_trip():
    rows, predictions, null_odds = make_data(4, 50, unanswerable=0.3)
    predictions["not-an-example"] = "ignored"
    for examples in (rows, Dataset.from_list(rows)):
        preds, refs = metric_inputs(examples, predictions)
        assert [r["id"] for r in refs] == [r["id"] for r in rows]
        assert [r["answers"] for r in refs] == [r["answers"] for r in rows]
        assert {p["id"]: p["prediction_text"] for p in preds} == {
            r["id"]: predictions[r["id"]] for r in rows
        }
        assert all(set(p) == {"id", "prediction_text"} for p in preds)

        preds2, _ = metric_inputs(examples, predictions, null_odds=null_odds)
        assert {p["id"]: p["no_answer_probability"] for p in preds2} == null_odds
        assert [p["id"] for p in preds2] == [r["id"] for r in rows]

    with pytest.raises(ValueError, match="49 of 50 questions have no null odds"):
        metric_inputs(rows, predictions, null_odds={"q000": 0.5})
    with pytest.raises(ValueError, match="1 of 50 questions have no prediction"):
        metric_inputs(rows, {q: t for q, t in predictions.items() if q != "q007"})


def test_chinese_gets_partial_credit_through_the_modules(offline_load):
    """compute(..., language="zh") reaches the scorer: "北京" against "北京大学" is 2 of 4
    characters (P = 2/2, R = 2/4, F1 = 2 * 0.5 / 1.5 = 2/3); SQuAD's rules see one token
    each side (F1 0). An unknown language fails naming the languages."""
    rows = [
        {"id": "q0", "answers": {"text": ["北京大学"], "answer_start": [0]}},
        {"id": "q1", "answers": {"text": ["上海。"], "answer_start": [0]}},  # "。" goes in zh
    ]
    predictions = {"q0": "北京", "q1": "上海"}
    null_odds = {"q0": 0.25, "q1": 0.5}  # exact in float32, as the module stores them
    preds, refs = metric_inputs(rows, predictions)
    squad = offline_load(SQUAD)
    # zh: q0 EM 0, F1 2/3; q1 EM 1, F1 1 -> EM 50, F1 100 * (2/3 + 1) / 2 = 83.33
    zh = squad.compute(predictions=preds, references=refs, language="zh")
    assert zh["exact_match"] == 50.0
    assert zh["f1"] == pytest.approx(100 * (2 / 3 + 1) / 2)
    # en (the default): neither matches, and no common token
    assert squad.compute(predictions=preds, references=refs) == {"exact_match": 0.0, "f1": 0.0}

    preds_v2, refs_v2 = metric_inputs(rows, predictions, null_odds=null_odds)
    squad_v2 = offline_load(SQUAD_V2)
    zh_v2 = squad_v2.compute(predictions=preds_v2, references=refs_v2, language="zh")
    assert zh_v2["exact"] == 50.0 and zh_v2["f1"] == pytest.approx(zh["f1"])
    assert zh_v2 == squad_scores(
        rows, predictions, version_2=True, null_odds=null_odds, language="zh"
    )
    assert squad_v2.compute(predictions=preds_v2, references=refs_v2)["f1"] == 0.0

    for metric, inputs in ((squad, (preds, refs)), (squad_v2, (preds_v2, refs_v2))):
        with pytest.raises(ValueError, match="use one of en, es, de, vi, ar, hi, zh$"):
            metric.compute(predictions=inputs[0], references=inputs[1], language="xx")
