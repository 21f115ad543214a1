"""Run folders as the training entry points write them, built from chosen per-question scores:
``.hydra/overrides.yaml``, ``metrics.json`` (flat validation scores and ``sets``) and each
set's ``per_question.jsonl``. On request the records carry confidences (and metrics.json the
set's ``selective`` numbers computed from them, as the evaluator does), and metrics.json the
``system`` name, the ``source`` of a predictions-file run and the set's ``unanswered``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from qa_lightning.evaluation.selective import selective_scores
from qa_lightning.evaluation.slices import DEFAULT_SLICES, Slice, slice_labels, slice_scores

WH = ("What", "Who", "When", "Where", "Why", "How many")
ANSWERS = ("Paris", "the old bridge", "a very long answer of words")


def questions(n: int) -> list[dict]:
    """``n`` questions q000... with every question type and answer length represented."""
    return [
        {
            "id": f"q{i:03d}",
            "question": f"{WH[i % len(WH)]} is item {i}?",
            "gold_answers": [ANSWERS[(i // len(WH)) % len(ANSWERS)]],
        }
        for i in range(n)
    ]


def set_files(
    folder: Path,
    qs: list[dict],
    exact: np.ndarray,
    f1: np.ndarray,
    *,
    records: bool = True,
    slices: tuple[Slice, ...] = DEFAULT_SLICES,
    confidence: Sequence[float | None] | None = None,
    unanswered: int | None = None,
) -> dict:
    """Write the set's per_question.jsonl into ``folder``; return its metrics.json entry
    (``slices``: the families its questions are labelled with, as ``evaluation.slices``).

    ``confidence``: one per question (None: a null confidence) written into the records;
    when none is null the entry gets ``selective`` as the evaluator computes it. Without
    it the records have no ``confidence`` key (older folders). ``unanswered``: written as
    the set's ``unanswered`` count when given."""
    exact = np.asarray(exact, dtype=float)
    f1 = np.asarray(f1, dtype=float)
    labels = slice_labels(
        [q["question"] for q in qs],
        [q["gold_answers"] for q in qs],
        [1] * len(qs),
        version_2=False,
        slices=slices,
    )
    if records:
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "per_question.jsonl", "w") as f:
            for i, (q, e, s, label) in enumerate(zip(qs, exact, f1, labels, strict=True)):
                prediction = q["gold_answers"][0] if e == 100 else ("wrong" if s == 0 else "near")
                row = {**q, "prediction": prediction, "exact": e, "f1": s, "has_answer": True}
                row["null_odds"] = None
                if confidence is not None:
                    row["confidence"] = confidence[i]
                f.write(json.dumps({**row, **label}) + "\n")
    entry: dict[str, Any] = {
        "version_2": False,
        "examples": len(qs),
        "scores": {"exact": float(exact.mean()), "f1": float(f1.mean()), "total": len(qs)},
        "intervals": {},
        "slices": slice_scores(labels, exact, f1, slices=slices),
    }
    if unanswered is not None:
        entry["unanswered"] = unanswered
    if confidence is not None and all(c is not None for c in confidence):
        entry["selective"] = selective_scores(np.asarray(confidence, dtype=float), exact == 100)
    return entry


def scored_run(
    folder: Path,
    overrides: list[str],
    exact: np.ndarray,
    f1: np.ndarray | None = None,
    *,
    qs: list[dict] | None = None,
    other_sets: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    records: bool = True,
    sets: bool = True,
    slices: tuple[Slice, ...] = DEFAULT_SLICES,
    confidence: Sequence[float | None] | None = None,
    system: str | None = None,
    source: dict[str, Any] | None = None,
    unanswered: int | None = None,
) -> Path:
    """A completed run scored on validation (and ``other_sets``). ``records=False`` leaves
    out per_question.jsonl, ``sets=False`` writes metrics.json as older versions did.
    ``confidence`` and ``unanswered`` are validation's (see :func:`set_files`); ``system``
    and ``source`` go into metrics.json when given."""
    exact = np.asarray(exact, dtype=float)
    f1 = exact if f1 is None else np.asarray(f1, dtype=float)
    qs = qs or questions(len(exact))
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (folder / "config.yaml").write_text("seed: 1\n")
    validation = set_files(
        folder,
        qs,
        exact,
        f1,
        records=records,
        slices=slices,
        confidence=confidence,
        unanswered=unanswered,
    )
    metrics: dict[str, Any] = {"status": "completed", "split": "validation"}
    metrics.update(validation["scores"])
    if system is not None:
        metrics["system"] = system
    if source is not None:
        metrics["source"] = source
    if sets:
        metrics["sets"] = {"validation": validation}
        for name, (e, s) in (other_sets or {}).items():
            metrics["sets"][name] = set_files(
                folder / "eval" / name, questions(len(e)), e, s, records=records
            )
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder
