"""The GPU path: bf16 autocast steps, torch.compile with dynamic padding, sdpa attention,
logits collected from bf16, and 2-GPU DDP evaluation equal to one GPU.

Skipped without CUDA (CI has none): run them on a GPU machine with ``pytest -m gpu``. The
collector test also runs on the CPU, where bf16 logits arrive from CPU autocast.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from qa_lightning.callbacks.evaluation import EvaluationCallback, LatestResults
from qa_lightning.data.datamodule import SquadDataModule
from qa_lightning.evaluation.metric import QALogitsCollector
from qa_lightning.models.qa_module import QAModule
from tests.data.test_datamodule import data_cfg

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
pytestmark = pytest.mark.gpu
OPTIMIZER = {"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 1e-3}


def _datamodule(tmp_path, tokenizer) -> SquadDataModule:
    dm = SquadDataModule(data_cfg(tmp_path), tokenizer, seed=1)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def _trainer(precision: str, callbacks=(), device: str = "cuda", **kwargs) -> pl.Trainer:
    return pl.Trainer(
        accelerator="gpu" if device == "cuda" else "cpu",
        devices=1,
        precision=precision,
        logger=False,
        callbacks=list(callbacks),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        **kwargs,
    )


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=needs_cuda)])
def test_a_bf16_training_epoch_runs_under_autocast_and_validates(
    device, tmp_path, tiny_bert_dir, wordpiece_tokenizer
):
    """Steps run in bf16 autocast, the weights stay float32 and move, and the validation at
    the epoch's end collects float32 logits and scores every question. (It stopped at
    ``max_steps=4``, inside the first epoch, so no validation ran: the first GPU run showed
    it; the CPU case keeps it honest where CI runs.)"""
    if device == "cuda" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    module = QAModule(str(tiny_bert_dir), optimizer=OPTIMIZER)
    seen: list[torch.dtype | None] = []

    def record(mod, args):
        on = torch.is_autocast_enabled(device)
        seen.append(torch.get_autocast_dtype(device) if on else None)

    module.register_forward_pre_hook(record)
    before = {k: v.clone() for k, v in module.model.state_dict().items()}
    latest = LatestResults()
    trainer = _trainer("bf16-mixed", [EvaluationCallback([latest])], max_epochs=1, device=device)
    trainer.fit(module, datamodule=_datamodule(tmp_path, wordpiece_tokenizer))
    assert seen and all(dtype == torch.bfloat16 for dtype in seen)
    after = module.model.state_dict()
    assert all(v.dtype == torch.float32 for v in after.values() if v.is_floating_point())
    assert any(not torch.equal(before[k], after[k].cpu()) for k in before)
    (result,) = latest.results
    assert result.scores["total"] == 30


@needs_cuda
def test_compile_with_dynamic_padding_matches_eager(tiny_bert_dir, wordpiece_tokenizer):
    """torch.compile(dynamic=True), as model.compile=true applies it, gives the eager
    logits on batches of several widths."""
    from qa_lightning.models.loading import load_qa_model

    eager = load_qa_model(str(tiny_bert_dir)).cuda().eval()
    compiled = load_qa_model(str(tiny_bert_dir)).cuda().eval()
    compiled.compile(dynamic=True)
    texts = ["where", "where is the old mill by the river", "who built the mill and when did it"]
    with torch.no_grad():
        for n in (1, 2, 3):
            batch = wordpiece_tokenizer(texts[:n], padding=True, return_tensors="pt").to("cuda")
            want, got = eager(**batch), compiled(**batch)
            torch.testing.assert_close(got.start_logits, want.start_logits, atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(got.end_logits, want.end_logits, atol=1e-4, rtol=1e-4)


@needs_cuda
def test_sdpa_attention_matches_eager_with_padding(tiny_bert_dir, wordpiece_tokenizer):
    from qa_lightning.models.loading import load_qa_model

    batch = wordpiece_tokenizer(
        ["a short one", "a much longer question about the river and the mill"],
        padding=True,
        return_tensors="pt",
    ).to("cuda")
    logits = {}
    for kernel in ("eager", "sdpa"):
        model = load_qa_model(str(tiny_bert_dir), attn_implementation=kernel).cuda().eval()
        with torch.no_grad():
            logits[kernel] = model(**batch).start_logits
    mask = batch["attention_mask"].bool()
    torch.testing.assert_close(logits["sdpa"][mask], logits["eager"][mask], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=needs_cuda)])
def test_the_collector_keeps_bf16_logits_as_float32(device):
    """Logits from a bf16 step are kept as float32 (exactly their values), padded, and
    ranked in float32 by postprocessing."""
    torch.manual_seed(0)
    collector = QALogitsCollector(max_length=8).to(device)
    logits = torch.randn(3, 6, device=device).to(torch.bfloat16)
    mask = torch.ones(3, 6, dtype=torch.long, device=device)
    mask[2, 4:] = 0
    collector.update(torch.tensor([2, 0, 1], device=device), logits, logits, mask)
    out = collector.compute()
    assert out.start_logits.dtype == torch.float32
    assert out.feature_index.tolist() == [0, 1, 2]
    expected = logits.float().cpu()[[1, 2, 0]]  # in feature order
    for row, width in ((0, 6), (1, 4), (2, 6)):  # feature 1's row is padding from 4 on
        torch.testing.assert_close(
            out.start_logits[row, :width], expected[row, :width], atol=0, rtol=0
        )
    assert torch.all(out.start_logits[1, 4:] == collector.pad_value)
    assert torch.all(out.start_logits[:, 6:] == collector.pad_value)


@pytest.mark.skipif(not CUDA or torch.cuda.device_count() < 2, reason="needs 2 CUDA GPUs")
def test_two_gpu_evaluation_gives_the_one_gpu_files(tmp_path: Path, tiny_bert_dir: Path):
    """eval.py on 2 GPUs (DDP) writes the answers and scores of 1 GPU."""
    from tests.cli.test_distributed import V1_DATA, run_audited

    overrides = [f"model.name_or_path={tiny_bert_dir}", *V1_DATA, "data.eval_batch_size=4"]
    cache = tmp_path / "cache"
    gpu = ["trainer.accelerator=gpu", "trainer.precision=32-true"]
    one = run_audited("eval.py", [*overrides, *gpu, "trainer.devices=1"], tmp_path / "one", cache)
    two = run_audited(
        "eval.py",
        [*overrides, *gpu, "trainer.devices=2", "trainer.strategy=ddp"],
        tmp_path / "two",
        cache,
    )
    for name in ("predictions.json", "metrics.json"):
        a = json.loads((one.run_dir / name).read_text())
        b = json.loads((two.run_dir / name).read_text())
        if name == "metrics.json":
            a, b = a["sets"]["validation"]["scores"], b["sets"]["validation"]["scores"]
        assert a == b, name
