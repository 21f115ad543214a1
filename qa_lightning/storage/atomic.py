"""Files and directories that appear whole or not at all: what later runs trust (cache
entries, checkpoints, metrics), even when a process is killed while writing them; and
cache entries that many processes need, built by one of them."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from filelock import FileLock, Timeout

log = logging.getLogger(__name__)


def _umask() -> int:
    """The process's umask (reading it means setting it: set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _as_created(path: str | Path, mode: int) -> None:
    """``mkstemp``/``mkdtemp`` create owner-only entries; give ``path`` the mode a plain
    ``open``/``mkdir`` would have under this process's umask (shared where the user
    shares outputs, private where the umask says so)."""
    os.chmod(path, mode & ~_umask())


@contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; on success it replaces ``path``.

    A crash or an exception inside the block leaves ``path`` as it was and removes the
    temporary directory, so a half-written entry is never found under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        _as_created(tmp, 0o777)
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def atomic_file(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Yield a file opened beside ``path``; once the block ends it is synced to disk and
    renamed to ``path``. A kill or an exception inside the block leaves ``path`` as it was
    (the previous version stays whole) and never a partly written file under that name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _as_created(tmp, 0o666)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def entry_lock(path: str | Path) -> Iterator[None]:
    """Held while the cache entry ``path`` is checked and, if missing or damaged, built.

    Processes that need one entry at once (DDP ranks, parallel sweep jobs) take turns:
    the first builds it, the others wait, then find it complete and read it. An OS lock
    (``flock`` through ``filelock``) on ``.<name>.lock`` beside the entry: released when its
    holder dies, so a killed build blocks nobody. Where a file system does not honour locks
    between machines, entries stay whole (``atomic_directory``), they may be built twice.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path.parent / f".{path.name}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("Waiting for another process to finish building %s", path)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
