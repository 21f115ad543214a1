"""Static int8: activation scales fixed once from calibration windows, so a window's answer
does not depend on the batch it runs in, and windows run batched.

Dynamic quantisation (``export.py quantize=dynamic``) scales each activation by the range
of the whole input tensor: in a batch, a window's answer depends on the windows beside it,
so that graph runs window by window. Here onnxruntime's ``quantize_static`` writes the
QOperator form (``QLinearMatMul`` ...) with per-channel int8 weights and uint8 activations
whose ranges are the 99.999th percentile of what the calibration windows (a seeded sample
of the run's own training windows) produced.

The feed-forward output projections (the ``MatMul`` fed by a GELU) stay fp32. GELU outputs
carry rare large values; a fixed scale that covers them leaves the rest a few levels, and
one that does not clips them. Measured once on the MiniLM recipe (v1 dev windows): with
every MatMul static, 45-47% of windows kept fp32's best start and end; with those six in
fp32, 78-85% (benchmarks/README.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

QUANTIZATION_FILE = "quantization.json"  # in onnx/: how the int8 graph was made
CALIBRATION_WINDOWS = 256
CALIBRATION_BATCH = 8  # windows per calibration run (each padded to max_length)
PERCENTILE = 99.999
GELU_OPS = ("Gelu", "BiasGelu", "FastGelu")


@dataclass
class Int8Record:
    """``onnx/quantization.json``: which int8 the graph is, and for static int8 what it
    was calibrated on; the runner reads ``method`` (static graphs run batched)."""

    method: str  # "static" or "dynamic"
    weights: str
    activations: str
    calibration: dict[str, object] = field(default_factory=dict)
    fp32_nodes: list[str] = field(default_factory=list)  # left unquantised, by name

    def write(self, folder: Path) -> None:
        (folder / QUANTIZATION_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def of_folder(cls, folder: Path) -> Int8Record | None:
        """The record beside the graphs; None for an export written before there was one
        (its int8 graph is dynamic)."""
        path = folder / QUANTIZATION_FILE
        return cls(**json.loads(path.read_text())) if path.is_file() else None


DYNAMIC = Int8Record(
    method="dynamic",
    weights="int8 per channel, 7-bit range",
    activations="uint8, scaled by each input tensor's range (runs window by window)",
)


def calibration_windows(
    features: Any, names: Sequence[str], *, windows: int, seed: int
) -> list[dict[str, list[int]]]:
    """A seeded sample of ``windows`` of ``features`` (a features ``Dataset``; all of them
    when there are fewer), each as the model inputs ``names``."""
    rng = np.random.default_rng(seed)
    count = len(features)
    picked = sorted(rng.choice(count, size=min(windows, count), replace=False).tolist())
    return [{n: list(row[n]) for n in names} for row in features.select(picked)]


def _batches(
    windows: list[dict[str, list[int]]], max_length: int
) -> Iterator[dict[str, np.ndarray]]:
    """Fixed-shape batches (the percentile calibrator stacks every run's outputs), padded
    with zeros: id 0 and mask 0 (the attention ignores the padding)."""
    for start in range(0, len(windows) - CALIBRATION_BATCH + 1, CALIBRATION_BATCH):
        chunk = windows[start : start + CALIBRATION_BATCH]
        batch = {}
        for name in chunk[0]:
            array = np.zeros((len(chunk), max_length), dtype=np.int64)
            for row, window in enumerate(chunk):
                array[row, : len(window[name])] = window[name]
            batch[name] = array
        yield batch


def gelu_fed_matmuls(model_path: Path) -> list[str]:
    """The MatMul nodes whose input a GELU produced (the feed-forward output projections)."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    gelus = {out for node in graph.node if node.op_type in GELU_OPS for out in node.output}
    return [n.name for n in graph.node if n.op_type == "MatMul" and n.input[0] in gelus]


def quantize_static_int8(
    fp32: Path,
    out: Path,
    windows: list[dict[str, list[int]]],
    *,
    max_length: int,
    source: Mapping[str, object],
) -> Int8Record:
    """Write the static int8 graph of ``fp32`` to ``out``, calibrated on ``windows``;
    ``source`` says where they came from (recorded)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    usable = len(windows) - len(windows) % CALIBRATION_BATCH
    if usable == 0:
        raise ValueError(
            f"static int8 needs at least {CALIBRATION_BATCH} calibration windows; got "
            f"{len(windows)}"
        )

    batches = list(_batches(windows[:usable], max_length))

    class Reader(CalibrationDataReader):
        """One batch per collection (``CalibStridedMinMax=1``: the histograms are merged
        batch by batch): onnxruntime otherwise keeps every intermediate output of every
        calibration window at once (10 GB for MiniLM at 256 windows)."""

        def __init__(self) -> None:
            self.set_range(0, len(batches))

        def __len__(self) -> int:
            return len(batches)

        def set_range(self, start_index: int, end_index: int) -> None:
            self.pending = iter(batches[start_index:end_index])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.pending, None)

    excluded = gelu_fed_matmuls(fp32)
    logging.disable(logging.WARNING)  # the quantiser logs every tensor on the root logger
    try:
        quantize_static(
            fp32,
            out,
            Reader(),
            quant_format=QuantFormat.QOperator,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.Percentile,
            nodes_to_exclude=excluded,
            extra_options={"CalibPercentile": PERCENTILE, "CalibStridedMinMax": 1},
        )
    finally:
        logging.disable(logging.NOTSET)
    return Int8Record(
        method="static",
        weights="int8 per channel",
        activations=f"uint8, ranges fixed at the {PERCENTILE}th percentile of calibration",
        calibration={**source, "windows": usable, "padded_to": max_length},
        fp32_nodes=excluded,
    )
