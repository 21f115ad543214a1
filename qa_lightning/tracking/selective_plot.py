"""A picture of one evaluation set's selective answering: how the error rate falls when the
reader abstains on its least confident questions, how far its confidence is from its
accuracy, and (SQuAD 2.0) what the null-odds threshold trades between HasAns and NoAns.

The numbers are in metrics.json (``selective_scores``); the picture shows where along the
curve they come from, which a reader needs before trusting a coverage target.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from qa_lightning.evaluation.selective import (  # noqa: E402
    ThresholdCurve,
    aurc,
    coverage_at_accuracy,
    expected_calibration_error,
    reliability,
    risk_coverage,
)
from qa_lightning.storage.atomic import atomic_file  # noqa: E402

_PANEL_WIDTH = 5.0  # inches
_HEIGHT = 5.0
_TARGETS = ((0.8, "tab:orange"), (0.9, "tab:green"))  # accuracies marked on the curve


def plot_selective(
    path: str | Path,
    *,
    title: str,
    confidence: Any,
    correct: Any,
    threshold_curve: ThresholdCurve | None = None,
    chosen_threshold: float | None = None,
) -> Path:
    """Write a PNG with side-by-side panels: the risk-coverage curve (AURC in the legend,
    coverage at 80% / 90% accuracy marked), the reliability diagram (accuracy per
    confidence bin against the diagonal, the bin counts below, ECE in the title) and, when
    ``threshold_curve`` is given, HasAns / NoAns / overall F1 against the null-odds
    threshold with ``chosen_threshold`` (the run's ``null_score_diff_threshold``) marked.

    The file is written beside ``path`` and renamed into place, so a reader never finds
    half a PNG.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct)
    if confidence.size == 0:
        raise ValueError("no question has a confidence; nothing to plot")
    panels = 3 if threshold_curve is not None else 2
    fig = plt.figure(figsize=(_PANEL_WIDTH * panels, _HEIGHT))
    try:
        grid = fig.add_gridspec(2, panels, height_ratios=[3, 1], hspace=0.08, wspace=0.28)
        _draw_risk_coverage(fig.add_subplot(grid[:, 0]), confidence, correct)
        top = fig.add_subplot(grid[0, 1])
        _draw_reliability(top, fig.add_subplot(grid[1, 1], sharex=top), confidence, correct)
        if threshold_curve is not None:
            _draw_threshold(fig.add_subplot(grid[:, 2]), threshold_curve, chosen_threshold)
        fig.suptitle(f"{title}: selective answering ({confidence.size} questions)")
        fig.subplots_adjust(left=0.06 if panels == 3 else 0.08, right=0.98, top=0.86, bottom=0.11)
        path = Path(path)
        with atomic_file(path, "wb") as f:
            fig.savefig(f, format="png", dpi=120)
    finally:
        plt.close(fig)
    return path


def _draw_risk_coverage(ax: Axes, confidence: np.ndarray, correct: np.ndarray) -> None:
    curve = risk_coverage(confidence, correct)
    area = aurc(confidence, correct)
    # start at the first threshold's point: no risk is defined at coverage 0
    ax.plot(curve.coverage, curve.risk, color="tab:blue", linewidth=1.8, label=f"AURC {area:.2f}")
    for accuracy, color in _TARGETS:
        risk = (1 - accuracy) * 100
        ax.axhline(risk, color=color, linestyle="--", linewidth=1)
        coverage = coverage_at_accuracy(confidence, correct, accuracy)
        label = f"{accuracy:.0%} accuracy: "
        if coverage > 0:
            at = np.flatnonzero(np.isclose(curve.coverage, coverage))[0]
            ax.plot(
                coverage,
                curve.risk[at],
                "o",
                color=color,
                markersize=7,
                zorder=3,
                label=label + f"{coverage:.1f}% answered",
            )
        else:
            ax.plot([], [], "o", color=color, label=label + "never reached")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, max(25.0, float(np.nanmax(curve.risk)) * 1.1))
    ax.set_xlabel("coverage (% of questions answered, most confident first)")
    ax.set_ylabel("risk (% of answered questions wrong)")
    ax.set_title("risk-coverage (lower is better)", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)


