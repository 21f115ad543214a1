"""SQuAD v1.1 as an ``evaluate`` module: the Hub ``squad`` interface, our official scorer.

The Hub module cannot be fetched offline; this one takes the same inputs and returns the
same keys, and scores with :func:`qa_lightning.evaluation.scoring.squad_scores` so that the
project keeps a single scorer. ``compute(..., language="zh")`` scores another language's
answers by the MLQA script's rules (default ``"en"``: SQuAD's).
"""

from __future__ import annotations

import evaluate

from qa_lightning.evaluation.languages import check_language
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
    language: the answers' language, which picks the normalisation before matching:
        "en" (default) SQuAD's official rules; "es", "de", "vi", "ar", "hi", "zh" the MLQA
        evaluation script's (Unicode punctuation, the language's articles; "zh" splits
        Chinese into characters, so a partial answer gets partial F1). Another value
        raises ValueError.
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

    def compute(self, *, language: str = "en", **kwargs):
        """``evaluate``'s ``compute``, with ``language`` checked before any input is stored
        (a failing ``_compute`` would leave its cache file and lock behind)."""
        check_language(language)
        return super().compute(language=language, **kwargs)

    def _compute(self, predictions, references, language: str = "en") -> dict[str, float]:
        by_id = {p["id"]: p["prediction_text"] for p in predictions}
        scores = squad_scores(references, by_id, version_2=False, language=language)
        return {"exact_match": scores["exact"], "f1": scores["f1"]}
