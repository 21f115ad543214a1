"""Checkpoints leave frozen weights out, name them by hash, and get them back on load only
from a model whose frozen weights are the same."""

from __future__ import annotations

import pytest
import torch

from qa_lightning.errors import ConfigError
from qa_lightning.models.frozen_weights import FROZEN_WEIGHTS
from qa_lightning.models.head_module import HeadQAModule
from qa_lightning.models.qa_module import QAModule


def _checkpoint(module: QAModule) -> dict:
    """What Lightning's checkpoint holds of the module: its state dict, then its hook."""
    checkpoint = {"state_dict": dict(module.state_dict())}
    module.on_save_checkpoint(checkpoint)
    return checkpoint


def _trained_head(tiny_bert_dir) -> HeadQAModule:
    module = HeadQAModule(str(tiny_bert_dir), head="linear", freeze="all")
    with torch.no_grad():
        for p in module.model.head.parameters():
            p.add_(1.0)  # the head moved away from its initial values
    return module


def test_a_frozen_encoders_checkpoint_holds_the_head_and_loads_back_whole(tiny_bert_dir):
    module = _trained_head(tiny_bert_dir)
    checkpoint = _checkpoint(module)
    saved = checkpoint["state_dict"]
    encoder = {n for n, _ in module.model.encoder.named_parameters(prefix="model.encoder")}
    assert encoder and not encoder & saved.keys()
    assert {k for k in saved if k.startswith("model.head.")} == {
        "model.head.out.weight",
        "model.head.out.bias",
    }
    assert len(checkpoint[FROZEN_WEIGHTS]["names"]) == len(list(module.model.encoder.parameters()))

    fresh = HeadQAModule(str(tiny_bert_dir), head="linear", freeze="all")
    fresh.on_load_checkpoint(checkpoint)
    fresh.load_state_dict(checkpoint["state_dict"], strict=True)
    got = fresh.state_dict()
    for name, want in module.state_dict().items():
        assert torch.equal(want, got[name]), name


def test_a_checkpoint_refuses_a_model_whose_frozen_weights_differ(tiny_bert_dir):
    checkpoint = _checkpoint(_trained_head(tiny_bert_dir))
    other = HeadQAModule(str(tiny_bert_dir), head="linear", freeze="all")
    with torch.no_grad():
        next(other.model.encoder.parameters()).mul_(1.01)
    with pytest.raises(ConfigError, match=r"frozen weights, to be read from '.*'.*values differ"):
        other.on_load_checkpoint(checkpoint)


def test_a_model_trained_whole_keeps_every_weight_in_its_checkpoint(tiny_bert_dir):
    module = QAModule(str(tiny_bert_dir))
    checkpoint = _checkpoint(module)
    assert FROZEN_WEIGHTS not in checkpoint
    assert checkpoint["state_dict"].keys() == module.state_dict().keys()
