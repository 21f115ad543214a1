"""LoRA adapters on any QA model, through the LightningModule seam (``model._target_``).

Parameter-efficient fine-tuning trains low-rank updates of chosen weight matrices (LoRA, Hu
et al. 2021) and the span layer, and leaves every other weight as pretrained. ``peft`` does
the wrapping; this module only chooses what trains and what a run saves:

- ``save_pretrained`` writes the *merged* model (each adapter folded into its weight), so
  ``best_model/`` loads with ``from_pretrained`` like any QA model: eval.py, predict.py,
  export.py (torch and ONNX), the pipeline and serve.py need nothing new. The adapter alone
  (what ``peft`` reloads onto the base model, a few MB) goes to ``best_model/adapter/``.
- Checkpoints hold the wrapped model's state and this class's path, so a killed run
  resumes exactly and ``eval.py ckpt_path=...`` rebuilds the same wrapper.

Use it as a researcher would use their own module::

    python train.py experiment=minilm_squad_v1 \\
        model._target_=qa_lightning.models.lora.LoraQAModule \\
        +model.module_args.rank=8 optimizer.lr=5e-4
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from qa_lightning.models.qa_module import QAModule

ADAPTER_FOLDER = "adapter"  # beside the merged model in a saved folder
SPAN_LAYER = "qa_outputs"  # the start/end layer of transformers' QA models, trained whole


class LoraQAModule(QAModule):
    """A QA model whose attention projections train as LoRA adapters (``peft``).

    Args:
        rank: the adapters' rank ``r``.
        alpha: LoRA's scaling numerator (the update is scaled by ``alpha / rank``).
        dropout: dropout on the adapters' input.
        target_modules: the names of the linear layers that get adapters; None: ``peft``'s
            default for the architecture (BERT: ``query`` and ``value``).
        **kwargs: :class:`~qa_lightning.models.qa_module.QAModule`'s arguments.
    """

    def __init__(
        self,
        model_name_or_path: str,
        *,
        rank: int = 8,
        alpha: float = 16.0,
        dropout: float = 0.05,
        target_modules: list[str] | None = None,
        **kwargs: Any,
    ):
        if int(rank) < 1:
            raise ValueError(f"rank={rank}: a LoRA rank is a positive integer")
        # read by build_model, which QAModule.__init__ calls
        self._lora_settings = {
            "r": int(rank),
            "lora_alpha": float(alpha),
            "lora_dropout": float(dropout),
            "target_modules": list(target_modules) if target_modules else None,
        }
        super().__init__(model_name_or_path, **kwargs)

    def build_model(self) -> torch.nn.Module:
        """The QA model wrapped by ``peft``: its weights frozen, adapters on the target
        layers, and the span layer (``qa_outputs``) trained whole."""
        from peft import LoraConfig, get_peft_model  # only LoRA runs need peft

        model = super().build_model()
        # No task_type: peft's question-answering wrapper drops token_type_ids on its way
        # to the model (peft 0.21), so BERT would train and score without its segment
        # embeddings. The plain wrapper passes every input through; the span layer is
        # named here instead (qa_outputs in every transformers QA model).
        config = LoraConfig(modules_to_save=[SPAN_LAYER], **self._lora_settings)
        return get_peft_model(model, config)

    @property
    def model_config(self) -> Any:
        return self.model.get_base_model().config

    def merged_model(self) -> torch.nn.Module:
        """A copy of the QA model with every adapter folded into its weight (this module's
        own model keeps training)."""
        return copy.deepcopy(self.model).merge_and_unload()

    def save_pretrained(self, directory: str | Path) -> None:
        """The merged model (loads as any QA model) and, in ``adapter/``, the adapter and
        span layer alone (``peft``'s format, for the base model)."""
        directory = Path(directory)
        self.merged_model().save_pretrained(directory)
        self.model.save_pretrained(directory / ADAPTER_FOLDER)
