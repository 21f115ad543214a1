"""A picture of one evaluation set's slices: F1 per kind of question, with its interval.

A reader sees at a glance which slices fall below the overall F1 and whether the gap is
larger than the interval, which the metrics.json numbers alone do not show.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.transforms import blended_transform_factory  # noqa: E402

from qa_lightning.storage.atomic import atomic_file  # noqa: E402

_FAMILY_TITLES = {
    "question_type": "question type",
    "answer_length": "answer length (words)",
    "windows": "context windows",
    "answerable": "answerable",
}
_INCH_PER_BAR = 0.32
_INCH_PER_FAMILY = 0.55  # subplot title and spacing


def plot_slices(
    slices: Mapping[str, Mapping[str, Mapping]],
    path: str | Path,
    *,
    title: str,
    overall_f1: float | None = None,
) -> Path:
    """Write a PNG of ``slice_scores`` output: one block of horizontal F1 bars per family.

    Each bar is labelled with its question count and carries its F1 interval as an error
    bar; a dashed line marks ``overall_f1`` when given. The file is written beside ``path``
    and renamed into place, so a reader never finds half a PNG.
    """
    families = [(family, labels) for family, labels in slices.items() if labels]
    if not families:
        raise ValueError("no slice has any question; nothing to plot")
    heights = [len(labels) for _, labels in families]
    fig, axes = plt.subplots(
        len(families),
        1,
        figsize=(7.0, 1.0 + _INCH_PER_BAR * sum(heights) + _INCH_PER_FAMILY * len(families)),
        gridspec_kw={"height_ratios": heights},
        sharex=True,
        squeeze=False,
    )
    try:
        for ax, (family, labels) in zip(axes[:, 0], families, strict=True):
            _draw_family(ax, family, labels, overall_f1)
        axes[-1, 0].set_xlabel("F1 (%), with 95% bootstrap interval")
        if overall_f1 is not None:  # a title, not a legend: a legend box can hide a bar
            axes[0, 0].set_title(f"- - overall F1 {overall_f1:.1f}", loc="right", fontsize=9)
        fig.suptitle(title)
        fig.tight_layout()
        path = Path(path)
        with atomic_file(path, "wb") as f:
            fig.savefig(f, format="png", dpi=120)
    finally:
        plt.close(fig)
    return path


def _draw_family(
    ax: Axes, family: str, labels: Mapping[str, Mapping], overall_f1: float | None
) -> None:
    names = list(labels)
    f1 = [labels[name]["f1"] for name in names]
    low = [labels[name]["f1"] - labels[name]["f1_ci"][0] for name in names]
    high = [labels[name]["f1_ci"][1] - labels[name]["f1"] for name in names]
    rows = range(len(names))
    ax.barh(rows, f1, xerr=[low, high], color="tab:blue", alpha=0.75, capsize=3, height=0.7)
    beside_axes = blended_transform_factory(ax.transAxes, ax.transData)
    for row, value in zip(rows, f1, strict=True):  # right of the axes: never hits an error bar
        ax.text(1.01, row, f"{value:.1f}", transform=beside_axes, va="center", fontsize=8)
    ax.set_yticks(list(rows), [f"{name} (n={labels[name]['count']})" for name in names])
    ax.invert_yaxis()  # first label on top, in the family's order
    ax.tick_params(axis="y", labelsize=9)
    ax.set_xlim(0, 100)
    ax.set_title(_FAMILY_TITLES.get(family, family), loc="left", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    if overall_f1 is not None:
        ax.axvline(overall_f1, color="black", linestyle="--", linewidth=1)
