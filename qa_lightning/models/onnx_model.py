"""An exported ONNX graph (export.py onnx=true) run by onnxruntime, in place of the torch model.

``OnnxSpanModel`` is called like a transformers QA model (keyword tensors in, an output with
``start_logits``/``end_logits`` out), so the Answerer, the pipeline and ``OnnxQAModule``
(predict.py / eval.py through Lightning) use it unchanged: same windows, same decoding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from transformers.modeling_outputs import QuestionAnsweringModelOutput

from qa_lightning.errors import ConfigError

ONNX_DIR = "onnx"
FP32_FILE = "model.onnx"
INT8_FILE = "model_quantized.onnx"


def onnx_file(folder: str | Path, *, quantized: bool) -> Path:
    """The graph export.py wrote into ``folder``; one line naming what is missing."""
    path = Path(folder) / ONNX_DIR / (INT8_FILE if quantized else FP32_FILE)
    if not path.is_file():
        how = "onnx=true quantize=true" if quantized else "onnx=true"
        raise ConfigError(
            f"{path} is missing: backend=onnx runs an export.py folder; export with "
            f"`python export.py run=<run folder> {how}`"
        )
    return path


class OnnxSpanModel(torch.nn.Module):
    """One onnxruntime CPU session; a torch module only so Lightning can hold it (it has
    no parameters and ignores ``.to()``: its tensors come back on the input's device)."""

    def __init__(self, path: str | Path, *, threads: int | None = None) -> None:
        super().__init__()
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    @classmethod
    def from_folder(
        cls, folder: str | Path, *, quantized: bool = False, threads: int | None = None
    ) -> OnnxSpanModel:
        return cls(onnx_file(folder, quantized=quantized), threads=threads)

    def forward(self, **inputs: torch.Tensor) -> QuestionAnsweringModelOutput:
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise ValueError(f"{self.path} needs the inputs {missing}; got {sorted(inputs)}")
        device = inputs["input_ids"].device
        feed = {n: inputs[n].detach().cpu().numpy().astype(np.int64) for n in self.input_names}
        start, end = self.session.run(["start_logits", "end_logits"], feed)
        return QuestionAnsweringModelOutput(
            start_logits=torch.from_numpy(start).to(device),
            end_logits=torch.from_numpy(end).to(device),
        )


class OnnxQAModule(pl.LightningModule):
    """Evaluation and prediction steps of ``QAModule`` run by an ONNX graph: eval.py and
    predict.py score and write exactly as they do for the torch model."""

    def __init__(self, model: OnnxSpanModel) -> None:
        super().__init__()
        self.model = model

    def encoder_states(self, autocast: torch.dtype | None = None) -> None:
        return None  # the graph holds the whole network: nothing to cache

    def validation_step(
        self, batch: dict[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> dict[str, torch.Tensor]:
        out = self.model(**{n: batch[n] for n in self.model.input_names})
        return {"start_logits": out.start_logits, "end_logits": out.end_logits}

    def predict_step(
        self, batch: dict[str, torch.Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> dict[str, torch.Tensor]:
        return self.validation_step(batch, batch_idx, dataloader_idx)

    def configure_optimizers(self) -> Any:
        raise NotImplementedError("an ONNX graph is for inference only")
