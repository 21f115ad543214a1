"""A killed multirun, relaunched with the same command into the same sweep folder, ends as
an uninterrupted sweep ends: finished jobs are skipped (their files untouched), the job
that was training resumes from its last.ckpt, the rest run; one W&B run per job."""

from __future__ import annotations

import csv
import hashlib
import json
import signal
import subprocess
from pathlib import Path

import pytest

from tests.cli import test_sweeps as sweeps
from tests.cli.test_train_eval import SMALL_DATA

LRS = ["5e-4", "1e-3", "2e-3", "3e-3"]
KILLED_JOB = 2


SWEEP = [
    *[a for a in SMALL_DATA if not a.startswith("optimizer.lr")],
    "data.synthetic.n_train=40",  # 3 steps per epoch
    "trainer=cpu",
    "trainer.precision=32-true",  # fp32: the checks compare floats exactly
    "trainer.max_epochs=2",
    "trainer.enable_progress_bar=false",
    "logger=wandb",
    "save_best_model=false",
    "seed=7",
    f"optimizer.lr={','.join(LRS)}",
    "hydra.callbacks.sweep_summary.plots=false",
    "hydra.callbacks.sweep_summary.wandb=false",
]


def run_sweep(model_dir: Path, sweep_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    return sweeps.run_sweep(list(extra), sweep_dir, model_dir, base=SWEEP, check=False)


def result_files(job_dir: Path) -> dict[str, tuple[str, int]]:
    """Every file a job wrote (not Hydra's own .hydra/ and log), with hash and mtime."""
    out = {}
    for path in sorted(job_dir.rglob("*")):
        rel = path.relative_to(job_dir).as_posix()
        if path.is_file() and not rel.startswith(".hydra/") and not rel.endswith(".log"):
            out[rel] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    return out


def job_results(sweep_dir: Path) -> dict[str, tuple]:
    """lr -> (EM, F1, predictions) of every job, as the sweep's comparison lists them."""
    with open(sweep_dir / "comparison.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(LRS) and all(r["status"] == "completed" for r in rows), rows
    out = {}
    for row in rows:
        job = Path(row["path"])
        metrics = json.loads((job / "metrics.json").read_text())
        predictions = json.loads((job / "predictions.json").read_text())
        out[row["optimizer.lr"]] = (metrics["exact"], metrics["f1"], predictions)
    return out


def wandb_ids(job_dir: Path) -> list[str]:
    return sorted(p.name.rsplit("-", 1)[1] for p in (job_dir / "wandb").glob("offline-run-*"))


def finished_jobs(sweep: Path) -> list[int]:
    """Jobs whose folder says they finished (the optimized_metric entry is written last)."""
    done = []
    for job in sorted(p for p in sweep.iterdir() if p.name.isdigit()):
        metrics = job / "metrics.json"
        if metrics.is_file() and "optimized_metric" in json.loads(metrics.read_text()):
            done.append(int(job.name))
    return sorted(done)


def job_log(sweep: Path, job: int) -> str:
    """What the job logged (Hydra's log file in its folder: jobs of the local launcher run
    in processes of their own)."""
    return (sweep / str(job) / "train.log").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["basic", "local"])
def test_relaunched_sweep_ends_as_an_uninterrupted_one(tmp_path, tiny_bert_dir, launcher):
    """basic: the jobs run one after the other in the sweep's process, so the kill ends the
    sweep after 2 finished jobs; local (submitit): every job in its own process, started
    together, so the others finish while the killed one stops."""
    if launcher == "local":
        pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    chosen = [f"hydra/launcher={launcher}"] if launcher != "basic" else []
    reference = run_sweep(tiny_bert_dir, tmp_path / "reference", *chosen)
    assert reference.returncode == 0, reference.stderr[-4000:]

    sweep = tmp_path / "sweep"
    kill = [
        *chosen,
        "+callbacks.extra.kill._target_=tests.cli.interrupt.SignalAtStep",
        "+callbacks.extra.kill.step=4",  # inside the second epoch
        f"+callbacks.extra.kill.job={KILLED_JOB}",
        f"+callbacks.extra.kill.once={tmp_path / 'killed'}",
    ]
    first = run_sweep(tiny_bert_dir, sweep, *kill)
    assert first.returncode != 0
    if launcher == "basic":
        assert first.returncode == 128 + signal.SIGTERM, first.stderr[-4000:]
        assert not (sweep / str(KILLED_JOB + 1)).exists()
    done = finished_jobs(sweep)
    assert set(range(KILLED_JOB)) <= set(done) and KILLED_JOB not in done
    assert (sweep / str(KILLED_JOB) / "checkpoints" / "last.ckpt").is_file()
    finished = {job: result_files(sweep / str(job)) for job in done}

    again = run_sweep(tiny_bert_dir, sweep, *kill)  # the very same command
    assert again.returncode == 0, again.stderr[-4000:]
    for job in done:
        assert "finished before" in job_log(sweep, job), job
    assert "was interrupted: resuming from" in job_log(sweep, KILLED_JOB)
    for job, files in finished.items():  # skipped: not one file rewritten
        assert result_files(sweep / str(job)) == files, job
    # every job: the same EM, F1 and answers as in the uninterrupted sweep
    assert job_results(sweep) == job_results(tmp_path / "reference")
    for job in range(len(LRS)):  # one W&B run per job, the killed job's resumed in it
        job_dir = sweep / str(job)
        run_id = (job_dir / "wandb_run_id").read_text()
        expected = [run_id] * (2 if job == KILLED_JOB else 1)
        assert wandb_ids(job_dir) == expected, job

    # a relaunch with other overrides into the same folder: stopped, and not one file
    # written into the folders of the other configuration's jobs
    before = {job: result_files(sweep / str(job)) for job in range(len(LRS))}
    other = run_sweep(tiny_bert_dir, sweep, *kill, "data.doc_stride=24")
    assert other.returncode != 0
    message = "holds a run of another configuration, which differs at data.doc_stride"
    job_streams = [p.read_text() for p in sweep.glob(".submitit/*/*.err")]  # local launcher
    assert any(message in text for text in [other.stderr, *job_streams])
    assert not (sweep / "0" / "failure.json").exists()
    assert {job: result_files(sweep / str(job)) for job in range(len(LRS))} == before
