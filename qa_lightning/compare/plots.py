"""Comparison plots: the metric against each swept parameter, and the best runs' curves."""

from __future__ import annotations

import csv
import re
from itertools import groupby
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

from qa_lightning.compare.runs import COMPLETED, RunRecord  # noqa: E402
from qa_lightning.compare.table import NOT_SET, Comparison, format_value, metric_value  # noqa: E402


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def short_name(key: str) -> str:
    """``optimizer.lr`` -> ``lr`` for legends (tables keep the full key)."""
    return key.rsplit(".", 1)[-1]


def _value_order(value) -> tuple:
    """Sort key: numbers by value (5e-05 before 0.0004), anything else by its text after."""
    return (0, value, "") if _numeric([value]) else (1, 0, str(value))


def _numeric(values: list) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def plot_metric_vs_params(comparison: Comparison, out_dir: Path) -> list[Path]:
    """One PNG per varied parameter: the metric against it, one line per other setting."""
    done = [r for r in comparison.runs if r.status == COMPLETED]
    written = []
    for param in comparison.varied:
        others = [p for p in comparison.varied if p != param]

        def setting(run: RunRecord, others: list[str] = others) -> str:
            return ", ".join(format_value(run.params.get(p, NOT_SET)) for p in others)

        def setting_order(run: RunRecord, others: list[str] = others) -> tuple:
            return tuple(_value_order(run.params.get(p, NOT_SET)) for p in others)

        xs_all = [r.params.get(param, NOT_SET) for r in done]
        numeric = _numeric(xs_all)
        categories = sorted({format_value(x) for x in xs_all}) if not numeric else []
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        for label, group in groupby(sorted(done, key=setting_order), key=setting):
            points = sorted(
                ((r.params.get(param, NOT_SET), metric_value(r, comparison.metric)) for r in group),
                key=lambda p: _value_order(p[0]),
            )
            xs = (
                [p[0] for p in points]
                if numeric
                else [categories.index(format_value(p[0])) for p in points]
            )
            ax.plot(xs, [p[1] for p in points], marker="o", label=label or None)
        positive = numeric and xs_all and min(xs_all) > 0
        if positive and max(xs_all) / min(xs_all) >= 4:  # learning rates, batch sizes ...
            ax.set_xscale("log")
        if numeric:
            ticks = sorted(set(xs_all))
            ax.set_xticks(ticks, [format_value(t) for t in ticks])
            ax.minorticks_off()
        else:
            ax.set_xticks(range(len(categories)), categories)
        ax.set_xlabel(param)
        ax.set_ylabel(comparison.metric)
        ax.set_title(f"{comparison.metric} against {param}")
        ax.grid(alpha=0.3)
        if others:
            ax.legend(fontsize="small", title=", ".join(others), title_fontsize="small")
        fig.tight_layout()
        path = out_dir / _file_name(f"{comparison.metric}_vs_{param}.png")
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    return written


def read_curves(run: RunRecord, metric: str) -> dict[str, tuple[list[int], list[float]]]:
    """(steps, values) of ``train/loss_step`` and ``val/<metric>`` from the run's CSV log.

    The re-evaluation of the best checkpoint after training is logged one epoch past the
    last training epoch; it is the table's score, not a point of the curve, and is left out.
    """
    if not run.curves_file.is_file():
        return {}
    with open(run.curves_file, newline="") as f:
        rows = list(csv.DictReader(f))
    train_epochs = [int(r["epoch"]) for r in rows if r.get("train/loss_step") and r.get("epoch")]
    last_epoch = max(train_epochs, default=None)
    curves: dict[str, tuple[list[int], list[float]]] = {}
    for row in rows:
        for column in ("train/loss_step", f"val/{metric}"):
            if row.get(column) in (None, ""):
                continue
            after_training = last_epoch is not None and int(row.get("epoch") or 0) > last_epoch
            if column.startswith("val/") and after_training:
                continue
            steps, values = curves.setdefault(column, ([], []))
            steps.append(int(row["step"]))
            values.append(float(row[column]))
    return curves


def plot_training_curves(comparison: Comparison, out_dir: Path, top: int = 3) -> Path | None:
    """Train loss and the validation metric against the step for the ``top`` best runs."""
    best = [r for r in comparison.runs if r.status == COMPLETED][:top]
    curves = [(run, read_curves(run, comparison.metric)) for run in best]
    curves = [(run, c) for run, c in curves if c]
    if not curves:
        return None
    val_key = f"val/{comparison.metric}"
    fig, (loss_ax, val_ax) = plt.subplots(1, 2, figsize=(11, 4.6))
    for rank, (run, c) in enumerate(curves, 1):
        setting = ", ".join(
            f"{short_name(p)}={format_value(run.params.get(p, NOT_SET))}" for p in comparison.varied
        )
        label = f"#{rank} job {run.job}" + (f": {setting}" if setting else "")
        if "train/loss_step" in c:
            loss_ax.plot(*c["train/loss_step"], label=label, alpha=0.85)
        if val_key in c:
            val_ax.plot(*c[val_key], marker="o", label=label)
    loss_ax.set_xlabel("optimiser step")
    loss_ax.set_ylabel("train/loss")
    loss_ax.set_title("training loss")
    val_ax.set_xlabel("optimiser step")
    val_ax.set_ylabel(val_key)
    val_ax.set_title(f"{val_key} at each validation")
    for ax in (loss_ax, val_ax):
        ax.grid(alpha=0.3)
    fig.legend(*loss_ax.get_legend_handles_labels(), loc="lower center", ncol=1, fontsize="small")
    fig.tight_layout(rect=(0, 0.045 * (len(curves) + 1), 1, 1))
    path = out_dir / "training_curves.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
