"""The slices of the top settings side by side: where one setting wins and another loses.

Each cell is a slice's F1 averaged over the setting's seeds, read from the slices every run
wrote into metrics.json (so it is exactly the slice table of each run, averaged). The
families and their labels' order are those metrics.json holds, so a researcher's own slice
family (``evaluation.slices``) shows as the built-ins do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from qa_lightning.compare.settings import Setting


@dataclass
class SliceRow:
    family: str
    label: str
    count: int  # questions in the slice (of the first setting's first run)
    f1: list[float]  # one per setting, NaN where the setting has no such slice


@dataclass
class SliceTable:
    set_name: str
    settings: list[Setting]
    rows: list[SliceRow]
    missing: list[str]  # settings left out: their runs wrote no slices


def slice_table(settings: list[Setting], set_name: str) -> SliceTable:
    """Slice F1 of ``settings`` (in order) on ``set_name``."""
    with_slices, missing = [], []
    for setting in settings:
        if all(run.set_slices(set_name) for run in setting.runs):
            with_slices.append(setting)
        else:
            missing.append(setting.label)
    labels = slice_families(
        run.set_slices(set_name) for setting in with_slices for run in setting.runs
    )
    rows = []
    for family, family_labels in labels.items():
        for label in family_labels:
            f1, count = [], 0
            for setting in with_slices:
                cells = [
                    run.set_slices(set_name).get(family, {}).get(label) for run in setting.runs
                ]
                values = [float(c["f1"]) for c in cells if c is not None]
                f1.append(float(np.mean(values)) if values else float("nan"))
                if not count:
                    count = next((int(c["count"]) for c in cells if c is not None), 0)
            rows.append(SliceRow(family, label, count, f1))
    return SliceTable(set_name, with_slices, rows, missing)


def slice_families(slices: Iterable[Mapping[str, Mapping]]) -> dict[str, list[str]]:
    """family -> labels of several runs' metrics.json ``slices``, in the order they were
    written (the evaluator writes each family's display order; a family or label only a
    later run has comes after the first run's)."""
    families: dict[str, list[str]] = {}
    for by_family in slices:
        for family, by_label in by_family.items():
            known = families.setdefault(family, [])
            known += [label for label in by_label if label not in known]
    return families
