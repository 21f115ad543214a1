"""Where an Optuna study lives, for the sweeper that runs it and the jobs that report to it.

A path is a journal file: Optuna's append-only log, written under a file lock, so the
sweeper and every job process (local or SLURM, on a shared file system) read and write one
study with no database server, and a relaunch finds the study as it was left. A URL
(``sqlite:///...``, ``postgresql://...``) is a database, for those who run one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def open_study_storage(spec: str) -> Any:
    """The Optuna storage named by ``spec``: a database URL, or a journal file's path."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    if "://" in spec:
        return optuna.storages.RDBStorage(spec)
    Path(spec).parent.mkdir(parents=True, exist_ok=True)
    # the default lock (a symlink made and removed atomically) holds on NFS as well
    return optuna.storages.JournalStorage(JournalFileBackend(str(spec)))
