"""Hydra multiruns end to end: grid, a failing job, Optuna, submitit; compare and W&B."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.cli.test_train_eval import ROOT, SMALL_DATA, wandb_run_record, wandb_summary
from tests.docs.coverage import check_run_files_documented

TINY_SWEEP = [
    *SMALL_DATA,
    "data.synthetic.n_train=32",
    "data.synthetic.n_eval=8",
    "trainer=cpu",
    "trainer.precision=32-true",  # fp32: the checks compare floats exactly
    "trainer.max_epochs=1",
    "trainer.enable_progress_bar=false",
    "save_best_model=false",
]


def tiny_sweep_without(*prefixes: str) -> list[str]:
    """TINY_SWEEP less the overrides a test leaves to the sweeper (a value given on the
    command line would pin the parameter)."""
    return [o for o in TINY_SWEEP if not o.startswith(prefixes)]


def run_sweep(
    overrides: list[str],
    sweep_dir: Path,
    model_dir: Path,
    *,
    base: list[str] = TINY_SWEEP,
    check: bool = True,
) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    cmd = [
        sys.executable,
        str(ROOT / "train.py"),
        "-m",
        f"model.name_or_path={model_dir}",
        *base,
        *overrides,
        f"hydra.sweep.dir={sweep_dir}",
        f"paths.cache_dir={sweep_dir.parent / 'cache'}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    if check:
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc


def job_dirs(sweep_dir: Path) -> list[Path]:
    return sorted((p for p in sweep_dir.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


def read_comparison(sweep_dir: Path) -> list[dict[str, str]]:
    with open(sweep_dir / "comparison.csv", newline="") as f:
        return list(csv.DictReader(f))


def metrics(job: Path) -> dict:
    return json.loads((job / "metrics.json").read_text())


def test_grid_sweep_is_compared_and_logged_as_one_wandb_group(tmp_path: Path, tiny_bert_dir):
    sweep = tmp_path / "grid"
    run_sweep(["optimizer.lr=1e-4,2e-4", "data.doc_stride=16,32"], sweep, tiny_bert_dir)
    jobs = job_dirs(sweep)
    assert [j.name for j in jobs] == ["0", "1", "2", "3"]

    # The sweep's own summary (written when it ended): one row per job, the swept columns.
    rows = read_comparison(sweep)
    assert len(rows) == 4 and {r["status"] for r in rows} == {"completed"}
    assert {(r["optimizer.lr"], r["data.doc_stride"]) for r in rows} == {
        ("0.0001", "16"),
        ("0.0001", "32"),
        ("0.0002", "16"),
        ("0.0002", "32"),
    }
    assert "data.max_length" not in rows[0]  # shared by every job: not a column
    f1s = [float(r["f1"]) for r in rows]
    assert f1s == sorted(f1s, reverse=True)
    assert {r["job"]: float(r["f1"]) for r in rows} == {
        j.name: pytest.approx(metrics(j)["f1"], abs=1e-4) for j in jobs
    }
    assert (sweep / "f1_vs_optimizer.lr.png").is_file()
    assert (sweep / "f1_vs_data.doc_stride.png").is_file()

    groups, names = set(), []
    for job in jobs:
        summary = wandb_summary(job)
        assert summary["state"] == "finished"  # finished inside its job
        assert summary["summary"]["val/f1"] == pytest.approx(metrics(job)["f1"], abs=1e-4)
        overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
        assert summary["config"]["overrides"] == overrides
        assert "model:distilbert" in summary["tags"] and "data:synthetic" in summary["tags"]
        record = wandb_run_record(job)
        groups.add(record.get("run_group"))
        names.append(record["display_name"])
        (table_file,) = (job / "wandb").glob(
            "offline-run-*/files/media/table/val/predictions*.json"
        )
        table = json.loads(table_file.read_text())
        assert table["columns"] == ["id", "question", "gold", "predicted", "correct", "f1"]
        predictions = json.loads((job / "predictions.json").read_text())
        assert len(table["data"]) == 8
        assert all(
            predictions[row[0]] == row[3] or row[3] == "(no answer)" for row in table["data"]
        )
    assert len(groups) == 1 and None not in groups  # one group for the sweep
    assert "optimizer.lr=0.0001" in names[0] and "data.doc_stride=16" in names[0]
    assert len(set(names)) == 4

    # The sweep's summary run: in the same group, with the settings table of settings.csv.
    summary_run = wandb_run_record(sweep)
    assert summary_run["job_type"] == "summary" and summary_run["run_group"] in groups
    settings = wandb_summary(sweep)
    assert settings["state"] == "finished"
    assert settings["summary"]["summary/settings"]["_type"] == "table-file"
    with open(sweep / "settings.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 4  # one seed each: four settings


def test_a_failing_job_is_recorded_and_the_sweep_goes_on(tmp_path: Path, tiny_bert_dir):
    sweep = tmp_path / "failing"
    # lr=1e30 with no warmup: the weights overflow at the first step and the loss is NaN.
    overrides = ["scheduler=constant_with_warmup", "scheduler.warmup_ratio=0"]
    proc = run_sweep([*overrides, "optimizer.lr=5e-4,1e30,2e-4"], sweep, tiny_bert_dir)
    first, failed, last = job_dirs(sweep)
    assert metrics(first)["status"] == metrics(last)["status"] == "completed"
    failure = json.loads((failed / "failure.json").read_text())
    assert (
        failure["error"] == "TrainingDivergedError" and "optimizer.lr=1e+30" in failure["overrides"]
    )
    assert "train/loss is nan" in failure["message"]

    summary = wandb_summary(failed)
    assert summary["exit_code"] == 1 and summary["state"] == "failed"
    assert summary["summary"]["failure"].startswith("TrainingDivergedError")
    assert wandb_summary(last)["exit_code"] == 0

    rows = {r["job"]: r for r in read_comparison(sweep)}
    assert rows["1"]["status"] == "FAILED" and "train/loss is nan" in rows["1"]["error"]
    assert rows["0"]["rank"] and rows["2"]["rank"]
    log = proc.stdout + proc.stderr
    assert "Failed: job 1: TrainingDivergedError" in log
    check_run_files_documented(failed)  # failure.json on a page


# slow since the pruning test below runs the sweeper in the default run, and
# tests/sweepers/test_search_space.py reads this preset's search space
@pytest.mark.slow
def test_optuna_preset_searches_and_records_the_best_trial(tmp_path: Path, tiny_bert_dir):
    pytest.importorskip("optuna")
    sweep = tmp_path / "optuna"
    base = tiny_sweep_without("optimizer.lr=", "data.doc_stride=")
    overrides = ["sweep=optuna", "hydra.sweeper.n_trials=3", "data.max_length=256", "logger=csv"]
    run_sweep(overrides, sweep, tiny_bert_dir, base=base)
    jobs = job_dirs(sweep)
    assert len(jobs) == 3
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    f1s = [metrics(j)["f1"] for j in jobs]
    assert results["best_value"] == pytest.approx(max(f1s), abs=1e-4)  # each job returned val/f1
    for job in jobs:
        params = dict(
            o.split("=", 1) for o in yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
        )
        assert 1e-5 <= float(params["optimizer.lr"]) <= 3e-4
        assert params["data.doc_stride"] in {"64", "96", "128"}
    assert len(read_comparison(sweep)) == 3


@pytest.mark.slow
def test_a_killed_optuna_sweep_continues_its_study(tmp_path: Path, tiny_bert_dir):
    """SIGTERM in trial 1 of 3, then the same command into the same folder: trial 0 is
    left alone, trial 1 resumes in its own folder with its own parameters, trial 2 runs
    (once: n_trials counts all trials), and the best trial is the best of the 3 jobs."""
    pytest.importorskip("optuna")
    from tests.cli.test_sweep_resume import result_files

    sweep = tmp_path / "optuna"
    base = tiny_sweep_without("optimizer.lr=", "data.doc_stride=")
    overrides = [
        "sweep=optuna",
        "hydra.sweeper.n_trials=3",
        "data.max_length=256",
        "logger=csv",
        "+callbacks.extra.kill._target_=tests.cli.interrupt.SignalAtStep",
        "+callbacks.extra.kill.step=1",
        "+callbacks.extra.kill.job=1",
        f"+callbacks.extra.kill.once={tmp_path / 'sent'}",
    ]
    first = run_sweep(overrides, sweep, tiny_bert_dir, base=base, check=False)
    assert first.returncode == 143, first.stderr[-3000:]
    trial_0 = result_files(sweep / "0")
    trial_1_overrides = (sweep / "1" / ".hydra" / "overrides.yaml").read_text()
    assert not (sweep / "2").exists()

    again = run_sweep(overrides, sweep, tiny_bert_dir, base=base)
    log = again.stdout + again.stderr
    assert "Trial 1 was interrupted: running it again" in log
    assert "was interrupted: resuming from" in log  # from trial 1's last.ckpt
    assert result_files(sweep / "0") == trial_0
    assert (sweep / "1" / ".hydra" / "overrides.yaml").read_text() == trial_1_overrides
    jobs = job_dirs(sweep)
    assert [j.name for j in jobs] == ["0", "1", "2"]
    assert "2 trials, 1 of them cut short" in log
    assert all(metrics(j)["status"] == "completed" for j in jobs)
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["best_value"] == pytest.approx(max(metrics(j)["f1"] for j in jobs), abs=1e-4)


# ~19 s; slow since the docs tests joined the default run: the local launcher's process per
# job is also run by tests/cli/test_sweep_resume.py (slow)
@pytest.mark.slow
def test_submitit_local_runs_each_job_in_its_own_process(tmp_path: Path, tiny_bert_dir):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    sweep = tmp_path / "local"
    run_sweep(
        ["hydra/launcher=local", "optimizer.lr=1e-4,2e-4", "logger=csv"], sweep, tiny_bert_dir
    )
    jobs = job_dirs(sweep)
    assert [metrics(j)["status"] for j in jobs] == ["completed", "completed"]
    results = list((sweep / ".submitit").glob("*/*_result.pkl"))
    assert len(results) == 2  # two submitit jobs, each a process of its own
    assert len(read_comparison(sweep)) == 2


# The pruning tests search the learning rate alone (the command line fixes the preset's
# other parameters) on a constant schedule; the median pruner judges after 1 finished trial.
PRUNING = [
    "sweep=optuna",
    "logger=csv",
    "scheduler=constant_with_warmup",
    "scheduler.warmup_ratio=0",
    "optimizer.weight_decay=0.01",
    "hydra.sweeper.pruner={_target_:optuna.pruners.MedianPruner,n_startup_trials:1}",
]


def study_of(sweep: Path, name: str = "train"):
    import optuna

    from qa_lightning.storage.study import open_study_storage

    storage = open_study_storage(str(sweep / "optuna_journal.log"))
    return optuna.load_study(study_name=name, storage=storage)


def test_a_pruned_trial_stops_after_its_first_validation_and_is_never_resumed(
    tmp_path: Path, tiny_bert_dir
):
    """Trial 0 (lr 3e-3) learns and finishes; trial 1 (lr 1e-8) is behind it after epoch 1:
    the median pruner stops it there, its folder and its W&B run say pruned, the sweep's
    table lists it unranked, and a relaunch touches neither job."""
    optuna = pytest.importorskip("optuna")
    from tests.cli.test_sweep_resume import result_files

    sweep = tmp_path / "pruned"
    base = tiny_sweep_without("optimizer.lr=", "trainer.max_epochs=")
    overrides = [
        *PRUNING,
        "logger=many",
        "trainer.max_epochs=2",
        "optimizer.lr=choice(3e-3,1e-8)",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.enqueue=[{optimizer.lr:0.003},{optimizer.lr:1e-8}]",
    ]
    run_sweep(overrides, sweep, tiny_bert_dir, base=base)
    good, hopeless = job_dirs(sweep)
    study = study_of(sweep)
    assert [t.state for t in study.trials] == [
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.PRUNED,
    ]
    assert [t.params["optimizer.lr"] for t in study.trials] == [0.003, 1e-8]
    # trial 0 reported both epochs; trial 1 only the first, below trial 0's there
    assert sorted(study.trials[0].intermediate_values) == [0, 1]
    assert list(study.trials[1].intermediate_values) == [0]
    assert study.trials[1].intermediate_values[0] < study.trials[0].intermediate_values[0]

    assert metrics(good)["status"] == "completed" and (good / "best_model").exists() is False
    pruned = metrics(hopeless)
    assert pruned["status"] == "pruned" and pruned["epoch"] == 0
    assert pruned["optimized_metric"]["value"] == pytest.approx(
        study.trials[1].intermediate_values[0]
    )
    with open(hopeless / "csv" / "metrics.csv", newline="") as f:
        validations = [r for r in csv.DictReader(f) if r.get("val/f1")]
    assert len(validations) == 1  # it never trained a second epoch
    assert not (hopeless / "failure.json").exists()
    summary = wandb_summary(hopeless)
    assert summary["state"] == "finished" and summary["summary"]["status"] == "pruned"

    rows = {r["job"]: r for r in read_comparison(sweep)}
    assert rows["0"]["status"] == "completed" and rows["0"]["rank"] == "1"
    assert rows["1"]["status"] == "pruned" and rows["1"]["rank"] == ""
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["best_trial"] == 0 and results["trials"] == {"complete": 1, "pruned": 1}

    before = {job.name: result_files(job) for job in (good, hopeless)}
    again = run_sweep(overrides, sweep, tiny_bert_dir, base=base)
    assert "Continuing study 'train': 2 trials, 0 of them cut short" in again.stdout + again.stderr
    assert {job.name: result_files(job) for job in (good, hopeless)} == before
    assert len(study_of(sweep).trials) == 2


@pytest.mark.slow
def test_a_pruned_search_finds_the_same_best_trial_in_less_time(tmp_path: Path, tiny_bert_dir):
    """Six learning rates, two that learn and four hopeless, 3 epochs each, two trials at a
    time in their own processes (submitit local): with the median pruner the hopeless
    trials that start after the first finished trial stop after their first validation,
    the best trial is the one the unpruned search finds, and fewer epochs are trained."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    optuna = pytest.importorskip("optuna")
    import time

    base = tiny_sweep_without("optimizer.lr=", "trainer.max_epochs=")
    search = [
        *PRUNING[:-1],
        "trainer.max_epochs=3",
        "hydra/launcher=local",
        "hydra.sweeper.n_trials=6",
        "hydra.sweeper.n_jobs=2",
        "optimizer.lr=choice(3e-3,2e-3,1e-8,2e-8,3e-8,4e-8)",
        # each rate once, in this order (a sampler may repeat a choice)
        "hydra.sweeper.enqueue=[{optimizer.lr:0.003},{optimizer.lr:1e-8},{optimizer.lr:0.002},"
        "{optimizer.lr:2e-8},{optimizer.lr:3e-8},{optimizer.lr:4e-8}]",
    ]
    median = PRUNING[-1]
    seconds, studies, epochs = {}, {}, {}
    for name, extra in (("unpruned", []), ("pruned", [median])):
        sweep = tmp_path / name
        started = time.perf_counter()
        run_sweep([*search, *extra], sweep, tiny_bert_dir, base=base)
        seconds[name] = time.perf_counter() - started
        studies[name] = study_of(sweep)
        epochs[name] = sum(  # a pruned job's metrics.json names the epoch it stopped after
            3 if metrics(job)["status"] == "completed" else metrics(job)["epoch"] + 1
            for job in job_dirs(sweep)
        )
    print(
        f"\nsix trials of 3 epochs, 2 at a time: {seconds['unpruned']:.0f} s unpruned, "
        f"{seconds['pruned']:.0f} s with the median pruner ({epochs['unpruned']} and "
        f"{epochs['pruned']} epochs trained)"
    )

    unpruned, pruned = studies["unpruned"], studies["pruned"]
    assert {t.state for t in unpruned.trials} == {optuna.trial.TrialState.COMPLETE}
    assert pruned.best_trial.params == unpruned.best_trial.params == {"optimizer.lr": 0.003}
    stopped = [t for t in pruned.trials if t.state == optuna.trial.TrialState.PRUNED]
    # trials 0 and 1 run together before any trial has finished: nothing to judge them by
    hopeless_later = [t for t in pruned.trials[2:] if t.params["optimizer.lr"] < 1e-6]
    assert hopeless_later
    assert {t.number for t in hopeless_later} <= {t.number for t in stopped}
    assert all(list(t.intermediate_values) == [0] for t in stopped)
    assert epochs["pruned"] < epochs["unpruned"] == 18
