"""W&B Tables of an evaluation: sample predictions (right or wrong) and the slice scores.

The sample is drawn with a fixed seed from the set's questions, so every run of a sweep
shows the same questions and their rows can be compared side by side in W&B.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytorch_lightning.loggers import Logger, WandbLogger
from pytorch_lightning.trainer.states import TrainerFn

from qa_lightning.evaluation.sets import set_folder
from qa_lightning.tracking.run_folder import SELECTIVE_PLOT

COLUMNS = ["id", "question", "gold", "predicted", "correct", "f1"]
SLICE_COLUMNS = ["family", "slice", "count", "exact", "f1", "f1_ci_low", "f1_ci_high"]
NO_ANSWER = "(no answer)"


def sample_prediction_rows(
    records: Sequence[Mapping[str, Any]], *, n: int, seed: int = 0
) -> list[list[Any]]:
    """Rows of :data:`COLUMNS` for ``n`` of a set's per-question records, picked by ``seed``
    (in the set's order). ``correct`` is the official exact match and ``f1`` the official
    F1 (0..100) against the best gold answer: the numbers the scores are made of."""
    picked = sorted(random.Random(seed).sample(range(len(records)), min(n, len(records))))
    return [
        [
            str(records[i]["id"]),
            records[i]["question"],
            " | ".join(records[i]["gold_answers"]) or NO_ANSWER,
            records[i]["prediction"] or NO_ANSWER,
            records[i]["exact"] == 100.0,
            round(records[i]["f1"], 2),
        ]
        for i in picked
    ]


def slice_rows(slices: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[list[Any]]:
    """Rows of :data:`SLICE_COLUMNS`, one per slice of every family."""
    rows = []
    for family, labels in slices.items():
        for label, s in labels.items():
            low, high = s.get("f1_ci", (float("nan"), float("nan")))
            rows.append([family, label, s["count"], s["exact"], s["f1"], low, high])
    return rows


def log_evaluation_tables(
    loggers: list[Logger],
    results: Sequence[Any],
    *,
    samples: int,
    output_dir: str | Path | None = None,
) -> None:
    """Per set: ``<prefix>/predictions`` (``samples`` rows, 0: none), ``<prefix>/slices`` and,
    where the run folder ``output_dir`` has the set's selective.png, ``<prefix>/selective``."""
    for logger in loggers:
        if not isinstance(logger, WandbLogger):
            continue
        for result in results:
            if not result.labelled:
                continue
            if samples:
                rows = sample_prediction_rows(result.records, n=samples)
                logger.log_table(key=f"{result.prefix}/predictions", columns=COLUMNS, data=rows)
            logger.log_table(
                key=f"{result.prefix}/slices", columns=SLICE_COLUMNS, data=slice_rows(result.slices)
            )
            if output_dir is None:
                continue
            plot = set_folder(output_dir, result.name) / SELECTIVE_PLOT
            if plot.is_file():
                logger.log_image(key=f"{result.prefix}/selective", images=[str(plot)])


def final_evaluation_tables(loggers: list[Logger], cfg: Any) -> Callable[..., None]:
    """A receiver of evaluation results that logs the tables of the final evaluation
    (not those of mid-training validations), with ``logger.wandb.prediction_samples`` rows."""
    wandb_cfg = cfg.logger.get("wandb")
    samples = int(wandb_cfg.prediction_samples) if wandb_cfg is not None else 0

    def receive(results: Sequence[Any], trainer: Any) -> None:
        if trainer.state.fn != TrainerFn.FITTING:
            log_evaluation_tables(
                loggers, results, samples=samples, output_dir=cfg.paths.output_dir
            )

    return receive
