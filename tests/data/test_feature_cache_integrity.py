"""Feature cache entries damaged on disk are detected, reported, rebuilt and never loaded.

Each test builds the validation entry of a small synthetic set, damages it (a truncated,
bit-flipped or deleted file, a garbage or outdated marker, files ``datasets`` cannot read),
then prepares and loads again: one warning naming the entry and the reason, one rebuild,
and features equal to the ones first built.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from qa_lightning.data import feature_cache
from qa_lightning.data.datamodule import SquadDataModule
from qa_lightning.storage.cache_integrity import entry_damage, write_marker
from tests.data.test_datamodule import data_cfg

MARKER = feature_cache.MARKER
LOGGER = "qa_lightning.data.feature_cache"


@pytest.fixture
def built(tmp_path, wordpiece_tokenizer):
    """A prepared validation entry and what it holds (the fresh build)."""
    cfg = data_cfg(tmp_path)
    dm = SquadDataModule(cfg, wordpiece_tokenizer, with_train=False)
    dm.prepare_data()
    dm.setup("validate")
    return {
        "cfg": cfg,
        "entry": dm.cache_path("validation"),
        "examples": dm.eval_examples.to_dict(),
        "features": dm.eval_features.to_dict(),
    }


@pytest.fixture
def builds(monkeypatch):
    """Counts feature builds (each calls prepare_eval_features once)."""
    calls = []
    original = feature_cache.prepare_eval_features
    monkeypatch.setattr(
        feature_cache,
        "prepare_eval_features",
        lambda *a, **k: calls.append(1) or original(*a, **k),
    )
    return calls


def _warnings(caplog) -> list[str]:
    """The datamodule's warnings (features.py may warn about long questions on a build)."""
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= 30]


def _arrow(entry: Path, dataset: str) -> Path:
    (path,) = sorted((entry / dataset).glob("*.arrow"))
    return path


def _truncate(entry: Path) -> None:
    path = _arrow(entry, "features")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_middle(entry: Path) -> None:
    path = _arrow(entry, "features")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
    path.write_bytes(bytes(data))


def _delete_arrow(entry: Path) -> None:
    _arrow(entry, "examples").unlink()


def _delete_state(entry: Path) -> None:
    (entry / "features" / "state.json").unlink()


def _garbage_marker(entry: Path) -> None:
    (entry / MARKER).write_bytes(b"\x00\xffnot json {")


def _marker_without_files(entry: Path) -> None:
    """A marker as written before entries were verified: counts only."""
    info = json.loads((entry / MARKER).read_text())
    (entry / MARKER).write_text(json.dumps({"examples": info["examples"], "features": 1}))


def _marker_omits_a_data_file(entry: Path) -> None:
    """A marker whose list leaves out a file load_from_disk reads (so its damage would go
    unseen); the file itself is then damaged."""
    info = json.loads((entry / MARKER).read_text())
    name = _arrow(entry, "features").relative_to(entry).as_posix()
    del info["files"][name]
    (entry / MARKER).write_text(json.dumps(info))
    _flip_middle(entry)


DAMAGE = {
    "truncated arrow": (_truncate, "bytes,"),
    "bytes flipped in the middle": (_flip_middle, "does not match its SHA-256"),
    "arrow deleted": (_delete_arrow, "data-00000-of-00001.arrow is missing"),
    "listed state.json deleted": (_delete_state, "features/state.json is missing"),
    "garbage marker": (_garbage_marker, "unreadable completion marker"),
    "marker from before verification": (_marker_without_files, "lists no files"),
    "marker omits a data file": (_marker_omits_a_data_file, "does not list features/data"),
}


