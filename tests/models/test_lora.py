"""LoRA adapters through the LightningModule seam: what trains, what is saved, what loads."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForQuestionAnswering

from qa_lightning.models.lora import ADAPTER_FOLDER, LoraQAModule
from tests.cli.test_train_eval import SMALL_DATA, run_entry

pytest.importorskip("peft")


def batch(vocab: int, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (3, 24), generator=generator)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def test_only_the_adapters_and_the_span_layer_train(tiny_bert_dir) -> None:
    module = LoraQAModule(str(tiny_bert_dir), rank=4, target_modules=["query", "value"])
    trainable = {n for n, p in module.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or "qa_outputs" in n for n in trainable)
    # one A and one B per query/value of the 2 layers, and the span layer's copy
    assert sum("lora_A" in n for n in trainable) == 4
    assert sum("lora_B" in n for n in trainable) == 4
    assert any("qa_outputs" in n for n in trainable)
    encoder = [n for n, p in module.model.named_parameters() if "encoder" in n and "lora_" not in n]
    assert encoder and not any(
        dict(module.model.named_parameters())[n].requires_grad for n in encoder
    )
    with pytest.raises(ValueError, match="rank=0"):
        LoraQAModule(str(tiny_bert_dir), rank=0)


def test_the_adapted_model_reads_every_input(tiny_bert_dir) -> None:
    """Before training (LoRA's B is zero) the adapted model is the base model, segment ids
    included: peft's question-answering wrapper dropped token_type_ids, so BERT trained and
    scored without them and its merged model answered otherwise (a fault this caught)."""
    module = LoraQAModule(str(tiny_bert_dir), rank=4).eval()
    base = AutoModelForQuestionAnswering.from_pretrained(tiny_bert_dir).eval()
    inputs = batch(module.model_config.vocab_size)
    inputs["token_type_ids"] = (torch.arange(24) >= 10).long().expand(3, 24)
    with torch.no_grad():
        adapted, plain = module(inputs), base(**inputs)
        without_segments = base(input_ids=inputs["input_ids"])
    torch.testing.assert_close(adapted.start_logits, plain.start_logits)
    torch.testing.assert_close(adapted.end_logits, plain.end_logits)
    assert not torch.allclose(plain.start_logits, without_segments.start_logits)


def test_the_merged_model_answers_as_the_adapted_one(tiny_bert_dir, tmp_path) -> None:
    """LoRA's B starts at zero (the adapted model is the base model): move the adapters and
    the span layer, then the saved, merged folder gives the adapted model's logits."""
    torch.manual_seed(0)
    module = LoraQAModule(str(tiny_bert_dir), rank=4, alpha=8.0, dropout=0.0).eval()
    with torch.no_grad():
        for parameter in module.model.parameters():
            if parameter.requires_grad:
                parameter.add_(0.3 * torch.randn_like(parameter))
    inputs = batch(module.model_config.vocab_size)
    inputs["token_type_ids"] = (torch.arange(24) >= 10).long().expand(3, 24)
    with torch.no_grad():
        adapted = module(inputs)
    module.save_pretrained(tmp_path / "saved")
    merged = AutoModelForQuestionAnswering.from_pretrained(tmp_path / "saved").eval()
    with torch.no_grad():
        plain = merged(**inputs)
    torch.testing.assert_close(plain.start_logits, adapted.start_logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(plain.end_logits, adapted.end_logits, atol=1e-5, rtol=1e-5)
    base = AutoModelForQuestionAnswering.from_pretrained(tiny_bert_dir).eval()
    with torch.no_grad():
        assert not torch.allclose(base(**inputs).start_logits, adapted.start_logits, atol=1e-3)
    adapter = tmp_path / "saved" / ADAPTER_FOLDER
    assert json.loads((adapter / "adapter_config.json").read_text())["r"] == 4
    assert any("lora_A" in k for k in load_file(adapter / "adapter_model.safetensors"))


@pytest.mark.slow  # ~20 s; the two tests above hold the module's parts in process
def test_a_lora_run_changes_only_adapters_and_the_span_layer(tmp_path, tiny_bert_dir) -> None:
    """train.py with model.adapter.rank: the merged best_model differs
    from the base model only where adapters were (query, value) and in the span layer,
    and eval.py on it scores what training scored."""
    run_dir = tmp_path / "run"
    overrides = [
        f"model.name_or_path={tiny_bert_dir}",
        *SMALL_DATA,
        "trainer=cpu",
        "trainer.precision=32-true",
        "trainer.max_epochs=1",
        "model.adapter.rank=4",
        "model.adapter.target_modules=[query,value]",
    ]
    run_entry("train.py", overrides, run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0 < metrics["trainable_parameters"] < metrics["frozen_parameters"]
    base = AutoModelForQuestionAnswering.from_pretrained(tiny_bert_dir).state_dict()
    trained = AutoModelForQuestionAnswering.from_pretrained(run_dir / "best_model").state_dict()
    assert trained.keys() == base.keys()
    changed = {k for k in base if not torch.equal(base[k], trained[k])}
    assert changed, "training changed nothing"
    allowed = ("attention.self.query.weight", "attention.self.value.weight", "qa_outputs.")
    assert all(any(part in k for part in allowed) for k in changed), sorted(changed)
    assert (run_dir / "best_model" / ADAPTER_FOLDER / "adapter_config.json").is_file()

    out = tmp_path / "eval"
    run_entry("eval.py", [f"model.name_or_path={run_dir / 'best_model'}", *SMALL_DATA[:5]], out)
    scored = json.loads((out / "metrics.json").read_text())
    assert scored["f1"] == pytest.approx(metrics["f1"]) and scored["exact"] == metrics["exact"]
    # and the ONNX graph of its export answers as the run did
    export = tmp_path / "export"
    run_entry("export.py", [f"run={run_dir}", f"out={export}", "onnx=true"], tmp_path / "x")
    assert (export / ADAPTER_FOLDER / "adapter_config.json").is_file()  # the adapter travels
    card = (export / "README.md").read_text()
    assert "- LoRA adapters: rank 4, alpha 16.0, dropout 0.05, on ['query', 'value']" in card
    onnx_out = tmp_path / "onnx_eval"
    run_entry(
        "eval.py", [f"model.name_or_path={export}", "backend=onnx", *SMALL_DATA[:5]], onnx_out
    )
    onnx_scores = json.loads((onnx_out / "metrics.json").read_text())
    assert onnx_scores["exact"] == metrics["exact"]
    assert onnx_scores["f1"] == pytest.approx(metrics["f1"])


@pytest.mark.parametrize(
    ("adapter", "extra", "message"),
    [
        ({"rank": -1}, {}, "model.adapter.rank=-1; give 0 (no adapters) or a positive rank"),
        ({"rank": 8, "dropout": 1.0}, {}, "model.adapter.dropout=1.0 must be in [0, 1)"),
        ({"rank": 8, "alpha": 0.0}, {}, "model.adapter.alpha=0.0 must be positive"),
        ({"rank": 8}, {"head": "linear"}, "model.adapter.rank=8 adapts a QA model fine-tuned"),
    ],
)
def test_adapter_settings_are_checked_in_one_line(adapter, extra, message) -> None:
    from qa_lightning.errors import ConfigError
    from qa_lightning.models.checks import check_model_settings

    with pytest.raises(ConfigError) as err:
        check_model_settings({"adapter": adapter, **extra})
    assert str(err.value).startswith(message)


def test_the_adapter_picks_the_lora_module_and_refuses_another() -> None:
    from qa_lightning.errors import ConfigError
    from qa_lightning.models.checks import adapter_arguments, module_class
    from qa_lightning.models.qa_module import QAModule

    model = {"adapter": {"rank": 8, "alpha": 16.0, "dropout": 0.0, "target_modules": None}}
    assert module_class(model) is LoraQAModule
    assert adapter_arguments(model) == {
        "rank": 8,
        "alpha": 16.0,
        "dropout": 0.0,
        "target_modules": None,
    }
    assert module_class({"adapter": {"rank": 0}}) is QAModule
    assert adapter_arguments({"adapter": {"rank": 0}}) == {}
    other = {**model, "_target_": "qa_lightning.models.qa_module.QAModule"}
    with pytest.raises(ConfigError, match="give one of them"):
        module_class(other)
