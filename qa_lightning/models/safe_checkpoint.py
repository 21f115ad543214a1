"""Read Lightning checkpoints with torch's weights-only unpickler, refusing anything else.

A ``.ckpt`` file is a pickle, and unpickling an arbitrary object can run arbitrary code
(its ``__reduce__``). ``weights_only=True`` accepts tensors, numbers, strings and plain
containers only, which is all a checkpoint written by this project holds, so a checkpoint
from somewhere else can be evaluated or resumed without trusting its author. The flag is
passed explicitly: torch's default (true since 2.6) can be switched off from the
environment (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``), an explicit value cannot.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

from qa_lightning.errors import ConfigError
from qa_lightning.models.frozen_weights import FROZEN_WEIGHTS

# What our loads of checkpoints pass to torch.load / Lightning (fit, validate, load_from_checkpoint)
WEIGHTS_ONLY = True


def read_checkpoint(path: str | Path, *, key: str = "ckpt_path") -> dict[str, Any]:
    """The checkpoint at ``path`` (memory-mapped), or a one-line ConfigError naming ``key``."""
    import torch

    if not Path(path).is_file():
        raise ConfigError(f"{key}={path} does not exist")
    try:
        return torch.load(path, map_location="cpu", mmap=True, weights_only=WEIGHTS_ONLY)
    except pickle.UnpicklingError as err:
        raise ConfigError(
            f"{key}={path} holds pickled objects other than tensors and plain data "
            f"({_culprit(err)}), which could run code when loaded; refused. A checkpoint "
            "written by this project never does: re-create it, or check where it came from"
        ) from None
    except RuntimeError as err:  # not a zip checkpoint, truncated, corrupt
        first = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise ConfigError(f"{key}={path} is not a readable PyTorch checkpoint ({first})") from None


def _culprit(err: Exception) -> str:
    """The line of torch's long message that names what was refused (a global, an opcode)."""
    for line in str(err).splitlines():
        if re.search(r"GLOBAL|Unsupported", line):
            return line.strip()[:200]
    return "refused by the weights-only unpickler"


def check_checkpoint_fits(
    checkpoint: dict[str, Any], module: Any, *, path: str | Path, key: str = "ckpt_path"
) -> None:
    """A one-line ConfigError when ``checkpoint`` holds another model's weights.

    Lightning would fail later with a list of every missing and unexpected tensor (or, with
    compatible names but other sizes, a size mismatch per tensor); this names the first
    difference and the model each side comes from.
    """
    saved = checkpoint.get("state_dict") or {}
    own = module.state_dict()
    left_out = set((checkpoint.get(FROZEN_WEIGHTS) or {}).get("names", ()))  # checked on load
    missing = [k for k in own if k not in saved and k not in left_out]
    unexpected = [k for k in saved if k not in own]
    resized = [k for k in own if k in saved and tuple(saved[k].shape) != tuple(own[k].shape)]
    if not (missing or unexpected or resized):
        return
    if resized:
        k = resized[0]
        detail = f"{k} is {tuple(saved[k].shape)} there, {tuple(own[k].shape)} here"
    elif missing:
        detail = f"{len(missing)} weights missing, e.g. {missing[0]}"
    else:
        detail = f"{len(unexpected)} unexpected weights, e.g. {unexpected[0]}"
    saved_from = (checkpoint.get("hyper_parameters") or {}).get("model_name_or_path", "?")
    here = getattr(getattr(module, "hparams", {}), "get", lambda *_: "?")("model_name_or_path")
    raise ConfigError(
        f"{key}={path} was saved from another model ({saved_from!r}; this run builds "
        f"{here!r}): {detail}. Resume with the model.* settings of the run that wrote it"
    )
