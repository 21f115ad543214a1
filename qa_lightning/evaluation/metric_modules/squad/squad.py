"""SQuAD v1.1 as an ``evaluate`` module: the Hub ``squad`` interface, our official scorer.

The Hub module cannot be fetched offline; this one takes the same inputs and returns the
same keys, and scores with :func:`qa_lightning.evaluation.scoring.squad_scores` so that the
project keeps a single scorer.
"""

from __future__ import annotations

import evaluate

from qa_lightning.evaluation.metric_modules import metric_info
from qa_lightning.evaluation.scoring import squad_scores

_CITATION = """\
@inproceedings{Rajpurkar2016SQuAD10,
  title={SQuAD: 100,000+ Questions for Machine Comprehension of Text},
  author={Pranav Rajpurkar and Jian Zhang and Konstantin Lopyrev and Percy Liang},
  booktitle={EMNLP},
  year={2016}
}
"""

_DESCRIPTION = """\
Official SQuAD v1.1 exact match and token F1 (qa_lightning's scorer), with the inputs and
outputs of the Hugging Face Hub "squad" metric.
"""

_KWARGS_DESCRIPTION = """\
Args:
    predictions: list of {"id": str, "prediction_text": str}.
    references: list of {"id": str, "answers": {"text": [str], "answer_start": [int]}};
        answer_start is not used for scoring.
Returns:
    exact_match: percentage of questions whose normalised prediction equals a gold answer.
    f1: mean over questions of the best token F1 against the gold answers (percent).
A question without a prediction scores 0 and is counted (with a warning).
"""


class Squad(evaluate.Metric):
    """Hub-compatible ``squad`` metric backed by ``squad_scores(version_2=False)``."""

    def _info(self) -> evaluate.MetricInfo:
        return metric_info(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            version_2=False,
        )

    def _compute(self, predictions, references) -> dict[str, float]:
        by_id = {p["id"]: p["prediction_text"] for p in predictions}
        scores = squad_scores(references, by_id, version_2=False)
        return {"exact_match": scores["exact"], "f1": scores["f1"]}
