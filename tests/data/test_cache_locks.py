"""Processes that need the same cache entry at the same moment build it once.

Parallel sweep jobs (and DDP ranks) start together and ask for the same feature and
encoder-cache entries. Each test starts three fresh processes that meet at a barrier and
then ask at once, with the build slowed down so that the others ask while the first builds.
Without the entry lock all would build (and each later rename would replace the entry under
a reader); with it the others wait and read what the first built.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.data.test_datamodule import data_cfg

SLOW_BUILD_S = 1.5
PROCESSES = 3
TIMEOUT_S = 120


def _prepare_features(cfg, tokenizer, barrier, results) -> None:
    from qa_lightning.data.datamodule import SquadDataModule
    from qa_lightning.data.feature_cache import CachedFeatures

    builds = []
    real_build = CachedFeatures.build

    def slow_build(self):
        builds.append(self.name)
        time.sleep(SLOW_BUILD_S)
        return real_build(self)

    CachedFeatures.build = slow_build
    dm = SquadDataModule(cfg, tokenizer, seed=1, with_train=False)
    barrier.wait()
    dm.prepare_data()
    dm.setup("validate")
    results.put((builds, len(dm.eval_features)))


class _SlowEncoder:
    """A stand-in frozen encoder (``StateEncoder``): states = feature index, slowly."""

    key = "fake-encoder"
    hidden_size = 3

    def __call__(self, inputs):
        time.sleep(SLOW_BUILD_S / 2)
        index = inputs["feature_index"].float()
        return index[:, None, None].expand(-1, 4, self.hidden_size).clone()


def _encode(path, barrier, results) -> None:
    from qa_lightning.data import encoder_states as ec

    builds = []
    real_build = ec.build_encoded_features

    def counting_build(*args, **kwargs):
        builds.append(1)
        return real_build(*args, **kwargs)

    ec.build_encoded_features = counting_build
    batches = [{"feature_index": torch.tensor([0, 1])}, {"feature_index": torch.tensor([2])}]
    barrier.wait()
    encoded = ec.encoded_features(path, _SlowEncoder(), batches, np.array([4, 2, 3]))
    results.put((builds, encoded.batch(torch.tensor([2, 0]), 4).tolist()))


def _run_together(target, *args) -> list:
    """Run ``target(*args, barrier, results)`` in PROCESSES fresh processes at once."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, results)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    out, deadline = [], time.monotonic() + TIMEOUT_S
    try:
        while len(out) < len(procs):
            try:
                out.append(results.get(timeout=1))
            except queue.Empty:
                failed = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
                assert not failed and time.monotonic() < deadline, f"exit codes {failed}"
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    return out


def _visible_entries(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if not p.name.startswith("."))


@pytest.mark.slow  # ~18 s; the encoder-cache entry below takes the same entry_lock
def test_parallel_jobs_build_a_feature_entry_once(tmp_path, wordpiece_tokenizer):
    cfg = data_cfg(
        tmp_path, synthetic={"n_train": 4, "n_eval": 12, "unanswerable_fraction": 0.0, "seed": 0}
    )
    out = _run_together(_prepare_features, cfg, wordpiece_tokenizer)
    builds = sorted(built for built, _ in out)
    assert builds == [[]] * (PROCESSES - 1) + [["validation"]]  # one built, the rest read it
    assert len({n for _, n in out}) == 1 and out[0][1] > 0
    assert len(_visible_entries(tmp_path / "features")) == 1


def test_parallel_jobs_build_an_encoder_cache_entry_once(tmp_path):
    entry = tmp_path / "enc" / "validation-abc"
    out = _run_together(_encode, entry)
    assert sorted(built for built, _ in out) == [[]] * (PROCESSES - 1) + [[1]]
    states_a = out[0][1]
    assert all(states == states_a for _, states in out)
    # feature 2 (3 tokens) then feature 0 (4 tokens): each row its own index, padding zero
    assert [row[0] for row in states_a[0]] == [2.0, 2.0, 2.0, 0.0]
    assert [row[0] for row in states_a[1]] == [0.0] * 4
    assert _visible_entries(tmp_path / "enc") == ["validation-abc"]


def _build_forever(path, started) -> None:
    """Take the entry lock and build with an encoder that never finishes."""
    from qa_lightning.data import encoder_states as ec

    class Stuck(_SlowEncoder):
        def __call__(self, inputs):
            started.set()
            time.sleep(3600)

    ec.encoded_features(path, Stuck(), [{"feature_index": torch.tensor([0])}], np.array([2]))


def test_a_killed_builder_leaves_nothing_trusted_and_blocks_nobody(tmp_path):
    """SIGKILL mid-build: the OS drops the lock with the process, its half-written
    directory is never taken for the entry, and the next process builds it."""
    from qa_lightning.data import encoder_states as ec

    entry = tmp_path / "enc" / "train-x"
    ctx = multiprocessing.get_context("spawn")
    started = ctx.Event()
    builder = ctx.Process(target=_build_forever, args=(entry, started))
    builder.start()
    try:
        assert started.wait(TIMEOUT_S), "the builder never started encoding"
        assert not entry.exists()  # nothing under the final name while it builds
        builder.kill()
        builder.join(10)
    finally:
        if builder.is_alive():
            builder.kill()
    assert ec.open_encoded_features(entry) is None
    batches = [{"feature_index": torch.tensor([0])}]
    encoded = ec.encoded_features(entry, _SlowEncoder(), batches, np.array([2]))
    assert encoded.batch(torch.tensor([0]), 2).tolist() == [[[0.0] * 3] * 2]
