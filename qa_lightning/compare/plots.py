"""Comparison plots: the metric against each swept parameter, and the best runs' curves."""

from __future__ import annotations

import csv
import math
import re
from itertools import groupby
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

from qa_lightning.compare.runs import COMPLETED, RunRecord  # noqa: E402
from qa_lightning.compare.settings import Setting, setting_params  # noqa: E402
from qa_lightning.compare.slice_table import SliceTable  # noqa: E402
from qa_lightning.compare.table import NOT_SET, Comparison, format_value  # noqa: E402
from qa_lightning.evaluation.sets import VALIDATION  # noqa: E402


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


def _dodge(xs: list, shift: float, numeric_xs: list | None, log_x: bool) -> list[float]:
    """``xs`` moved by ``shift`` steps of 1.5% of the axis (3% of a category)."""
    if numeric_xs is None:
        return [x + 0.03 * shift for x in xs]
    low, high = min(numeric_xs), max(numeric_xs)
    if log_x:
        return [x * (high / low) ** (0.015 * shift) for x in xs]
    return [x + 0.015 * shift * ((high - low) or 1.0) for x in xs]


def plot_metric_vs_params(
    comparison: Comparison, settings: list[Setting], out_dir: Path
) -> list[Path]:
    """One PNG per varied parameter (the seed aside): the metric against it, one line per
    value of the other parameters. Points are means over seeds, error bars one standard
    deviation (where a setting has two seeds or more).

    A parameter only one setting sets (``predictions_file`` of a published system's run
    compared with trained runs, say) gets no plot: one point against every other
    setting's "default" says nothing the tables do not; nor does ``system_name``, a name
    rather than a quantity (it labels the settings already)."""
    params = [
        p
        for p in setting_params(comparison)
        if p != "system_name" and sum(s.params.get(p, NOT_SET) != NOT_SET for s in settings) > 1
    ]
    metric, set_name = comparison.metric, comparison.set_name
    written = []
    for param in params:
        others = [p for p in setting_params(comparison) if p != param]

        def line(setting: Setting, others: list[str] = others) -> str:
            return ", ".join(format_value(setting.params.get(p, NOT_SET)) for p in others)

        def line_order(setting: Setting, others: list[str] = others) -> tuple:
            return tuple(_value_order(setting.params.get(p, NOT_SET)) for p in others)

        xs_all = [s.params.get(param, NOT_SET) for s in settings]
        numeric = _numeric(xs_all)
        categories = sorted({format_value(x) for x in xs_all}) if not numeric else []
        positive = numeric and xs_all and min(xs_all) > 0
        log_x = bool(positive and max(xs_all) / min(xs_all) >= 4)  # learning rates, batches
        lines = [
            (label, list(group))
            for label, group in groupby(sorted(settings, key=line_order), key=line)
        ]
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        for i, (label, group) in enumerate(lines):
            points = sorted(
                (
                    (s.params.get(param, NOT_SET), s.mean(metric, set_name), s.sd(metric, set_name))
                    for s in group
                ),
                key=lambda p: _value_order(p[0]),
            )
            xs = (
                [p[0] for p in points]
                if numeric
                else [categories.index(format_value(p[0])) for p in points]
            )
            # lines side by side around each x, so that their error bars do not hide each other
            xs = _dodge(xs, i - (len(lines) - 1) / 2, xs_all if numeric else None, log_x)
            errors = [0.0 if math.isnan(p[2]) else p[2] for p in points]
            ax.errorbar(
                xs,
                [p[1] for p in points],
                yerr=errors if any(errors) else None,
                marker="o",
                capsize=3,
                label=label or None,
            )
        if log_x:
            ax.set_xscale("log")
        if numeric:
            ticks = sorted(set(xs_all))
            ax.set_xticks(ticks, [format_value(t) for t in ticks])
            ax.minorticks_off()
        else:
            ax.set_xticks(range(len(categories)), categories)
        seeds = max((s.n for s in settings), default=1)
        ylabel = metric if set_name == VALIDATION else f"{metric} ({set_name})"
        ax.set_xlabel(param)
        ax.set_ylabel(ylabel + (" (mean ± sd over seeds)" if seeds > 1 else ""))
        ax.set_title(f"{ylabel} against {param}")
        ax.grid(alpha=0.3)
        if others:
            ax.legend(fontsize="small", title=", ".join(others), title_fontsize="small")
        fig.tight_layout()
        suffix = "" if set_name == VALIDATION else f"_{set_name}"
        path = out_dir / _file_name(f"{metric}{suffix}_vs_{param}.png")
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    return written


def plot_slice_bars(table: SliceTable, path: Path) -> Path | None:
    """Grouped bars: each slice's F1 for the top settings, one panel per slice family."""
    if not table.rows or not table.settings:
        return None
    families = list(dict.fromkeys(row.family for row in table.rows))
    widths = [sum(r.family == f for r in table.rows) for f in families]
    k = len(table.settings)
    height = 3.8 + 0.22 * k  # room for one legend line per setting below the panels
    fig, axes = plt.subplots(
        1,
        len(families),
        figsize=(2.0 + (0.35 + 0.18 * k) * sum(widths), height),
        gridspec_kw={"width_ratios": widths},
        sharey=True,
        squeeze=False,
    )
    bar = 0.8 / k
    for ax, family in zip(axes[0], families, strict=True):
        rows = [r for r in table.rows if r.family == family]
        for i, setting in enumerate(table.settings):
            xs = [j + (i - (k - 1) / 2) * bar for j in range(len(rows))]
            ax.bar(xs, [r.f1[i] for r in rows], width=bar, label=setting.label)
        ax.set_xticks(range(len(rows)), [f"{r.label}\n({r.count})" for r in rows], fontsize=8)
        ax.tick_params(axis="x", rotation=0)
        ax.set_title(family, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel(f"F1 on {table.set_name} (mean over seeds)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=1, fontsize="small")
    fig.suptitle(f"F1 by slice, top {k} settings ({table.set_name}; questions per slice below)")
    fig.tight_layout(rect=(0, (0.22 * k + 0.2) / height, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


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
