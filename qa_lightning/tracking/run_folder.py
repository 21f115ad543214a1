"""The run folder: every evaluation's predictions, records and scores as plain files.

The validation set's files sit at the top of the run folder, every other set's under
``eval/<name>/``; ``metrics.json`` holds every set's scores, intervals and slices by name
(and, flat at its top, the validation set's scores, which sweeps and compare read). Files
are written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
from pytorch_lightning.trainer.states import TrainerFn

from qa_lightning.evaluation.evaluator import VALIDATION, EvaluationResult
from qa_lightning.evaluation.sets import set_folder
from qa_lightning.storage.atomic import atomic_file
from qa_lightning.storage.run_files import METRICS_FILE, RECORDS_FILE, write_json_atomic
from qa_lightning.tracking.selective_plot import plot_selective
from qa_lightning.tracking.slice_plot import plot_slices

SELECTIVE_PLOT = "selective.png"  # risk-coverage, reliability diagram (v2: null threshold)

__all__ = [
    "METRICS_FILE",
    "RunFolderWriter",
    "set_folder",
    "write_metrics",
    "write_set_files",
    "write_json_atomic",
]


def write_jsonl_atomic(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    with atomic_file(path, "w") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_set_files(
    folder: str | Path, result: EvaluationResult, *, plots: bool = True, nbest: bool = True
) -> None:
    """predictions.json, nbest_predictions.json (a model's; ``nbest``), null_odds.json (v2);
    for a labelled set also per_question.jsonl, slices.png and (with confidences)
    selective.png (``plots``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    outputs = result.outputs
    write_json_atomic(folder / "predictions.json", outputs.predictions)
    if nbest and outputs.nbest:  # a predictions file's run has none
        # the largest file (every question's n candidates), written compact
        write_json_atomic(folder / "nbest_predictions.json", outputs.nbest, indent=None)
    if outputs.null_odds:
        write_json_atomic(folder / "null_odds.json", outputs.null_odds)
    if not result.labelled:
        return
    write_jsonl_atomic(folder / RECORDS_FILE, result.records)
    if plots and result.records:
        plot_slices(
            result.slices,
            folder / "slices.png",
            title=f"{result.name}: F1 by slice ({len(result.records)} questions)",
            overall_f1=float(result.scores["f1"]),
        )
    if plots and result.selective:
        plot_selective(
            folder / SELECTIVE_PLOT,
            title=result.name,  # the plot adds "selective answering (<n> questions)"
            confidence=np.array([r["confidence"] for r in result.records], dtype=np.float64),
            correct=np.array([r["exact"] == 100.0 for r in result.records], dtype=bool),
            threshold_curve=result.threshold_curve,
            chosen_threshold=result.null_threshold,
        )


def metrics_payload(results: Sequence[EvaluationResult], extra: dict[str, Any]) -> dict[str, Any]:
    """metrics.json: ``extra``, the validation set's scores flat (or the first set's), and
    every set by name under ``sets``."""
    scored = [r for r in results if r.labelled]
    main = next((r for r in scored if r.name == VALIDATION), scored[0] if scored else None)
    flat: dict[str, Any] = {}
    if main is not None:
        flat = {"split": main.name, "unscored": main.unscored, **main.scores}
        for key, (low, high) in main.intervals.items():
            flat[f"{key}_ci_low"], flat[f"{key}_ci_high"] = low, high
    return {**extra, **flat, "sets": {r.name: r.summary() for r in scored}}


def write_metrics(
    output_dir: str | Path, results: Sequence[EvaluationResult], extra: dict[str, Any]
) -> None:
    write_json_atomic(Path(output_dir) / METRICS_FILE, metrics_payload(results, extra))


class RunFolderWriter:
    """A receiver of evaluation results that writes them to the run folder (rank 0 only).

    Mid-training evaluations are written with ``status: training`` (progress, which the
    compare command tells from a finished run's ``completed``): metrics.json, the answers
    and the per-question records. The n-best lists and the plots, the slowest files (about
    2 s a validation for 1,000 questions: most of a frozen head's epoch on its encoder
    cache), are written by the final evaluation only.
    """

    def __init__(
        self, output_dir: str | Path, *, plots: bool = True, system_name: str | None = None
    ):
        self.output_dir = Path(output_dir)
        self.plots = plots
        self.system_name = system_name  # metrics.json "system": qa-compare's label

    def __call__(self, results: list[EvaluationResult], trainer: pl.Trainer) -> None:
        if not trainer.is_global_zero:
            return
        final = trainer.state.fn != TrainerFn.FITTING
        for result in results:
            folder = set_folder(self.output_dir, result.name)
            write_set_files(folder, result, plots=self.plots and final, nbest=final)
        if not any(r.labelled for r in results):
            return
        status = "completed" if final else "training"
        extra = {
            "status": status,
            "system": self.system_name,
            "epoch": trainer.current_epoch,
            "global_step": trainer.global_step,
        }
        write_metrics(self.output_dir, results, extra)
