"""The methods record's tables: cost (parameters trained, training time, evaluation speed)
and accuracy on each set against the baseline, from the run folders and the qa-compare
reports run.sh wrote.

python experiments/methods/summarise.py <OUT> "<baseline system name>" <teacher run> \
    [<plot.png>] > results.md

<teacher run>: the training run of the teacher, whose cost is its eval folder's row.
<plot.png>: each method's F1 difference from the baseline on each set, with its interval.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import matplotlib
import numpy as np
import yaml

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SETS = ("validation", "new_wiki", "amazon")
SPEED = re.compile(r"(\d+) features in ([\d.]+)s: ([\d.]+) features/s")


@dataclass(frozen=True)
class Run:
    """One run folder, its metrics.json and seed read once."""

    path: Path
    metrics: dict
    seed: int | None

    @classmethod
    def read(cls, path: Path) -> Run:
        seed = yaml.safe_load((path / "config.yaml").read_text()).get("seed")
        return cls(path, json.loads((path / "metrics.json").read_text()), seed)

    def f1(self, set_name: str) -> float:
        return self.metrics["sets"][set_name]["scores"]["f1"]


def runs_by_system(out: Path) -> dict[str, list[Run]]:
    """Finished runs by their system name, in folder order."""
    found: dict[str, list[Run]] = {}
    for metrics in sorted(out.glob("*/seeds_*/*/metrics.json")) + [out / "teacher/metrics.json"]:
        if not metrics.is_file():
            continue
        run = Run.read(metrics.parent)
        if run.metrics.get("status", "completed") == "completed":  # not one still training
            found.setdefault(run.metrics.get("system") or run.path.name, []).append(run)
    return found


def method_of(run: Path, out: Path) -> str:
    return run.relative_to(out).parts[0]


def mean_sd(values: list[float]) -> str:
    if not values:
        return ""
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f}"


STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+)\]")


def _stamp(line: str) -> datetime:
    return datetime.strptime(STAMP.match(line).group(1), "%Y-%m-%d %H:%M:%S,%f")


def eval_speed(out: Path, method: str) -> float | None:
    """Windows per second of predict.py's model calls. A frozen head's run first computes
    the encoder's states of the windows (its cache): that pass is counted too, from the log
    line before it to the one that says it is built."""
    log = out / "speed" / method / "predict.log"
    lines = log.read_text().splitlines() if log.is_file() else []
    match = next((m for m in map(SPEED.search, lines) if m), None)
    if match is None:
        return None
    seconds = float(match.group(2))
    built = next((i for i, line in enumerate(lines) if "Built the cache entry" in line), None)
    if built is not None:
        seconds += (_stamp(lines[built]) - _stamp(lines[built - 1])).total_seconds()
    return int(match.group(1)) / seconds


def train_rate(out: Path, method: str) -> float | None:
    """Train windows per second of the training steps alone in the method's timing run
    (run.sh: one short epoch on a quiet machine)."""
    metrics = out / "train_speed" / method / "metrics.json"
    if not metrics.is_file():
        return None
    return json.loads(metrics.read_text()).get("train_features_per_second") or None


def compared(out: Path, set_name: str, prefix: str = "compare") -> dict[str, dict[str, str]]:
    """The settings table qa-compare wrote for ``set_name`` into ``<prefix>_<set>/``."""
    name = "settings.csv" if set_name == "validation" else f"settings_{set_name}.csv"
    path = out / f"{prefix}_{set_name}" / name
    with open(path, newline="") as f:
        return {row["setting"]: row for row in csv.DictReader(f)}


def p_text(value: str) -> str:
    if not value:
        return ""
    p = float(value)
    if p == 0:  # qa-compare writes four decimals
        return "< 0.0001"
    return f"{p:.2g}" if p < 0.01 else f"{p:.3f}".rstrip("0").rstrip(".")


def versus(row: dict[str, str] | None) -> tuple[str, str, str]:
    """F1 difference [CI], p (Holm, questions), p (Welch, seeds) of one compared setting."""
    if row is None or not row.get("f1_diff"):
        return "(baseline)" if row and row.get("significant") == "baseline" else "", "", ""
    diff, low, high = (float(row[k]) for k in ("f1_diff", "f1_ci_low", "f1_ci_high"))
    return (
        f"{diff:+.2f} [{low:+.2f}, {high:+.2f}]",
        p_text(row["f1_p_holm"]),
        p_text(row["f1_seeds_p"]),
    )


def plot_differences(
    tables: dict[str, dict[str, dict[str, str]]], baseline: str, path: Path
) -> None:
    """One row per method: its F1 difference from the baseline on each set, with the 95%
    interval over questions (qa-compare's), so what the tables say can be seen at once."""
    systems = [
        name
        for name, row in tables["validation"].items()
        if row.get("f1_diff") and "teacher" not in name
    ]
    systems.sort(key=lambda name: float(tables["validation"][name]["f1_diff"]))
    fig, ax = plt.subplots(figsize=(7.5, 0.75 * len(systems) + 1.2))
    styles = zip(SETS, (0.2, 0.0, -0.2), ("tab:blue", "tab:orange", "tab:green"), strict=True)
    for set_name, offset, color in styles:
        rows = [tables[set_name][name] for name in systems]
        diff = np.array([float(r["f1_diff"]) for r in rows])
        low = diff - np.array([float(r["f1_ci_low"]) for r in rows])
        high = np.array([float(r["f1_ci_high"]) for r in rows]) - diff
        y = np.arange(len(systems)) + offset
        ax.errorbar(
            diff, y, xerr=[low, high], fmt="o", ms=4, capsize=3, color=color, label=set_name
        )
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(np.arange(len(systems)), systems)
    ax.set_xlabel(f"F1 difference from {baseline} (95% interval over questions)")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(out: Path, baseline: str, teacher_run: Path, plot: Path | None = None) -> None:
    systems = runs_by_system(out)
    tables = {s: compared(out, s) for s in SETS}
    teacher_speed = eval_speed(out, "teacher")
    print("## Cost\n")
    print(
        "| method | runs (seeds) | trainable parameters | training s/epoch (quiet) "
        "| eval features/s on the dev subset (x teacher) |"
    )
    print("|---|---|---|---|---|")
    for system, runs in systems.items():
        # the teacher's row is its eval folder; its cost is its training run's (the recipe's)
        is_teacher = runs[0].path == out / "teacher"
        trained = [Run.read(teacher_run)] if is_teacher else runs
        metrics = trained[0].metrics
        trainable = metrics.get("trainable_parameters")
        frozen = metrics.get("frozen_parameters") or 0
        params = f"{trainable:,} of {trainable + frozen:,}" if trainable else ""
        # the time of one pass over the train windows, at the rate of the method's quiet
        # timing run (the seeds' own rates were measured beside other work)
        rate = train_rate(out, "full" if is_teacher else method_of(runs[0].path, out))
        epoch = f"{metrics['train_features'] / rate:.0f}" if rate else ""
        speed = eval_speed(out, method_of(runs[0].path, out))
        ratio = f" ({speed / teacher_speed:.2f}x)" if speed and teacher_speed else ""
        seeds = ", ".join(str(r.seed) for r in trained)
        print(
            f"| {system} | {len(runs)} ({seeds}) | {params} | {epoch} "
            f"| {f'{speed:.1f}' if speed else ''}{ratio} |"
        )
    print(f"\n## F1 against {baseline}, on each set\n")
    header = ["method"]
    for s in SETS:
        header += [f"{s} F1", f"vs {baseline} [95% CI]", "p (Holm)", "p seeds"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for system, runs in systems.items():
        cells = [system]
        for s in SETS:
            cells += [mean_sd([r.f1(s) for r in runs]), *versus(tables[s].get(system))]
        print("| " + " | ".join(cells) + " |")
    print("\n## F1 of each run\n")
    print("| method | seed | " + " | ".join(SETS) + " |")
    print("|---|---|" + "---|" * len(SETS))
    for system, runs in systems.items():
        for run in runs:
            f1 = " | ".join(f"{run.f1(s):.2f}" for s in SETS)
            print(f"| {system} | {run.seed} | {f1} |")
    kd = {s: compared(out, s, "compare_kd") for s in SETS}
    print("\n## The distillation loss itself: the same student with it, against without it\n")
    print("| set | F1 difference [95% CI] | p (questions) | p seeds |")
    print("|---|---|---|---|")
    for s in SETS:
        row = next((r for r in kd[s].values() if r.get("f1_diff")), None)
        diff, _, seeds_p = versus(row)
        print(f"| {s} | {diff} | {p_text(row['f1_p']) if row else ''} | {seeds_p} |")
    if plot is not None:
        plot_differences(tables, baseline, plot)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), *map(Path, sys.argv[4:5]))
