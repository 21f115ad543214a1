"""Our SQuAD scorer as Hugging Face ``evaluate`` metric modules, loadable offline.

``evaluate.load("squad")`` / ``evaluate.load("squad_v2")`` fetch their scripts from the Hub,
which the machines we build on cannot reach. These folders hold drop-in modules with the
Hub modules' inputs, ``compute`` arguments and output keys, scored by
:func:`qa_lightning.evaluation.scoring.squad_scores` (one scorer in the project)::

    import evaluate
    from qa_lightning.evaluation.metric_modules import SQUAD_V2, metric_inputs

    predictions, references = metric_inputs(examples, predictions_by_id, null_odds=null_odds)
    evaluate.load(SQUAD_V2).compute(predictions=predictions, references=references)

``SQUAD`` / ``SQUAD_V2`` are folder paths: ``evaluate`` loads a local module from a folder
whose script has the folder's name (``squad/squad.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["SQUAD", "SQUAD_V2", "metric_info", "metric_inputs"]

_HERE = Path(__file__).resolve().parent

SQUAD: str = str(_HERE / "squad")
SQUAD_V2: str = str(_HERE / "squad_v2")


def metric_info(*, description: str, citation: str, inputs_description: str, version_2: bool):
    """The ``evaluate.MetricInfo`` of both modules: the Hub modules' input features
    (``no_answer_probability`` only for v2)."""
    import datasets
    import evaluate

    prediction = {"id": datasets.Value("string"), "prediction_text": datasets.Value("string")}
    if version_2:
        prediction["no_answer_probability"] = datasets.Value("float32")
    answer = {"text": datasets.Value("string"), "answer_start": datasets.Value("int32")}
    features = datasets.Features(
        {
            "predictions": prediction,
            "references": {"id": datasets.Value("string"), "answers": datasets.Sequence(answer)},
        }
    )
    return evaluate.MetricInfo(
        description=description,
        citation=citation,
        inputs_description=inputs_description,
        features=features,
        codebase_urls=["https://rajpurkar.github.io/SQuAD-explorer/"],
        reference_urls=["https://rajpurkar.github.io/SQuAD-explorer/"],
    )


def _example_rows(examples: Any) -> list[tuple[str, dict[str, list]]]:
    """(id, answers) per example of a ``datasets.Dataset``, a column mapping or a list of rows."""
    if hasattr(examples, "select_columns") and hasattr(examples, "with_format"):
        columns = examples.select_columns(["id", "answers"]).with_format(None)[:]
        ids, answers = columns["id"], columns["answers"]
    elif isinstance(examples, Mapping):
        ids, answers = examples["id"], examples["answers"]
    else:
        ids = [row["id"] for row in examples]
        answers = [row["answers"] for row in examples]
    rows = []
    for qid, ans in zip(ids, answers, strict=True):
        ans = ans or {"text": [], "answer_start": []}
        rows.append(
            (
                str(qid),
                {
                    "text": [str(t) for t in ans["text"]],
                    "answer_start": [int(s) for s in ans["answer_start"]],
                },
            )
        )
    return rows


def metric_inputs(
    examples: Any,
    predictions: Mapping[str, str],
    *,
    null_odds: Mapping[str, float] | None = None,
) -> tuple[list[dict], list[dict]]:
    """``(predictions, references)`` lists for ``compute`` of the squad / squad_v2 modules.

    ``examples``: a ``datasets.Dataset`` (or rows / columns) with ``id`` and ``answers``;
    ``predictions``: {id: text}; ``null_odds``: {id: no-answer odds} for squad_v2 (each
    prediction then carries ``no_answer_probability``, which squad_v2 requires).

    Both lists follow the examples' order. ``evaluate`` stores predictions and references
    as rows of one table, so they must be equally long: a question without a prediction
    (or, with ``null_odds``, without odds) raises ``ValueError`` rather than being padded
    with a made-up answer ("" means "no answer" in v2). Predictions for ids that are not in
    ``examples`` are left out, as the scorer would ignore them.
    """
    rows = _example_rows(examples)
    references = [{"id": qid, "answers": answers} for qid, answers in rows]
    no_prediction = [qid for qid, _ in rows if qid not in predictions]
    if no_prediction:
        raise ValueError(
            f"{len(no_prediction)} of {len(rows)} questions have no prediction, e.g. "
            f"{no_prediction[:3]}; evaluate takes one prediction per reference: predict "
            "every question or select the examples that were predicted"
        )
    no_odds = [qid for qid, _ in rows if null_odds is not None and qid not in null_odds]
    if no_odds:
        raise ValueError(
            f"{len(no_odds)} of {len(rows)} questions have no null odds (squad_v2 needs "
            f"no_answer_probability for every prediction), e.g. {no_odds[:3]}"
        )
    preds: list[dict] = []
    for qid, _ in rows:
        entry: dict[str, Any] = {"id": qid, "prediction_text": str(predictions[qid])}
        if null_odds is not None:
            entry["no_answer_probability"] = float(null_odds[qid])
        preds.append(entry)
    return preds, references
