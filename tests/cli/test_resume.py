"""Interrupted training resumes from its last checkpoint and ends where an uninterrupted run
with the same seed ends (exactly, on CPU)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from qa_lightning.models.safe_checkpoint import read_checkpoint
from tests.cli.test_train_eval import SMALL_DATA, run_entry

EPOCHS = 2


def train_args(model_dir: Path, *extra: str) -> list[str]:
    return [
        f"model.name_or_path={model_dir}",
        *SMALL_DATA,
        "data.synthetic.n_train=40",  # 15 steps per epoch
        "trainer=cpu",
        "trainer.precision=32-true",  # fp32: the checks compare floats exactly
        f"trainer.max_epochs={EPOCHS}",
        "logger=csv",
        "seed=7",
        "save_best_model=false",
        *extra,
    ]


def kill_at(step: int, signal_name: str) -> list[str]:
    return [
        "+callbacks.extra.kill._target_=tests.cli.interrupt.SignalAtStep",
        f"+callbacks.extra.kill.step={step}",
        f"+callbacks.extra.kill.signal_name={signal_name}",
    ]


def final_scores(run_dir: Path) -> tuple[dict, dict]:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    predictions = json.loads((run_dir / "predictions.json").read_text())
    return {k: metrics[k] for k in ("exact", "f1", "total")}, predictions


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, tiny_bert_dir) -> Path:
    run_dir = tmp_path_factory.mktemp("plain") / "run"
    run_entry("train.py", train_args(tiny_bert_dir), run_dir)
    return run_dir


@pytest.mark.slow  # ~13 s; the kill tests compare with the same uninterrupted run
def test_same_seed_twice_gives_the_same_metrics(uninterrupted, tiny_bert_dir, tmp_path):
    run_entry("train.py", train_args(tiny_bert_dir), tmp_path / "again")
    assert final_scores(tmp_path / "again") == final_scores(uninterrupted)


@pytest.mark.parametrize(
    ("signal_name", "step"),
    [
        pytest.param("SIGTERM", 4, marks=pytest.mark.slow),  # the SLURM test sends a signal too
        ("SIGKILL", 7),
        pytest.param("SIGTERM", 15, marks=pytest.mark.slow),  # the last step of epoch 1
        pytest.param("SIGTERM", 19, marks=pytest.mark.slow),  # inside epoch 2
    ],
)
def test_killed_run_resumes_to_the_uninterrupted_result(
    uninterrupted, tiny_bert_dir, tmp_path, signal_name, step
):
    """SIGTERM saves last.ckpt where training stopped; after SIGKILL the run resumes from
    the periodic last.ckpt (every 2 steps, so step 6). The resumed run ends with the same
    EM/F1 and the same answer for every question as the uninterrupted one."""
    run_dir = tmp_path / "run"
    proc = run_entry(
        "train.py",
        train_args(
            tiny_bert_dir, "callbacks.checkpoint.every_n_train_steps=2", *kill_at(step, signal_name)
        ),
        run_dir,
        check=False,
    )
    expected_code = 128 + signal.SIGTERM if signal_name == "SIGTERM" else -signal.SIGKILL
    assert proc.returncode == expected_code, proc.stderr[-3000:]
    assert not (run_dir / "metrics.json").exists() or (
        json.loads((run_dir / "metrics.json").read_text())["status"] != "completed"
    )
    last = run_dir / "checkpoints" / "last.ckpt"
    if signal_name == "SIGTERM":  # the log gives the command that resumes
        hint = f"hydra.run.dir={run_dir.resolve()} ckpt_path={last.resolve()}"
        assert hint in proc.stderr + proc.stdout
    # the documented resume: same command, same run folder, the last checkpoint
    run_entry("train.py", train_args(tiny_bert_dir, f"ckpt_path={last}"), run_dir)
    assert final_scores(run_dir) == final_scores(uninterrupted)


@pytest.mark.slow  # ~36 s: three trainings
def test_resume_after_an_epoch_cut_short_by_limit_train_batches(tiny_bert_dir, tmp_path):
    """With trainer.limit_train_batches=2 an epoch ends after 2 of its 3 batches. Stopped
    at that boundary, the run resumed with the next epoch's first batch (it once compared
    with the sampler's full 3 batches, took the epoch as unfinished and skipped 2 batches
    of the next one, training on 0 of them)."""
    limited = ["trainer.limit_train_batches=2", "data.synthetic.n_train=30"]  # 3 batches
    plain = tmp_path / "plain"
    run_entry("train.py", train_args(tiny_bert_dir, *limited), plain)
    run_dir = tmp_path / "run"
    # the same command twice (a requeued job): the signal is sent once; ckpt_path=last
    # starts the first time (no checkpoint yet) and resumes the second
    command = train_args(
        tiny_bert_dir,
        *limited,
        "ckpt_path=last",
        *kill_at(2, "SIGTERM"),
        f"+callbacks.extra.kill.once={tmp_path / 'sent'}",
    )
    proc = run_entry("train.py", command, run_dir, check=False)
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr[-3000:]
    resumed = run_entry("train.py", command, run_dir)
    assert "was interrupted: resuming from" in resumed.stderr + resumed.stdout
    assert final_scores(run_dir) == final_scores(plain)
    last = read_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    assert last["global_step"] == 2 * EPOCHS  # both epochs trained their 2 batches


# SGD with momentum, layer-wise lr decay and a one-cycle schedule: per-group rates, momentum
# buffers and a schedule sized by the run must all come back from last.ckpt.
OPTIMIZATION = [
    "optimizer=sgd",
    "optimizer.lr=0.05",
    "optimizer_groups=llrd",
    "scheduler=one_cycle",
]


@pytest.mark.slow  # ~35 s: three trainings (tests/models/test_optimization.py: the same, fast)
def test_a_killed_run_with_sgd_llrd_and_one_cycle_resumes_to_the_uninterrupted_result(
    tiny_bert_dir, tmp_path
):
    plain = tmp_path / "plain"
    run_entry("train.py", train_args(tiny_bert_dir, *OPTIMIZATION), plain)
    run_dir = tmp_path / "run"
    every = "callbacks.checkpoint.every_n_train_steps=2"
    command = train_args(tiny_bert_dir, *OPTIMIZATION, every, *kill_at(7, "SIGKILL"))
    proc = run_entry("train.py", command, run_dir, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    last = run_dir / "checkpoints" / "last.ckpt"
    hparams = read_checkpoint(last)["hyper_parameters"]  # weights-only: plain settings
    assert hparams["optimizer_groups"]["decay"] == 0.8
    assert hparams["scheduler"]["_target_"] == "torch.optim.lr_scheduler.OneCycleLR"
    run_entry("train.py", train_args(tiny_bert_dir, *OPTIMIZATION, f"ckpt_path={last}"), run_dir)
    assert final_scores(run_dir) == final_scores(plain)


LORA = ["model.adapter.rank=4", "model.adapter.dropout=0.1", "optimizer.lr=5e-3"]


@pytest.mark.slow  # ~30 s: three trainings
def test_a_lora_run_killed_by_sigterm_resumes_to_the_uninterrupted_result(tiny_bert_dir, tmp_path):
    """LoRA adapters (peft): the adapters, the span layer's copy, the optimizer state over
    them and the adapters' dropout draws all come back from last.ckpt."""
    plain = tmp_path / "plain"
    run_entry("train.py", train_args(tiny_bert_dir, *LORA), plain)
    run_dir = tmp_path / "run"
    proc = run_entry(
        "train.py", train_args(tiny_bert_dir, *LORA, *kill_at(19, "SIGTERM")), run_dir, check=False
    )
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr[-3000:]
    last = run_dir / "checkpoints" / "last.ckpt"
    saved = read_checkpoint(last)
    assert any("lora_A" in k for k in saved["state_dict"])
    # the base model's weights are left out (frozen), and come back from it by hash
    assert saved["frozen_weights"]["names"] and not saved["frozen_weights"].keys() - {
        "names",
        "sha256",
    }
    assert not set(saved["frozen_weights"]["names"]) & saved["state_dict"].keys()
    run_entry("train.py", train_args(tiny_bert_dir, *LORA, f"ckpt_path={last}"), run_dir)
    assert final_scores(run_dir) == final_scores(plain)


