"""Loggers built from their config entries, W&B mode resolution (offline unless configured)
and run folder writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger
from pytorch_lightning.loggers.logger import DummyLogger

from qa_lightning.errors import ConfigError
from qa_lightning.tracking.loggers import (
    FallbackWandbLogger,
    build_loggers,
    finish_loggers,
    resolve_wandb_mode,
    wandb_credentials_present,
)
from qa_lightning.tracking.run_folder import write_json_atomic
from tests.cli.test_config import CONF


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for var in ("WANDB_API_KEY", "WANDB_IDENTITY_TOKEN_FILE", "WANDB_MODE", "WANDB_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    return tmp_path


def test_auto_is_offline_without_credentials(clean_env):
    assert not wandb_credentials_present()
    assert resolve_wandb_mode("auto") == "offline"


def test_auto_is_online_with_an_api_key_or_netrc_entry(clean_env, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert resolve_wandb_mode("auto") == "online"
    monkeypatch.delenv("WANDB_API_KEY")
    (clean_env / "netrc").write_text(
        "machine api.wandb.ai\n  login user\n  password " + "y" * 40 + "\n"
    )
    assert resolve_wandb_mode("auto") == "online"
    monkeypatch.setenv("WANDB_BASE_URL", "https://wandb.example.org")
    assert resolve_wandb_mode("auto") == "offline"  # the key is for another host


def test_explicit_modes_and_wandb_mode_win(clean_env, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert resolve_wandb_mode("offline") == "offline"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert resolve_wandb_mode("auto") == "disabled"
    assert resolve_wandb_mode("online") == "online"


def test_a_mode_nobody_checked_is_refused_in_one_line(clean_env):
    """A library caller that skipped the start check (tracking/checks.py) is not handed an
    unknown mode for W&B to reject later."""
    with pytest.raises(ConfigError) as err:
        resolve_wandb_mode("offlne")
    assert str(err.value) == (
        "logger.wandb.mode='offlne'; use one of auto, online, offline, disabled"
    )


def test_json_written_atomically_and_readable(tmp_path):
    path = tmp_path / "run" / "metrics.json"
    write_json_atomic(path, {"f1": 1.5})
    write_json_atomic(path, {"f1": 2.5})
    assert json.loads(path.read_text()) == {"f1": 2.5}
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]  # no temporary left
    assert path.stat().st_mode & 0o044  # readable by group and others, like any output


def test_failed_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "metrics.json"
    write_json_atomic(path, {"f1": 1.0})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"f1": object()})
    assert json.loads(path.read_text()) == {"f1": 1.0}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def _preset_loggers(tmp_path, *overrides: str, **identity):
    """The loggers of a composed config (conf/logger/...), built as the entry points do."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", [*overrides, f"paths.output_dir={tmp_path}"])
    return build_loggers(
        OmegaConf.to_container(cfg.logger, resolve=True), output_dir=str(tmp_path), **identity
    )


def test_many_builds_csv_wandb_and_tensorboard_into_the_run_folder(clean_env, tmp_path):
    identity = {"group": "train-sweep", "name": "0:lr=0.1", "tags": ["e2e", "model:tiny"]}
    csv_log, wandb_log, tb_log = _preset_loggers(
        tmp_path, "logger=many", "logger.wandb.tags=[mine]", **identity
    )
    assert type(csv_log) is CSVLogger and Path(csv_log.log_dir) == tmp_path / "csv"
    assert type(tb_log) is TensorBoardLogger and Path(tb_log.log_dir) == tmp_path / "tensorboard"
    assert isinstance(wandb_log, FallbackWandbLogger) and wandb_log.save_dir == str(tmp_path)
    init = wandb_log._wandb_init
    assert init["mode"] == "offline" and init["project"] == "qa-lightning"  # auto, no key
    assert (init["group"], init["name"]) == ("train-sweep", "0:lr=0.1")
    assert init["tags"] == ["e2e", "model:tiny", "mine"]


def test_presets_without_a_logger(clean_env, tmp_path):
    assert _preset_loggers(tmp_path, "logger=none") == []
    (only_csv,) = _preset_loggers(tmp_path, "logger=wandb", "logger.wandb.mode=disabled")
    assert type(only_csv) is CSVLogger


def test_extra_loggers_get_the_run_folder_where_they_take_one(tmp_path):
    loggers = build_loggers(
        {
            "extra": {
                "tb": {"_target_": "pytorch_lightning.loggers.TensorBoardLogger", "name": "tb"},
                # takes no save_dir (no arguments at all): nothing is passed to it
                "dummy": {"_target_": "pytorch_lightning.loggers.logger.DummyLogger"},
            }
        },
        output_dir=str(tmp_path),
    )
    tb, dummy = loggers
    assert type(tb) is TensorBoardLogger and tb.root_dir == str(tmp_path / "tb")
    assert type(dummy) is DummyLogger
    with pytest.raises(ConfigError, match=r"logger\.extra\.x\._target_='no\.such\.Logger'"):
        build_loggers({"extra": {"x": {"_target_": "no.such.Logger"}}}, output_dir=".")


def test_loggers_are_built_from_the_classes_the_start_check_imported(
    clean_env, tmp_path, monkeypatch
):
    """check_run imports every logger's _target_ once; the entry point builds the loggers
    from those classes and imports no target again (build_loggers without them, as above,
    still checks each one itself)."""
    import qa_lightning.tracking.loggers as loggers_module
    from qa_lightning.cli.checks import check_run
    from qa_lightning.cli.common import make_loggers
    from tests.cli.test_config import _compose

    cfg = _compose("train", ["logger=many", "data=synthetic"])
    cfg.paths.output_dir = str(tmp_path)
    checked = check_run(cfg, "train")
    assert list(checked.loggers) == ["logger.csv", "logger.wandb", "logger.tensorboard"]
    monkeypatch.setattr(
        loggers_module, "import_target", lambda key, *a: pytest.fail(f"{key} imported again")
    )
    built = make_loggers(cfg, checked.loggers)
    assert [type(x) for x in built] == [CSVLogger, FallbackWandbLogger, TensorBoardLogger]


def test_mlflow_run_of_a_failed_job_is_marked_failed(tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    (mlflow_log,) = build_loggers(
        {"mlflow": {}}, output_dir=str(tmp_path), group="g", name="job-name", tags=["t1", "t2"]
    )
    mlflow_log.log_hyperparams({"data": {"doc_stride": 32}})
    mlflow_log.log_metrics({"val/f1": 12.5}, step=1)
    finish_loggers([mlflow_log], error=RuntimeError("diverged"))

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}")
    run = client.get_run(mlflow_log.run_id)
    assert run.info.status == "FAILED" and run.info.run_name == "job-name"
    assert run.data.tags["group"] == "g" and run.data.tags["tags"] == "t1, t2"
    assert run.data.params == {"data/doc_stride": "32"}
    assert run.data.metrics == {"val/f1": 12.5}
