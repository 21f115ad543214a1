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
OUTPUTS = ["start_logits", "end_logits"]
PADDING_LOGIT = -10_000.0


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


def onnx_span_model(
    folder: str | Path, *, backend: str, quantized: bool, threads: int | None = None
) -> OnnxSpanModel | None:
    """The folder's graph for ``backend="onnx"`` (``quantized``: the int8 one); None for
    ``"torch"``, whose model the caller loads. ``quantized`` alone is refused in one line."""
    if str(backend) == "onnx":
        return OnnxSpanModel.from_folder(folder, quantized=quantized, threads=threads)
    if quantized:
        raise ConfigError(
            f"backend={backend} quantized=true: the int8 graph is an export's; use backend=onnx"
        )
    return None


def is_static_int8(folder: str | Path) -> bool:
    """Whether the folder's int8 graph has fixed activation scales (``quantize=static``):
    its windows run batched; a dynamic one's (and an older export's) one by one."""
    from qa_lightning.inference.static_int8 import Int8Record

    record = Int8Record.of_folder(Path(folder) / ONNX_DIR)
    return record is not None and record.method == "static"


class OnnxSpanModel(torch.nn.Module):
    """One onnxruntime CPU session; a torch module only so Lightning can hold it (it has
    no parameters and ignores ``.to()``: its tensors come back on the input's device).

    ``per_window`` (a dynamic int8 graph's default): each window runs alone, without its
    padding.
    Dynamic quantisation scales activations by the range of the whole input tensor, so in a
    batch a window's answer would depend on the other windows and the padding beside it (the
    service gave 90 of 480 answers differently with and without batching). Alone, a window
    gets one answer wherever it is asked, at some cost on CPU: the 1,025 v1 dev windows of
    int8 MiniLM took 12.5-14.6 s one by one against 11.3-11.7 s in batches of 64. A static
    int8 graph (``export.py quantize=static``) has fixed scales and runs batched.
    """

    def __init__(
        self, path: str | Path, *, threads: int | None = None, per_window: bool = False
    ) -> None:
        super().__init__()
        self.per_window = per_window
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
        return cls(
            onnx_file(folder, quantized=quantized),
            threads=threads,
            per_window=quantized and not is_static_int8(folder),
        )

    def forward(self, **inputs: torch.Tensor) -> QuestionAnsweringModelOutput:
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise ValueError(f"{self.path} needs the inputs {missing}; got {sorted(inputs)}")
        device = inputs["input_ids"].device
        feed = {n: inputs[n].detach().cpu().numpy().astype(np.int64) for n in self.input_names}
        if self.per_window:
            start, end = self._each_window(feed)
        else:
            start, end = self.session.run(OUTPUTS, feed)
        return QuestionAnsweringModelOutput(
            start_logits=torch.from_numpy(start).to(device),
            end_logits=torch.from_numpy(end).to(device),
        )

    def _each_window(self, feed: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Logits of each row run alone on its unpadded tokens (padding: -10000, as masked)."""
        mask = feed["attention_mask"].astype(bool)
        start = np.full(mask.shape, PADDING_LOGIT, dtype=np.float32)
        end = np.full(mask.shape, PADDING_LOGIT, dtype=np.float32)
        for row in range(mask.shape[0]):
            keep = mask[row]  # padding may sit on either side
            one = {n: v[row : row + 1, keep] for n, v in feed.items()}
            s, e = self.session.run(OUTPUTS, one)
            start[row, keep], end[row, keep] = s[0], e[0]
        return start, end


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