@pytest.mark.parametrize("when", ["prepare_data", "setup"])
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_entry_is_detected_and_rebuilt(
    tmp_path, wordpiece_tokenizer, built, builds, caplog, damage, when
):
    """Damage found by a later run's prepare_data, or by setup after this run's
    prepare_data (setup verifies on its own: under DDP only rank 0 prepares)."""
    entry = built["entry"]
    dm = SquadDataModule(built["cfg"], wordpiece_tokenizer, with_train=False)
    if when == "setup":
        dm.prepare_data()
    assert builds == []
    damage_fn, reason = DAMAGE[damage]
    damage_fn(entry)
    assert entry_damage(entry, MARKER, datasets=("examples", "features")) is not None
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        if when == "prepare_data":
            dm.prepare_data()
        dm.setup("validate")
    warnings = _warnings(caplog)
    assert len(warnings) == 1, warnings
    assert str(entry) in warnings[0] and reason in warnings[0] and "\n" not in warnings[0]
    assert builds == [1]
    assert entry_damage(entry, MARKER, datasets=("examples", "features")) is None
    assert dm.eval_examples.to_dict() == built["examples"]
    assert dm.eval_features.to_dict() == built["features"]


def test_entry_that_datasets_cannot_load_is_rebuilt(
    tmp_path, wordpiece_tokenizer, built, builds, caplog
):
    """Files that match their marker yet do not load (e.g. written by another datasets
    version): the load error is reported, the entry rebuilt and loaded."""
    entry = built["entry"]
    (entry / "features" / "dataset_info.json").write_text("not json")
    info = json.loads((entry / MARKER).read_text())
    write_marker(entry, MARKER, {k: v for k, v in info.items() if k != "files"})
    dm = SquadDataModule(built["cfg"], wordpiece_tokenizer, with_train=False)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        dm.setup("validate")
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and str(entry) in warnings[0], warnings
    assert "could not be loaded (JSONDecodeError" in warnings[0]
    assert builds == [1]
    assert dm.eval_features.to_dict() == built["features"]


def test_intact_entry_is_reused_and_its_marker_lists_every_file(
    wordpiece_tokenizer, built, builds, caplog
):
    entry = built["entry"]
    info = json.loads((entry / MARKER).read_text())
    on_disk = {p.relative_to(entry).as_posix() for p in entry.rglob("*") if p.is_file()} - {MARKER}
    assert set(info["files"]) == on_disk
    assert {"examples/state.json", "features/state.json"} <= on_disk
    for name, record in info["files"].items():
        assert record["size"] == (entry / name).stat().st_size
    # a file datasets may add beside a loaded table (an indices cache) is not damage
    (entry / "features" / "cache-0123.arrow").write_bytes(b"extra")
    dm = SquadDataModule(built["cfg"], wordpiece_tokenizer, with_train=False)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        dm.prepare_data()
        dm.setup("validate")
    assert builds == []
    assert _warnings(caplog) == []
    assert dm.eval_features.to_dict() == built["features"]


def test_an_unchanged_entry_is_not_read_again_but_a_changed_one_is(built, monkeypatch):
    """In-process sweep jobs open the same entries again: a file this process has hashed is
    trusted while its stat is unchanged, and hashed again after any write, even one whose
    modification time is set back (the ctime still moves)."""
    import os

    from qa_lightning.storage import cache_integrity

    entry = built["entry"]
    assert entry_damage(entry, MARKER, datasets=("examples", "features")) is None
    reads = []
    original = cache_integrity.file_sha256
    monkeypatch.setattr(cache_integrity, "file_sha256", lambda p: reads.append(p) or original(p))
    assert entry_damage(entry, MARKER, datasets=("examples", "features")) is None
    assert reads == []

    arrow = _arrow(entry, "features")
    before = arrow.stat()
    _flip_middle(entry)
    os.utime(arrow, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert arrow.stat().st_size == before.st_size and arrow.stat().st_mtime_ns == before.st_mtime_ns
    damage = entry_damage(entry, MARKER, datasets=("examples", "features"))
    assert damage is not None and "does not match its SHA-256" in damage
    assert [p.name for p in reads] == [arrow.name]
