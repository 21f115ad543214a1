"""Each setting against the best one, question by question, with Holm's correction.

A setting's per-question scores are its runs' scores averaged over seeds, so the test over
questions compares the settings' expected answers. It does not see training noise: the
Welch test over seed-level scores (when both settings have two seeds or more) does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from qa_lightning.compare.runs import read_records
from qa_lightning.compare.settings import Setting
from qa_lightning.compare.slice_table import slice_families
from qa_lightning.compare.stats import PairedTest, holm, paired_test, seeds_p_value
from qa_lightning.evaluation.metric_names import RECORD_SCORES

TESTED = RECORD_SCORES  # per-question scores every record carries
ALPHA = 0.05


@dataclass
class SettingScores:
    """A setting's per-question scores on one set, averaged over its runs (seeds)."""

    ids: list[str]
    scores: dict[str, np.ndarray]  # metric -> one value per id (percent)
    records: dict[str, dict]  # id -> the first run's record (question, gold, slice labels)
    predictions: dict[str, list[str]]  # id -> each run's prediction
    # the slice families the runs wrote into metrics.json (the records' label fields), and
    # each family's labels in the order written there (the run's display order)
    families: dict[str, list[str]] = field(default_factory=dict)


def setting_scores(setting: Setting, set_name: str) -> SettingScores | str:
    """The averaged scores, or why there are none (a run without per-question records)."""
    per_run = []
    for run in setting.runs:
        records = read_records(run, set_name)
        if records is None:
            return (
                f"job {run.job} has no per-question records for {set_name} "
                f"({run.records_file(set_name).relative_to(run.path)} is missing: "
                "the folder predates them or the run did not score this set)"
            )
        per_run.append(records)
    ids = [qid for qid in per_run[0] if all(qid in records for records in per_run[1:])]
    if not ids:
        return "its runs scored no question in common"
    scores = {
        metric: np.mean(
            [[float(records[qid][metric]) for qid in ids] for records in per_run], axis=0
        )
        for metric in TESTED
    }
    predictions = {qid: [str(records[qid]["prediction"]) for records in per_run] for qid in ids}
    families = slice_families(run.set_slices(set_name) for run in setting.runs)
    return SettingScores(ids, scores, {qid: per_run[0][qid] for qid in ids}, predictions, families)


def common_questions(a: SettingScores, b: SettingScores) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``a`` and in ``b`` of the questions both scored, in ``a``'s order."""
    index_b = {qid: i for i, qid in enumerate(b.ids)}
    rows = [(i, index_b[qid]) for i, qid in enumerate(a.ids) if qid in index_b]
    positions = np.array(rows, dtype=np.int64).reshape(-1, 2)
    return positions[:, 0], positions[:, 1]


@dataclass
class PairedRow:
    """One setting against the best: the tests by metric, Holm-adjusted, and over seeds."""

    setting: Setting
    tests: dict[str, PairedTest] = field(default_factory=dict)
    holm: dict[str, float] = field(default_factory=dict)
    seeds_p: dict[str, float] = field(default_factory=dict)
    note: str | None = None  # why there is no test

    def significant(self, metric: str) -> bool | None:
        p = self.holm.get(metric, math.nan)
        return None if math.isnan(p) else p < ALPHA


@dataclass
class PairedComparison:
    set_name: str
    best: Setting | None  # the reference: the best setting, or the one --baseline named
    rows: list[PairedRow]  # one per setting after the reference, in the settings' order
    note: str | None = None  # why nothing was tested
    versus: str = "best"  # what the reference is called: "best" or "baseline"


def compare_to_best(
    settings: list[Setting], set_name: str, *, seed: int = 0, versus: str = "best"
) -> PairedComparison:
    """Paired tests of every setting against the first one on ``set_name``: the best, or
    the baseline the user named (``versus``: what the reports call it).

    Holm's correction runs over the settings compared, separately for each metric (the
    family is "is this setting worse than the best?", asked once per row).
    """
    if not settings:
        return PairedComparison(set_name, None, [], "no completed run", versus)
    best, others = settings[0], settings[1:]
    best_scores = setting_scores(best, set_name)
    rows = [PairedRow(setting) for setting in others]
    if isinstance(best_scores, str):
        note = f"the {versus} setting: {best_scores}"
        return PairedComparison(set_name, best, rows, note, versus)
    for row in rows:
        scores = setting_scores(row.setting, set_name)
        if isinstance(scores, str):
            row.note = scores
            continue
        ia, ib = common_questions(scores, best_scores)
        if ia.size == 0:
            row.note = f"no question scored by both this setting and the {versus}"
            continue
        for metric in TESTED:
            a, b = scores.scores[metric][ia], best_scores.scores[metric][ib]
            row.tests[metric] = paired_test(a, b, seed=seed)
            row.seeds_p[metric] = seeds_p_value(
                row.setting.values(metric, set_name), best.values(metric, set_name)
            )
    for metric in TESTED:
        adjusted = holm([_p(row.tests, metric) for row in rows])
        for row, p in zip(rows, adjusted, strict=True):
            if not math.isnan(p):
                row.holm[metric] = p
    return PairedComparison(set_name, best, rows, versus=versus)


def _p(tests: Mapping[str, PairedTest], metric: str) -> float:
    test = tests.get(metric)
    return test.p_value if test is not None else math.nan
