"""The columns postprocessing reads, once and column-wise: feature offsets as flat numpy
arrays, example ids and contexts, and logits widened to float32 (float64 kept).

Read through Arrow for a ``datasets.Dataset`` (no Python loop over rows or tokens); plain
mappings of column -> per-row values work too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["FeatureArrays", "logits_to_numpy", "read_feature_arrays", "read_ids_and_contexts"]


@dataclass
class FeatureArrays:
    """The feature columns postprocessing needs, as flat numpy arrays.

    Token offsets stay flat: the character span of token ``t`` of feature ``i`` is
    ``char_start[row_start[i] + t]`` to ``char_end[row_start[i] + t]`` (``-1`` for
    non-context tokens), ``t < lengths[i]``, so selecting features never copies them.
    """

    example_index: np.ndarray
    cls_index: np.ndarray
    lengths: np.ndarray
    row_start: np.ndarray
    char_start: np.ndarray
    char_end: np.ndarray

    def __len__(self) -> int:
        return len(self.example_index)

    def take(self, rows: np.ndarray) -> FeatureArrays:
        return FeatureArrays(
            self.example_index[rows],
            self.cls_index[rows],
            self.lengths[rows],
            self.row_start[rows],
            self.char_start,
            self.char_end,
        )

    def chars_at(self, lo: int, hi: int, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(char_start, char_end) of token ``positions`` (rows, k) of features ``lo:hi``.

        Positions past a row's length read some other token: callers mask them out.
        """
        if len(self.char_start) == 0:
            missing = np.full(positions.shape, -1, dtype=np.int64)
            return missing, missing
        flat = self.row_start[lo:hi, None] + positions
        np.minimum(flat, len(self.char_start) - 1, out=flat)
        return self.char_start.take(flat), self.char_end.take(flat)


def read_feature_arrays(features: Any) -> FeatureArrays:
    """Read ``example_index``, ``cls_index`` and ``offset_mapping`` once, column-wise.

    Accepts a ``datasets.Dataset`` (read through Arrow, without a Python loop over rows or
    tokens) or a mapping of column name -> per-row values.
    """
    if hasattr(features, "select_columns") and hasattr(features, "with_format"):
        columns = ["example_index", "cls_index", "offset_mapping"]
        table = features.with_format("arrow", columns=columns)[:]
        example_index = table.column("example_index").to_numpy().astype(np.int64)
        cls_index = table.column("cls_index").to_numpy().astype(np.int64)
        outer = table.column("offset_mapping").combine_chunks()
        lengths = outer.value_lengths().to_numpy(zero_copy_only=False)
        lengths = lengths.astype(np.int64, copy=False)
        flat = outer.flatten().flatten().to_numpy(zero_copy_only=False)
        flat = flat.astype(np.int64, copy=False)
    elif isinstance(features, Mapping):
        example_index = np.asarray(features["example_index"], dtype=np.int64)
        cls_index = np.asarray(features["cls_index"], dtype=np.int64)
        rows = list(features["offset_mapping"])
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        flat = np.asarray([v for r in rows for pair in r for v in pair], dtype=np.int64)
    else:
        raise TypeError(f"unsupported features type: {type(features).__name__}")
    if flat.size != 2 * int(lengths.sum()):
        raise ValueError("offset_mapping must hold one [start_char, end_char] pair per token")
    row_start = np.cumsum(lengths) - lengths
    pairs = flat.reshape(-1, 2)
    return FeatureArrays(
        example_index,
        cls_index,
        lengths,
        row_start,
        np.ascontiguousarray(pairs[:, 0]),
        np.ascontiguousarray(pairs[:, 1]),
    )


def _to_float32(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor (float16/bfloat16 have no numpy twin for bf16)
        x = x.detach().to("cpu").float().numpy()
    arr = np.asarray(x)
    if arr.dtype != np.float64:  # keep float64 as given; widen everything else
        arr = arr.astype(np.float32, copy=False)
    return arr


def logits_to_numpy(logits: Any, lengths: np.ndarray) -> np.ndarray:
    """(num_features, >= W) float array of the logits, W the longest feature.

    ``logits`` is a 2-D array/tensor (rows padded to a common width >= each row's length;
    returned without a copy when it is already float32/float64 numpy) or a sequence of 1-D
    arrays/tensors. What lies past a row's length is never read as a candidate.
    """
    n = len(lengths)
    width = int(lengths.max()) if n else 0
    if getattr(logits, "ndim", None) == 2:
        arr = _to_float32(logits)
        if arr.shape[0] != n:
            raise ValueError(f"logits have {arr.shape[0]} rows for {n} features")
        if arr.shape[1] < width:
            raise ValueError(f"logits are {arr.shape[1]} wide but a feature has {width} tokens")
        return arr
    rows = [_to_float32(r).reshape(-1) for r in logits]
    if len(rows) != n:
        raise ValueError(f"{len(rows)} logit rows for {n} features")
    dtype = np.result_type(np.float32, *(r.dtype for r in rows)) if rows else np.float32
    out = np.full((n, width), -np.inf, dtype=dtype)
    for i, r in enumerate(rows):
        if len(r) < lengths[i]:
            raise ValueError(f"logit row {i} is shorter than its feature")
        out[i, : lengths[i]] = r[: lengths[i]]
    return out


def read_ids_and_contexts(examples: Any) -> tuple[list[str], list[str]]:
    """``id`` and ``context`` columns as lists (through Arrow for a ``datasets.Dataset``)."""
    if hasattr(examples, "select_columns") and hasattr(examples, "with_format"):
        table = examples.with_format("arrow", columns=["id", "context"])[:]
        ids = table.column("id").to_pylist()
        if not pa.types.is_string(table.schema.field("id").type):
            ids = [str(i) for i in ids]
        return ids, table.column("context").to_pylist()
    return [str(i) for i in examples["id"]], list(examples["context"])
