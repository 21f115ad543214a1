"""Names of the files in a run folder, and the atomic JSON write every writer uses.

Where each set's files go (``set_folder``) lives beside the set names in
``qa_lightning.evaluation.sets``: storage imports no layer.

Kept free of heavy imports: the compare command reads run folders without loading torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qa_lightning.storage.atomic import atomic_file

METRICS_FILE = "metrics.json"  # the final scores of a finished run
FAILURE_FILE = "failure.json"  # written instead when a sweep job raised
RECORDS_FILE = "per_question.jsonl"  # one line per scored question of a set


def write_json_atomic(path: str | Path, payload: Any, *, indent: int | None = 2) -> None:
    """``indent=None`` for large files: only then does ``json`` encode in C (about 3x
    faster for an n-best list of 1,000 questions)."""
    with atomic_file(path, "w") as f:
        f.write(json.dumps(payload, indent=indent, ensure_ascii=False))
