"""The heads' dropout: torch's semantics (rate, scale, eval identity, seeds) at 4 draws per word."""

import pytest
import torch
from torch import nn

from qa_lightning.models.dropout import Dropout, sixteen_bit_draws
from qa_lightning.models.heads import build_head

N = 2_000_000
TOL = 5 * (0.1 * 0.9 / N) ** 0.5  # five standard errors of a drop fraction near 0.1


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_drops_at_rate_p_and_keeps_the_expectation(p):
    torch.manual_seed(0)
    out = Dropout(p).train()(torch.ones(N))
    dropped = out == 0
    assert abs(dropped.float().mean().item() - p) < TOL * 2
    kept = out[~dropped]
    assert torch.allclose(kept, torch.full_like(kept, 1 / (1 - round(p * 2**16) / 2**16)))
    assert abs(out.mean().item() - 1.0) < 0.01


def test_every_lane_of_a_word_is_uniform():
    """Each 64-bit number gives four draws: a lane with a fixed bit would drop at another
    rate (a draw from [0, 2**63) leaves the top lane never negative)."""
    torch.manual_seed(1)
    draws = sixteen_bit_draws(4 * 500_000).view(-1, 4).float()
    for lane in draws.unbind(dim=1):
        assert abs((lane < 0).float().mean().item() - 0.5) < 0.005
        assert abs(lane.mean().item()) < 0.005 * 2**15
    torch.manual_seed(1)
    out = Dropout(0.1).train()(torch.ones(4 * 500_000)).view(-1, 4)
    for lane in out.unbind(dim=1):
        assert abs((lane == 0).float().mean().item() - 0.1) < 0.003


def test_seeded_like_torch_dropout_and_identity_in_eval():
    x = torch.randn(4, 7, 5, dtype=torch.float16)
    layer = Dropout(0.2)
    torch.manual_seed(3)
    first, second = layer(x), layer(x)
    torch.manual_seed(3)
    assert torch.equal(layer(x), first)
    assert not torch.equal(first, second)
    assert first.dtype == x.dtype and first.shape == x.shape
    assert layer.eval()(x) is x or torch.equal(layer(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)


def test_gradient_is_the_mask_times_the_scale():
    torch.manual_seed(4)
    x = torch.randn(1000, requires_grad=True)
    out = Dropout(0.25).train()(x)
    out.sum().backward()
    expected = (out != 0).float() * (2**16 / (2**16 - round(0.25 * 2**16)))
    assert torch.allclose(x.grad, expected)


@pytest.mark.parametrize("name", ["linear", "mlp", "bilstm"])
def test_built_in_heads_use_it_and_keep_their_state_dict_keys(name):
    head = build_head(name, 16)
    dropouts = [m for m in head.modules() if isinstance(m, nn.Dropout)]
    assert dropouts and all(isinstance(m, Dropout) for m in dropouts)
    assert not any("dropout" in key for key in head.state_dict())
