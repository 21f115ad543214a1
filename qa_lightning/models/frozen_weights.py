"""Checkpoints without the frozen weights: they hold what training changes, and a hash of
the rest.

A frozen encoder (a head trained on it, LoRA's base model) never changes during training,
yet a Lightning checkpoint writes it every time: 90 MB per save for MiniLM, the most of a
cached head job's checkpointing, for a head of a few KB. Here a checkpoint leaves out every
parameter that does not train and records their names and a SHA-256 of their values; on
load, the module being restored (built from ``model.name_or_path`` like the run that
saved it) must have the same frozen weights, by that hash, and they fill the state dict
before Lightning loads it. A resumed or re-scored run so gets exactly the weights it saved,
or a one-line error saying which model it needs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qa_lightning.errors import ConfigError

if TYPE_CHECKING:  # torch only where it is used: safe_checkpoint imports this module
    from torch import nn

# the checkpoint entry: {"names": [...], "sha256": "..."} (plain data: weights-only loading)
FROZEN_WEIGHTS = "frozen_weights"


def frozen_names(module: nn.Module) -> list[str]:
    """State-dict names of the parameters that do not train."""
    return [name for name, p in module.named_parameters() if not p.requires_grad]


def weights_digest(module: nn.Module, names: list[str]) -> str:
    """SHA-256 of the named tensors' names, dtypes, shapes and values."""
    import torch

    state = module.state_dict()
    digest = hashlib.sha256()
    for name in names:
        t = state[name].detach().cpu().contiguous()
        digest.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def drop_frozen(checkpoint: dict[str, Any], names: list[str], digest: str) -> None:
    """Leave the frozen parameters ``names`` out of ``checkpoint`` and record them with
    ``digest``, their :func:`weights_digest` (which the caller may keep: frozen weights do
    not change)."""
    state = checkpoint["state_dict"]
    for name in names:
        state.pop(name, None)
    checkpoint[FROZEN_WEIGHTS] = {"names": names, "sha256": digest}


def restore_frozen(
    checkpoint: dict[str, Any],
    module: nn.Module,
    *,
    source: str,
    digest: Callable[[list[str]], str],
) -> None:
    """Put ``module``'s own frozen weights back into a checkpoint that left them out, after
    checking that they are the ones it was trained with (``source``: the model it names,
    for the error; ``digest``: names -> their :func:`weights_digest` in ``module``)."""
    record = checkpoint.get(FROZEN_WEIGHTS)
    if not record:
        return
    names = list(record["names"])
    state = module.state_dict()
    missing = [n for n in names if n not in state]
    if missing or digest(names) != record["sha256"]:
        detail = f"{missing[0]} is missing" if missing else "their values differ"
        raise ConfigError(
            f"this checkpoint leaves out {len(names)} frozen weights, to be read from "
            f"{source!r}, but the model built from it does not have them ({detail}): score "
            "or resume it where that model's files are the ones it was trained from"
        )
    checkpoint["state_dict"].update({n: state[n] for n in names})
