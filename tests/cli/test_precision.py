"""trainer.precision=auto: bf16 autocast on CPUs that compute bf16 natively, fp32 elsewhere,
resolved before anything records the config. (That train.py trains in it, logs it and
records it: tests/cli/test_train_eval.py's v2 run, which uses trainer=cpu.)"""

from __future__ import annotations

import logging

import pytest
import torch
from omegaconf import OmegaConf

from qa_lightning.cli import precision
from qa_lightning.cli.precision import auto_precision, resolve_precision
from qa_lightning.models.precision import autocast_dtype


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
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert auto_precision("gpu")[0] == "32-true"  # no CUDA device (Apple's MPS): fp32
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
