"""One evaluation set: logits in, an :class:`EvaluationResult` out.

The data side builds an :class:`Evaluator` per evaluation set from that set's examples,
features and decoding settings. Whoever runs the model feeds it logits with their feature
index (:meth:`Evaluator.update`, any order, any sampler, any number of processes: the
torchmetrics state is gathered and de-duplicated) and asks for the result once
(:meth:`Evaluator.compute`). The result is a plain object handed on to whoever logs or
writes it; nothing here logs, and nothing is left behind for another layer to read back.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from qa_lightning.evaluation.intervals import score_intervals
from qa_lightning.evaluation.metric import QALogitsCollector, decode_complete_examples
from qa_lightning.evaluation.postprocessing import Postprocessed
from qa_lightning.evaluation.scoring import per_question_scores, scores_from_per_question
from qa_lightning.evaluation.sets import PREDICT, VALIDATION, metric_prefix
from qa_lightning.evaluation.slices import (
    DEFAULT_SLICES,
    Question,
    Slice,
    label_questions,
    slice_scores,
)

__all__ = [
    "PREDICT",
    "VALIDATION",
    "DecodingSettings",
    "EvaluationResult",
    "Evaluator",
    "score_decoded",
]


@dataclass(frozen=True)
class DecodingSettings:
    """How logits become answers (the ``data.*`` keys of the same names)."""

    n_best_size: int = 20
    max_answer_length: int = 30
    null_score_diff_threshold: float = 0.0


@dataclass
class EvaluationResult:
    """Everything one evaluation of one set produced.

    ``scores`` are the official ones (percent, ``total`` = questions scored); ``intervals``
    95% bootstrap intervals over questions for EM/F1 (and v2's HasAns/NoAns F1);
    ``slices`` family -> label -> {count, exact, f1, f1_ci}; ``records`` one dict per
    scored question. An unlabelled set (predictions only) has answers and nothing else.
    """

    name: str
    version_2: bool
    examples: int  # questions in the set; ``scores["total"]`` of them were scored
    outputs: Postprocessed
    labelled: bool = True
    scores: dict[str, float | int] = field(default_factory=dict)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    slices: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return metric_prefix(self.name)

    @property
    def answered(self) -> int:
        """Questions whose windows were all evaluated (and so have an answer)."""
        return len(self.outputs.predictions)

    @property
    def unscored(self) -> int:
        """Questions left out of the scores: some of their windows were not evaluated (a
        partial loop: ``limit_val_batches``, a sanity check)."""
        return self.examples - int(self.scores.get("total", 0)) if self.labelled else 0

    def metrics(self) -> dict[str, float]:
        """Flat, prefixed numbers for loggers: ``val/f1``, ``val/f1_ci_low``, ..."""
        out = {f"{self.prefix}/{k}": float(v) for k, v in self.scores.items()}
        for key, (low, high) in self.intervals.items():
            out[f"{self.prefix}/{key}_ci_low"] = float(low)
            out[f"{self.prefix}/{key}_ci_high"] = float(high)
        return out

    def summary(self) -> dict[str, Any]:
        """What metrics.json keeps of this set."""
        return {
            "version_2": self.version_2,
            "examples": self.examples,
            "unscored": self.unscored,
            "scores": self.scores,
            "intervals": {k: [lo, hi] for k, (lo, hi) in self.intervals.items()},
            "slices": self.slices,
        }

    def describe(self) -> str:
        """One console line: ``new_wiki: EM 41.2 [38.1, 44.3]  F1 52.7 [50.0, 55.4]  (...)``."""
        if not self.labelled:
            return f"{self.name}: {self.answered} of {self.examples} questions answered"
        parts = []
        for key, label in (("exact", "EM"), ("f1", "F1")):
            value = self.scores.get(key, float("nan"))
            low, high = self.intervals.get(key, (float("nan"), float("nan")))
            parts.append(f"{label} {value:.2f} [{low:.2f}, {high:.2f}]")
        total = int(self.scores.get("total", 0))
        return f"{self.name}: {'  '.join(parts)}  ({total} of {self.examples} questions)"


def score_decoded(
    name: str,
    examples: Any,
    windows: np.ndarray,
    outputs: Postprocessed,
    *,
    version_2: bool,
    null_score_diff_threshold: float = 0.0,
    total_examples: int | None = None,
    seed: int = 0,
    slices: Sequence[Slice] = DEFAULT_SLICES,
) -> EvaluationResult:
    """Official scores, intervals, slices and per-question records of decoded answers.

    ``examples`` are the scored questions (every one with an answer in ``outputs``) and
    ``windows`` their window counts. For v2 the official no-answer override uses
    ``null_score_diff_threshold``, so it agrees with the predictions themselves. ``slices``:
    the families each question is labelled with (``evaluation.slices``).
    """
    null_odds = outputs.null_odds if version_2 else None
    pq = per_question_scores(
        examples,
        outputs.predictions,
        version_2=version_2,
        null_odds=null_odds,
        na_prob_thresh=null_score_diff_threshold,
    )
    scores = scores_from_per_question(pq, version_2=version_2, null_odds=null_odds)
    exact, f1 = 100.0 * pq.exact, 100.0 * pq.f1
    per_question = {"exact": exact, "f1": f1}
    if version_2:
        per_question["HasAns_f1"] = f1[pq.has_answer]
        per_question["NoAns_f1"] = f1[~pq.has_answer]
    wanted = ["question", "answers", "title", "context"]
    columns = examples.select_columns([c for c in wanted if c in examples.column_names]).to_dict()
    golds = [list(a["text"]) for a in columns["answers"]]
    questions = [
        Question(
            question=columns["question"][i],
            answers=tuple(gold),
            windows=int(windows[i]),
            version_2=version_2,
            id=qid,
            title=columns["title"][i] if "title" in columns else "",
            context=columns["context"][i] if "context" in columns else "",
            prediction=outputs.predictions[qid],
        )
        for i, (qid, gold) in enumerate(zip(pq.ids, golds, strict=True))
    ]
    labels = label_questions(questions, slices, version_2=version_2)
    records = [
        {
            "id": qid,
            "question": question,
            "gold_answers": gold,
            "prediction": outputs.predictions[qid],
            "exact": float(exact[i]),
            "f1": float(f1[i]),
            "has_answer": bool(pq.has_answer[i]),
            "null_odds": outputs.null_odds.get(qid) if version_2 else None,
            **labels[i],
        }
        for i, (qid, question, gold) in enumerate(
            zip(pq.ids, columns["question"], golds, strict=True)
        )
    ]
    return EvaluationResult(
        name=name,
        version_2=version_2,
        examples=len(examples) if total_examples is None else total_examples,
        outputs=outputs,
        scores=scores,
        intervals=score_intervals(per_question, seed=seed),
        slices=slice_scores(labels, exact, f1, seed=seed, slices=slices),
        records=records,
    )


class Evaluator:
    """Collects the logits of one evaluation set and turns them into its result.

    Args:
        name: the set's name (``validation`` is logged as ``val/...``, others as
            ``eval/<name>/...``).
        examples: the set's examples, as the data module read them.
        features: the set's eval features (``example_index``, offsets, ``cls_index``), as
            the data module built them.
        version_2: score with the SQuAD 2.0 rules (no-answer predictions, null odds).
        max_length: the features' window size (logit rows are padded to it).
        labelled: ``False`` for a prediction-only set: answers, no scores.
        seed: of the bootstrap intervals (the same seed gives the same intervals).
        slices: the slice families of the result (``evaluation.slices``; the built-ins).
    """

    def __init__(
        self,
        name: str,
        examples: Any,
        features: Any,
        *,
        version_2: bool,
        max_length: int,
        decoding: DecodingSettings | None = None,
        labelled: bool = True,
        seed: int = 0,
        slices: Sequence[Slice] = DEFAULT_SLICES,
    ):
        self.name = name
        self.examples = examples
        self.features = features
        self.version_2 = version_2
        self.decoding = decoding or DecodingSettings()
        self.labelled = labelled
        self.seed = seed
        self.slices = tuple(slices)
        self.collector = QALogitsCollector(max_length=max_length)

    def to(self, device: torch.device | str) -> Evaluator:
        """Keep the collector's state where the logits are (NCCL gathers device tensors)."""
        self.collector = self.collector.to(device)
        return self

    def update(
        self,
        feature_index: torch.Tensor,
        start_logits: torch.Tensor,
        end_logits: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
    ) -> None:
        self.collector.update(feature_index, start_logits, end_logits, attention_mask)

    def compute(self) -> EvaluationResult:
        """Gather the logits of every process, decode and score; then start afresh.

        Every process returns the same result (the same gathered logits, a seeded
        bootstrap). Only examples all of whose windows were seen are scored.
        """
        with warnings.catch_warnings():
            # A set that got no batch (a sanity check of another set, a partial loop) is
            # computed all the same: it scores nothing, which the result says.
            warnings.filterwarnings("ignore", message=".*was called before the ``update``.*")
            feature_index, start, end = self.collector.compute()
        self.collector.reset()
        decoded = decode_complete_examples(
            self.examples,
            self.features,
            feature_index.numpy(),
            start.numpy(),
            end.numpy(),
            version_2=self.version_2,
            **dataclasses.asdict(self.decoding),
        )
        if not self.labelled:
            return EvaluationResult(
                name=self.name,
                version_2=self.version_2,
                examples=len(self.examples),
                outputs=decoded.outputs,
                labelled=False,
            )
        return score_decoded(
            self.name,
            decoded.examples,
            decoded.windows,
            decoded.outputs,
            version_2=self.version_2,
            null_score_diff_threshold=self.decoding.null_score_diff_threshold,
            total_examples=len(self.examples),
            seed=self.seed,
            slices=self.slices,
        )
