"""Span heads and freezing policies: shapes, masking, context, which parameters learn."""

from __future__ import annotations

import pytest
import torch

from qa_lightning.config import HEADS, HeadArgs
from qa_lightning.errors import ConfigError
from qa_lightning.models.encoder_head import (
    EncoderWithHead,
    encoder_layers,
    frozen_modules,
    parameter_counts,
)
from qa_lightning.models.heads import PAD_LOGIT, build_head
from qa_lightning.models.loading import load_encoder

HIDDEN = 32


def _states(batch=3, width=12, seed=0):
    torch.manual_seed(seed)
    hidden = torch.randn(batch, width, HIDDEN)
    mask = torch.ones(batch, width, dtype=torch.long)
    mask[0, 8:] = 0
    return hidden, mask


@pytest.mark.parametrize("name", HEADS)
def test_head_gives_masked_start_end_logits_and_learns(name):
    torch.manual_seed(0)
    head = build_head(name, HIDDEN, HeadArgs(dropout=0.0, hidden_size=16, num_heads=4))
    hidden, mask = _states()
    start, end = head(hidden, mask)
    assert start.shape == end.shape == (3, 12)
    assert torch.all(start[0, 8:] == PAD_LOGIT) and torch.all(end[0, 8:] == PAD_LOGIT)
    assert torch.all(start[0, :8] > PAD_LOGIT / 2)
    # fits a fixed span on fixed inputs: every parameter is on the gradient path
    target = torch.tensor([2, 5, 7])
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(60):
        start, end = head(hidden, mask)
        loss = torch.nn.functional.cross_entropy(start, target) + torch.nn.functional.cross_entropy(
            end, target
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert torch.equal(start.argmax(1), target) and torch.equal(end.argmax(1), target)


@pytest.mark.parametrize(
    ("name", "contextual"), [(h, h in ("bilstm", "transformer")) for h in HEADS]
)
def test_only_contextual_heads_see_other_tokens(name, contextual):
    head = build_head(name, HIDDEN, HeadArgs(dropout=0.0, hidden_size=16)).eval()
    hidden, mask = _states()
    changed = hidden.clone()
    changed[:, 6] = torch.randn(3, HIDDEN)  # change one token; look at another one's logits
    with torch.no_grad():
        before, _ = head(hidden, mask)
        after, _ = head(changed, mask)
    moved = not torch.allclose(before[:, 2], after[:, 2])
    assert moved == contextual
    # padding never leaks into real tokens' logits
    padded = hidden.clone()
    padded[0, 8:] = 100.0
    with torch.no_grad():
        again, _ = head(padded, mask)
    torch.testing.assert_close(again[0, :8], before[0, :8])


def test_unknown_head_names_the_choices():
    with pytest.raises(ValueError, match="linear, mlp, bilstm, transformer"):
        build_head("crf", HIDDEN)


@pytest.fixture
def encoder(tiny_bert_dir):
    return load_encoder(str(tiny_bert_dir))


def _encoder_grads(tiny_bert_dir, freeze, freeze_layers=0):
    torch.manual_seed(0)
    model = EncoderWithHead(
        load_encoder(str(tiny_bert_dir)),
        build_head("linear", HIDDEN),
        freeze=freeze,
        freeze_layers=freeze_layers,
    )
    ids = torch.randint(5, 60, (2, 10))
    out = model(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        start_positions=torch.tensor([1, 2]),
        end_positions=torch.tensor([3, 4]),
    )
    out.loss.backward()
    got = {n: p.grad is not None for n, p in model.named_parameters()}
    return model, got


@pytest.mark.parametrize(
    ("freeze", "k", "frozen_prefixes", "trained_prefixes"),
    [
        (
            "none",
            0,
            [],
            ["encoder.embeddings.", "encoder.encoder.layer.0.", "encoder.encoder.layer.1."],
        ),
        (
            "embeddings",
            0,
            ["encoder.embeddings."],
            ["encoder.encoder.layer.0.", "encoder.encoder.layer.1."],
        ),
        (
            "layers",
            1,
            ["encoder.embeddings.", "encoder.encoder.layer.0."],
            ["encoder.encoder.layer.1."],
        ),
        ("layers", 2, ["encoder.embeddings.", "encoder.encoder.layer."], []),
        ("all", 0, ["encoder."], []),
    ],
)
def test_freezing_policy_decides_which_parameters_get_gradients(
    tiny_bert_dir, freeze, k, frozen_prefixes, trained_prefixes
):
    model, got = _encoder_grads(tiny_bert_dir, freeze, k)
    for name, has_grad in got.items():
        if name.startswith("head."):
            assert has_grad, name
        elif any(name.startswith(p) for p in frozen_prefixes):
            assert not has_grad and not dict(model.named_parameters())[name].requires_grad, name
        elif any(name.startswith(p) for p in trained_prefixes):
            assert has_grad, name
    counts = parameter_counts(model)
    frozen = sum(
        p.numel()
        for n, p in model.named_parameters()
        if any(n.startswith(f) for f in frozen_prefixes)
    )
    assert counts["frozen"] == frozen
    # frozen parts run without dropout even when the model trains
    model.train()
    for module in model.frozen:
        assert not any(m.training for m in module.modules())
    assert model.head.training


def test_frozen_encoder_is_deterministic_in_train_mode(tiny_bert_dir):
    model = EncoderWithHead(
        load_encoder(str(tiny_bert_dir)), build_head("linear", HIDDEN), freeze="all"
    ).train()
    ids = torch.randint(5, 60, (2, 10))
    a = model.encode(ids, torch.ones_like(ids))
    b = model.encode(ids, torch.ones_like(ids))
    assert torch.equal(a, b) and not a.requires_grad


def test_bad_freeze_settings_name_the_key(encoder):
    assert len(encoder_layers(encoder)) == 2
    with pytest.raises(ConfigError, match=r"model.freeze_layers=3.*0\.\.2"):
        EncoderWithHead(encoder, build_head("linear", HIDDEN), freeze="layers", freeze_layers=3)
    with pytest.raises(ConfigError, match="model.freeze='top'"):
        EncoderWithHead(encoder, build_head("linear", HIDDEN), freeze="top")


def test_a_freeze_policy_nobody_checked_is_refused_not_read_as_layers() -> None:
    """A library caller that skipped the start check (models/checks.py) gets the one line,
    not the bottom layers frozen."""
    with pytest.raises(ConfigError) as err:
        frozen_modules(torch.nn.Linear(2, 2), "embedings")
    assert str(err.value) == "model.freeze='embedings'; use one of none, embeddings, layers, all"
