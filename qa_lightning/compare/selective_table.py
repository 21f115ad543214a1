"""Selective answering of each setting, and each setting against the best one.

A reader that may abstain is judged by how well its confidences put its wrong answers
last: the area under its risk-coverage curve (AURC, lower is better), its calibration
(ECE) and the share of questions it can answer at 80% and 90% exact match. Each setting's
numbers are the means over its runs of what every run wrote into metrics.json
(``sets.<set>.selective``). The AURC difference to the best setting (the best by the
ranking metric, as in the settings table, or the baseline ``--baseline`` names) is
paired: both settings' runs are scored on the questions all of them answered, the
questions resampled together
(:func:`~qa_lightning.evaluation.selective.paired_aurc_difference`).

A setting with a run without confidences (a folder written before runs recorded them, a
predictions file without probabilities) gets a note saying so instead of numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qa_lightning.compare.runs import RunRecord, read_records
from qa_lightning.compare.settings import Setting
from qa_lightning.compare.table import markdown_table
from qa_lightning.evaluation.selective import paired_aurc_difference

# metrics.json ``selective`` keys shown per setting (percent), and their column names
SHOWN = {
    "aurc": "AURC",
    "coverage_at_80": "coverage at 80% EM",
    "coverage_at_90": "coverage at 90% EM",
    "ece": "ECE",
}
CSV_COLUMNS = (
    "aurc",
    "aurc_vs_best",
    "aurc_vs_best_ci_low",
    "aurc_vs_best_ci_high",
    "ece",
    "coverage_at_80",
    "coverage_at_90",
    "aurc_note",
)


@dataclass
class SelectiveRow:
    """One setting: its mean selective numbers, and its AURC minus the best setting's."""

    setting: Setting
    means: dict[str, float] = field(default_factory=dict)  # SHOWN key -> mean over runs
    difference: float = math.nan  # AURC of this setting minus the best's (paired)
    ci_low: float = math.nan
    ci_high: float = math.nan
    questions: int = 0  # questions the difference is on
    note: str | None = None  # why a number is missing


@dataclass
class SelectiveTable:
    set_name: str
    rows: list[SelectiveRow]  # one per setting, in the settings' order (the reference first)
    note: str | None = None  # why the differences (or the whole table) are missing
    versus: str = "best"  # what the reference (the first row) is called

    @property
    def has_numbers(self) -> bool:
        return any(
            not math.isnan(row.difference) or any(not math.isnan(v) for v in row.means.values())
            for row in self.rows
        )


# Confidence (0..1) and correctness (exact match) by question id: one per run of a setting.
RunAnswers = dict[str, tuple[float, bool]]


def run_answers(run: RunRecord, set_name: str) -> RunAnswers | str:
    """{id: (confidence, correct)} of one run's records, or why it has no confidences."""
    records = read_records(run, set_name)
    if records is None:
        return f"job {run.job} has no per-question records for {set_name}"
    if not records:
        return f"job {run.job} scored no question of {set_name}"
    without = [r for r in records.values() if r.get("confidence") is None]
    if len(without) == len(records):
        if all("confidence" not in r for r in records.values()):
            return (
                f"the records of job {run.job} carry no confidences "
                "(written before runs recorded them)"
            )
        return (
            f"job {run.job} gave no confidence for its answers "
            "(e.g. a predictions file without probabilities)"
        )
    if without:
        return f"{len(without)} of {len(records)} answers of job {run.job} have no confidence"
    return {qid: (float(r["confidence"]), float(r["exact"]) == 100.0) for qid, r in records.items()}


def setting_answers(setting: Setting, set_name: str) -> list[RunAnswers] | str:
    """Every run's answers, or why the setting has no confidences (the first run's reason)."""
    runs = []
    for run in setting.runs:
        answers = run_answers(run, set_name)
        if isinstance(answers, str):
            return answers
        runs.append(answers)
    return runs


def _means(setting: Setting, set_name: str) -> dict[str, float]:
    """Mean over runs of each SHOWN number; NaN unless every run wrote it."""
    means = {}
    for key in SHOWN:
        values = [run.set_selective(set_name).get(key) for run in setting.runs]
        numbers = [float(v) for v in values if isinstance(v, int | float)]
        means[key] = float(np.mean(numbers)) if len(numbers) == len(values) else math.nan
    return means


def _common_ids(runs: list[RunAnswers]) -> list[str]:
    """The questions every run answered, in the first run's order."""
    first, *others = runs
    return [qid for qid in first if all(qid in answers for answers in others)]


