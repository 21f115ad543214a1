"""The compare command: collect runs, group seeds into settings, test each setting against
the best one, print the tables and write the report files.

``python -m qa_lightning.compare SWEEP [SWEEP ...]`` writes into the first folder:
``comparison.md`` (everything below), ``settings.csv`` (one row per setting: mean/sd over
seeds, paired differences to the best with intervals and p-values, selective answering),
``comparison.csv`` (one row per run), ``slices.csv`` and the plots. Any run folder counts,
a published system's predictions scored by ``eval.py predictions_file=...`` included.
``python -m qa_lightning.compare diff A B`` lists the questions a change fixed and broke
(:mod:`qa_lightning.compare.diff`).
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa_lightning.compare import setting_table
from qa_lightning.compare.paired import ALPHA, PairedComparison, compare_to_best
from qa_lightning.compare.runs import FAILED, collect_runs
from qa_lightning.compare.selective_table import SelectiveTable, selective_table
from qa_lightning.compare.selective_table import markdown_rows as selective_rows
from qa_lightning.compare.selective_table import markdown_section as selective_section
from qa_lightning.compare.settings import Setting, group_settings, reference_first
from qa_lightning.compare.slice_table import SliceTable, slice_table
from qa_lightning.compare.table import (
    Comparison,
    compare,
    format_value,
    markdown_table,
    print_table,
    table_rows,
    write_csv,
)
from qa_lightning.evaluation.sets import VALIDATION

log = logging.getLogger(__name__)

SLICE_SETTINGS = 3  # settings side by side in the slice table and plot


@dataclass
class ComparisonReport:
    """Everything the compare command computed, handed on to whoever shows it (the files,
    the terminal, the sweep's W&B summary run)."""

    title: str
    comparison: Comparison
    settings: list[Setting]
    paired: PairedComparison
    setting_records: list[dict[str, Any]]  # settings.csv rows
    slices: SliceTable
    selective: SelectiveTable
    unanswered: list[str] = field(default_factory=list)  # runs scored with missing answers
    plots: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def notes(self) -> list[str]:
        """What a reader of the tables should know: runs scored with missing answers, and
        why some rows have no interval or test."""
        notes = list(self.unanswered)
        if self.paired.note:
            notes.append(f"No paired tests: {self.paired.note}.")
        notes += [
            f"No test for {row.setting.label}: {row.note}." for row in self.paired.rows if row.note
        ]
        if self.slices.missing:
            notes.append(
                "No slices for " + "; ".join(self.slices.missing) + " (older run folders)."
            )
        return notes


def unanswered_notes(settings: list[Setting], set_name: str) -> list[str]:
    """One line per run whose predictions file left questions of ``set_name`` unanswered."""
    notes = []
    for setting in settings:
        for run in setting.runs:
            missing = run.set_unanswered(set_name)
            if missing <= 0:
                continue
            name = run.system or setting.label
            if setting.n > 1:
                name += f" (job {run.job})"
            total = run.set_questions(set_name)
            of = f" of {total}" if total is not None else ""
            notes.append(
                f"{name}: {missing}{of} questions had no prediction in its file "
                "(scored as the empty answer)."
            )
    return notes


def slice_records(table: SliceTable) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the side-by-side slice table (F1, one column per setting)."""
    header = ["family", "slice", "questions", *(s.label for s in table.settings)]
    rows = [
        [row.family, row.label, row.count, *(round(v, 2) for v in row.f1)] for row in table.rows
    ]
    return header, rows


def how_to_read(report: ComparisonReport) -> list[str]:
    metric = setting_table.LABELS.get(setting_table.tested_metric(report.comparison.metric), "F1")
    versus = report.paired.versus
    seeds = max((s.n for s in report.settings), default=1)
    lines = [
        "- **n** runs per setting (seeds); scores are mean ± sample sd over them"
        + ("." if seeds > 1 else " (one run each: no sd; `sweep=seeds` adds seeds)."),
        f"- **{metric} vs {versus}**: the setting minus the {versus} one on the questions both "
        "scored, per question averaged over seeds, with a 95% paired bootstrap interval (BCa).",
        "- **p**: paired permutation test of that difference (two-sided); **p (Holm)** "
        f"corrected for the {len(report.paired.rows)} comparisons in the table; "
        f"**significant** when p (Holm) < {ALPHA}.",
        "- These tests see question-to-question noise, not training noise. **p seeds** "
        "(Welch's t-test over the seed-level scores, two seeds or more on both sides) does: "
        "a gap that is significant over questions but not over seeds may not survive a "
        "rerun with other seeds.",
    ]
    return lines


def markdown(report: ComparisonReport) -> str:
    comparison = report.comparison
    counts = ", ".join(f"{n} {status}" for status, n in comparison.counts().items())
    seeds = sorted({s.n for s in report.settings})
    lines = [
        f"# {report.title}",
        "",
        f"Evaluation set **{comparison.set_name}**, sorted by mean **{comparison.metric}** "
        f"(higher is better); {len(comparison.runs)} runs ({counts}) in "
        f"{len(report.settings)} settings ({'/'.join(map(str, seeds)) or 0} runs each).",
    ]
    if comparison.fixed:
        fixed = ", ".join(f"`{k}={format_value(v)}`" for k, v in comparison.fixed.items())
        lines += ["", f"Shared overrides: {fixed}."]
    lines += ["", "## Settings", ""]
    lines += markdown_table(
        *setting_table.markdown_rows(comparison, report.setting_records, report.paired.versus)
    )
    lines += ["", *how_to_read(report)]
    notes = report.notes()
    if notes:
        lines += ["", *(f"- {note}" for note in notes)]
    lines += ["", *selective_section(report.selective)]
    if report.slices.rows:
        lines += [
            "",
            f"## F1 by slice, top {len(report.slices.settings)} settings",
            "",
            *markdown_table(*slice_records(report.slices)),
        ]
    header, rows = table_rows(comparison)
    lines += ["", "## All runs", "", *markdown_table(header, rows)]
    failed = [r for r in comparison.runs if r.status == FAILED]
    if failed:
        lines += ["", "## Failed jobs", ""]
        lines += [f"- job {r.job}: {r.error}" for r in failed]
    if report.plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{p.stem}]({p.name})" for p in report.plots]
    return "\n".join(lines) + "\n"


def compare_runs(
    paths: list[str | Path],
    *,
    metric: str = "f1",
    set_name: str = VALIDATION,
    out_dir: str | Path | None = None,
    plots: bool = True,
    top: int = 3,
    show: bool = True,
    baseline: str | None = None,
) -> ComparisonReport:
    """Compare the runs under ``paths`` on ``set_name``; write the report into ``out_dir``
    (default: the first path) and return it. ``baseline``: the label or system name of
    the setting every other is tested against (default: the best)."""
    comparison = compare(collect_runs(paths), metric, set_name)
    settings = group_settings(comparison)
    versus = "best"
    if baseline is not None:
        settings, versus = reference_first(settings, baseline), "baseline"
    paired = compare_to_best(settings, set_name, versus=versus)
    selective = selective_table(settings, set_name, versus=versus)
    out = Path(out_dir if out_dir is not None else paths[0])
    out.mkdir(parents=True, exist_ok=True)
    title = f"Comparison of {', '.join(str(p) for p in paths)}"
    report = ComparisonReport(
        title=title,
        comparison=comparison,
        settings=settings,
        paired=paired,
        setting_records=setting_table.setting_records(comparison, settings, paired, selective),
        slices=slice_table(settings[:SLICE_SETTINGS], set_name),
        selective=selective,
        unanswered=unanswered_notes(settings, set_name),
    )
    suffix = "" if set_name == VALIDATION else f"_{set_name}"
    if plots:
        from qa_lightning.compare.plots import (
            plot_metric_vs_params,
            plot_slice_bars,
            plot_training_curves,
        )

        report.plots = plot_metric_vs_params(comparison, settings, out)
        bars = plot_slice_bars(report.slices, out / f"slices{suffix}.png")
        curves = plot_training_curves(comparison, out, top=top)
        report.plots += [p for p in (bars, curves) if p is not None]
    files = {
        "comparison": out / f"comparison{suffix}.csv",
        "settings": out / f"settings{suffix}.csv",
        "slices": out / f"slices{suffix}.csv",
        "markdown": out / f"comparison{suffix}.md",
    }
    write_csv(comparison, files["comparison"])
    setting_table.write_csv(report.setting_records, files["settings"])
    with open(files["slices"], "w", newline="", encoding="utf-8") as f:
        header, rows = slice_records(report.slices)
        csv.writer(f).writerows([header, *rows])
    files["markdown"].write_text(markdown(report), encoding="utf-8")
    report.files = [*files.values(), *report.plots]
    if show:
        print_report(report)
    return report


def print_report(report: ComparisonReport) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:  # a log or a pipe: do not squeeze the table into 80 columns
        console = Console(width=max(console.width, 240))
    print_table(report.comparison, title=report.title, console=console)
    header, rows = setting_table.markdown_rows(
        report.comparison, report.setting_records, report.paired.versus
    )
    table = Table(title=f"Settings on {report.comparison.set_name} (mean ± sd over seeds)")
    for name in header:
        table.add_column(name, justify="left" if name in ("significant",) else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for note in report.notes():
        console.print(note)
    if report.selective.has_numbers:
        header, rows = selective_rows(report.selective)
        table = Table(title=f"Selective answering on {report.comparison.set_name}")
        for name in header:
            table.add_column(name, justify="left" if name in ("setting", "note") else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    if report.selective.note:
        console.print(f"Selective answering: {report.selective.note}.")
    markdown_file = next(p for p in report.files if p.suffix == ".md")
    console.print(f"wrote {markdown_file}, the CSV tables and {len(report.plots)} plot(s)")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["diff"]:
        from qa_lightning.compare.diff import main as diff_main

        diff_main(argv[1:])
        return
    parser = argparse.ArgumentParser(
        prog="python -m qa_lightning.compare",
        description=(
            "Compare run folders: a sweep (multirun/<task>/<time>) or single runs. "
            "'python -m qa_lightning.compare diff A B' lists the questions that changed."
        ),
    )
    parser.add_argument("paths", nargs="+", help="sweep folders or run folders")
    parser.add_argument(
        "--metric", default="f1", help="metrics.json key or logged name (f1, val/exact, ...)"
    )
    parser.add_argument(
        "--set", default=VALIDATION, help="evaluation set to compare on (default: validation)"
    )
    parser.add_argument("--out", help="where to write the report (default: the first path)")
    parser.add_argument("--top", type=int, default=3, help="runs in the training-curves plot")
    parser.add_argument("--no-plots", action="store_true", help="write the tables only")
    parser.add_argument(
        "--baseline",
        help="the setting every other is tested against, by its label or system name "
        "(default: the best)",
    )
    args = parser.parse_args(argv)
    try:
        compare_runs(
            args.paths,
            metric=args.metric,
            set_name=args.set,
            out_dir=args.out,
            plots=not args.no_plots,
            top=args.top,
            baseline=args.baseline,
        )
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f"error: {err}") from None
