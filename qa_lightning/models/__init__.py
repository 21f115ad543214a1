"""Models: the QA LightningModules, span heads and losses, and model/tokenizer loading.

The extension points' base classes, for a researcher's own components:
``SpanHead`` (``model.head``), ``SpanLoss`` (``model.loss``), ``QAModule`` and
``HeadQAModule`` (``model._target_``), and ``Float32Linear`` for a head's last layer.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> submodule, imported on first use: importing one submodule (float32_logits, say)
# must not pull in Lightning through this package
_PUBLIC = {
    "SpanHead": "heads",
    "SpanLoss": "losses",
    "SpanCrossEntropy": "losses",
    "QAModule": "qa_module",
    "HeadQAModule": "head_module",
    "Float32Linear": "float32_logits",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