def _arrays(runs: list[RunAnswers], ids: list[str]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    confidence = [np.array([answers[q][0] for q in ids], dtype=np.float64) for answers in runs]
    correct = [np.array([answers[q][1] for q in ids], dtype=bool) for answers in runs]
    return confidence, correct


def selective_table(
    settings: list[Setting], set_name: str, *, seed: int = 0, versus: str = "best"
) -> SelectiveTable:
    """The selective numbers of ``settings`` (the reference first: the best, or the
    baseline, as ``versus`` says) on ``set_name``, and the paired AURC difference of every
    setting against the first one."""
    if not settings:
        return SelectiveTable(set_name, [], "no completed run", versus)
    answers = [setting_answers(setting, set_name) for setting in settings]
    rows = [SelectiveRow(s, _means(s, set_name)) for s in settings]
    for row, found in zip(rows, answers, strict=True):
        if isinstance(found, str):
            row.note = f"no confidences: {found}"
    if all(isinstance(found, str) for found in answers):
        if len(rows) == 1:
            why = rows[0].note
        else:
            why = f"none of the {len(rows)} settings has confidences (the {versus}: {answers[0]})"
        return SelectiveTable(set_name, rows, why, versus)
    best, best_answers = rows[0], answers[0]
    if isinstance(best_answers, str):
        note = f"no AURC differences: the {versus} setting ({best.setting.label}) has {best.note}"
        return SelectiveTable(set_name, rows, note, versus)
    for row, found in zip(rows[1:], answers[1:], strict=True):
        if isinstance(found, str):
            continue
        ids = _common_ids([*best_answers, *found])
        if not ids:
            row.note = f"no question answered by both this setting and the {versus}"
            continue
        confidence_a, correct_a = _arrays(found, ids)
        confidence_b, correct_b = _arrays(best_answers, ids)
        row.difference, row.ci_low, row.ci_high = paired_aurc_difference(
            confidence_a, correct_a, confidence_b, correct_b, seed=seed
        )
        row.questions = len(ids)
    return SelectiveTable(set_name, rows, versus=versus)


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)


def csv_columns(table: SelectiveTable, setting: Setting) -> dict[str, Any]:
    """settings.csv's selective columns of one setting (None where there is no number)."""
    row = next((r for r in table.rows if r.setting is setting), None)
    if row is None:
        return dict.fromkeys(CSV_COLUMNS)
    return {
        "aurc": _round(row.means.get("aurc", math.nan)),
        "aurc_vs_best": _round(row.difference),
        "aurc_vs_best_ci_low": _round(row.ci_low),
        "aurc_vs_best_ci_high": _round(row.ci_high),
        "ece": _round(row.means.get("ece", math.nan)),
        "coverage_at_80": _round(row.means.get("coverage_at_80", math.nan)),
        "coverage_at_90": _round(row.means.get("coverage_at_90", math.nan)),
        "aurc_note": row.note or "",
    }


def _number(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.2f}"


def markdown_rows(table: SelectiveTable) -> tuple[list[str], list[list[str]]]:
    """Header and formatted rows (the markdown and the terminal)."""
    header = ["setting", "AURC", f"AURC vs {table.versus} [95% CI]", *list(SHOWN.values())[1:]]
    notes = any(row.note for row in table.rows)
    header += ["note"] if notes else []
    rows = []
    for rank, row in enumerate(table.rows, 1):
        if rank == 1:
            versus = f"({table.versus})"
        elif math.isnan(row.difference):
            versus = ""
        else:
            versus = f"{row.difference:+.2f} [{row.ci_low:+.2f}, {row.ci_high:+.2f}]"
        cells = [
            row.setting.label,
            _number(row.means["aurc"]),
            versus,
            *(_number(row.means[key]) for key in list(SHOWN)[1:]),
        ]
        rows.append([*cells, row.note or ""] if notes else cells)
    return header, rows


def how_to_read(versus: str = "best") -> str:
    return (
        "Lower AURC is better (the mean error rate, %, over every confidence threshold); "
        f"**AURC vs {versus}** is the setting minus the {versus} one on the questions both "
        "answered, with a 95% paired bootstrap interval over questions (negative: its "
        f"confidences sort its errors last better than the {versus}'s do); **coverage at "
        "80%/90% EM**: the share "
        "of questions it can answer, most confident first, keeping that exact match; "
        "**ECE**: calibration error of its confidences (0 = calibrated)."
    )


def markdown_section(table: SelectiveTable) -> list[str]:
    """The "Selective answering" section of comparison.md."""
    lines = ["## Selective answering", ""]
    if not table.has_numbers:
        why = table.note or "no run recorded confidences"
        return [*lines, f"No selective-answering numbers on {table.set_name}: {why}."]
    lines += [
        f"Answering only where confident, on {table.set_name} (mean over seeds).",
        "",
        *markdown_table(*markdown_rows(table)),
        "",
        how_to_read(table.versus),
    ]
    if table.note:
        lines += ["", f"- {table.note[0].upper()}{table.note[1:]}."]
    return lines
