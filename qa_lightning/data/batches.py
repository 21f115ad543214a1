"""What a loader reads: feature rows with their index, a batch at a time, and their lengths.

Every row carries ``feature_index`` (its row in the set's feature table), so logits are
matched to features by index whatever the sampler.
"""

from __future__ import annotations

from typing import Any

import pyarrow.compute as pc
import torch
from datasets import Dataset


def feature_lengths(features: Dataset) -> list[int]:
    """Token count of every feature, read from Arrow without materialising the rows."""
    column = features.data.table.column("input_ids")
    return pc.list_value_length(column).to_pylist()


def collated(values: list[Any]) -> Any:
    """A reader's extra column in a batch: numbers (or equal-length lists of numbers) as a
    tensor, anything else as the list of values."""
    try:
        return torch.tensor(values)
    except (TypeError, ValueError, RuntimeError):
        return values


class IndexedFeatures(torch.utils.data.Dataset):
    """Model inputs of a feature table plus the row index, fetched a batch at a time."""

    def __init__(self, features: Dataset, columns: list[str]):
        self.features = features.with_format(None, columns=columns)
        self.columns = columns

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {**self.features[index], "feature_index": index}

    def __getitems__(self, indices: list[int]) -> list[dict[str, Any]]:
        # One Arrow read per batch instead of one per row.
        batch = self.features[indices]
        rows = [
            dict(zip(batch, values, strict=True)) for values in zip(*batch.values(), strict=True)
        ]
        for row, index in zip(rows, indices, strict=True):
            row["feature_index"] = index
        return rows
