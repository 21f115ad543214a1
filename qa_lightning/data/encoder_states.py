"""Hidden states of a frozen encoder, computed once and memory-mapped from disk.

With the whole encoder frozen its output for a feature never changes, so every epoch,
every run and every job of a head sweep can read it instead of recomputing it. This is the
data side's job: the datamodule builds and opens the entries and puts each batch's states
in the batch (``hidden_states``); the model only consumes them.

One entry holds one feature table: the unpadded states of every token, row after row, in
float16 (``hidden.npy``, (total_tokens, H)), with each feature's first row and length. The
key covers the encoder (its weights by content and the layer taken, ``StateEncoder.key``)
and the feature cache key (data, tokenizer, max_length, doc_stride ...), so any change is a
new entry. Processes that need one entry at once (DDP ranks, parallel sweep jobs) build it
once, under a file lock (``atomic.entry_lock``).

numpy memmaps rather than ``datasets``: a batch is a handful of contiguous row slices,
read without decoding or copying whole columns.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from qa_lightning.storage.atomic import atomic_directory, entry_lock
from qa_lightning.storage.cache_integrity import entry_damage, write_marker

log = logging.getLogger(__name__)

CACHE_VERSION = 2
_META = "meta.json"


class StateEncoder(Protocol):
    """What the data side needs of a frozen encoder (the models side provides one)."""

    @property
    def key(self) -> str:
        """Identity of the states it gives: its weights by content and the layer taken."""

    @property
    def hidden_size(self) -> int: ...

    def __call__(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Hidden states (B, T, H) of a batch of model inputs, without gradients."""


# what the cache stores states as: half the size of float32 (a head's scores include the
# rounding, so an export records it: DecodingSettings.encoder_states)
STATES_DTYPE = "float16"
# a teacher's start/end logits (2 per token) keep their precision: the soft targets of a
# distillation loss are softmaxes of them, where float16's rounding would show
TEACHER_DTYPE = "float32"


def encoder_cache_key(encoder_key: str, feature_key: str, dtype: str = STATES_DTYPE) -> str:
    spec = {
        "version": CACHE_VERSION,
        "encoder": encoder_key,
        "features": feature_key,
        "dtype": dtype,
    }
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:20]
    return f"{feature_key.split('-')[0]}-{digest}"  # named after the set, like the features


class EncodedFeatures:
    """Read side of a cache entry: ``batch(feature_index, width)`` -> (B, width, H) in the
    entry's dtype (float16 states; a teacher's logits float32)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        meta = json.loads((self.path / _META).read_text())
        self.hidden = np.load(self.path / "hidden.npy", mmap_mode="r")
        self.row_start = np.load(self.path / "row_start.npy")
        self.lengths = np.load(self.path / "lengths.npy")
        self.dtype = meta.get("dtype", STATES_DTYPE)
        expected = (meta["total_tokens"], meta["hidden_size"])
        if self.hidden.shape != expected or len(self.lengths) != meta["features"]:
            raise ValueError(f"encoder cache {self.path} does not match its meta.json")

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def nbytes(self) -> int:
        return int(self.hidden.nbytes)

    def batch(self, feature_index: torch.Tensor, width: int) -> torch.Tensor:
        """States of the features in ``feature_index``, zero-padded on the right to ``width``."""
        rows = feature_index.detach().cpu().numpy()
        out = np.zeros((len(rows), width, self.hidden.shape[1]), dtype=self.dtype)
        for b, i in enumerate(rows):
            n = min(int(self.lengths[i]), width)
            start = int(self.row_start[i])
            out[b, :n] = self.hidden[start : start + n]
        return torch.from_numpy(out)


def build_encoded_features(
    path: str | Path,
    encode: StateEncoder,
    batches: Iterable[dict[str, torch.Tensor]],
    lengths: np.ndarray,
    hidden_size: int,
    dtype: str = STATES_DTYPE,
) -> EncodedFeatures:
    """Run ``encode`` over ``batches`` (each with ``feature_index``) and store the states.

    Written beside the target and renamed when complete: an interrupted build leaves no
    entry that a later run would trust.
    """
    path = Path(path)
    lengths = np.asarray(lengths, dtype=np.int64)
    row_start = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    total = int(lengths.sum())
    with atomic_directory(path) as tmp:
        hidden = np.lib.format.open_memmap(
            tmp / "hidden.npy", mode="w+", dtype=dtype, shape=(total, hidden_size)
        )
        seen = np.zeros(len(lengths), dtype=bool)
        for batch in batches:
            states = encode(batch).detach().to("cpu", getattr(torch, dtype)).numpy()
            for b, i in enumerate(batch["feature_index"].tolist()):
                n = int(lengths[i])
                hidden[row_start[i] : row_start[i] + n] = states[b, :n]
                seen[i] = True
        if not seen.all():
            raise RuntimeError(f"encoder cache: {int((~seen).sum())} features were not encoded")
        hidden.flush()
        del hidden
        np.save(tmp / "row_start.npy", row_start)
        np.save(tmp / "lengths.npy", lengths)
        meta = {
            "features": len(lengths),
            "total_tokens": total,
            "hidden_size": hidden_size,
            "dtype": dtype,
        }
        # last, with the size and SHA-256 of every array: checked when the entry is opened
        write_marker(tmp, _META, meta)
    return EncodedFeatures(path)


def open_encoded_features(path: str | Path) -> EncodedFeatures | None:
    """The complete entry at ``path``, or None (missing, truncated, corrupted or
    inconsistent).

    Every array is checked against the size and SHA-256 that meta.json records: a few bytes
    changed in place keep ``hidden.npy``'s shape, and would otherwise be read as states.
    Hashing costs ~0.2 s per 300 MB (one read, which also warms the page cache the memmap
    then reads from).
    """
    path = Path(path)
    if not (path / _META).is_file():
        return None
    damage = entry_damage(path, _META)
    if damage is not None:
        log.warning("Encoder cache %s is damaged (%s); rebuilding it", path, damage)
        return None
    try:
        return EncodedFeatures(path)
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as err:
        log.warning("Encoder cache %s is unreadable (%s); rebuilding it", path, err)
        return None


def encoded_features(
    path: str | Path,
    encoder: StateEncoder,
    batches: Iterable[dict[str, torch.Tensor]],
    lengths: np.ndarray,
    dtype: str = STATES_DTYPE,
) -> EncodedFeatures:
    """The entry at ``path``: opened when complete and intact, else built from ``batches``
    (every feature once, each batch with ``feature_index``), by one process at a time.

    Building iterates a DataLoader, which may draw from the global RNG: it is forked, so
    that a run that builds the cache and one that reads it see the same dropout draws.
    """
    with entry_lock(path):
        encoded = open_encoded_features(path)
        if encoded is None:
            with torch.random.fork_rng(devices=[]):
                encoded = build_encoded_features(
                    path, encoder, batches, lengths, encoder.hidden_size, dtype
                )
            log.info("Built the cache entry %s", path)
    log.info(
        "Cached %s of %d features (%s, %.1f MB) at %s",
        "teacher logits" if dtype == TEACHER_DTYPE else "encoder states",
        len(encoded),
        dtype,
        encoded.nbytes / 2**20,
        path,
    )
    return encoded
