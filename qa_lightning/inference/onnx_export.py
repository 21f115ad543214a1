"""A QA model as an ONNX graph for onnxruntime on CPU: fp32, and optionally int8.

1. ``torch.onnx.export`` (the dynamo exporter; optimum does not support transformers 5)
   with dynamic batch and sequence axes, checked by ``onnx.checker``.
2. onnxscript's onnxruntime fusions (attention, skip-layer-norm, bias-GELU): onnxruntime's
   own optimizer does not recognise the dynamo graph's patterns.
3. Each fused attention is made quantizable: its packed QKV weight is folded into one
   initializer and its additive mask (a chain of shape ops transformers builds from the
   padding mask) is replaced by the raw ``attention_mask``. Kept only when the graph still
   gives the same logits on a padded batch, else the fused graph is used as it is.
4. int8, either ``quantize_dynamic`` (int8 weights, activations quantised per input
   tensor: attention becomes ``QAttention``, the dense layers ``MatMulInteger``; run window
   by window) or static int8 (:mod:`~qa_lightning.inference.static_int8`: activation
   scales fixed by calibration; run batched). ``onnx/quantization.json`` says which.

Every graph is checked against the torch model on a padded batch before it is written.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qa_lightning.inference.onnx_runner import FP32_FILE, INT8_FILE, ONNX_DIR, OUTPUTS
from qa_lightning.inference.static_int8 import DYNAMIC, Int8Record, quantize_static_int8

log = logging.getLogger(__name__)

SPAN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# fp32 graph against torch, on the logits of real (unpadded) tokens
FP32_TOLERANCE = 1e-3
_RAW_MASK = "attention_mask_int32"


class SpanLogits(torch.nn.Module):
    """The model with plain tensor outputs, which the exporter needs."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:  # DistilBERT, RoBERTa ... have none
            inputs["token_type_ids"] = token_type_ids
        out = self.model(**inputs)
        return out.start_logits.float(), out.end_logits.float()


def sample_batch(tokenizer: Any) -> dict[str, torch.Tensor]:
    """Two windows of different lengths (so padding is exercised), longer than the batch:
    torch.export specialises axes of size 1 and axes equal to each other."""
    questions = ["Who wrote the letter?", "When?"]
    contexts = [
        "The letter to the king was written by John Smith in 1850, in London. " * 3,
        "It rained.",
    ]
    batch = tokenizer(questions, contexts, padding="longest", return_tensors="pt")
    return {n: batch[n] for n in SPAN_INPUTS if n in batch and n in tokenizer.model_input_names}


