"""The training order is a function of (seed, epoch), and an epoch can start part-way."""

from __future__ import annotations

import torch

from qa_lightning.data.sampling import EpochShuffleSampler, ResumableBatchSampler

# enough rows for transformers' grouping to sort mega-batches of several batches
LENGTHS = torch.randint(2, 300, (400,), generator=torch.Generator().manual_seed(0)).tolist()


def batches(seed: int, epoch: int, skip: int = 0, lengths=LENGTHS) -> list[list[int]]:
    sampler = EpochShuffleSampler(len(LENGTHS), seed=seed, batch_size=4, lengths=lengths)
    sampler.set_epoch(epoch)
    skips = iter([skip])
    return list(ResumableBatchSampler(sampler, 4, False, skip_first=lambda: next(skips, 0)))


def test_order_depends_on_seed_and_epoch_only():
    torch.manual_seed(0)
    first = batches(seed=3, epoch=1)
    torch.manual_seed(123)  # the global RNG does not matter
    assert batches(seed=3, epoch=1) == first
    assert batches(seed=3, epoch=2) != first
    assert batches(seed=4, epoch=1) != first
    assert sorted(i for b in first for i in b) == list(range(len(LENGTHS)))


def test_length_grouped_batches_hold_similar_lengths():
    grouped = batches(seed=0, epoch=0)
    plain = batches(seed=0, epoch=0, lengths=None)

    def spread(bs):
        return sum(max(LENGTHS[i] for i in b) - min(LENGTHS[i] for i in b) for b in bs)

    assert spread(grouped) < spread(plain)


def test_skip_starts_the_epoch_part_way_once():
    whole = batches(seed=5, epoch=3)
    assert batches(seed=5, epoch=3, skip=2) == whole[2:]
    sampler = EpochShuffleSampler(len(LENGTHS), seed=5, batch_size=4, lengths=LENGTHS)
    sampler.set_epoch(3)
    skips = iter([2])
    resumable = ResumableBatchSampler(sampler, 4, False, skip_first=lambda: next(skips, 0))
    assert list(resumable) == whole[2:]
    assert list(resumable) == whole  # the next pass over it is a whole epoch
    assert len(resumable) == len(whole)
