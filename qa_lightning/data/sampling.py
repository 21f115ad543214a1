"""Training order that a resumed run can replay: seeded per epoch, restartable mid-epoch.

A shuffle drawn from the global RNG when an epoch's iterator is created depends on
everything that consumed random numbers before, so after a resume "skip the batches already
trained" would skip batches of another permutation. Here the order of epoch ``e`` is a
function of ``(seed, e)`` alone; the datamodule keeps where training stopped in the
checkpoint and starts the resumed epoch there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import torch
from torch.utils.data import BatchSampler, Sampler
from transformers.trainer_pt_utils import get_length_grouped_indices


class EpochShuffleSampler(Sampler[int]):
    """A shuffled order, length-grouped (``lengths`` given) or plain, drawn from
    ``seed + epoch``; Lightning calls :meth:`set_epoch` before each epoch (also through
    its distributed wrapper)."""

    def __init__(
        self, num_samples: int, *, seed: int, batch_size: int, lengths: Sequence[int] | None
    ) -> None:
        self.num_samples = num_samples
        self.seed = seed
        self.batch_size = batch_size
        self.lengths = lengths
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        if self.lengths is None:
            return iter(torch.randperm(self.num_samples, generator=generator).tolist())
        # transformers' grouping (mega-batches sorted by length, longest batch first)
        return iter(get_length_grouped_indices(self.lengths, self.batch_size, generator=generator))


class ResumableBatchSampler(BatchSampler):
    """A BatchSampler that starts an epoch ``skip_first()`` batches in (where a run stopped).

    ``skip_first`` is asked once per epoch, when its iteration starts. It is an argument, not
    state set later, because Lightning rebuilds the batch sampler from its arguments when it
    shards the data for distributed training.
    """

    def __init__(
        self,
        sampler: Sampler[int],
        batch_size: int,
        drop_last: bool,
        skip_first: Callable[[], int] | None = None,
    ) -> None:
        super().__init__(sampler, batch_size, drop_last)
        self.skip_first = skip_first

    def __iter__(self) -> Iterator[list[int]]:
        skip = self.skip_first() if self.skip_first is not None else 0
        for i, batch in enumerate(super().__iter__()):
            if i >= skip:
                yield batch
