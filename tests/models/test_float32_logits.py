"""Span logits are computed in float32 under bf16 autocast (the span layer only), and the
models and checkpoints that carry such a layer are unchanged."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.nn import functional as F
from transformers import AutoModelForQuestionAnswering

from qa_lightning.config import HEADS, HeadArgs
from qa_lightning.models.float32_logits import Float32Linear
from qa_lightning.models.heads import build_head
from qa_lightning.models.qa_module import QAModule


def _batch(tokenizer):
    texts = ["where is the mill", "who built the old mill by the river"]
    return dict(tokenizer(texts, ["it is by the river"] * 2, padding=True, return_tensors="pt"))


def test_qa_module_logits_are_float32_from_the_encoders_states(tiny_bert_dir, wordpiece_tokenizer):
    module = QAModule(str(tiny_bert_dir)).eval()
    batch = _batch(wordpiece_tokenizer)
    states = {}
    module.model.qa_outputs.register_forward_pre_hook(lambda m, args: states.update(x=args[0]))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = module(batch)
    assert out.start_logits.dtype == torch.float32
    layer = module.model.qa_outputs
    expected = F.linear(states["x"].float(), layer.weight, layer.bias)
    torch.testing.assert_close(out.start_logits, expected[..., 0], atol=0, rtol=0)
    # without autocast the layer is the plain linear layer it replaced
    with torch.no_grad():
        plain = module(batch).start_logits
    reference = AutoModelForQuestionAnswering.from_pretrained(tiny_bert_dir).eval()
    with torch.no_grad():
        torch.testing.assert_close(plain, reference(**batch).start_logits, atol=0, rtol=0)


def test_the_float32_layer_changes_no_saved_file(tiny_bert_dir, tmp_path):
    module = QAModule(str(tiny_bert_dir))
    assert type(module.model.qa_outputs) is Float32Linear
    reference = AutoModelForQuestionAnswering.from_pretrained(tiny_bert_dir)
    assert list(module.model.state_dict()) == list(reference.state_dict())
    module.save_pretrained(tmp_path / "saved")
    loaded = AutoModelForQuestionAnswering.from_pretrained(tmp_path / "saved")
    for key, value in module.model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    copied = copy.deepcopy(module.model)  # EMA/SWA copies keep the float32 layer
    assert type(copied.qa_outputs) is Float32Linear


@pytest.mark.parametrize("name", HEADS)
def test_every_heads_last_layer_is_float32(name):
    head = build_head(name, 32, HeadArgs(dropout=0.0, hidden_size=16, num_heads=4))
    last = [m for m in head.modules() if isinstance(m, torch.nn.Linear)][-1]
    assert type(last) is Float32Linear
    if name == "linear":  # nothing before it: under autocast it gives the fp32 logits
        hidden, mask = torch.randn(2, 5, 32), torch.ones(2, 5, dtype=torch.long)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            start, _ = head(hidden, mask)
        torch.testing.assert_close(start, head(hidden, mask)[0], atol=0, rtol=0)
