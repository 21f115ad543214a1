"""The runs table: runs sorted by a metric on one evaluation set, one column per varied
parameter, one F1 column per further set (and the system each run scored, when any run
names one)."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa_lightning.compare.runs import COMPLETED, FAILED, RunRecord
from qa_lightning.evaluation.metric_names import HEADLINE_SCORES
from qa_lightning.evaluation.sets import VALIDATION

# Scores shown when any run has them (v2 runs add HasAns/NoAns and the best thresholds).
SCORE_COLUMNS = HEADLINE_SCORES
RUN_COLUMNS = {"train_features_per_second": "train feat/s", "wall_seconds": "wall s"}
NOT_SET = "default"  # a parameter a run did not override: its config default


@dataclass
class Comparison:
    metric: str
    varied: list[str]  # parameters whose value differs between runs: the table's columns
    fixed: dict[str, Any]  # overrides every run shares
    runs: list[RunRecord]  # completed best first, then incomplete, then failed
    scores: list[str]
    set_name: str = VALIDATION  # the evaluation set whose scores are compared
    other_sets: tuple[str, ...] = ()  # further sets the runs scored: an F1 column each

    @property
    def best(self) -> RunRecord | None:
        return next((r for r in self.runs if r.status == COMPLETED), None)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for run in self.runs:
            counts[run.status] = counts.get(run.status, 0) + 1
        return counts


def metric_key(metric: str) -> str:
    """``val/f1`` (a logged name, as in ``optimized_metric``) -> ``f1`` (metrics.json)."""
    return metric.split("/", 1)[1] if "/" in metric else metric


def metric_value(run: RunRecord, metric: str, set_name: str = VALIDATION) -> float:
    value = run.set_scores(set_name).get(metric_key(metric))
    return float(value) if isinstance(value, int | float) else math.nan


def compare(records: list[RunRecord], metric: str = "f1", set_name: str = VALIDATION) -> Comparison:
    """Runs sorted by ``metric`` on ``set_name``; raises if no run scored that set."""
    keys: list[str] = []
    for run in records:
        keys += [k for k in run.params if k not in keys]
    varied, fixed = [], {}
    for key in keys:
        values = {repr(run.params.get(key, NOT_SET)) for run in records}
        if len(values) > 1:
            varied.append(key)
        else:
            fixed[key] = records[0].params[key]

    status_order = {COMPLETED: 0, FAILED: 2}

    def order(run: RunRecord) -> tuple:
        value = metric_value(run, metric, set_name)
        missing = math.isnan(value)
        return (status_order.get(run.status, 1), missing, 0.0 if missing else -value)

    all_sets: list[str] = []
    for run in records:
        all_sets += [name for name in run.set_names() if name not in all_sets]
    if set_name != VALIDATION and set_name not in all_sets:
        scored = ", ".join(all_sets) or "none"
        raise ValueError(f"no run scored the evaluation set {set_name!r} (sets scored: {scored})")
    scores = [s for s in SCORE_COLUMNS if any(s in r.set_scores(set_name) for r in records)]
    others = tuple(name for name in all_sets if name != set_name)
    return Comparison(
        metric_key(metric),
        varied,
        fixed,
        sorted(records, key=order),
        scores,
        set_name=set_name,
        other_sets=others,
    )


def set_column(name: str) -> str:
    """The column of another evaluation set's F1: ``new_wiki f1``."""
    return f"{name} f1"


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "null"
    return str(value)


def table_rows(comparison: Comparison, *, digits: int = 2) -> tuple[list[str], list[list[str]]]:
    """Header and rows as strings, shared by the markdown, CSV and terminal tables."""
    systems = any(run.system for run in comparison.runs)
    header = [
        "rank",
        "job",
        *(["system"] if systems else []),
        "status",
        *comparison.varied,
        *comparison.scores,
        *map(set_column, comparison.other_sets),
        *RUN_COLUMNS.values(),
    ]
    rows = []
    rank = 0
    for run in comparison.runs:
        rank += run.status == COMPLETED
        values = [metric_value(run, s, comparison.set_name) for s in comparison.scores]
        values += [metric_value(run, "f1", name) for name in comparison.other_sets]
        scores = ["" if math.isnan(v) else f"{v:.{digits}f}" for v in values]
        extra = [format_value(run.metrics.get(k, "")) for k in RUN_COLUMNS]
        rows.append(
            [
                str(rank) if run.status == COMPLETED else "",
                run.job,
                *([run.system or ""] if systems else []),
                run.status.upper() if run.status == FAILED else run.status,
                *(format_value(run.params.get(k, NOT_SET)) for k in comparison.varied),
                *scores,
                *extra,
            ]
        )
    return header, rows


def write_csv(comparison: Comparison, path: Path) -> None:
    header, rows = table_rows(comparison, digits=4)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*header, "error", "path"])
        for row, run in zip(rows, comparison.runs, strict=True):
            writer.writerow([*row, run.error or "", str(run.path)])


def markdown_table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A markdown table's lines (``|`` escaped, line breaks flattened in cells)."""

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    return [
        "| " + " | ".join(map(cell, header)) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(map(cell, row)) + " |" for row in rows),
    ]


def print_table(comparison: Comparison, *, title: str, console: Any = None) -> None:
    """The runs table on the terminal (a rich ``Console``; a wide one when not given)."""
    from rich.console import Console
    from rich.table import Table

    header, rows = table_rows(comparison)
    table = Table(title=title)
    for name in header:
        left = name in ("job", "system", "status")
        table.add_column(name, justify="left" if left else "right")
    for row, run in zip(rows, comparison.runs, strict=True):
        style = "red" if run.status == FAILED else ("dim" if run.status != COMPLETED else None)
        table.add_row(*row, style=style)
    if console is None:
        console = Console()
        if not console.is_terminal:  # a log or a pipe: do not squeeze the table into 80 columns
            console = Console(width=max(console.width, 200))
    console.print(table)
    for run in comparison.runs:
        if run.status == FAILED:
            console.print(f"[red]job {run.job} failed:[/red] {run.error}")
