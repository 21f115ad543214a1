"""A researcher's slice families (``evaluation.slices``) reach metrics.json, per_question.jsonl
and slices.png as the built-ins do; the default list is today's four families; a bad node fails
in one line naming ``evaluation.slices[i]``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from datasets import Dataset

from qa_lightning.config import BUILTIN_SLICE_TARGETS, EvaluationConfig
from qa_lightning.errors import ConfigError
from qa_lightning.evaluation.evaluator import score_decoded
from qa_lightning.evaluation.postprocessing import Postprocessed
from qa_lightning.evaluation.slices import (
    BUILTIN_SLICES,
    DEFAULT_SLICES,
    build_slices,
    default_slice_nodes,
)
from qa_lightning.tracking.run_folder import write_metrics, write_set_files

USER = "tests.evaluation.user_slices"
BUILTIN_FAMILIES = ["question_type", "answer_length", "windows"]
# today's label orders, written out: the built-in Slice classes must keep them
TODAY = {
    "question_type": [
        "what",
        "who",
        "when",
        "where",
        "which",
        "why",
        "how",
        "how many/much",
        "other",
    ],
    "answer_length": ["1", "2-3", "4+", "none"],
    "windows": ["1", "2", "3+"],
    "answerable": ["has_answer", "no_answer"],
}


def questions(n: int) -> Dataset:
    stems = ["What is it?", "Who said it?", "How many of them are there?", "Name it.", "When?"]
    rows = [
        {
            "id": f"q{i}",
            "title": ["Normans", "Alps"][i % 2],
            "question": stems[i % len(stems)],
            "context": f"the answer {i} is here",
            "answers": {
                "text": [f"the answer {i}"][: i % 7 != 3],
                "answer_start": [0][: i % 7 != 3],
            },
        }
        for i in range(n)
    ]
    return Dataset.from_list(rows)


def scored(slices, *, version_2: bool = False, n: int = 60):
    predictions = {f"q{i}": "" if i % 4 == 0 else f"the answer {i}" for i in range(n)}
    null_odds = {k: 0.0 for k in predictions} if version_2 else {}
    return score_decoded(
        "validation",
        questions(n),
        np.arange(n) % 4 + 1,
        Postprocessed(predictions=predictions, null_odds=null_odds),
        version_2=version_2,
        slices=slices,
    ), predictions


def test_the_default_list_is_todays_four_families_in_todays_order():
    assert [node["_target_"] for node in EvaluationConfig().slices] == list(BUILTIN_SLICE_TARGETS)
    assert [n["_target_"] for n in default_slice_nodes()] == list(BUILTIN_SLICE_TARGETS)
    built = build_slices(EvaluationConfig().slices)
    assert [type(s) for s in built] == list(BUILTIN_SLICES)
    assert {s.name: list(s.order) for s in built} == TODAY
    for version_2 in (False, True):
        default, _ = scored(DEFAULT_SLICES, version_2=version_2)
        from_config, _ = scored(built, version_2=version_2)
        families = BUILTIN_FAMILIES + (["answerable"] if version_2 else [])
        assert list(default.slices) == families  # answerable on v2 sets only
        assert from_config.slices == default.slices and from_config.records == default.records
        for family, labels in default.slices.items():
            assert list(labels) == [x for x in TODAY[family] if x in labels]


def test_a_user_slice_reaches_metrics_json_per_question_records_and_the_plot(tmp_path):
    nodes = [
        *default_slice_nodes(),
        {"_target_": f"{USER}.QuestionLength", "short_words": 3},
        {"_target_": f"{USER}.AnswerGiven", "name": "abstains"},
        {"_target_": f"{USER}.ContextTitle"},
    ]
    slices = build_slices(nodes)
    v1, predictions = scored(slices)
    v2, _ = scored(slices, version_2=True)
    folder = tmp_path / "run"
    write_set_files(folder, v1, plots=True)
    write_set_files(folder / "eval" / "v2", v2, plots=False)
    v2.name = "v2"
    write_metrics(folder, [v1, v2], {"status": "completed"})
    sets = json.loads((folder / "metrics.json").read_text())["sets"]
    user = ["question_length", "abstains"]
    assert list(sets["validation"]["slices"]) == [*BUILTIN_FAMILIES, *user]  # title: v2 only
    assert list(sets["v2"]["slices"]) == [*BUILTIN_FAMILIES, "answerable", *user, "title"]
    length = sets["validation"]["slices"]["question_length"]
    assert list(length) == ["short", "long"]  # the slice's order, not alphabetical
    assert length["long"]["count"] == sum(len(q.split()) > 3 for q in questions(60)["question"])
    assert list(sets["v2"]["slices"]["title"]) == ["Alps", "Normans"]  # no order: sorted
    records = [json.loads(line) for line in (folder / "per_question.jsonl").open()]
    assert len(records) == 60
    for record in records:
        assert record["abstains"] == ("answered" if predictions[record["id"]] else "abstained")
        assert record["question_length"] == (
            "short" if len(record["question"].split()) <= 3 else "long"
        )
    answered = [r["f1"] for r in records if r["abstains"] == "answered"]
    assert sets["validation"]["slices"]["abstains"]["answered"]["f1"] == pytest.approx(
        np.mean(answered)
    )
    assert (folder / "slices.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"_target_": "no_such_package.Slice"}, "evaluation.slices[4]._target_='no_such_package"),
        ({"_target_": f"{USER}.NotASlice"}, "evaluation.slices[4]._target_="),
        ({"_target_": f"{USER}.QuestionLength", "words": 3}, "evaluation.slices[4].words:"),
        ({"short_words": 3}, "evaluation.slices[4] needs a _target_"),
        ({"_target_": f"{USER}.NamedLikeARecordField"}, "evaluation.slices[4]: the family name"),
        ({"_target_": f"{USER}.AnswerGiven", "name": "windows"}, "evaluation.slices[4]: the fam"),
        ({"_target_": f"{USER}.AnswerGiven", "name": ""}, "evaluation.slices[4]: "),
    ],
)
def test_a_bad_slice_node_fails_in_one_line_naming_it(node, message):
    with pytest.raises(ConfigError) as err:
        build_slices([*default_slice_nodes(), node])
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_a_slice_whose_label_is_not_a_string_is_named():
    slices = build_slices([{"_target_": f"{USER}.NumberLabel"}])
    with pytest.raises(TypeError, match=r"slice 'number' \(tests.evaluation.user_slices"):
        scored(slices)