def _draw_reliability(top: Axes, bottom: Axes, confidence: np.ndarray, correct: np.ndarray) -> None:
    bins = reliability(confidence, correct)
    ece = expected_calibration_error(confidence, correct)
    centers = (bins.edges[:-1] + bins.edges[1:]) / 2 * 100
    width = np.diff(bins.edges) * 100
    top.bar(
        centers,
        bins.accuracy * 100,
        width=width * 0.9,
        color="tab:blue",
        alpha=0.75,
        edgecolor="white",
        label="accuracy in bin",
    )
    top.plot([0, 100], [0, 100], color="gray", linestyle="--", linewidth=1, label="calibrated")
    top.plot(
        centers,
        bins.confidence * 100,
        "_",
        color="tab:red",
        markersize=18,
        markeredgewidth=2.5,
        label="mean confidence in bin",
    )
    top.set_xlim(0, 100)
    top.set_ylim(0, 100)
    top.set_ylabel("accuracy (% exact match)")
    ece_text = "n/a" if math.isnan(ece) else f"{ece:.1f}"
    top.set_title(f"reliability (ECE {ece_text}, 10 bins)", fontsize=11)
    top.grid(alpha=0.3)
    top.legend(loc="upper left", fontsize=9)
    top.tick_params(labelbottom=False)

    bottom.bar(centers, bins.counts, width=width * 0.9, color="gray", alpha=0.7)
    peak = max(int(bins.counts.max()), 1)
    for x, count in zip(centers, bins.counts, strict=True):
        if count:
            bottom.text(
                x, count + peak * 0.04, str(int(count)), ha="center", va="bottom", fontsize=7
            )
    bottom.set_ylim(0, peak * 1.45)
    bottom.set_ylabel("questions", fontsize=9)
    bottom.tick_params(axis="y", labelsize=8)
    bottom.set_xlabel("confidence (% probability of the answer)")


def _draw_threshold(ax: Axes, curve: ThresholdCurve, chosen: float | None) -> None:
    ax.set_title("SQuAD 2.0: F1 against the null threshold", fontsize=11)
    ax.set_xlabel('null-odds threshold (answer "" where the odds exceed it)')
    ax.set_ylabel("F1 (%)")
    ax.set_ylim(0, 128)  # room above 100 for the legend: the curves cross everywhere below
    ax.set_yticks(range(0, 101, 20))
    ax.grid(alpha=0.3)
    if curve.thresholds.size == 0:
        ax.text(0.5, 0.5, "no questions", transform=ax.transAxes, ha="center")
        return
    low, high = float(curve.thresholds[0]), float(curve.thresholds[-1])
    if chosen is not None:
        low, high = min(low, chosen), max(high, chosen)
    margin = 0.03 * (high - low) if high > low else 1.0
    ax.set_xlim(low - margin, high + margin)
    # the F1 holds from each threshold up to the next one, the last one to the right edge
    x = np.r_[curve.thresholds, high + margin]
    lines = [
        (curve.has_ans_f1, "HasAns F1", "tab:blue", 1.3),
        (curve.no_ans_f1, "NoAns F1", "tab:orange", 1.3),
        (curve.f1, "overall F1", "black", 1.8),
    ]
    for values, label, color, width in lines:
        if np.all(np.isnan(values)):
            continue  # e.g. a set without no-answer questions
        y = np.r_[values, values[-1]]
        ax.plot(x, y, drawstyle="steps-post", color=color, linewidth=width, label=label)
    best = int(np.nanargmax(curve.f1))
    ax.plot(
        curve.thresholds[best],
        curve.f1[best],
        "*",
        color="black",
        markersize=11,
        label=f"best F1 {curve.f1[best]:.1f} at {curve.thresholds[best]:.2f}",
    )
    if chosen is not None:
        ax.axvline(
            chosen,
            color="tab:red",
            linestyle="--",
            linewidth=1.3,
            label=f"chosen threshold {chosen:.2f}",
        )
    ax.legend(loc="upper center", ncol=2, fontsize=8.5)
