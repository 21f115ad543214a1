"""qa-compare shows a researcher's slice family (``evaluation.slices``) as it shows the
built-ins: the families and their order come from the run folders' metrics.json."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from qa_lightning.compare import compare_runs
from qa_lightning.compare.diff import diff_runs
from qa_lightning.evaluation.slices import DEFAULT_SLICES
from tests.compare.builders import questions, scored_run
from tests.evaluation.user_slices import QuestionLength

N = 240
# "What is item 7?": 4 words, short; "How many is item 5?": 5 words, long
MINE = (*DEFAULT_SLICES, QuestionLength(short_words=4))


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def runs(tmp_path: Path):
    """A and B on the same questions; B fixes the wrong long ("How many") ones."""
    qs = questions(N)
    long = np.array([len(q["question"].split()) > 4 for q in qs])
    a = np.where(np.random.default_rng(3).random(N) < 0.5, 100.0, 0.0)
    b = a.copy()
    b[long & (a == 0)] = 100.0
    root = tmp_path / "sweep"
    scored_run(root / "0", ["optimizer.lr=0.001"], a, slices=MINE)
    scored_run(root / "1", ["optimizer.lr=0.003"], b, slices=MINE)
    return root, long, a, b


def test_the_diff_reports_a_user_slice_family(runs):
    root, long, a, b = runs
    diff, files = diff_runs(str(root / "0"), str(root / "1"), show=False)
    change = {(s.family, s.label): s for s in diff.slices}
    assert change[("question_length", "long")].f1_change == pytest.approx(np.mean((b - a)[long]))
    assert change[("question_length", "long")].questions == long.sum()
    assert change[("question_length", "short")].f1_change == 0.0
    assert "question_length=long" in files[0].read_text()


def test_the_slice_table_shows_a_user_family_in_its_own_order(runs):
    root, long, a, b = runs
    report = compare_runs([root], show=False)
    families = [row.family for row in report.slices.rows]
    assert families[-2:] == ["question_length", "question_length"]  # after the built-ins
    assert families[0] == "question_type"
    rows = [r for r in read_csv(root / "slices.csv") if r["family"] == "question_length"]
    assert [r["slice"] for r in rows] == ["short", "long"]  # metrics.json's, not sorted
    best, second = (s.label for s in report.settings[:2])
    long_row = rows[1]
    assert int(long_row["questions"]) == long.sum()
    assert float(long_row[best]) == pytest.approx(b[long].mean(), abs=0.01)
    assert float(long_row[second]) == pytest.approx(a[long].mean(), abs=0.01)


def test_an_old_folder_without_the_family_compares_beside_a_new_one(tmp_path: Path):
    scores = np.where(np.random.default_rng(5).random(N) < 0.5, 100.0, 0.0)
    root = tmp_path / "sweep"
    scored_run(root / "0", ["optimizer.lr=0.001"], scores)  # built-in families only
    scored_run(root / "1", ["optimizer.lr=0.003"], scores, slices=MINE)
    report = compare_runs([root], show=False)
    rows = {(r.family, r.label): r for r in report.slices.rows}
    assert ("question_length", "long") in rows and ("windows", "1") in rows
    old = [s.label for s in report.settings].index("optimizer.lr=0.001")
    assert np.isnan(rows[("question_length", "long")].f1[old])  # that run has no such slice
    diff, _ = diff_runs(str(root / "0"), str(root / "1"), show=False)
    assert {s.family for s in diff.slices} == {"question_type", "answer_length", "windows"}
