"""Names of the evaluation sets that have a fixed role (kept free of heavy imports: the
run-folder layout and the compare command use them without loading torch)."""

from __future__ import annotations

from pathlib import Path

VALIDATION = "validation"  # the set that picks the best checkpoint (logged as val/...)
PREDICT = "predict"  # predict.py's unlabelled file


def metric_prefix(name: str) -> str:
    """``val`` for the validation set (the names sweeps and checkpoints use), else
    ``eval/<name>``."""
    return "val" if name == VALIDATION else f"eval/{name}"


def set_folder(output_dir: str | Path, name: str) -> Path:
    """Where a set's files go: the run folder itself for validation (and predict.py's
    file), else eval/<name>/."""
    output_dir = Path(output_dir)
    return output_dir if name in (VALIDATION, PREDICT) else output_dir / "eval" / name
