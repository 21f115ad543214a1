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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from qa_lightning.evaluation.intervals import score_intervals
from qa_lightning.evaluation.metric import QALogitsCollector, decode_complete_examples
from qa_lightning.evaluation.metric_names import SET_SELECTIVE
from qa_lightning.evaluation.postprocessing import Postprocessed
from qa_lightning.evaluation.scoring import (
    per_question_scores,
    score_prediction,
    scores_from_per_question,
)
from qa_lightning.evaluation.selective import (
    ThresholdCurve,
    answer_confidence,
    null_threshold_curve,
    selective_scores,
)
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
    "score_answers",
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
    scored question; ``selective`` the selective-answering numbers of
    :func:`~qa_lightning.evaluation.selective.selective_scores` (empty without confidences)
    and ``threshold_curve`` v2's scores along the null threshold (None without null odds).
    An unlabelled set (predictions only) has answers and nothing else.
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
    selective: dict[str, Any] = field(default_factory=dict)
    threshold_curve: ThresholdCurve | None = None
    language: str = "en"  # the answer normalisation rules it was scored with
    null_threshold: float | None = None  # v2: the null threshold its answers were given with
    # questions a predictions file gave no answer for (scored as ""); 0 for a model's run
    unanswered: int = 0

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
        if self.selective:
            for key in SET_SELECTIVE:
                out[f"{self.prefix}/{key}"] = float(self.selective[key])
            low, high = self.selective["aurc_ci"]
            out[f"{self.prefix}/aurc_ci_low"] = float(low)
            out[f"{self.prefix}/aurc_ci_high"] = float(high)
        return out

    def summary(self) -> dict[str, Any]:
        """What metrics.json keeps of this set."""
        summary = {
            "version_2": self.version_2,
            "language": self.language,
            "examples": self.examples,
            "unscored": self.unscored,
            "unanswered": self.unanswered,
            "scores": self.scores,
            "intervals": {k: [lo, hi] for k, (lo, hi) in self.intervals.items()},
            "slices": self.slices,
        }
        if self.selective:
            summary["selective"] = self.selective
        return summary

    def describe(self) -> str:
        """One console line: ``new_wiki: EM 41.2 [38.1, 44.3]  F1 52.7 [50.0, 55.4]  (...)``."""
        if not self.labelled:
            return f"{self.name}: {self.answered} of {self.examples} questions answered"
        parts = []
        for key, label in (("exact", "EM"), ("f1", "F1")):
            value = self.scores.get(key, float("nan"))
            low, high = self.intervals.get(key, (float("nan"), float("nan")))
            parts.append(f"{label} {value:.2f} [{low:.2f}, {high:.2f}]")
        if self.selective:
            low, high = self.selective["aurc_ci"]
            aurc = self.selective["aurc"]
            parts.append(
                f"AURC {aurc:.2f} [{low:.2f}, {high:.2f}]  ECE {self.selective['ece']:.2f}"
            )
        total = int(self.scores.get("total", 0))
        return f"{self.name}: {'  '.join(parts)}  ({total} of {self.examples} questions)"


