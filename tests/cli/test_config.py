"""Every config group composes against the structured schema; bad keys and values fail early."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf
from omegaconf.errors import ValidationError

from qa_lightning.cli.checks import check_run
from qa_lightning.config import ConfigError, register_configs
from qa_lightning.models.limits import check_against_model

CONF = Path(__file__).resolve().parents[2] / "conf"
GROUPS = [
    "data",
    "model",
    "optimizer",
    "optimizer_groups",
    "scheduler",
    "trainer",
    "logger",
    "callbacks",
    "experiment",
    "debug",
]
register_configs()


def check_config(cfg) -> None:
    """What the entry point ``cfg`` was composed for checks before anything loads."""
    check_run(cfg, cfg.task_name)


entry_checks = check_config  # the evaluation's rules (optimized_metric, monitors, slices) too


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
        if cfg.data.source in ("squad_json", "flat", "mrqa"):
            (tmp_path / key).write_text("{}")
            cfg.data[key] = str(tmp_path / key)


@pytest.mark.parametrize(
    ("group", "option"), [(g, o) for g in GROUPS for o in _options(g)], ids=lambda v: str(v)
)
def test_every_group_option_composes_and_checks(group: str, option: str, tmp_path: Path) -> None:
    cfg = _compose("train", [f"{group}={option}"])
    _point_files_at(cfg, tmp_path)
    check_config(cfg)  # the optimizer, groups and scheduler nodes too
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
    assert cfg.data.source == "synthetic"


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


# Every fixed-choice key, with the values it accepts (written out here, not read from the
# code, so that a value dropped fails this test). The config holds them as plain strings;
# each is checked once at start by its owner (data, models, tracking, cli).
FIXED_CHOICES = {
    "data.source": ["hub", "squad_json", "flat", "mrqa", "synthetic"],
    "data.on_bad_record": ["raise", "drop"],
    "data.language": ["en", "es", "de", "vi", "ar", "hi", "zh"],
    "model.freeze": ["none", "embeddings", "layers", "all"],
    "scheduler.name": [
        "linear",
        "cosine",
        "cosine_with_restarts",
        "polynomial",
        "constant",
        "constant_with_warmup",
        "inverse_sqrt",
    ],
    "logger.wandb.mode": ["auto", "online", "offline", "disabled"],
    "callbacks.checkpoint.mode": ["min", "max"],
    "callbacks.early_stopping.mode": ["min", "max"],
    "callbacks.lr_monitor.logging_interval": ["step", "epoch"],
    "backend": ["torch", "onnx"],
}
# the entry points whose config has each key (train.py's has every key but backend)
ENTRIES = {
    "data.source": ("train", "eval", "predict"),
    "data.on_bad_record": ("train", "eval", "predict"),
    "data.language": ("train", "eval", "predict"),
    "model.freeze": ("train", "eval", "predict"),
    "logger.wandb.mode": ("train", "eval"),
    "backend": ("eval", "predict", "serve"),
}


def _needs(key: str, value: str = "bogus") -> list[str]:
    """Overrides that put ``key`` in the config and let ``value`` pass the other rules
    (early stopping is off by default, eval.py logs to CSV; a frozen encoder needs a head)."""
    if key.startswith("callbacks.early_stopping"):
        return ["callbacks=early_stopping"]
    if key.startswith("logger.wandb"):
        return ["logger=wandb"]
    if key == "model.freeze" and value != "none":
        return ["model.head=linear"]
    return []


def _message(key: str) -> str:
    return f"{key}='bogus'; use one of {', '.join(FIXED_CHOICES[key])}"


@pytest.mark.parametrize("key", list(FIXED_CHOICES))
def test_a_bad_fixed_choice_composes_and_fails_at_start_naming_the_key_and_the_values(
    key: str,
) -> None:
    entry = "eval" if key == "backend" else "train"
    cfg = _compose(entry, [*_needs(key), f"{key}=bogus"])
    with pytest.raises(ConfigError) as err:
        check_config(cfg)
    assert str(err.value) == _message(key)


@pytest.mark.parametrize("key", list(FIXED_CHOICES))
def test_every_allowed_value_is_a_plain_string_that_passes_the_checks(
    key: str, tmp_path: Path
) -> None:
    entry = "eval" if key == "backend" else "train"
    for value in FIXED_CHOICES[key]:
        cfg = _compose(entry, [*_needs(key, value), f"{key}={value}"])
        node = OmegaConf.select(cfg, key)
        assert type(node) is str and node == value
        _point_files_at(cfg, tmp_path)
        check_config(cfg)


def test_the_schema_holds_no_enum() -> None:
    """Plain values in the config object: nothing is converted back from an Enum."""
    import dataclasses
    import typing
    from enum import Enum

    import qa_lightning.config as config

    schemas = [v for v in vars(config).values() if dataclasses.is_dataclass(v)]
    assert len(schemas) >= 20
    for schema in schemas:
        for name, hint in typing.get_type_hints(schema).items():
            kinds = typing.get_args(hint) or (hint,)
            assert not [k for k in kinds if isinstance(k, type) and issubclass(k, Enum)], (
                schema,
                name,
            )
    assert not [v for v in vars(config).values() if isinstance(v, type) and issubclass(v, Enum)]


def _entry_cfg(entry: str, overrides: list[str], tmp_path: Path):
    if entry == "predict":
        (tmp_path / "q.jsonl").write_text("")
        overrides = [*overrides, f"data.predict_file={tmp_path / 'q.jsonl'}"]
    if entry == "serve":
        overrides = [*overrides, f"model_dir={tmp_path}"]
    paths = [f"paths.root_dir={CONF.parent}", f"paths.output_dir={tmp_path / 'run'}"]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name=entry, overrides=[*overrides, *paths])


@pytest.mark.parametrize(
    ("entry", "key"), [(entry, key) for key, entries in ENTRIES.items() for entry in entries]
)
def test_each_entry_point_refuses_a_bad_fixed_choice_before_anything_loads(
    entry: str, key: str, tmp_path: Path
) -> None:
    """train.py, eval.py, predict.py and serve.py themselves (in process), with what loads
    data or weights replaced by a failure: the start check stops them first (serve.py's
    model_dir is an empty folder, which would fail otherwise)."""
    from unittest import mock

    from qa_lightning.cli import evaluate, predict, serve, train

    cfg = _entry_cfg(entry, [*_needs(key), f"{key}=bogus"], tmp_path)
    loads = mock.Mock(side_effect=AssertionError("data or a model was loaded"))
    run, loaders = {
        "train": (train.train, [(train, "_prepared_data"), (train, "make_module")]),
        "eval": (evaluate.evaluate, [(evaluate, "trained_module_and_tokenizer")]),
        "predict": (predict.predict, [(predict, "trained_module_and_tokenizer")]),
        "serve": (serve.serve, []),
    }[entry]
    with contextlib.ExitStack() as stack:
        for module, name in loaders:
            stack.enter_context(mock.patch.object(module, name, loads))
        with pytest.raises(ConfigError) as err:
            run(cfg)
    assert str(err.value) == _message(key)
    assert not (tmp_path / "run").exists()  # nothing written either


def test_an_open_set_is_a_plain_string_checked_at_start_naming_the_key_and_the_values() -> None:
    """model.attn_implementation is transformers' (it adds kernels): no Enum in the schema,
    the same information in one line before anything loads."""
    cfg = _compose("train", ["model.attn_implementation=sdpa"])
    assert type(cfg.model.attn_implementation) is str
    check_config(cfg)
    with pytest.raises(ConfigError) as err:
        check_config(_compose("train", ["model.attn_implementation=bogus"]))
    assert str(err.value) == (
        "model.attn_implementation='bogus'; use one of eager, sdpa, flash_attention_2, "
        "flex_attention (or null: transformers picks)"
    )


def test_every_scheduler_choice_builds_with_warmup_and_total_steps() -> None:
    import torch
    from transformers import get_scheduler

    for name in FIXED_CHOICES["scheduler.name"]:
        optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
        scheduler = get_scheduler(name, optimizer, num_warmup_steps=2, num_training_steps=10)
        optimizer.step()
        scheduler.step()


def test_the_config_leaves_the_process_as_plain_values(tmp_path: Path) -> None:
    """config.yaml and the loggers' hyper-parameters (W&B config) hold the plain strings the
    config object holds."""
    from enum import Enum

    import yaml

    from qa_lightning.cli.common import run_hyperparams, write_resolved_config

    overrides = ["model.head=bilstm", "model.freeze=all", "data.on_bad_record=drop"]
    cfg = _compose("train", [*overrides, "extras.print_config=false"])
    assert type(cfg.model.freeze) is str  # what the config holds

    def leaves(value):
        if isinstance(value, dict):
            for v in value.values():
                yield from leaves(v)
        elif isinstance(value, list):
            for v in value:
                yield from leaves(v)
        else:
            yield value

    hyperparams = run_hyperparams(cfg)
    assert not [v for v in leaves(hyperparams) if isinstance(v, Enum)]
    write_resolved_config(cfg, tmp_path)
    text = (tmp_path / "config.yaml").read_text()
    assert "!!python" not in text
    saved = yaml.safe_load(text)
    assert not [v for v in leaves(saved) if isinstance(v, Enum)]
    assert (saved["model"]["head"], saved["model"]["freeze"]) == ("bilstm", "all")
    assert (saved["data"]["on_bad_record"], saved["scheduler"]["name"]) == ("drop", "linear")
    assert saved["logger"]["wandb"]["mode"] == "auto"


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["data.doc_stride=400"], "data.doc_stride"),
        (["data=squad_json", "data.validation_file=dev.json"], "data.train_file"),
        (["data.max_train_samples=0"], "data.max_train_samples"),
        (["data.max_question_tokens=0"], "data.max_question_tokens"),
        (["data.max_question_tokens=384"], "data.max_length=384 leaves no room"),
        (["model.head=linear", "model.freeze_layers=-1"], "model.freeze_layers"),
        (["model.freeze=all"], "model.freeze=all needs one of our heads"),
        (["logger.wandb.init_timeout=0"], "logger.wandb.init_timeout"),
        (["+logger.extra.comet.project=qa"], "logger.extra.comet needs a _target_"),
        (
            ["+logger.extra.comet._target_=no_such_package.Logger"],
            "logger.extra.comet._target_='no_such_package.Logger' cannot be imported",
        ),
        (
            ["+callbacks.extra.swa._target_=pytorch_lightning.callbacks.NoSuchCallback"],
            "callbacks.extra.swa._target_='pytorch_lightning.callbacks.NoSuchCallback' cannot",
        ),
    ],
)
def test_cross_field_rules_name_the_key(overrides: list[str], key: str) -> None:
    cfg = _compose("train", overrides)
    with pytest.raises(ConfigError, match=re.escape(key)) as err:
        check_config(cfg)
    assert "\n" not in str(err.value)


def test_optimized_metric_must_be_a_metric_the_run_logs(tmp_path: Path) -> None:
    cfg = _compose("train", ["optimized_metric=val/f2"])
    with pytest.raises(ConfigError) as err:
        entry_checks(cfg)
    message = str(err.value)
    assert message.startswith("optimized_metric='val/f2' is not a metric this run logs")
    assert "(did you mean val/f1?)" in message and "\n" not in message
    assert "val/exact, val/f1, val/total, val/exact_ci_low" in message
    assert "HasAns" not in message  # SQuAD 1.1 logs no v2 scores
    # v2's scores with data.version_2; an eval set's under eval/<name>/ (after training only)
    entry_checks(_compose("train", ["data=squad_v2", "optimized_metric=val/HasAns_f1"]))
    with pytest.raises(ConfigError, match="optimized_metric='val/HasAns_f1'"):
        entry_checks(_compose("train", ["optimized_metric=val/HasAns_f1"]))
    (tmp_path / "new_wiki.json").write_text("{}")
    eval_set = f"+data.eval_sets.new_wiki={tmp_path / 'new_wiki.json'}"
    entry_checks(_compose("train", [eval_set, "optimized_metric=eval/new_wiki/f1_ci_low"]))
    with pytest.raises(ConfigError, match="optimized_metric='eval/amazon/f1'"):
        entry_checks(_compose("train", [eval_set, "optimized_metric=eval/amazon/f1"]))


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["callbacks.checkpoint.monitor=val/F1"], "callbacks.checkpoint.monitor"),
        (
            ["callbacks=early_stopping", "callbacks.early_stopping.monitor=val/loss"],
            "callbacks.early_stopping.monitor",
        ),
        (
            [
                "+callbacks.extra.stop._target_=pytorch_lightning.callbacks.EarlyStopping",
                "+callbacks.extra.stop.monitor=val/f1_ci",
            ],
            "callbacks.extra.stop.monitor",
        ),
    ],
)
def test_monitors_must_be_metrics_logged_while_fitting(overrides, key, tmp_path) -> None:
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)}='[^']+' is not a metric") as err:
        entry_checks(_compose("train", overrides))
    assert "val/f1" in str(err.value) and "\n" not in str(err.value)
    entry_checks(_compose("train", ["callbacks.checkpoint.monitor=train/loss_epoch"]))
    # an eval set is scored after training only: nothing a checkpoint could monitor
    (tmp_path / "new_wiki.json").write_text("{}")
    eval_set = f"+data.eval_sets.new_wiki={tmp_path / 'new_wiki.json'}"
    with pytest.raises(ConfigError, match="callbacks.checkpoint.monitor='eval/new_wiki/f1'"):
        entry_checks(_compose("train", [eval_set, "callbacks.checkpoint.monitor=eval/new_wiki/f1"]))


def _bert(**kwargs):
    from transformers import BertConfig

    return BertConfig(num_hidden_layers=2, **kwargs)


def test_max_length_is_checked_against_the_models_position_limit() -> None:
    from transformers import DebertaV2Config, RobertaConfig

    cfg = _compose("train", ["data.max_length=96"])
    check_against_model(cfg, _bert(max_position_embeddings=96), name="tiny")
    with pytest.raises(ConfigError) as err:
        check_against_model(cfg, _bert(max_position_embeddings=64), name="tiny")
    assert str(err.value) == (
        "data.max_length=96 is longer than the model 'tiny' takes: its position limit is 64 "
        "tokens (max_position_embeddings=64); use data.max_length <= 64"
    )
    # RoBERTa's position ids start after its padding index: 514 embeddings, 512 tokens
    roberta = RobertaConfig(max_position_embeddings=514, pad_token_id=1)
    check_against_model(_compose("train", ["data.max_length=512"]), roberta, name="r")
    with pytest.raises(
        ConfigError, match=r"limit is 512 tokens \(max_position_embeddings=514 less the 2"
    ):
        check_against_model(_compose("train", ["data.max_length=513"]), roberta, name="r")
    # DeBERTa-v3 has relative positions only: no limit to check
    deberta = DebertaV2Config(max_position_embeddings=512, position_biased_input=False)
    check_against_model(_compose("train", ["data.max_length=1024"]), deberta, name="d")


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (
            ["model.freeze=layers", "model.freeze_layers=3"],
            r"model.freeze_layers=3; .* 2 layers \(use 0\.\.2\)",
        ),
        (["model.hidden_layer=3"], r"model.hidden_layer=3; .* use -3\.\.2"),
        (["model.hidden_layer=-4"], r"model.hidden_layer=-4"),
    ],
)
def test_head_settings_are_checked_against_the_models_layers(overrides, match) -> None:
    model = _bert(max_position_embeddings=512)
    with pytest.raises(ConfigError, match=match):
        check_against_model(_compose("train", ["model.head=linear", *overrides]), model, name="m")
    # the same settings without one of our heads (or read from a checkpoint) are not used
    check_against_model(_compose("train", overrides), model, name="m")
    cfg = _compose("train", ["model.head=linear", *overrides])
    check_against_model(cfg, model, name="m", head_settings=False)
    check_against_model(
        _compose("train", ["model.head=linear", "model.freeze=layers", "model.freeze_layers=2"]),
        model,
        name="m",
    )


@pytest.mark.parametrize(
    ("logger", "package"), [("tensorboard", "tensorboard"), ("mlflow", "mlflow")]
)
def test_a_logger_whose_package_is_missing_fails_naming_it(logger, package, monkeypatch) -> None:
    import qa_lightning.tracking.checks

    cfg = _compose("train", [f"logger={logger}"])
    check_config(cfg)  # installed here (the loggers extra)
    monkeypatch.setattr(qa_lightning.tracking.checks, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=rf"logger\.{logger} needs the {package} package"):
        check_config(cfg)


def test_callbacks_are_built_from_their_targets() -> None:
    from pytorch_lightning.callbacks import EarlyStopping, LearningRateMonitor, RichProgressBar

    from qa_lightning.cli.common import make_callbacks

    cfg = _compose(
        "train",
        [
            "callbacks=early_stopping",
            "callbacks.early_stopping.patience=5",
            "+callbacks.extra.rich._target_=pytorch_lightning.callbacks.RichProgressBar",
        ],
    )
    built = {type(c): c for c in make_callbacks(cfg, with_loggers=True)}
    stopping = built[EarlyStopping]
    assert (stopping.monitor, stopping.mode, stopping.patience) == ("val/f1", "max", 5)
    assert built[LearningRateMonitor].logging_interval == "step"
    assert RichProgressBar in built
    # no logger (logger=none): Lightning refuses an LR monitor, so there is none
    assert LearningRateMonitor not in {type(c) for c in make_callbacks(cfg, with_loggers=False)}
    plain = make_callbacks(_compose("train", ["callbacks.lr_monitor=null"]), with_loggers=True)
    assert not any(isinstance(c, EarlyStopping | LearningRateMonitor) for c in plain)


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


@pytest.mark.parametrize(
    ("overrides", "needles"),
    [
        (["data.synthetic.unanswerable_fraction=1.5"], ["data.synthetic.unanswerable_fraction"]),
        (["data.synthetic.n_eval=-3"], ["data.synthetic.n_eval=-3"]),
        (["+data.columns.questoin=q"], ["data.columns", "'questoin'", "answer_start"]),
        (
            [f"+data.eval_sets.extra={{file:{__file__},columns:{{txt:t}}}}"],
            ["data.eval_sets.extra.columns", "'txt'"],
        ),
    ],
)
def test_synthetic_and_column_settings_are_checked_before_anything_runs(overrides, needles):
    """They were plain ValueErrors, raised once the data was read or generated."""
    with pytest.raises(ConfigError) as err:
        check_config(_compose("train", ["data=synthetic", *overrides]))
    message = str(err.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message


def test_columns_are_given_on_the_command_line_as_the_readme_says() -> None:
    """A null default could not take keys from the command line (a Hydra composition error
    for every spelling); the empty mapping takes them."""
    cfg = _compose("train", ["+data.columns.context=passage", "+data.columns.question=query"])
    assert dict(cfg.data.columns) == {"context": "passage", "question": "query"}


@pytest.mark.parametrize("entry", ["eval", "predict"])
@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["quantized=true"], "quantized=true needs backend=onnx"),
        (["backend=onnx", "ckpt_path=run/last.ckpt"], "backend=onnx runs an export.py folder"),
    ],
)
def test_backend_rules_name_the_key(entry: str, overrides: list[str], key: str, tmp_path) -> None:
    predict_file = tmp_path / "q.jsonl"
    predict_file.write_text("")
    with pytest.raises(ConfigError, match=re.escape(key)) as err:
        cfg = _compose(entry, [*overrides, f"data.predict_file={predict_file}"])
        check_config(cfg)
    assert "\n" not in str(err.value)


# -- issue 25, point 6: values that once ran, or failed late, deep or in a traceback -------


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("optimizer.lr=inf", "optimizer.lr=inf"),  # once trained to every answer ""
        ("optimizer.lr=nan", "optimizer.lr=nan"),
        ("optimizer.weight_decay=nan", "optimizer.weight_decay=nan"),
        ("optimizer.betas=[0.9,nan]", "optimizer.betas[1]=nan"),
        ("trainer.gradient_clip_val=inf", "trainer.gradient_clip_val=inf"),
        ("data.null_score_diff_threshold=-inf", "data.null_score_diff_threshold=-inf"),
        ("model.head_args.dropout=nan", "model.head_args.dropout=nan"),
    ],
)
def test_a_non_finite_float_setting_is_refused_naming_the_key(override: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)} is not a finite number") as err:
        check_config(_compose("train", [override]))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.precision=bogus", "trainer.precision='bogus'; use one of auto, "),
        ("trainer.max_epochs=-5", "trainer.max_epochs=-5 must be a whole number >= -1"),
        ("trainer.max_steps=-2", "trainer.max_steps=-2 must be a whole number >= -1"),
        (
            "trainer.accumulate_grad_batches=0",
            "trainer.accumulate_grad_batches=0 must be a whole number >= 1",
        ),
        ("trainer.log_every_n_steps=0", "trainer.log_every_n_steps=0 must be a whole number >= 1"),
    ],
)
def test_trainer_settings_lightning_refuses_fail_before_anything_loads(override, message) -> None:
    with pytest.raises(ConfigError) as err:
        check_config(_compose("train", [override]))
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_every_precision_lightning_takes_is_accepted() -> None:
    from typing import get_args

    from lightning_fabric.plugins.precision.precision import _PRECISION_INPUT

    message = str(
        pytest.raises(ConfigError, check_config, _compose("train", ["trainer.precision=x"])).value
    )
    for literal in get_args(_PRECISION_INPUT):
        for value in get_args(literal):
            assert f", {value}" in message  # the message lists what Lightning accepts
            check_config(_compose("train", [f"trainer.precision={value}"]))
    check_config(_compose("train", ["trainer.precision=auto", "trainer.max_epochs=-1"]))


def test_freeze_layers_without_freeze_layers_is_refused() -> None:
    with pytest.raises(ConfigError) as err:
        check_config(_compose("train", ["model.head=linear", "model.freeze_layers=99"]))
    assert str(err.value) == (
        "model.freeze_layers=99 is read only with model.freeze=layers (here model.freeze=none); "
        "add model.freeze=layers or drop it"
    )


def test_a_predict_file_given_to_train_is_named_in_one_warning(tmp_path: Path, caplog) -> None:
    (tmp_path / "q.json").write_text("{}")
    with caplog.at_level("WARNING", logger="qa_lightning.data.checks"):
        check_config(_compose("train", [f"data.predict_file={tmp_path / 'q.json'}"]))
    (record,) = [r for r in caplog.records if "data.predict_file" in r.getMessage()]
    assert record.getMessage().endswith("is read by predict.py only; train.py ignores it")


@pytest.mark.parametrize("path", ["/nonexistent", "./missing", "../missing/set", "/no/dev.json"])
def test_an_eval_set_that_looks_like_a_path_and_is_missing_names_its_key(path: str) -> None:
    """Once taken for a Hub dataset name: looked up on the Hub, the key never named."""
    with pytest.raises(FileNotFoundError) as err:
        check_config(_compose("train", [f"+data.eval_sets.x={path}"]))
    assert str(err.value).startswith(f"data file not found: {path!r} (data.eval_sets.x)")
    check_config(_compose("train", ["+data.eval_sets.x=rajpurkar/squad_v2"]))  # a Hub name


def test_an_eval_set_s_language_is_checked_at_start_and_reaches_its_data(tmp_path: Path) -> None:
    """data.language is the validation set's language and every eval set's default; an eval
    set's own language overrides it, and an unknown one is refused in one line naming its
    key and the languages."""
    for name in ("zh", "plain"):
        (tmp_path / f"{name}.json").write_text("{}")
    zh = f"+data.eval_sets.zh={{file:{tmp_path / 'zh.json'},language:%s}}"
    with pytest.raises(ConfigError) as err:
        check_config(_compose("eval", ["data=synthetic", zh % "xx"]))
    assert str(err.value) == (
        "data.eval_sets.zh.language='xx'; use one of en, es, de, vi, ar, hi, zh"
    )
    plain = f"+data.eval_sets.plain={tmp_path / 'plain.json'}"
    cfg = _compose("train", ["data=synthetic", "data.language=de", zh % "zh", plain])
    sets = check_run(cfg, "train").data_sets
    assert {name: data["language"] for name, data in sets.items()} == {
        "train": "de",
        "validation": "de",
        "zh": "zh",
        "plain": "de",
    }
    # without data.language: en everywhere but where a set names its own
    sets = check_run(_compose("train", ["data=synthetic", zh % "zh", plain]), "train").data_sets
    assert [data["language"] for data in sets.values()] == ["en", "en", "zh", "en"]


def test_an_unwritable_run_dir_is_refused_naming_hydra_run_dir(tmp_path: Path) -> None:
    from qa_lightning.cli.task import check_run_dir

    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError) as err:
        check_run_dir(tmp_path / "file" / "run")
    assert str(err.value).startswith(f"hydra.run.dir='{tmp_path / 'file' / 'run'}' cannot be")
    check_run_dir(tmp_path / "new" / "run")  # a folder that can be made is made
    assert (tmp_path / "new" / "run").is_dir()


USER_SLICES = "tests.evaluation.user_slices"


@pytest.mark.parametrize("config_name", ["train", "eval"])
def test_evaluation_slices_compose_and_a_bad_node_fails_in_one_line(config_name, tmp_path):
    from qa_lightning.evaluation.slices import build_slices

    assert not (CONF / "evaluation").exists()  # a top-level key, not a config group
    cfg = _compose(config_name, ["data=synthetic"])
    assert [s.name for s in build_slices(cfg.evaluation.slices)] == [
        "question_type",
        "answer_length",
        "windows",
        "answerable",
    ]
    mine = f"{{_target_:{USER_SLICES}.QuestionLength,short_words:3}}"
    builtin = "{_target_:qa_lightning.evaluation.slices.Windows}"
    cfg = _compose(config_name, ["data=synthetic", f"evaluation.slices=[{builtin},{mine}]"])
    entry_checks(cfg)
    assert [s.name for s in build_slices(cfg.evaluation.slices)] == ["windows", "question_length"]
    bad = f"{{_target_:{USER_SLICES}.QuestionLength,words:3}}"
    cfg = _compose(config_name, ["data=synthetic", f"evaluation.slices=[{builtin},{bad}]"])
    with pytest.raises(ConfigError) as err:
        entry_checks(cfg)
    assert str(err.value).startswith("evaluation.slices[1].words: QuestionLength takes no")
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigCompositionException):  # a typo under evaluation: the schema
        _compose(config_name, ["evaluation.slice=[]"])


def test_eval_sets_and_readers_are_checked_once_per_run_and_handed_on(
    tmp_path: Path, monkeypatch, wordpiece_tokenizer
) -> None:
    """check_run resolves data.eval_sets (their files checked) and checks every reader node;
    the datamodule then builds those readers, never resolving (nor touching the files) nor
    checking a node again. A caller without the CLI still gets the check, once."""
    import qa_lightning.data.checks
    import qa_lightning.data.loading
    from qa_lightning.cli.common import make_datamodule
    from qa_lightning.data.datamodule import SquadDataModule

    (tmp_path / "shift.json").write_text("{}")
    cfg = _compose("train", [f"+data.eval_sets.shift={tmp_path / 'shift.json'}", "data=synthetic"])
    calls, checked_nodes = [], []
    resolve = qa_lightning.data.checks.resolve_eval_sets
    monkeypatch.setattr(
        qa_lightning.data.checks, "resolve_eval_sets", lambda d: calls.append(1) or resolve(d)
    )
    monkeypatch.setattr(qa_lightning.data.loading, "resolve_eval_sets", lambda d: 1 / 0)
    check = qa_lightning.data.loading.check_component
    monkeypatch.setattr(
        qa_lightning.data.loading,
        "check_component",
        lambda key, *a, **k: checked_nodes.append(key) or check(key, *a, **k),
    )
    checked = check_run(cfg, "train")
    sets = checked.data_sets
    assert list(sets) == ["train", "validation", "shift"]
    assert sets["shift"]["reader"]["path"].endswith("shift.json") and len(calls) == 1
    assert checked_nodes == ["data.synthetic", "data.synthetic", "data.eval_sets.shift"]
    datamodule = make_datamodule(cfg, wordpiece_tokenizer, sets=sets)
    assert list(datamodule.readers) == list(sets) and len(calls) == 1
    assert len(checked_nodes) == 3  # the datamodule trusted the start check
    monkeypatch.setattr(qa_lightning.data.loading, "resolve_eval_sets", resolve)
    SquadDataModule(cfg.data, wordpiece_tokenizer)  # no start check: it checks, once
    assert len(checked_nodes) == 6
