"""The question-by-question diff of two runs: flipped questions, slices, files."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from qa_lightning.compare.diff import diff_runs, parse_side
from tests.compare.builders import questions, scored_run

N = 240


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def base() -> np.ndarray:
    return np.where(np.random.default_rng(7).random(N) < 0.5, 100.0, 0.0)


def test_diff_lists_exactly_the_fixed_and_broken_questions(tmp_path, base):
    qs = questions(N)
    when = [i for i, q in enumerate(qs) if q["question"].startswith("When")]
    fixed = [i for i in when if base[i] == 0][:15]  # B fixes "when" questions
    broken = [i for i in range(N) if base[i] == 100 and i not in when][:4]
    better = base.copy()
    better[fixed], better[broken] = 100.0, 0.0
    f1_b = better.copy()
    f1_b[broken[0]] = 50.0  # broken but partly right: still a flip (not an exact match)
    a = scored_run(tmp_path / "a", [], base)
    b = scored_run(tmp_path / "b", [], better, f1_b)
    diff, files = diff_runs(str(a), str(b), show=False)
    assert sorted(f.id for f in diff.fixed) == sorted(qs[i]["id"] for i in fixed)
    assert sorted(f.id for f in diff.broken) == sorted(qs[i]["id"] for i in broken)
    assert diff.questions == N
    assert diff.tests["f1"].difference == pytest.approx(np.mean(f1_b - base))
    assert diff.tests["exact"].p_value < 0.05  # 15 fixed against 4 broken
    assert (diff.helped_most().family, diff.helped_most().label) == ("question_type", "when")
    gain = diff.helped_most().f1_change
    assert gain == pytest.approx(100 * len(fixed) / len(when))
    assert [f.parent for f in files] == [tmp_path, tmp_path]  # beside the runs by default
    rows = read_csv(files[1])
    assert {r["change"] for r in rows} == {"fixed", "broken"} and len(rows) == 19
    row = next(r for r in rows if r["id"] == qs[fixed[0]]["id"])
    assert row["prediction_b"] == qs[fixed[0]]["gold_answers"][0]
    assert row["gold_answers"] == qs[fixed[0]]["gold_answers"][0]
    assert (float(row["f1_a"]), float(row["f1_b"])) == (0.0, 100.0)
    text = files[0].read_text()
    assert "Fixed by B: 15; broken by B: 4." in text
    assert "Helped most: question_type=when" in text
    assert qs[broken[0]]["question"] in text


def test_identical_runs_have_nothing_to_list(tmp_path, base):
    a = scored_run(tmp_path / "a", [], base)
    b = scored_run(tmp_path / "b", [], base)
    diff, _ = diff_runs(str(a), str(b), show=False, out_dir=tmp_path / "out")
    assert diff.flips == []
    assert diff.tests["f1"].difference == 0.0 and diff.tests["f1"].p_value == 1.0


def test_only_questions_both_scored_are_compared(tmp_path, base):
    a = scored_run(tmp_path / "a", [], base)
    b = scored_run(tmp_path / "b", [], base[:200], qs=questions(N)[:200])
    diff, _ = diff_runs(str(a), str(b), show=False)
    assert diff.questions == 200


def test_a_run_without_records_is_refused_with_the_reason(tmp_path, base):
    a = scored_run(tmp_path / "a", [], base)
    b = scored_run(tmp_path / "b", [], base, records=False, sets=False)
    with pytest.raises(ValueError, match="b: job b has no per-question records"):
        diff_runs(str(a), str(b), show=False)


def test_side_specs():
    assert parse_side("multirun/x") == (Path("multirun/x"), {})
    assert parse_side("multirun/x:lr=1e-3,model.head=bilstm") == (
        Path("multirun/x"),
        {"lr": "1e-3", "model.head": "bilstm"},
    )
    with pytest.raises(ValueError, match="PATH:key=value"):
        parse_side("multirun/x:lr=1e-3,head")
