"""The slices of the top settings side by side: where one setting wins and another loses.

Each cell is a slice's F1 averaged over the setting's seeds, read from the slices every run
wrote into metrics.json (so it is exactly the slice table of each run, averaged).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa_lightning.compare.settings import Setting
from qa_lightning.evaluation.slices import SLICE_ORDER


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
    labels: dict[str, list[str]] = {}
    for setting in with_slices:
        for run in setting.runs:
            for family, by_label in run.set_slices(set_name).items():
                known = labels.setdefault(family, [])
                known += [label for label in by_label if label not in known]
    rows = []
    for family in sorted(labels, key=_family_order):
        order = SLICE_ORDER.get(family, ())
        for label in sorted(
            labels[family], key=lambda x, o=order: (o.index(x) if x in o else len(o), x)
        ):
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


def _family_order(family: str) -> tuple:
    families = list(SLICE_ORDER)
    return (families.index(family) if family in families else len(families), family)
