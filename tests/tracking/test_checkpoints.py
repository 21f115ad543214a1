"""A kill while a checkpoint is written leaves the previous one whole and loadable."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]

# Saves checkpoint "A", then dies (SIGKILL) halfway through putting checkpoint "B" on disk:
# - "atomic": ours, killed while writing B's bytes;
# - "lightning": Lightning's default writer when the checkpoint folder is on another
#   filesystem than the temp folder (rename fails with EXDEV, so the move copies), killed
#   halfway through that copy.
KILLED_WRITER = textwrap.dedent(
    """
    import errno, io, os, shutil, signal, sys
    import torch
    from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
    from qa_lightning.callbacks.checkpoints import AtomicCheckpointIO

    path, kind = sys.argv[1], sys.argv[2]
    writer = AtomicCheckpointIO() if kind == "atomic" else TorchCheckpointIO()
    writer.save_checkpoint({"name": "A", "weights": torch.arange(100_000)}, path)

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if kind == "atomic":
        real_save = torch.save
        def save_half_then_die(obj, f, *args, **kwargs):
            buffer = io.BytesIO()
            real_save(obj, buffer, *args, **kwargs)
            f.write(buffer.getvalue()[: buffer.tell() // 2])
            f.flush()
            die()
        torch.save = save_half_then_die
    else:
        def rename_across_devices(src, dst, *args, **kwargs):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        def copy_half_then_die(src, dst, *args, **kwargs):
            data = open(src, "rb").read()
            with open(dst, "wb") as out:
                out.write(data[: len(data) // 2])
            die()
        os.rename = rename_across_devices
        shutil.copyfile = copy_half_then_die
    writer.save_checkpoint({"name": "B", "weights": torch.arange(200_000)}, path)
    """
)


def write_then_kill(path: Path, kind: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(path), kind],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr[-2000:]


def test_kill_during_write_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "last.ckpt"
    write_then_kill(path, "atomic")
    loaded = torch.load(path, weights_only=True)
    assert loaded["name"] == "A" and torch.equal(loaded["weights"], torch.arange(100_000))
    # what the killed write left behind is a hidden partial file, never a *.ckpt
    assert [p.name for p in tmp_path.glob("*.ckpt")] == ["last.ckpt"]


def test_lightnings_default_writer_truncates_across_filesystems(tmp_path):
    """The control: the same kind of kill against Lightning's own writer."""
    path = tmp_path / "last.ckpt"
    write_then_kill(path, "lightning")
    with pytest.raises(Exception):  # noqa: B017 - any load error: the file is half of "B"
        torch.load(path, weights_only=True)
