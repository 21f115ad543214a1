"""SQuAD v2.0 as an ``evaluate`` module: the Hub ``squad_v2`` interface, our official scorer.

The Hub module cannot be fetched offline; this one takes the same inputs and
``no_answer_threshold`` and returns the same keys, and scores with
:func:`qa_lightning.evaluation.scoring.squad_scores` so that the project keeps a single
scorer (``no_answer_probability`` is its ``null_odds``). ``compute(..., language="zh")``
scores another language's answers by the MLQA script's rules (default ``"en"``: SQuAD's).
"""

from __future__ import annotations

import evaluate

from qa_lightning.evaluation.languages import check_language
from qa_lightning.evaluation.metric_modules import metric_info
from qa_lightning.evaluation.scoring import squad_scores

_CITATION = """\
@inproceedings{Rajpurkar2018KnowWY,
  title={Know What You Don't Know: Unanswerable Questions for SQuAD},
  author={Pranav Rajpurkar and Robin Jia and Percy Liang},
  booktitle={ACL},
  year={2018}
}
"""

_DESCRIPTION = """\
Official SQuAD v2.0 exact match and token F1 with the no-answer threshold and the best
threshold search (qa_lightning's scorer), with the inputs and outputs of the Hugging Face
Hub "squad_v2" metric.
"""

_KWARGS_DESCRIPTION = """\
Args:
    predictions: list of {"id": str, "prediction_text": str, "no_answer_probability": float};
        "" is the answer "no answer"; the probability is stored as float32, as on the Hub.
    references: list of {"id": str, "answers": {"text": [str], "answer_start": [int]}};
        an empty text list marks an unanswerable question.
    no_answer_threshold: questions whose no_answer_probability exceeds it are scored as
        answered "no answer" (default 1.0: never).
    language: the answers' language, which picks the normalisation before matching:
        "en" (default) SQuAD's official rules; "es", "de", "vi", "ar", "hi", "zh" the MLQA
        evaluation script's (Unicode punctuation, the language's articles; "zh" splits
        Chinese into characters, so a partial answer gets partial F1). Another value
        raises ValueError.
Returns (percentages, totals as int):
    exact, f1, total; HasAns_exact, HasAns_f1, HasAns_total and NoAns_exact, NoAns_f1,
    NoAns_total when such questions exist; best_exact, best_exact_thresh, best_f1,
    best_f1_thresh from the official threshold search over the no-answer probabilities.
A question without a prediction scores 0 and is counted (with a warning).
"""


class SquadV2(evaluate.Metric):
    """Hub-compatible ``squad_v2`` metric backed by ``squad_scores(version_2=True)``."""

    def _info(self) -> evaluate.MetricInfo:
        return metric_info(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            version_2=True,
        )

    def compute(self, *, language: str = "en", **kwargs):
        """``evaluate``'s ``compute``, with ``language`` checked before any input is stored
        (a failing ``_compute`` would leave its cache file and lock behind)."""
        check_language(language)
        return super().compute(language=language, **kwargs)

    def _compute(
        self, predictions, references, no_answer_threshold: float = 1.0, language: str = "en"
    ) -> dict:
        by_id = {p["id"]: p["prediction_text"] for p in predictions}
        # Prediction order is kept: the threshold search breaks ties in this order, as the
        # official script does. A null probability (missing value) means "no odds", which
        # the scorer leaves out of the threshold rules.
        null_odds = {
            p["id"]: p["no_answer_probability"]
            for p in predictions
            if p["no_answer_probability"] is not None
        }
        return squad_scores(
            references,
            by_id,
            version_2=True,
            null_odds=null_odds,
            na_prob_thresh=no_answer_threshold,
            language=language,
        )
