"""Every config group composes against the structured schema; bad keys and values fail early."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf
from omegaconf.errors import ValidationError

from qa_lightning.config import ConfigError, check_config, register_configs

CONF = Path(__file__).resolve().parents[2] / "conf"
GROUPS = [
    "data",
    "model",
    "optimizer",
    "scheduler",
    "trainer",
    "logger",
    "callbacks",
    "experiment",
    "debug",
]
register_configs()


def _compose(config_name: str, overrides: list[str]):
    # Hydra's run-time paths exist only inside a job; tests name them.
    paths = [f"paths.root_dir={CONF.parent}", "paths.output_dir=/tmp/qa-lightning-test"]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name=config_name, overrides=[*overrides, *paths])


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def _point_files_at(cfg, tmp_path: Path) -> None:
    """Data files must exist for check_config; stand-ins keep these tests self-contained."""
    for key in ("train_file", "validation_file"):
        if cfg.data.source.value in ("squad_json", "flat"):
            (tmp_path / key).write_text("{}")
            cfg.data[key] = str(tmp_path / key)


@pytest.mark.parametrize(
    ("group", "option"), [(g, o) for g in GROUPS for o in _options(g)], ids=lambda v: str(v)
)
def test_every_group_option_composes_and_checks(group: str, option: str, tmp_path: Path) -> None:
    cfg = _compose("train", [f"{group}={option}"])
    _point_files_at(cfg, tmp_path)
    check_config(cfg)
    OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves
    assert cfg.model.name_or_path


@pytest.mark.parametrize("option", _options("data"))
def test_eval_config_composes_with_every_data_option(option: str, tmp_path: Path) -> None:
    cfg = _compose("eval", [f"data={option}"])
    _point_files_at(cfg, tmp_path)
    check_config(cfg)
    assert cfg.task_name == "eval"


def test_defaults_are_the_real_user_path() -> None:
    cfg = _compose("train", [])
    assert cfg.model.name_or_path == "distilbert-base-uncased"
    assert cfg.data.hub_name == "rajpurkar/squad"
    assert cfg.optimized_metric == "val/f1"


def test_experiment_demo_is_offline() -> None:
    cfg = _compose("train", ["experiment=demo"])
    assert cfg.model.name_or_path == "bundled:minilm"
    assert cfg.data.source.value == "synthetic"


def test_unknown_key_fails_naming_it() -> None:
    with pytest.raises(ConfigCompositionException) as err:
        _compose("train", ["data.doc_strid=64"])
    assert "doc_strid" in str(err.value.__cause__)
    assert "not in 'DataConfig'" in str(err.value.__cause__)


def test_bad_type_fails_naming_the_key() -> None:
    with pytest.raises(ConfigCompositionException) as err:
        _compose("train", ["data.max_length=long"])
    assert isinstance(err.value.__cause__, ValidationError)
    assert "data.max_length" in str(err.value.__cause__)


def test_bad_enum_lists_the_accepted_values() -> None:
    with pytest.raises(ConfigCompositionException) as err:
        _compose("train", ["data.source=s3"])
    assert "synthetic" in str(err.value.__cause__)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["data.doc_stride=400"], "data.doc_stride"),
        (["data=squad_json", "data.validation_file=dev.json"], "data.train_file"),
        (["data.max_train_samples=0"], "data.max_train_samples"),
        (["optimizer.lr=-1"], "optimizer.lr"),
        (["data.on_bad_record=skip"], "data.on_bad_record"),
        (["logger.wandb.mode=sometimes"], "logger.wandb.mode"),
        (["model.attn_implementation=flash"], "model.attn_implementation"),
    ],
)
def test_cross_field_rules_name_the_key(overrides: list[str], key: str) -> None:
    cfg = _compose("train", overrides)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        check_config(cfg)


def test_missing_data_file_fails_before_anything_loads_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "dev.json").write_text("{}")
    cfg = _compose(
        "train",
        [
            "data=squad_json",
            f"data.train_file={tmp_path / 'missing.json'}",
            f"data.validation_file={tmp_path / 'dev.json'}",
        ],
    )
    with pytest.raises(FileNotFoundError, match=r"missing\.json.*\(data\.train_file\)"):
        check_config(cfg)
    eval_cfg = _compose(
        "eval", ["data=squad_json", f"data.validation_file={tmp_path / 'dev.json'}"]
    )
    check_config(eval_cfg)  # eval needs no train file


@pytest.mark.parametrize(
    ("launcher", "target"),
    [("slurm", "SlurmLauncher"), ("local", "LocalLauncher")],
)
def test_cluster_launcher_presets_compose(launcher: str, target: str, monkeypatch) -> None:
    monkeypatch.setenv("SLURM_PARTITION", "gpu")
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            config_name="train",
            overrides=[f"hydra/launcher={launcher}", "sweep=grid"],
            return_hydra_config=True,
        )
    assert cfg.hydra.launcher._target_.endswith(target)
    assert cfg.hydra.sweeper.params["optimizer.lr"] == "2e-5,3e-5,5e-5"
    if launcher == "slurm":
        assert cfg.hydra.launcher.partition == "gpu" and cfg.hydra.launcher.gpus_per_node == 1
