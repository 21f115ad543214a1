"""``qa_decoding.json``: how a saved folder's questions become windows, windows logits and
logits answers, as its run scored them. Written by train.py into ``best_model/`` and by
export.py; read by eval.py, predict.py, the Answerer, the pipeline and serve.py.

Plain data in storage (no layer imported), so train.py writes it without importing the
inference package.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from qa_lightning.errors import ConfigError
from qa_lightning.storage.atomic import atomic_file

DECODING_FILE = "qa_decoding.json"


@dataclass(frozen=True)
class DecodingSettings:
    """How questions become windows, windows logits and logits answers; a folder's
    ``qa_decoding.json`` (written by train.py and export.py) holds the ones its run was scored with.
    ``precision``: the run's ``trainer.precision`` (exports before it was kept: fp32);
    ``encoder_states``: the dtype a frozen encoder's cached states were stored in when the
    run's head was scored from them (``float16``), else None; ``batch_size``: windows per
    model call, the run's ``data.eval_batch_size``: under bf16 a window's logits depend on
    the shape of its batch, so the run's questions batched as it scored them get exactly its
    answers (other batches: the same within bf16 rounding, 199 of 200 on the MiniLM demo)."""

    max_length: int = 384
    doc_stride: int = 128
    max_question_tokens: int | None = None
    n_best_size: int = 20
    max_answer_length: int = 30
    version_2: bool = False
    null_score_diff_threshold: float = 0.0
    precision: str = "32-true"  # models.precision.FP32
    encoder_states: str | None = None
    batch_size: int = 32

    @classmethod
    def of_folder(cls, folder: str | Path) -> DecodingSettings:
        path = Path(folder) / DECODING_FILE
        if not path.is_file():
            return cls()
        values = json.loads(path.read_text())
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"{path}: unknown decoding settings {sorted(unknown)}")
        return cls(**values)

    def write(self, folder: str | Path) -> None:
        with atomic_file(Path(folder) / DECODING_FILE, "w") as f:
            f.write(json.dumps(asdict(self), indent=2) + "\n")
