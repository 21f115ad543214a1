"""A W&B Table of sample predictions: question, gold, predicted, right or wrong.

The sample is drawn with a fixed seed from the evaluation examples, so every run of a
sweep shows the same questions and their rows can be compared side by side in W&B.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from pytorch_lightning.loggers import Logger, WandbLogger

from qa_lightning.evaluation.scoring import score_prediction

COLUMNS = ["id", "question", "gold", "predicted", "correct", "f1"]
NO_ANSWER = "(no answer)"
TABLE_KEY = "val/predictions"


def sample_prediction_rows(
    examples: Any,
    predictions: Mapping[str, str],
    *,
    version_2: bool,
    n: int,
    seed: int = 0,
) -> list[list[Any]]:
    """Rows of :data:`COLUMNS` for ``n`` examples picked by ``seed`` (in dataset order).

    ``correct`` is the official exact match and ``f1`` the official F1 (0..100) against
    the best gold answer, the same rules as the reported scores.
    """
    picked = sorted(random.Random(seed).sample(range(len(examples)), min(n, len(examples))))
    rows = []
    for row in examples.select(picked):
        golds = list(row["answers"]["text"]) if row["answers"] else []
        predicted = predictions.get(str(row["id"]))
        if predicted is None:  # not evaluated (a partial validation): nothing to show
            continue
        exact, f1 = score_prediction(predicted, golds, version_2=version_2)
        rows.append(
            [
                str(row["id"]),
                row["question"],
                " | ".join(golds) or NO_ANSWER,
                predicted or NO_ANSWER,
                bool(exact),
                round(100.0 * f1, 2),
            ]
        )
    return rows


def log_prediction_table(loggers: list[Logger], rows: list[list[Any]]) -> None:
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            logger.log_table(key=TABLE_KEY, columns=COLUMNS, data=rows)
