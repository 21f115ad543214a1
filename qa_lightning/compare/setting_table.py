"""The settings table: mean ± sd over seeds, and each setting against the best one (or
against the baseline the user named).

One row per setting, the reference first (the best, or the baseline), then best mean first;
``rank`` is the place by mean either way. The numbers are kept as numbers (``settings.csv`` and
the W&B table); :func:`markdown_rows` formats them for reading. ``settings.csv`` also holds
each setting's selective-answering columns (:mod:`qa_lightning.compare.selective_table`).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from qa_lightning.compare.paired import ALPHA, PairedComparison
from qa_lightning.compare.selective_table import SelectiveTable, csv_columns
from qa_lightning.compare.settings import Setting, by_mean, setting_params
from qa_lightning.compare.table import Comparison, format_value, set_column

LABELS = {"exact": "EM", "f1": "F1", "HasAns_f1": "HasAns F1", "NoAns_f1": "NoAns F1"}
_SHOWN = ("exact", "f1", "HasAns_f1", "NoAns_f1")


def tested_metric(metric: str) -> str:
    """The paired test that decides "significant": EM when sorting by EM, else F1."""
    return "exact" if metric == "exact" else "f1"


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)


def setting_records(
    comparison: Comparison,
    settings: list[Setting],
    paired: PairedComparison,
    selective: SelectiveTable | None = None,
) -> list[dict[str, Any]]:
    """One dict per setting: parameters (and the system, when any setting names one), n,
    mean/sd per score, other sets' F1, tests, and the selective columns of ``selective``."""
    keys = setting_params(comparison)
    systems = any(setting.system for setting in settings)
    shown = [s for s in _SHOWN if s in comparison.scores]
    rows_by_setting = {id(row.setting): row for row in paired.rows}
    decisive = tested_metric(comparison.metric)
    ranks = {
        id(s): rank
        for rank, s in enumerate(by_mean(settings, comparison.metric, comparison.set_name), 1)
    }
    records = []
    for place, setting in enumerate(settings):
        record: dict[str, Any] = {"rank": ranks[id(setting)], "setting": setting.label}
        if systems:
            record["system"] = setting.system or ""
        record.update({k: format_value(setting.params.get(k)) for k in keys})
        record["n"] = setting.n
        for score in shown:
            record[f"{score}_mean"] = _round(setting.mean(score, comparison.set_name))
            record[f"{score}_sd"] = _round(setting.sd(score, comparison.set_name))
        for name in comparison.other_sets:
            record[f"{set_column(name)}_mean"] = _round(setting.mean("f1", name))
        row = rows_by_setting.get(id(setting))
        for metric in ("f1", "exact"):
            test = row.tests.get(metric) if row is not None else None
            record[f"{metric}_diff"] = _round(test.difference) if test else None
            record[f"{metric}_ci_low"] = _round(test.ci_low) if test else None
            record[f"{metric}_ci_high"] = _round(test.ci_high) if test else None
            record[f"{metric}_p"] = _round(test.p_value) if test else None
            record[f"{metric}_p_holm"] = (
                _round(row.holm[metric]) if row is not None and metric in row.holm else None
            )
            seeds_p = row.seeds_p.get(metric, math.nan) if row is not None else math.nan
            record[f"{metric}_seeds_p"] = _round(seeds_p)
        if place == 0:  # the reference: "best", or "baseline"
            record["significant"] = paired.versus
        elif row is not None and row.significant(decisive) is not None:
            record["significant"] = "yes" if row.significant(decisive) else "no"
        else:
            record["significant"] = ""
        record["note"] = (row.note if row is not None else None) or ""
        if selective is not None:
            record.update(csv_columns(selective, setting))
        records.append(record)
    return records


def _mean_sd(record: dict[str, Any], key: str) -> str:
    mean, sd = record.get(f"{key}_mean"), record.get(f"{key}_sd")
    if mean is None:
        return ""
    return f"{mean:.2f} ± {sd:.2f}" if sd is not None else f"{mean:.2f}"


def _difference(record: dict[str, Any], metric: str) -> str:
    diff = record.get(f"{metric}_diff")
    if diff is None:
        return ""
    low, high = record[f"{metric}_ci_low"], record[f"{metric}_ci_high"]
    return f"{diff:+.2f} [{low:+.2f}, {high:+.2f}]"


def format_p(p: float | None) -> str:
    return "" if p is None else f"{p:.2g}" if p < 0.01 else f"{p:.3f}".rstrip("0").rstrip(".")


def markdown_rows(
    comparison: Comparison, records: list[dict[str, Any]], versus: str = "best"
) -> tuple[list[str], list[list[str]]]:
    """Header and formatted rows (the markdown and the terminal); the first record is the
    reference, called ``versus``."""
    keys = setting_params(comparison)
    shown = [s for s in _SHOWN if f"{s}_mean" in (records[0] if records else {})]
    systems = ["system"] if any(r.get("system") for r in records) else []
    decisive = tested_metric(comparison.metric)
    other = [m for m in ("f1", "exact") if m != decisive]
    header = [
        "rank",
        *systems,
        *keys,
        "n",
        *(LABELS.get(s, s) for s in shown),
        *(f"{name} F1" for name in comparison.other_sets),
        f"{LABELS[decisive]} vs {versus} [95% CI]",
        "p",
        "p (Holm)",
        "p seeds (Welch)",
        f"significant (Holm, {ALPHA})",
        f"{LABELS[other[0]]} vs {versus} [95% CI]",
        f"p {LABELS[other[0]]} (Holm)",
    ]
    rows = []
    for place, r in enumerate(records):
        rows.append(
            [
                str(r["rank"]),
                *(str(r[k]) for k in systems),
                *(str(r[k]) for k in keys),
                str(r["n"]),
                *(_mean_sd(r, s) for s in shown),
                *(_mean_sd(r, set_column(name)) for name in comparison.other_sets),
                _difference(r, decisive) if place > 0 else f"({versus})",
                format_p(r[f"{decisive}_p"]),
                format_p(r[f"{decisive}_p_holm"]),
                format_p(r[f"{decisive}_seeds_p"]),
                r["significant"],
                _difference(r, other[0]),
                format_p(r[f"{other[0]}_p_holm"]),
            ]
        )
    return header, rows


def record_columns(records: list[dict[str, Any]]) -> list[str]:
    """Every key of the records, in first-seen order (settings.csv's and W&B's columns)."""
    columns: list[str] = []
    for record in records:
        columns += [k for k in record if k not in columns]
    return columns


def write_csv(records: list[dict[str, Any]], path: Path) -> None:
    columns = record_columns(records)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for record in records:
            writer.writerow({k: "" if v is None else v for k, v in record.items()})
