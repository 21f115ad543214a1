"""What a run folder says of an earlier attempt at a job (cli/resume.py): the rules a
relaunched sweep and ``ckpt_path=last`` follow, one folder state at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from qa_lightning.cli.checks import check_run
from qa_lightning.cli.resume import previous_attempt
from qa_lightning.config import ConfigError, register_configs, to_plain
from qa_lightning.errors import ForeignRunFolderError

CONF = Path(__file__).resolve().parents[2] / "conf"
register_configs()


def train_cfg(folder: Path, *overrides: str):
    paths = [f"paths.root_dir={CONF.parent}", f"paths.output_dir={folder}"]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="train", overrides=["data=synthetic", *overrides, *paths])


def earlier_attempt(folder: Path, cfg, *, metrics=None, failure=None, checkpoint=False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(to_plain(cfg), folder / "config.yaml")
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics))
    if failure is not None:
        (folder / "failure.json").write_text(json.dumps(failure))
    if checkpoint:
        (folder / "checkpoints").mkdir()
        (folder / "checkpoints" / "last.ckpt").write_bytes(b"ckpt")


FINISHED = {
    "status": "completed",
    "f1": 61.5,
    "optimized_metric": {"name": "val/f1", "value": 61.5},
}


def test_an_empty_folder_is_a_fresh_job(tmp_path):
    assert previous_attempt(train_cfg(tmp_path / "run")).status == "fresh"


def test_a_finished_job_is_completed_with_its_stored_metric(tmp_path):
    cfg = train_cfg(tmp_path)
    earlier_attempt(tmp_path, cfg, metrics=FINISHED, checkpoint=True)
    state = previous_attempt(cfg)
    assert (state.status, state.metric) == ("completed", 61.5)


def test_a_pruned_job_is_over_with_the_metric_it_was_pruned_at(tmp_path):
    """A job its sweep's pruner stopped keeps a last.ckpt from its epochs: it must not be
    resumed as if a kill had cut it short."""
    cfg = train_cfg(tmp_path)
    pruned = {**FINISHED, "status": "pruned", "optimized_metric": {"name": "val/f1", "value": 3.0}}
    earlier_attempt(tmp_path, cfg, metrics=pruned, checkpoint=True)
    state = previous_attempt(cfg)
    assert (state.status, state.metric) == ("pruned", 3.0)


def test_a_job_killed_in_its_final_evaluation_is_resumed_not_skipped(tmp_path):
    """The final validation writes metrics.json with status completed before the best
    model is saved; only the optimized_metric entry, written last, marks the job done."""
    cfg = train_cfg(tmp_path)
    earlier_attempt(tmp_path, cfg, metrics={"status": "completed", "f1": 61.5}, checkpoint=True)
    state = previous_attempt(cfg)
    assert state.status == "interrupted"
    assert state.checkpoint == tmp_path / "checkpoints" / "last.ckpt"


def test_another_optimized_metric_runs_the_job_again(tmp_path):
    cfg = train_cfg(tmp_path, "optimized_metric=val/exact")
    earlier_attempt(tmp_path, cfg, metrics=FINISHED)
    assert previous_attempt(cfg).status == "fresh"


def test_a_failed_job_says_why(tmp_path):
    cfg = train_cfg(tmp_path)
    earlier_attempt(
        tmp_path, cfg, failure={"error": "ValueError", "message": "bad"}, checkpoint=True
    )
    state = previous_attempt(cfg)
    assert (state.status, state.error) == ("failed", "ValueError: bad")


def test_training_without_a_checkpoint_yet_starts_afresh(tmp_path):
    cfg = train_cfg(tmp_path)
    earlier_attempt(tmp_path, cfg, metrics={"status": "training", "f1": 3.0})
    assert previous_attempt(cfg).status == "fresh"


def test_a_folder_of_another_configuration_is_refused_in_one_line(tmp_path):
    earlier_attempt(tmp_path, train_cfg(tmp_path, "optimizer.lr=1e-4"), metrics=FINISHED)
    with pytest.raises(ForeignRunFolderError) as err:
        previous_attempt(train_cfg(tmp_path, "optimizer.lr=3e-4"))
    message = str(err.value)
    assert "\n" not in message
    assert "optimizer.lr (0.0001 there, 0.0003 now)" in message
    assert "hydra.sweep.dir=" in message


def test_where_and_how_a_run_reports_may_change(tmp_path):
    """Locations, loggers and resume settings are not what a run computes."""
    earlier_attempt(tmp_path, train_cfg(tmp_path, "logger=csv"), metrics=FINISHED)
    cfg = train_cfg(
        tmp_path,
        "logger=tensorboard",
        "ckpt_path=last",
        "rerun_failed=false",
        "extras.print_config=false",
    )
    assert previous_attempt(cfg).status == "completed"


def test_a_folder_from_before_evaluation_slices_is_the_same_run(tmp_path):
    """config.yaml of an older version has no evaluation key; the slices a run reports are
    not what it computes, so a relaunch may also change them."""
    cfg = train_cfg(tmp_path)
    earlier_attempt(tmp_path, cfg, metrics=FINISHED)
    saved = OmegaConf.load(tmp_path / "config.yaml")
    del saved["evaluation"]
    OmegaConf.save(saved, tmp_path / "config.yaml")
    assert previous_attempt(cfg).status == "completed"
    fewer = "evaluation.slices=[{_target_:qa_lightning.evaluation.slices.Windows}]"
    assert previous_attempt(train_cfg(tmp_path, fewer)).status == "completed"


def test_ckpt_path_last_is_accepted_by_train_only(tmp_path):
    check_run(train_cfg(tmp_path, "ckpt_path=last"), "train")
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            config_name="eval",
            overrides=[
                "ckpt_path=last",
                f"paths.root_dir={CONF.parent}",
                f"paths.output_dir={tmp_path}",
            ],
        )
    with pytest.raises(ConfigError, match="ckpt_path='last' does not exist"):
        check_run(cfg, "eval")
