"""Names of the files in a run folder, and the atomic JSON write every writer uses.

Kept free of heavy imports: the compare command reads run folders without loading torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qa_lightning.atomic import atomic_file
from qa_lightning.evaluation.sets import PREDICT, VALIDATION

METRICS_FILE = "metrics.json"  # the final scores of a finished run
FAILURE_FILE = "failure.json"  # written instead when a sweep job raised
RECORDS_FILE = "per_question.jsonl"  # one line per scored question of a set


def set_folder(output_dir: str | Path, name: str) -> Path:
    """Where a set's files go: the run folder itself for validation (and predict.py's
    file), else eval/<name>/."""
    output_dir = Path(output_dir)
    return output_dir if name in (VALIDATION, PREDICT) else output_dir / "eval" / name


def write_json_atomic(path: str | Path, payload: Any) -> None:
    with atomic_file(path, "w") as f:
        json.dump(payload, f, indent=2, ensure_ascii=False)
