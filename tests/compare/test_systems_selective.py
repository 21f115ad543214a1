"""The compare command on named systems, predictions-file runs (unanswered questions) and
selective answering (AURC, ECE, coverage; paired AURC differences to the best setting)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from qa_lightning.compare import compare_runs
from qa_lightning.compare.runs import collect_runs
from qa_lightning.compare.settings import group_settings
from qa_lightning.compare.table import compare
from qa_lightning.evaluation.selective import aurc
from tests.compare.builders import questions, scored_run

N = 200


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def scores(seed: int, right: float = 0.5) -> np.ndarray:
    return np.where(np.random.default_rng(seed).random(N) < right, 100.0, 0.0)


def confidences(exact: np.ndarray, *, errors_last: bool, seed: int) -> np.ndarray:
    """Distinct confidences in 0..1: right answers above wrong ones (``errors_last``), or
    wrong ones above right ones."""
    noise = np.random.default_rng(seed).random(exact.size) * 0.4
    high = exact == 100 if errors_last else exact == 0
    return np.where(high, 0.55, 0.05) + noise


def test_a_shared_system_name_labels_the_setting_and_gets_a_runs_column(tmp_path):
    root = tmp_path / "s"
    scored_run(root / "0", ["model.head=linear"], scores(1), system="logistic regression")
    scored_run(root / "1", ["model.head=bilstm"], scores(2))
    # the same named model swept over a parameter: the name stays, the parameters tell apart
    scored_run(root / "2", ["model.head=mlp", "seed=1"], scores(3), system="my reader")
    scored_run(root / "3", ["model.head=mlp", "seed=2"], scores(4), system="my reader")
    scored_run(root / "4", ["model.head=crf", "seed=1"], scores(5), system="my reader")
    report = compare_runs([root], show=False, plots=False)
    labels = {s.label for s in report.settings}
    assert labels == {
        "logistic regression",
        "model.head=bilstm",
        "my reader (model.head=mlp)",
        "my reader (model.head=crf)",
    }
    mlp = next(s for s in report.settings if s.params["model.head"] == "mlp")
    assert mlp.n == 2 and mlp.system == "my reader"
    runs = {r["job"]: r for r in read_csv(root / "comparison.csv")}
    assert runs["0"]["system"] == "logistic regression" and runs["1"]["system"] == ""
    settings = {r["model.head"]: r for r in read_csv(root / "settings.csv")}
    assert settings["linear"]["setting"] == "logistic regression"
    assert settings["linear"]["system"] == "logistic regression"
    markdown = (root / "comparison.md").read_text()
    assert "| system |" in markdown and "| logistic regression |" in markdown


def test_runs_without_system_names_keep_their_labels_and_columns(tmp_path):
    root = tmp_path / "s"
    scored_run(root / "0", ["model.head=linear"], scores(1), system="")  # empty: not a name
    scored_run(root / "1", ["model.head=bilstm"], scores(2))
    report = compare_runs([root], show=False, plots=False)
    assert {s.label for s in report.settings} == {"model.head=linear", "model.head=bilstm"}
    assert "system" not in read_csv(root / "comparison.csv")[0]
    assert "system" not in read_csv(root / "settings.csv")[0]


def test_seeds_with_different_system_names_are_not_labelled_by_either(tmp_path):
    root = tmp_path / "s"
    scored_run(root / "0", ["seed=1"], scores(1), system="a")
    scored_run(root / "1", ["seed=2"], scores(2), system="b")
    (setting,) = group_settings(compare(collect_runs([root])))
    assert setting.system is None and setting.label == "all runs"


def test_unanswered_questions_of_a_predictions_file_are_reported(tmp_path, capsys):
    root = tmp_path / "s"
    name = "logistic regression"
    scored_run(root / "0", [f"system_name={name}"], scores(1), system=name, unanswered=12)
    name = "sliding window"
    scored_run(root / "1", [f"system_name={name}"], scores(2), system=name, unanswered=0)
    scored_run(root / "2", ["model.head=bilstm"], scores(3))
    compare_runs([root], plots=False)
    note = (
        f"logistic regression: 12 of {N} questions had no prediction in its file "
        "(scored as the empty answer)"
    )
    markdown = (root / "comparison.md").read_text()
    assert f"- {note}." in markdown
    assert markdown.count("had no prediction") == 1  # not for the runs that answered all
    assert note in " ".join(capsys.readouterr().out.split())  # printed (lines may wrap)


@pytest.fixture
def abstaining(tmp_path: Path) -> tuple[Path, dict]:
    """Two settings x two seeds on the same questions. ``fluent`` answers more questions
    right (the best by F1) but is most confident in its wrong answers; ``careful`` answers
    fewer right and puts its errors last."""
    root = tmp_path / "sweep"
    truth: dict = {"aurc": {}, "runs": {}}
    job = 0
    for name, right, errors_last in (("fluent", 0.7, False), ("careful", 0.5, True)):
        for seed in (1, 2):
            exact = scores(10 * seed + len(name), right)
            conf = confidences(exact, errors_last=errors_last, seed=seed)
            scored_run(
                root / str(job), [f"model.head={name}", f"seed={seed}"], exact, confidence=conf
            )
            truth["aurc"].setdefault(name, []).append(aurc(conf, exact == 100))
            truth["runs"].setdefault(name, []).append(root / str(job))
            job += 1
    return root, truth


def test_selective_table_numbers_match_aurc_on_the_records(abstaining):
    root, truth = abstaining
    report = compare_runs([root], show=False, plots=False)
    assert [s.params["model.head"] for s in report.settings] == ["fluent", "careful"]
    fluent, careful = (np.mean(truth["aurc"][k]) for k in ("fluent", "careful"))
    assert careful < fluent  # errors last: a lower area under the risk-coverage curve
    best, other = report.selective.rows
    assert best.means["aurc"] == pytest.approx(fluent)
    assert other.means["aurc"] == pytest.approx(careful)
    assert np.isnan(best.difference)  # the best against itself: nothing
    assert other.questions == N
    assert other.difference == pytest.approx(careful - fluent)
    assert other.ci_low <= other.difference <= other.ci_high < 0
    rows = {r["model.head"]: r for r in read_csv(root / "settings.csv")}
    assert float(rows["careful"]["aurc"]) == pytest.approx(careful, abs=1e-4)
    assert float(rows["careful"]["aurc_vs_best"]) == pytest.approx(careful - fluent, abs=1e-4)
    assert float(rows["careful"]["aurc_vs_best_ci_high"]) < 0
    assert rows["fluent"]["aurc_vs_best"] == ""
    for row in rows.values():
        for key in ("ece", "coverage_at_80", "coverage_at_90"):
            assert 0.0 <= float(row[key]) <= 100.0
    # right answers all above wrong ones: at 80% EM it answers at least its right ones
    assert float(rows["careful"]["coverage_at_80"]) >= 100 * min(
        np.mean(scores(10 * s + 7, 0.5) == 100) for s in (1, 2)
    )
    assert float(rows["fluent"]["coverage_at_80"]) < float(rows["careful"]["coverage_at_80"])
    markdown = (root / "comparison.md").read_text()
    section = markdown.split("## Selective answering", 1)[1].split("\n## ", 1)[0]
    assert f"| model.head=careful | {careful:.2f} | {careful - fluent:+.2f} [" in section
    assert "| model.head=fluent |" in section and "(best)" in section
    assert "Lower AURC is better" in section and "paired bootstrap interval" in section


def test_the_aurc_difference_is_on_the_questions_both_settings_answered(abstaining):
    root, truth = abstaining
    # drop the first 50 questions from one run of the careful setting
    run = truth["runs"]["careful"][0]
    lines = (run / "per_question.jsonl").read_text().splitlines()
    (run / "per_question.jsonl").write_text("\n".join(lines[50:]) + "\n")
    report = compare_runs([root], show=False, plots=False)
    other = report.selective.rows[1]
    assert other.questions == N - 50
    expected = []
    for name in ("careful", "fluent"):
        per_run = []
        for folder in truth["runs"][name]:
            records = [
                json.loads(x) for x in (folder / "per_question.jsonl").read_text().splitlines()
            ]
            kept = [r for r in records if int(r["id"][1:]) >= 50]
            per_run.append(aurc([r["confidence"] for r in kept], [r["exact"] == 100 for r in kept]))
        expected.append(np.mean(per_run))
    assert other.difference == pytest.approx(expected[0] - expected[1])


def test_missing_confidences_give_a_note_not_a_crash(tmp_path):
    root = tmp_path / "sweep"
    exact = scores(1, 0.7)
    scored_run(root / "0", ["model.head=linear"], exact, confidence=exact / 200 + 0.25)
    # a predictions file without probabilities: null confidences
    scored_run(root / "1", ["model.head=bilstm"], scores(2), confidence=[None] * N)
    scored_run(root / "2", ["model.head=mlp"], scores(3))  # an older folder: no key at all
    report = compare_runs([root], show=False, plots=False)
    rows = {r["model.head"]: r for r in read_csv(root / "settings.csv")}
    assert rows["linear"]["aurc"] != ""
    assert rows["bilstm"]["aurc"] == "" and rows["bilstm"]["aurc_vs_best"] == ""
    assert "no confidences: job 1 gave no confidence" in rows["bilstm"]["aurc_note"]
    assert "carry no confidences" in rows["mlp"]["aurc_note"]
    markdown = (root / "comparison.md").read_text()
    section = markdown.split("## Selective answering", 1)[1]
    assert "| model.head=bilstm |" in section and "no confidences: job 1" in section
    assert report.selective.note is None


def test_older_folders_say_why_the_selective_section_is_empty(tmp_path):
    root = tmp_path / "sweep"
    scored_run(root / "0", ["model.head=linear"], scores(1))
    scored_run(root / "1", ["model.head=bilstm"], scores(2), records=False, sets=False)
    report = compare_runs([root], show=False, plots=False)
    assert not report.selective.has_numbers
    markdown = (root / "comparison.md").read_text()
    section = markdown.split("## Selective answering", 1)[1].split("\n## ", 1)[0]
    assert "No selective-answering numbers on validation: none of the 2 settings" in section
    assert "carry no confidences" in section
    assert all(r["aurc"] == "" for r in read_csv(root / "settings.csv"))


def test_a_published_systems_predictions_against_a_trained_run(tmp_path):
    """``qa-compare RUN_A RUN_B``: a predictions-file run (eval.py predictions_file=...)
    and a train.py run are two settings, tested on the questions both scored."""
    rng = np.random.default_rng(7)
    f1_a = rng.choice([0.0, 40.0, 100.0], size=100)  # q000..q099
    f1_b = np.r_[rng.choice([0.0, 50.0, 100.0], size=60), np.full(40, 100.0)]  # q020..q119
    published = scored_run(
        tmp_path / "eval" / "bidaf_elmo",
        [
            "predictions_file=/data/bidaf/dev-predictions.json",
            'system_name="BiDAF + ELMo"',
            "data=squad_subset_v1",
        ],
        np.where(f1_a == 100, 100.0, 0.0),
        f1_a,
        qs=questions(100),
        system="BiDAF + ELMo",
        source={
            "kind": "predictions_file",
            "predictions_file": "/data/bidaf/dev-predictions.json",
            "sha256": "0" * 64,
            "null_odds_file": None,
        },
        unanswered=3,
        confidence=[None] * 100,
    )
    trained = scored_run(
        tmp_path / "train" / "2025-01-01_12-00-00",
        ["experiment=minilm_squad_v1", "optimizer.lr=5e-5", "seed=42"],
        np.where(f1_b == 100, 100.0, 0.0),
        f1_b,
        qs=questions(120)[20:],
        system=None,
        confidence=list(np.linspace(0.9, 0.1, 100)),
    )
    report = compare_runs([published, trained], show=False)
    best, other = report.settings
    assert best.label == "experiment=minilm_squad_v1, optimizer.lr=5e-05"
    assert [run.job for run in best.runs] == ["2025-01-01_12-00-00"]
    assert other.label == "BiDAF + ELMo" and other.system == "BiDAF + ELMo"
    (row,) = report.paired.rows
    common = f1_a[20:] - f1_b[:80]  # q020..q099, the published system minus the trained run
    assert row.tests["f1"].questions == 80
    assert row.tests["f1"].difference == pytest.approx(common.mean())
    exact_common = np.where(f1_a[20:] == 100, 100.0, 0.0) - np.where(f1_b[:80] == 100, 100.0, 0)
    assert row.tests["exact"].difference == pytest.approx(exact_common.mean())
    rows = read_csv(published / "settings.csv")
    assert [r["setting"] for r in rows] == [best.label, "BiDAF + ELMo"]
    assert float(rows[1]["f1_diff"]) == pytest.approx(common.mean(), abs=1e-4)
    assert "no confidences: job bidaf_elmo gave no confidence" in rows[1]["aurc_note"]
    assert rows[0]["aurc"] != ""  # the trained run has its own
    markdown = (published / "comparison.md").read_text()
    assert "BiDAF + ELMo: 3 of 100 questions had no prediction in its file" in markdown
    slices = read_csv(published / "slices.csv")
    assert list(slices[0])[3:] == [best.label, "BiDAF + ELMo"]
    # every parameter is set by one of the two runs only: nothing to plot it against
    assert not list(published.glob("f1_vs_*.png")) and (published / "slices.png").is_file()


def test_a_named_baseline_is_the_reference_of_every_test(abstaining):
    """--baseline: every setting is tested against the one named (here the worse one by
    F1), which comes first; ranks stay those by mean."""
    root, truth = abstaining
    report = compare_runs([root], show=False, plots=False, baseline="model.head=careful")
    assert [s.params["model.head"] for s in report.settings] == ["careful", "fluent"]
    (row,) = report.paired.rows
    assert row.setting.params["model.head"] == "fluent"
    means = {s.params["model.head"]: s.mean("f1", "validation") for s in report.settings}
    assert row.tests["f1"].difference == pytest.approx(means["fluent"] - means["careful"])
    assert row.tests["f1"].difference > 0  # the better one against the baseline
    fluent, careful = (np.mean(truth["aurc"][k]) for k in ("fluent", "careful"))
    assert report.selective.rows[1].difference == pytest.approx(fluent - careful)
    rows = {r["model.head"]: r for r in read_csv(root / "settings.csv")}
    assert (rows["fluent"]["rank"], rows["careful"]["rank"]) == ("1", "2")
    assert rows["careful"]["significant"] == "baseline" and rows["careful"]["f1_diff"] == ""
    markdown = (root / "comparison.md").read_text()
    assert "F1 vs baseline [95% CI]" in markdown and "| (baseline) |" in markdown
    assert "AURC vs baseline [95% CI]" in markdown and "vs best" not in markdown


def test_a_baseline_that_names_no_setting_is_one_line(abstaining, capsys):
    from qa_lightning.compare.report import main

    root, _ = abstaining
    with pytest.raises(SystemExit, match="--baseline 'careful' names no setting; give one of: "):
        main([str(root), "--baseline", "careful", "--no-plots"])