def score_decoded(
    name: str,
    examples: Any,
    windows: np.ndarray | None,
    outputs: Postprocessed,
    *,
    version_2: bool,
    null_score_diff_threshold: float = 0.0,
    total_examples: int | None = None,
    seed: int = 0,
    slices: Sequence[Slice] = DEFAULT_SLICES,
    language: str = "en",
) -> EvaluationResult:
    """Official scores, intervals, slices, selective answering and per-question records of
    decoded answers.

    ``examples`` are the scored questions (every one with an answer in ``outputs``) and
    ``windows`` their window counts (None: unknown, a predictions file; the families that
    need them are left out). For v2 the official no-answer override uses
    ``null_score_diff_threshold``, so it agrees with the predictions themselves. ``slices``:
    the families each question is labelled with (``evaluation.slices``); ``language``: the
    answer normalisation rules (``data.language``, ``data.eval_sets.<name>.language``).
    The selective-answering numbers need every answer's probability (``outputs.nbest``).
    """
    null_odds = outputs.null_odds if version_2 and outputs.null_odds else None
    pq = per_question_scores(
        examples,
        outputs.predictions,
        version_2=version_2,
        null_odds=null_odds,
        na_prob_thresh=null_score_diff_threshold,
        language=language,
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
    confidence = [
        answer_confidence(outputs.predictions[q], outputs.nbest.get(q, [])) for q in pq.ids
    ]
    questions = [
        Question(
            question=columns["question"][i],
            answers=tuple(gold),
            windows=int(windows[i]) if windows is not None else 0,
            version_2=version_2,
            id=qid,
            title=columns["title"][i] if "title" in columns else "",
            context=columns["context"][i] if "context" in columns else "",
            prediction=outputs.predictions[qid],
        )
        for i, (qid, gold) in enumerate(zip(pq.ids, golds, strict=True))
    ]
    labels = label_questions(
        questions, slices, version_2=version_2, windows_known=windows is not None
    )
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
            "confidence": confidence[i],
            **labels[i],
        }
        for i, (qid, question, gold) in enumerate(
            zip(pq.ids, columns["question"], golds, strict=True)
        )
    ]
    selective: dict[str, Any] = {}
    if pq.ids and all(c is not None for c in confidence):
        correct = pq.exact == 1.0
        selective = selective_scores(np.array(confidence, dtype=np.float64), correct, seed=seed)
    curve = None
    if null_odds:
        span_f1 = [
            score_prediction(_best_span(outputs, qid), gold, version_2=True, language=language)[1]
            for qid, gold in zip(pq.ids, golds, strict=True)
        ]
        odds = np.array([null_odds.get(q, np.nan) for q in pq.ids], dtype=np.float64)
        known = ~np.isnan(odds)  # a na_prob file may leave questions out: not on the curve
        curve = null_threshold_curve(
            odds[known], pq.has_answer[known], np.array(span_f1, dtype=np.float64)[known]
        )
    return EvaluationResult(
        name=name,
        version_2=version_2,
        examples=len(examples) if total_examples is None else total_examples,
        outputs=outputs,
        scores=scores,
        intervals=score_intervals(per_question, seed=seed),
        slices=slice_scores(labels, exact, f1, seed=seed, slices=slices),
        records=records,
        selective=selective,
        threshold_curve=curve,
        language=language,
        null_threshold=null_score_diff_threshold if version_2 else None,
    )


# The official v2.0 script's --na-prob-thresh default: a na_prob file holds probabilities,
# so nothing is forced to "no answer" unless the user's file says more than certain.
OFFICIAL_NA_PROB_THRESH = 1.0


def score_answers(
    name: str,
    examples: Any,
    answers: Mapping[str, str],
    *,
    version_2: bool,
    null_odds: Mapping[str, float] | None = None,
    seed: int = 0,
    slices: Sequence[Slice] = DEFAULT_SLICES,
    language: str = "en",
) -> EvaluationResult:
    """Any system's answers ({question id: text}, the official predictions file) scored like
    a model's: official scores, intervals, slices (those that need no windows), records.

    A question ``answers`` lacks counts as answered ``""`` (the official v1.1 script scores
    it 0; on v2.0 it abstains) and is counted in ``unanswered``. ``null_odds``: the official
    na_prob file (v2), used with the script's default threshold for best_exact/best_f1 and
    the null-threshold curve. No confidences: no selective-answering numbers.
    """
    ids = [str(qid) for qid in examples["id"]]
    filled = {qid: str(answers.get(qid, "")) for qid in ids}
    odds = {qid: float(null_odds[qid]) for qid in ids if qid in null_odds} if null_odds else {}
    result = score_decoded(
        name,
        examples,
        None,
        Postprocessed(filled, {}, odds if version_2 else {}),
        version_2=version_2,
        null_score_diff_threshold=OFFICIAL_NA_PROB_THRESH,
        seed=seed,
        slices=slices,
        language=language,
    )
    return dataclasses.replace(result, unanswered=sum(qid not in answers for qid in ids))


def _best_span(outputs: Postprocessed, qid: str) -> str:
    """The question's answer if it is a span, else its best non-empty n-best text ("" if
    none): what it answers when the null threshold lets it (v2's threshold curve)."""
    prediction = outputs.predictions[qid]
    if prediction:
        return prediction
    return next((c["text"] for c in outputs.nbest.get(qid, []) if c["text"]), "")


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
        language: the answer normalisation rules of the set's scores (``en``: SQuAD's).
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
        language: str = "en",
    ):
        self.name = name
        self.language = language
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
                language=self.language,
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
            language=self.language,
        )
