"""The compare command on seeds x settings sweeps: aggregation over seeds, paired tests
against the best, slices side by side, other evaluation sets, older folders."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa_lightning.compare import compare_runs
from qa_lightning.compare.runs import collect_runs
from qa_lightning.compare.settings import group_settings
from qa_lightning.compare.table import compare
from tests.compare.builders import questions, scored_run

ROOT = Path(__file__).resolve().parents[2]
N = 300


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def base_scores(seed: int) -> np.ndarray:
    return np.where(np.random.default_rng(seed).random(N) < 0.5, 100.0, 0.0)


def with_fixed(scores: np.ndarray, ids: np.ndarray) -> np.ndarray:
    fixed = scores.copy()
    fixed[ids] = 100.0
    return fixed


@pytest.fixture
def seeds_sweep(tmp_path: Path) -> tuple[Path, dict]:
    """3 settings x 3 seeds. lr=3e-3 is lr=1e-3 with 40 questions fixed in every seed;
    lr=1e-2 is exactly lr=1e-3 (same answers)."""
    root = tmp_path / "sweep"
    truth: dict = {"f1": {}}
    job = 0
    wrong = np.flatnonzero(base_scores(0) == 0)
    improved = wrong[:40]
    for lr in ("0.001", "0.003", "0.01"):
        for seed in (1, 2, 3):
            scores = base_scores(0)
            # seed noise: a few questions differ between seeds, the same in every setting
            others = np.setdiff1d(np.arange(N), improved)
            flip = np.random.default_rng(100 + seed).choice(others, 6, replace=False)
            scores[flip] = 100.0 - scores[flip]
            if lr == "0.003":
                scores = with_fixed(scores, improved)
            scored_run(root / str(job), [f"optimizer.lr={lr}", f"seed={seed}"], scores)
            truth["f1"].setdefault(lr, []).append(scores.mean())
            job += 1
    truth["improved"] = [f"q{i:03d}" for i in improved]
    return root, truth


def test_seeds_form_one_setting_with_mean_sd_and_n(seeds_sweep):
    root, truth = seeds_sweep
    settings = group_settings(compare(collect_runs([root])))
    assert settings[0].params["optimizer.lr"] == 0.003  # the best mean first
    for setting in settings:
        values = np.array(truth["f1"][format(setting.params["optimizer.lr"], "g")])
        assert setting.n == 3 and sorted(setting.seeds) == [1, 2, 3]
        assert setting.mean("f1", "validation") == pytest.approx(values.mean())
        assert setting.sd("f1", "validation") == pytest.approx(values.std(ddof=1))


def test_same_overrides_without_different_seeds_stay_separate(tmp_path):
    for job in ("0", "1"):
        scored_run(tmp_path / "s" / job, ["optimizer.lr=0.001"], base_scores(int(job)))
    settings = group_settings(compare(collect_runs([tmp_path / "s"])))
    assert [s.n for s in settings] == [1, 1]
    assert {s.label for s in settings} == {"job 0", "job 1"}


def test_settings_table_tests_each_setting_against_the_best(seeds_sweep):
    root, truth = seeds_sweep
    report = compare_runs([root], show=False)
    rows = read_csv(root / "settings.csv")
    assert [r["optimizer.lr"] for r in rows][0] == "0.003"
    best, *others = rows
    assert best["significant"] == "best" and best["f1_diff"] == ""
    assert best["n"] == "3"
    assert float(best["f1_mean"]) == pytest.approx(np.mean(truth["f1"]["0.003"]), abs=1e-4)
    assert float(best["f1_sd"]) == pytest.approx(np.std(truth["f1"]["0.003"], ddof=1), abs=1e-4)
    for row in others:
        # 40 of 300 questions worse in every seed: -13.33 points, clearly significant
        assert float(row["f1_diff"]) == pytest.approx(-100 * 40 / N, abs=1e-3)
        assert float(row["f1_ci_low"]) < float(row["f1_diff"]) < float(row["f1_ci_high"]) < 0
        assert float(row["f1_p"]) < 0.001
        assert float(row["f1_p_holm"]) >= float(row["f1_p"])
        assert row["significant"] == "yes"
        assert float(row["f1_seeds_p"]) < 0.05  # the seeds agree too
    markdown = (root / "comparison.md").read_text()
    assert "## Settings" in markdown and "± " in markdown and "p (Holm)" in markdown
    assert "## All runs" in markdown
    assert report.settings[0].label == "optimizer.lr=0.003"


def test_an_identical_setting_is_not_significant(tmp_path):
    root = tmp_path / "sweep"
    scores = base_scores(5)
    scored_run(root / "0", ["model.head=linear"], scores)
    scored_run(root / "1", ["model.head=bilstm"], scores)
    compare_runs([root], show=False, plots=False)
    second = read_csv(root / "settings.csv")[1]
    assert float(second["f1_diff"]) == 0.0 and float(second["f1_p"]) == 1.0
    assert second["significant"] == "no"
    assert second["f1_seeds_p"] == ""  # one run each: no test over seeds


def test_slices_of_the_top_settings_side_by_side(seeds_sweep):
    root, _ = seeds_sweep
    report = compare_runs([root], show=False)
    rows = read_csv(root / "slices.csv")
    labels = [s.label for s in report.settings[:3]]
    assert list(rows[0]) == ["family", "slice", "questions", *labels]
    what = next(r for r in rows if r["family"] == "question_type" and r["slice"] == "what")
    best = report.settings[0]
    expected = np.mean(
        [run.set_slices("validation")["question_type"]["what"]["f1"] for run in best.runs]
    )
    assert float(what[labels[0]]) == pytest.approx(expected, abs=0.01)
    assert int(what["questions"]) == sum(q["question"].startswith("What") for q in questions(N))
    assert (root / "slices.png").is_file() and (root / "f1_vs_optimizer.lr.png").is_file()
    assert not (root / "f1_vs_seed.png").exists()  # the seed is not a parameter to plot


def test_any_evaluation_set_can_be_compared_and_each_gets_a_column(tmp_path):
    root = tmp_path / "sweep"
    shifted_good = np.array([100.0] * 30 + [0.0] * 10)
    shifted_bad = np.array([100.0] * 10 + [0.0] * 30)
    scored_run(
        root / "0",
        ["model.head=linear"],
        base_scores(1),
        other_sets={"new_wiki": (shifted_good,) * 2},
    )
    scored_run(
        root / "1",
        ["model.head=bilstm"],
        with_fixed(base_scores(1), np.arange(60)),
        other_sets={"new_wiki": (shifted_bad,) * 2},
    )
    compare_runs([root], show=False, plots=False)
    main = read_csv(root / "settings.csv")
    assert main[0]["model.head"] == "bilstm"  # better on validation
    assert float(main[0]["new_wiki f1_mean"]) == pytest.approx(25.0)
    compare_runs([root], set_name="new_wiki", show=False)
    shifted = read_csv(root / "settings_new_wiki.csv")
    assert [r["model.head"] for r in shifted] == ["linear", "bilstm"]  # the order flips
    assert float(shifted[1]["f1_diff"]) == pytest.approx(-50.0)
    assert (root / "comparison_new_wiki.md").is_file() and (root / "slices_new_wiki.png").is_file()
    with pytest.raises(ValueError, match="amazon.*validation, new_wiki"):
        compare_runs([root], set_name="amazon", show=False)


def test_older_folders_compare_without_tests_and_say_why(tmp_path):
    root = tmp_path / "sweep"
    scored_run(root / "0", ["model.head=linear"], base_scores(1))
    worst = np.where(np.arange(N) < 30, 100.0, 0.0)
    scored_run(root / "1", ["model.head=bilstm"], worst, records=False, sets=False)
    scored_run(root / "2", ["model.head=mlp"], base_scores(3))
    report = compare_runs([root], show=False, plots=False)
    rows = {r["model.head"]: r for r in read_csv(root / "settings.csv")}
    assert rows["bilstm"]["f1_mean"] != ""  # still ranked by its score
    assert rows["bilstm"]["f1_diff"] == "" and rows["bilstm"]["significant"] == ""
    assert "per_question.jsonl is missing" in rows["bilstm"]["note"]
    tested = [r for r in rows.values() if r["f1_diff"] != ""]
    assert len(tested) == 1  # the other one against the best
    markdown = (root / "comparison.md").read_text()
    assert "No test for model.head=bilstm" in markdown and "No slices for" in markdown
    assert report.paired.rows  # the comparison itself went through


def test_command_line_diff_of_two_settings_lists_the_fixed_questions(seeds_sweep, tmp_path):
    root, truth = seeds_sweep
    out = tmp_path / "diffs"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "qa_lightning.compare",
            "diff",
            f"{root}:lr=1e-3",
            f"{root}:optimizer.lr=0.003",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Fixed by B: 40; broken by B: 0." in proc.stdout
    (md,) = out.glob("diff_lr=1e-3_3_seeds_vs_lr=0.003_3_seeds.md")
    rows = read_csv(md.with_suffix(".csv"))
    assert sorted(r["id"] for r in rows) == sorted(truth["improved"])
    assert {r["change"] for r in rows} == {"fixed"}
    # no side: the sweep holds three settings
    bad = subprocess.run(
        [sys.executable, "-m", "qa_lightning.compare", "diff", str(root), f"{root}:lr=0.003"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        f"error: {root} holds 9 runs of more than one setting: pick one with "
        f"{root}:key=value (varied: optimizer.lr)"
    ]


def test_metrics_json_of_a_set_written_by_the_builder_matches_its_records(tmp_path):
    """The builder writes what the run folder writer writes: flat scores = record means."""
    run = scored_run(tmp_path / "r", [], base_scores(4))
    metrics = json.loads((run / "metrics.json").read_text())
    records = [json.loads(x) for x in (run / "per_question.jsonl").read_text().splitlines()]
    assert metrics["f1"] == pytest.approx(np.mean([r["f1"] for r in records]))


def test_a_sweep_preset_is_not_a_parameter(tmp_path):
    """``sweep=seeds`` only sets the sweeper's values; a job rerun without it (each job's
    overrides carry its seed) is the same setting."""
    scored_run(
        tmp_path / "s" / "0", ["sweep=seeds", "seed=1", "optimizer.lr=0.001"], base_scores(1)
    )
    scored_run(tmp_path / "s" / "1", ["seed=2", "optimizer.lr=0.001"], base_scores(2))
    comparison = compare(collect_runs([tmp_path / "s"]))
    assert comparison.varied == ["seed"]
    assert [s.n for s in group_settings(comparison)] == [2]