def _run(path: Path, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(OUTPUTS, feed)


def _largest_difference(ours: list[np.ndarray], reference: list[np.ndarray], mask) -> float:
    return max(float(np.abs(a - b)[mask].max()) for a, b in zip(ours, reference, strict=True))


def _exported(span: SpanLogits, sample: dict[str, torch.Tensor], path: Path) -> None:
    import onnx

    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    program = torch.onnx.export(
        span,
        (),
        kwargs=sample,
        dynamo=True,
        input_names=list(sample),
        output_names=OUTPUTS,
        dynamic_shapes={name: {0: batch, 1: sequence} for name in sample},
        optimize=True,
        verbose=False,
    )
    program.save(str(path))
    onnx.checker.check_model(str(path))


def _fused(source: Path, path: Path) -> None:
    import onnx_ir as ir
    from onnxscript.rewriter.ort_fusions import optimize_for_ort

    model, _ = optimize_for_ort(ir.load(str(source)))
    ir.save(model, str(path))


def _quantizable_attention(source: Path, path: Path) -> int:
    """Rewrite each fused ``Attention`` the way onnxruntime's quantiser accepts it (see the
    module docstring); returns how many were rewritten. Hand-written: no library does it."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    rewritten = 0
    for node in graph.node:
        if node.op_type != "Attention" or node.domain != "com.microsoft":
            continue
        weight = producers.get(node.input[1])
        if weight is not None and weight.op_type == "Concat":
            if not all(i in initializers for i in weight.input):
                continue
            axis = next(a.i for a in weight.attribute if a.name == "axis")
            packed = np.concatenate(
                [numpy_helper.to_array(initializers[i]) for i in weight.input], axis=axis
            )
            tensor = numpy_helper.from_array(packed, name=f"{node.input[1]}_packed")
            graph.initializer.append(tensor)
            node.input[1] = tensor.name
        for attribute in list(node.attribute):  # equal sizes are the op's default
            if attribute.name == "qkv_hidden_sizes" and len(set(attribute.ints)) == 1:
                node.attribute.remove(attribute)
        inputs = [*node.input, *[""] * (6 - len(node.input))]
        if inputs[5]:  # additive attention bias -> raw padding mask (QAttention has no bias)
            inputs[3], inputs[5] = _RAW_MASK, ""
            while inputs[-1] == "":
                inputs.pop()
            del node.input[:]
            node.input.extend(inputs)
        rewritten += 1
    if not rewritten:
        return 0
    graph.node.insert(
        0,
        helper.make_node(
            "Cast", ["attention_mask"], [_RAW_MASK], to=TensorProto.INT32, name="raw_mask"
        ),
    )
    _drop_unused(graph)
    onnx.save(model, str(path))
    return rewritten


def _drop_unused(graph: Any) -> None:
    """Remove the nodes and initializers no output depends on (the old mask's chain)."""
    live = {o.name for o in graph.output}
    kept = []
    for node in reversed(list(graph.node)):
        if any(out in live for out in node.output):
            kept.append(node)
            live.update(i for i in node.input if i)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    for initializer in [i for i in graph.initializer if i.name not in live]:
        graph.initializer.remove(initializer)


def export_onnx(
    model: torch.nn.Module,
    tokenizer: Any,
    folder: Path,
    *,
    quantize: str = "none",
    calibration: Calibration | None = None,
) -> tuple[dict[str, float], Int8Record | None]:
    """Write ``folder/onnx/model.onnx`` and, with ``quantize`` ``"dynamic"`` or ``"static"``
    (which needs ``calibration``), ``model_quantized.onnx`` and ``quantization.json``.
    Returns each graph's largest logit difference from the torch model on the sample batch,
    and the int8 graph's record (None without one)."""
    if quantize not in ("none", "dynamic", "static"):
        raise ValueError(f"quantize={quantize!r}: give none, dynamic or static")
    if quantize == "static" and calibration is None:
        raise ValueError("quantize='static' needs calibration windows")
    for name in ("onnx_ir", "onnxscript"):  # a line per pass at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    out = folder / ONNX_DIR
    out.mkdir(parents=True, exist_ok=True)
    sample = sample_batch(tokenizer)
    span = SpanLogits(model.float()).eval()
    with torch.inference_mode():
        reference = [t.numpy() for t in span(**sample)]
    feed = {n: t.numpy().astype(np.int64) for n, t in sample.items()}
    mask = feed["attention_mask"].astype(bool)
    differences: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        exported, fused, rewritten = (Path(tmp) / n for n in ("e.onnx", "f.onnx", "r.onnx"))
        _exported(span, sample, exported)
        _fused(exported, fused)
        fp32, logits = fused, _run(fused, feed)
        if _quantizable_attention(fused, rewritten):
            rewritten_logits = _run(rewritten, feed)
            if _largest_difference(rewritten_logits, logits, mask) <= FP32_TOLERANCE:
                fp32, logits = rewritten, rewritten_logits
            else:
                log.warning("the attention rewrite changed the logits; int8 keeps fp32 attention")
        differences[FP32_FILE] = _largest_difference(logits, reference, mask)
        if differences[FP32_FILE] > FP32_TOLERANCE:
            raise RuntimeError(
                f"the ONNX graph's logits differ from the torch model's by "
                f"{differences[FP32_FILE]:.2g} (> {FP32_TOLERANCE}); not written"
            )
        shutil.move(fp32, out / FP32_FILE)
    if quantize == "none":
        return differences, None
    if quantize == "static":
        assert calibration is not None
        record = quantize_static_int8(
            out / FP32_FILE,
            out / INT8_FILE,
            calibration.windows,
            max_length=calibration.max_length,
            source=calibration.source,
        )
    else:
        _quantize_dynamic(out / FP32_FILE, out / INT8_FILE)
        record = DYNAMIC
    record.write(out)
    differences[INT8_FILE] = _largest_difference(_run(out / INT8_FILE, feed), reference, mask)
    return differences, record


@dataclass
class Calibration:
    """Static int8's calibration windows (model inputs), the length they are padded to,
    and where they came from (recorded in ``quantization.json``)."""

    windows: list[dict[str, list[int]]]
    max_length: int
    source: dict[str, Any]


def _quantize_dynamic(fp32: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.WARNING)  # the quantiser logs every tensor on the root logger
    try:
        quantize_dynamic(
            fp32,
            out,
            weight_type=QuantType.QInt8,
            per_channel=True,  # MiniLM, v1 dev: F1 -0.55 to -0.70; per tensor: -2.5
            reduce_range=True,  # 7-bit weights: no u8 x s8 overflow without VNNI
        )
    finally:
        logging.disable(logging.NOTSET)
