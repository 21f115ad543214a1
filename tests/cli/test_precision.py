"""trainer.precision=auto: bf16 autocast on CPUs that compute bf16 natively, fp32 elsewhere,
resolved before anything records the config."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from omegaconf import OmegaConf

from qa_lightning.cli import precision
from qa_lightning.cli.precision import auto_precision, autocast_dtype, resolve_precision
from tests.cli.test_train_eval import SMALL_DATA, run_entry


@pytest.mark.parametrize(
    ("instructions", "expected"),
    [("AVX512-BF16", "bf16-mixed"), ("AMX", "bf16-mixed"), (None, "32-true")],
)
def test_auto_on_a_cpu_is_bf16_only_with_native_instructions(monkeypatch, instructions, expected):
    monkeypatch.setattr(precision, "cpu_bf16_instructions", lambda: instructions)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert auto_precision("cpu")[0] == expected
    assert auto_precision("auto")[0] == expected  # no GPU: the CPU's rule


def test_auto_on_a_gpu_is_bf16_or_fp16_by_what_the_card_computes(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda: "card")
    for bf16, expected in ((True, "bf16-mixed"), (False, "16-mixed")):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda bf16=bf16: bf16)
        assert auto_precision("gpu")[0] == expected
        assert auto_precision("auto")[0] == expected


def test_resolving_replaces_auto_only_and_says_so_once(monkeypatch, caplog):
    monkeypatch.setattr(precision, "cpu_bf16_instructions", lambda: "AVX512-BF16")
    cfg = OmegaConf.create({"trainer": {"accelerator": "cpu", "precision": "auto"}})
    with caplog.at_level(logging.INFO, logger=precision.__name__):
        resolve_precision(cfg)
        resolve_precision(cfg)  # already resolved: nothing more to say
    assert cfg.trainer.precision == "bf16-mixed"
    lines = [r.getMessage() for r in caplog.records if "trainer.precision=auto" in r.getMessage()]
    assert len(lines) == 1 and "AVX512-BF16" in lines[0]
    explicit = OmegaConf.create({"trainer": {"accelerator": "cpu", "precision": "32-true"}})
    resolve_precision(explicit)
    assert explicit.trainer.precision == "32-true"


def test_autocast_dtypes_follow_lightnings_names():
    assert autocast_dtype("bf16-mixed") is torch.bfloat16
    assert autocast_dtype("16-mixed") is torch.float16
    for no_autocast in ("32-true", "64-true", "bf16-true", "auto"):
        assert autocast_dtype(no_autocast) is None


def test_the_encoder_cache_is_built_under_the_trainers_autocast(tmp_path, tiny_bert_dir):
    """The entry point hands the datamodule an encoder that runs in the trainer's precision."""
    from qa_lightning.cli.common import make_datamodule, make_module
    from qa_lightning.models.loading import load_tokenizer
    from tests.cli.test_config import _compose

    def encoder_for(precision: str):
        cfg = _compose(
            "train",
            [
                f"model.name_or_path={tiny_bert_dir}",
                "model.head=linear",
                "model.freeze=all",
                f"trainer.precision={precision}",
                f"paths.cache_dir={tmp_path}",
            ],
        )
        module = make_module(cfg, training=True)
        return make_datamodule(cfg, load_tokenizer(str(tiny_bert_dir)), module).encoder

    assert encoder_for("bf16-mixed").autocast is torch.bfloat16
    assert encoder_for("32-true").autocast is None


def test_the_cpu_trainer_trains_in_the_precision_it_detects(tmp_path, tiny_bert_dir):
    """trainer=cpu: the precision this CPU calls for is logged, recorded in config.yaml and
    is the autocast the steps run under; eval.py in it scores the checkpoint as training did."""
    expected = auto_precision("cpu")[0]
    seen = tmp_path / "seen.json"
    run = tmp_path / "run"
    run_entry(
        "train.py",
        [
            f"model.name_or_path={tiny_bert_dir}",
            *SMALL_DATA,
            "trainer=cpu",
            "trainer.max_epochs=1",
            "trainer.num_sanity_val_steps=0",
            "logger=csv",
            "+callbacks.extra.seen._target_=tests.cli.recorders.AutocastSeen",
            f"+callbacks.extra.seen.path={seen}",
        ],
        run,
    )
    assert OmegaConf.load(run / "config.yaml").trainer.precision == expected
    assert f"trainer.precision=auto: {expected}" in (run / "train.log").read_text()
    autocast = "torch.bfloat16" if expected == "bf16-mixed" else "none"
    assert json.loads(seen.read_text()) == {"precision": expected, "autocast": autocast}
    (ckpt,) = (run / "checkpoints").glob("epoch*.ckpt")
    scored = tmp_path / "eval"
    run_entry(
        "eval.py",
        [f"ckpt_path={ckpt}", *SMALL_DATA[:5], "trainer=cpu", "logger=none"],
        scored,
    )
    trained = json.loads((run / "metrics.json").read_text())
    evaluated = json.loads((scored / "metrics.json").read_text())
    assert evaluated["sets"]["validation"]["scores"] == trained["sets"]["validation"]["scores"]
    assert (scored / "predictions.json").read_text() == (run / "predictions.json").read_text()
