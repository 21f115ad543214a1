"""The methods record's tables: cost (parameters trained, training time, evaluation speed)
and accuracy on each set against the baseline, from the run folders and the qa-compare
reports run.sh wrote.

python experiments/methods/summarise.py <OUT> "<baseline system name>" <teacher run> > results.md

<teacher run>: the training run of the teacher, whose cost is its eval folder's row.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import yaml

SETS = ("validation", "new_wiki", "amazon")
SPEED = re.compile(r"(\d+) features in ([\d.]+)s: ([\d.]+) features/s")


def runs_by_system(out: Path) -> dict[str, list[Path]]:
    """Run folders (those with a metrics.json) by their system name, in folder order."""
    found: dict[str, list[Path]] = {}
    for metrics in sorted(out.glob("*/seeds_*/*/metrics.json")) + [out / "teacher/metrics.json"]:
        if metrics.is_file() and "compare_" not in str(metrics):
            system = json.loads(metrics.read_text()).get("system") or metrics.parent.name
            found.setdefault(system, []).append(metrics.parent)
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


def main(out: Path, baseline: str, teacher_run: Path) -> None:
    systems = runs_by_system(out)
    tables = {s: compared(out, s) for s in SETS}
    teacher_speed = eval_speed(out, "teacher")
    print("## Cost\n")
    print(
        "| method | runs (seeds) | trainable parameters | training s/epoch "
        "| eval features/s on the dev subset (x teacher) |"
    )
    print("|---|---|---|---|---|")
    for system, runs in systems.items():
        # the teacher's eval folder: its cost is its training run's
        trained = [teacher_run] if runs == [out / "teacher"] else runs
        metrics = [json.loads((r / "metrics.json").read_text()) for r in trained]
        seeds = [yaml.safe_load((r / "config.yaml").read_text()).get("seed") for r in trained]
        trainable = metrics[0].get("trainable_parameters")
        frozen = metrics[0].get("frozen_parameters") or 0
        params = f"{trainable:,} of {trainable + frozen:,}" if trainable else ""
        # the throughput callback's training time alone (no validation), per pass over the data
        epochs = [
            m["train_features"] / m["train_features_per_second"]
            for m in metrics
            if m.get("train_features_per_second")
        ]
        speed = eval_speed(out, method_of(runs[0], out))
        ratio = f" ({speed / teacher_speed:.2f}x)" if speed and teacher_speed else ""
        print(
            f"| {system} | {len(runs)} ({', '.join(map(str, seeds))}) | {params} "
            f"| {mean_sd(epochs).split('.')[0] if epochs else ''} "
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
            f1 = [
                json.loads((r / "metrics.json").read_text())["sets"][s]["scores"]["f1"]
                for r in runs
            ]
            cells += [mean_sd(f1), *versus(tables[s].get(system))]
        print("| " + " | ".join(cells) + " |")
    kd = {s: compared(out, s, "compare_kd") for s in SETS}
    print("\n## The distillation loss itself: the same student with it, against without it\n")
    print("| set | F1 difference [95% CI] | p (questions) | p seeds |")
    print("|---|---|---|---|")
    for s in SETS:
        row = next((r for r in kd[s].values() if r.get("f1_diff")), None)
        diff, _, seeds_p = versus(row)
        print(f"| {s} | {diff} | {p_text(row['f1_p']) if row else ''} | {seeds_p} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
