"""Collect validation logits across batches/processes and score the complete examples.

``QALogitsCollector`` is a ``torchmetrics.Metric`` whose states are concatenated lists
(``dist_reduce_fx="cat"``), so it syncs under DDP and works unchanged in one process.
Logits are padded to a fixed ``max_length`` so batches of different widths concatenate.
``compute()`` sorts and de-duplicates the feature indices: DDP samplers repeat samples to
even out the shards, and Lightning's sanity check / ``limit_val_batches`` only see part
of the features. :func:`evaluate_logits` then scores only the examples all of whose
windows were seen.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from qa_lightning.evaluation.postprocessing import (
    Postprocessed,
    postprocess_arrays,
    read_feature_arrays,
    read_ids_and_contexts,
)
from qa_lightning.evaluation.scoring import squad_scores

__all__ = [
    "CollectedLogits",
    "DecodedSet",
    "QALogitsCollector",
    "decode_complete_examples",
    "deduplicate",
    "evaluate_logits",
]


class CollectedLogits(NamedTuple):
    """Sorted, unique feature indices and their (max_length-wide, float32) logits."""

    feature_index: torch.Tensor  # (M,) long
    start_logits: torch.Tensor  # (M, max_length) float32
    end_logits: torch.Tensor  # (M, max_length) float32


def deduplicate(
    feature_index: torch.Tensor, start_logits: torch.Tensor, end_logits: torch.Tensor
) -> CollectedLogits:
    """Sort by feature index and keep the first occurrence of every index."""
    idx = feature_index.detach().to("cpu", torch.long).reshape(-1)
    if idx.numel() == 0:
        return CollectedLogits(idx, start_logits.detach().cpu(), end_logits.detach().cpu())
    _, first = np.unique(idx.numpy(), return_index=True)  # sorted unique, first position
    keep = torch.from_numpy(first)
    return CollectedLogits(
        idx[keep], start_logits.detach().cpu()[keep], end_logits.detach().cpu()[keep]
    )


class QALogitsCollector(Metric):
    """Accumulates ``feature_index`` and padded start/end logits of eval features.

    Args:
        max_length: width every logit row is padded to (the features' ``max_length``).
        pad_value: logit written into the padding (ignored by postprocessing, which uses
            each feature's own length; large and negative so it never wins anyway).
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False

    feature_index: list[torch.Tensor]
    start_logits: list[torch.Tensor]
    end_logits: list[torch.Tensor]

    def __init__(self, max_length: int, pad_value: float = -1e4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if max_length < 1:
            raise ValueError("max_length must be >= 1")
        self.max_length = int(max_length)
        self.pad_value = float(pad_value)
        self.add_state("feature_index", default=[], dist_reduce_fx="cat")
        self.add_state("start_logits", default=[], dist_reduce_fx="cat")
        self.add_state("end_logits", default=[], dist_reduce_fx="cat")

    def _pad(
        self, logits: torch.Tensor, batch: int, attention_mask: torch.Tensor | None
    ) -> torch.Tensor:
        logits = logits.detach().float().reshape(batch, -1)
        if attention_mask is not None:
            # The model's logits on batch padding are arbitrary; at pad_value they never
            # rank in a row's top k, so postprocessing needs no masked copy of them.
            logits = logits.masked_fill(attention_mask.reshape(batch, -1) == 0, self.pad_value)
        width = logits.shape[1]
        if width > self.max_length:
            raise ValueError(f"logits are {width} wide, more than max_length={self.max_length}")
        if width < self.max_length:
            logits = torch.nn.functional.pad(
                logits, (0, self.max_length - width), value=self.pad_value
            )
        # Kept flat: every state is 1-D, so ranks that saw nothing (torchmetrics sends an
        # empty 1-D tensor for them) gather cleanly with the others.
        return logits.reshape(-1)

    def update(
        self,
        feature_index: torch.Tensor,
        start_logits: torch.Tensor,
        end_logits: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
    ) -> None:
        """``feature_index``: (B,) ints; ``start_logits``/``end_logits``: (B, L<=max_length);
        ``attention_mask`` (B, L), if given, marks the batch padding."""
        feature_index = torch.as_tensor(feature_index).detach().reshape(-1).long()
        batch = feature_index.numel()
        self.feature_index.append(feature_index)
        self.start_logits.append(self._pad(start_logits, batch, attention_mask))
        self.end_logits.append(self._pad(end_logits, batch, attention_mask))

    @staticmethod
    def _gathered(state: list[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        # a list before a sync (or when nothing was synced), one tensor after a DDP sync
        if isinstance(state, list):
            return dim_zero_cat(state) if state else torch.zeros(0)
        return state

    def compute(self) -> CollectedLogits:
        """Feature indices sorted and de-duplicated, with their (M, max_length) logits."""
        index = self._gathered(self.feature_index).reshape(-1).long()
        start = self._gathered(self.start_logits).float().reshape(-1, self.max_length)
        end = self._gathered(self.end_logits).float().reshape(-1, self.max_length)
        if not (len(index) == len(start) == len(end)):
            raise RuntimeError("collected feature indices and logits differ in length")
        return deduplicate(index, start, end)


def _as_numpy(x: Any, dtype: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        x = x.float() if x.is_floating_point() else x
        x = x.numpy()
    return np.asarray(x).astype(dtype, copy=False)


class DecodedSet(NamedTuple):
    """The examples all of whose windows were seen, their window counts and answers."""

    examples: Any  # a datasets.Dataset, the complete examples in their original order
    windows: np.ndarray  # (len(examples),) windows of each example's context
    outputs: Postprocessed


def decode_complete_examples(
    examples: Any,
    features: Any,
    feature_index: Any,
    start_logits: Any,
    end_logits: Any,
    *,
    version_2: bool,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    null_score_diff_threshold: float = 0.0,
    with_nbest: bool = True,
) -> DecodedSet:
    """Answers of the examples whose windows were all seen; the others are left out.

    ``feature_index`` (M,) are rows of ``features``; row ``j`` of the (M, L) logits belongs
    to feature ``feature_index[j]``. Duplicates are dropped (first kept) and the order
    does not matter.
    """
    idx = _as_numpy(feature_index, np.int64).reshape(-1)
    start = _as_numpy(start_logits, np.float32)
    end = _as_numpy(end_logits, np.float32)
    if start.ndim != 2 or start.shape != end.shape or start.shape[0] != len(idx):
        raise ValueError("start/end logits must be (len(feature_index), L) arrays")
    idx, first = np.unique(idx, return_index=True)
    start, end = start[first], end[first]

    feats = read_feature_arrays(features)
    num_examples = len(examples)
    if len(idx) and (idx[0] < 0 or idx[-1] >= len(feats)):
        raise ValueError("feature_index points outside the features")
    windows = np.bincount(feats.example_index, minlength=num_examples)
    seen = np.bincount(feats.example_index[idx], minlength=num_examples)
    complete = (windows > 0) & (seen == windows)

    keep_rows = complete[feats.example_index[idx]]
    idx, start, end = idx[keep_rows], start[keep_rows], end[keep_rows]
    sub = feats.take(idx)
    new_example = np.cumsum(complete) - 1  # old example row -> row among complete ones
    sub.example_index = new_example[sub.example_index]

    sub_examples = examples.select(np.flatnonzero(complete).tolist())
    ids, contexts = read_ids_and_contexts(sub_examples)
    outputs = postprocess_arrays(
        ids,
        contexts,
        sub,
        start,
        end,
        n_best_size=n_best_size,
        max_answer_length=max_answer_length,
        version_2=version_2,
        null_score_diff_threshold=null_score_diff_threshold,
        with_nbest=with_nbest,
    )
    return DecodedSet(sub_examples, windows[complete], outputs)


def evaluate_logits(
    examples: Any,
    features: Any,
    feature_index: Any,
    start_logits: Any,
    end_logits: Any,
    *,
    version_2: bool,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    null_score_diff_threshold: float = 0.0,
) -> tuple[dict[str, float | int], Postprocessed]:
    """Postprocess and score the examples whose windows were all seen.

    See :func:`decode_complete_examples`; ``scores["total"]`` is the number of scored
    examples. For v2 the null odds go to :func:`squad_scores` (so the ``best_*`` keys come
    back) with ``na_prob_thresh=null_score_diff_threshold``: the official no-answer
    override then agrees with the predictions themselves, and ``exact``/``f1`` are those of
    the predictions. Keys carry no prefix.
    """
    decoded = decode_complete_examples(
        examples,
        features,
        feature_index,
        start_logits,
        end_logits,
        version_2=version_2,
        n_best_size=n_best_size,
        max_answer_length=max_answer_length,
        null_score_diff_threshold=null_score_diff_threshold,
    )
    outputs = decoded.outputs
    scores = squad_scores(
        decoded.examples,
        outputs.predictions,
        version_2=version_2,
        null_odds=outputs.null_odds if version_2 else None,
        na_prob_thresh=null_score_diff_threshold,
    )
    return scores, outputs
