"""The precision a trained model answers in: the one its run was scored in.

A run scored under bf16 autocast reports bf16's answers in ``metrics.json`` and its model
card; answering the same questions in fp32 changes a few of them (199 of 200 on the MiniLM
demo), so a saved folder records its run's precision (``qa_decoding.json``) and the
Answerer, the pipeline and eval/predict reproduce it with the same ``torch.autocast`` that
Lightning's mixed precision uses.
"""

from __future__ import annotations

import torch

FP32 = "32-true"


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The dtype Lightning's mixed precision autocasts to, or None without autocast."""
    half, bf16 = torch.float16, torch.bfloat16
    dtypes = {"bf16-mixed": bf16, "bf16": bf16, "16-mixed": half, "16": half}  # and legacy names
    return dtypes.get(str(precision))


def autocast_to(device_type: str, dtype: torch.dtype | None) -> torch.autocast:
    """``torch.autocast`` to ``dtype`` on ``device_type``; switched off for None."""
    return torch.autocast(device_type, dtype=dtype, enabled=dtype is not None)


def answering_autocast(precision: str, device_type: str) -> tuple[torch.dtype | None, str | None]:
    """(the autocast dtype that reproduces ``precision`` on ``device_type``, or None for
    none; why it cannot be reproduced here, or None when it is)."""
    precision = str(precision)
    dtype = autocast_dtype(precision)
    if dtype is None:
        if precision in ("bf16-true", "16-true"):  # weights cast whole: not kept in a folder
            return None, f"{precision} casts the weights; the saved fp32 weights answer in fp32"
        return None, None
    if device_type == "cpu" and dtype is torch.float16:
        return torch.bfloat16, None  # Lightning runs 16-mixed as bf16-mixed on a CPU
    if device_type == "cuda" and dtype is torch.bfloat16 and not torch.cuda.is_bf16_supported():
        return None, "this GPU has no bf16: answering in fp32"
    if not torch.amp.is_autocast_available(device_type):
        return None, f"no autocast on {device_type}: answering in fp32"
    return dtype, None