FAKE_SCONTROL = """#!/bin/sh
echo "$@" >> "$SCONTROL_LOG"
"""
# A stand-in for submitit's SIGUSR2 handler, installed before train.py runs as submitit's
# job process does: it records the call and exits as submitit's does after requeueing.
SUBMITIT_LIKE = """
import os, runpy, signal, sys
def requeue(signum, frame):
    with open(os.environ["HANDLER_LOG"], "a") as f:
        f.write(signal.Signals(signum).name + "\\n")
    sys.exit(-1)
signal.signal(signal.SIGUSR2, requeue)
sys.argv = ["train.py", *sys.argv[1:]]
runpy.run_path("train.py", run_name="__main__")
"""


def _requeue_command(tiny_bert_dir: Path, tmp_path: Path, *extra: str) -> list[str]:
    return train_args(
        tiny_bert_dir,
        "ckpt_path=last",
        *kill_at(4, "SIGUSR2"),
        f"+callbacks.extra.kill.once={tmp_path / 'sent'}",
        *extra,
    )


def test_a_slurm_time_limit_signal_saves_requeues_and_the_requeued_job_finishes(
    uninterrupted, tiny_bert_dir, tmp_path
):
    """SLURM sends the job's requeue signal ahead of its time limit (simulated: the signal
    sent to the job, a stand-in scontrol on PATH). The run saves last.ckpt, asks SLURM to
    requeue it, and the requeued job (the same command) ends as an uninterrupted run."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "scontrol").write_text(FAKE_SCONTROL)
    (bin_dir / "scontrol").chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "SLURM_JOB_ID": "4242",
        "SCONTROL_LOG": str(tmp_path / "scontrol.log"),
    }
    command = _requeue_command(
        tiny_bert_dir, tmp_path, "callbacks.checkpoint.requeue_signal=SIGUSR2"
    )
    run_dir = tmp_path / "run"
    proc = run_entry("train.py", command, run_dir, check=False, env=env)
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr[-3000:]
    assert (tmp_path / "scontrol.log").read_text().split() == ["requeue", "4242"]
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert "Stopped by SIGUSR2" in proc.stderr + proc.stdout
    requeued = run_entry("train.py", command, run_dir, env=env)
    assert "was interrupted: resuming from" in requeued.stderr + requeued.stdout
    assert final_scores(run_dir) == final_scores(uninterrupted)


def test_under_submitit_the_requeue_is_its_handlers(tiny_bert_dir, tmp_path):
    """In a submitit SLURM job (requeue_signal auto: SIGUSR2) the checkpoint is saved first,
    then submitit's own handler, which ours replaced while training ran, requeues the job
    (no scontrol call of ours)."""
    env = {"SUBMITIT_EXECUTOR": "slurm", "HANDLER_LOG": str(tmp_path / "handler.log")}
    run_dir = tmp_path / "run"
    proc = run_entry(
        "train.py",
        _requeue_command(tiny_bert_dir, tmp_path),
        run_dir,
        check=False,
        env=env,
        python_args=["-c", SUBMITIT_LIKE],
    )
    assert proc.returncode == 255, proc.stderr[-3000:]  # submitit's exit after requeueing
    assert (tmp_path / "handler.log").read_text().split() == ["SIGUSR2"]
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
