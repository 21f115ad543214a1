"""Encoder cache entries changed on disk without changing size are detected and rebuilt.

The shape checks against meta.json catch a truncated ``hidden.npy``; bytes flipped in the
middle keep its shape, and only the SHA-256 recorded in meta.json tells them apart.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch

from qa_lightning.data import encoder_states as ec
from tests.data.test_encoder_states import make_datamodule, make_module

LOGGER = "qa_lightning.data.encoder_states"
LENGTHS = np.array([3, 5, 2, 4])
HIDDEN = 6


def _build(entry: Path) -> np.ndarray:
    """An entry of random states; returns them as stored (float16), row after row."""
    rng = np.random.default_rng(0)
    states = torch.from_numpy(rng.standard_normal((len(LENGTHS), 5, HIDDEN)).astype(np.float32))
    batches = [{"feature_index": torch.arange(len(LENGTHS))}]
    ec.build_encoded_features(entry, lambda b: states, batches, LENGTHS, HIDDEN)
    return np.concatenate([states[i, :n].half().numpy() for i, n in enumerate(LENGTHS)])


def _flip_middle(path: Path, n: int = 4) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2 + 1
    data[middle : middle + n] = bytes(b ^ 0xFF for b in data[middle : middle + n])
    path.write_bytes(bytes(data))


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= 30]


def test_intact_entry_opens_with_the_stored_states(tmp_path, caplog):
    entry = tmp_path / "train-a"
    stored = _build(entry)
    meta = json.loads((entry / "meta.json").read_text())
    assert set(meta["files"]) == {"hidden.npy", "row_start.npy", "lengths.npy"}
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        opened = ec.open_encoded_features(entry)
    assert opened is not None and _warnings(caplog) == []
    np.testing.assert_array_equal(np.asarray(opened.hidden), stored)


def test_same_size_corruption_of_hidden_states_is_detected(tmp_path, caplog):
    entry = tmp_path / "train-b"
    stored = _build(entry)
    size = (entry / "hidden.npy").stat().st_size
    _flip_middle(entry / "hidden.npy")
    assert (entry / "hidden.npy").stat().st_size == size
    # the shape checks alone would serve the changed states
    unchecked = ec.EncodedFeatures(entry)
    assert not np.array_equal(np.asarray(unchecked.hidden), stored)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert ec.open_encoded_features(entry) is None
    (warning,) = _warnings(caplog)
    assert str(entry) in warning and "hidden.npy does not match its SHA-256" in warning


@pytest.mark.parametrize("name", ["row_start.npy", "lengths.npy"])
def test_same_size_corruption_of_the_index_is_detected(tmp_path, caplog, name):
    entry = tmp_path / "train-c"
    _build(entry)
    _flip_middle(entry / name, n=len((entry / name).read_bytes()) // 4)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert ec.open_encoded_features(entry) is None
    (warning,) = _warnings(caplog)
    assert f"{name} does not match its SHA-256" in warning


@pytest.mark.parametrize("meta", ["garbage", "no hashes"])
def test_meta_without_readable_hashes_is_not_trusted(tmp_path, caplog, meta):
    """Garbage, or a meta.json from before hashes were recorded: rebuilt, not trusted."""
    entry = tmp_path / "train-d"
    _build(entry)
    if meta == "garbage":
        (entry / "meta.json").write_bytes(b"\x00{not json")
    else:
        info = json.loads((entry / "meta.json").read_text())
        (entry / "meta.json").write_text(json.dumps({k: info[k] for k in info if k != "files"}))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert ec.open_encoded_features(entry) is None
    assert len(_warnings(caplog)) == 1


def test_datamodule_rebuilds_a_corrupted_entry(tmp_path, tiny_bert_dir, wordpiece_tokenizer):
    """Through the datamodule: the corrupted entry is rebuilt and serves the encoder's
    states again, equal to those first cached."""
    synthetic = {"n_train": 4, "n_eval": 6, "unanswerable_fraction": 0.0, "seed": 0}

    def states():
        dm = make_datamodule(
            tmp_path, wordpiece_tokenizer, make_module(tiny_bert_dir), synthetic=synthetic
        )
        dm.prepare_data()
        dm.setup("validate")
        return dm.encoder_states("validation")

    first = states()
    stored = np.array(first.hidden)
    _flip_middle(first.path / "hidden.npy", n=64)
    builds = []
    real_build = ec.build_encoded_features

    def counting_build(*args, **kwargs):
        builds.append(1)
        return real_build(*args, **kwargs)

    with mock.patch.object(ec, "build_encoded_features", counting_build):
        again = states()
    assert builds == [1]
    assert again.path == first.path
    np.testing.assert_array_equal(np.asarray(again.hidden), stored)
