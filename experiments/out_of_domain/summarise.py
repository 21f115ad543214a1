"""Markdown tables of a run's evaluation sets: scores with intervals, then F1 by slice.

python experiments/out_of_domain/summarise.py <run folder> > results.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from scipy import stats


def scores_table(sets: dict) -> list[str]:
    lines = [
        "| set | questions | EM [95% CI] | F1 [95% CI] |",
        "|---|---|---|---|",
    ]
    for name, entry in sets.items():
        s, ci = entry["scores"], entry["intervals"]
        em = f"{s['exact']:.1f} [{ci['exact'][0]:.1f}, {ci['exact'][1]:.1f}]"
        f1 = f"{s['f1']:.1f} [{ci['f1'][0]:.1f}, {ci['f1'][1]:.1f}]"
        lines.append(f"| {name} | {s['total']} | {em} | {f1} |")
    return lines


def slices_table(sets: dict) -> list[str]:
    names = list(sets)
    lines = [
        "| family | slice | " + " | ".join(f"{n}: n, F1 [95% CI]" for n in names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    families = next(iter(sets.values()))["slices"]
    for family, labels in families.items():
        seen = {label for entry in sets.values() for label in entry["slices"][family]}
        for label in [lb for lb in labels] + sorted(seen - set(labels)):
            cells = []
            for entry in sets.values():
                s = entry["slices"][family].get(label)
                cells.append(
                    "-"
                    if s is None
                    else f"{s['count']}, {s['f1']:.1f} [{s['f1_ci'][0]:.1f}, {s['f1_ci'][1]:.1f}]"
                )
            lines.append(f"| {family} | {label} | " + " | ".join(cells) + " |")
    return lines


def per_question_f1(run: Path, name: str) -> list[dict]:
    folder = run if name == "validation" else run / "eval" / name
    return [json.loads(line) for line in (folder / "per_question.jsonl").read_text().splitlines()]


def drop_table(run: Path, sets: dict) -> list[str]:
    """Each set against validation: the F1 difference with Welch's 95% interval and p-value
    (different questions, so an unpaired test), and the set's F1 re-weighted to the
    validation set's mix of answer lengths (how much of the drop that mix explains)."""
    base = per_question_f1(run, "validation")
    base_f1 = np.array([r["f1"] for r in base])
    mix = {
        k: v["count"] / len(base) for k, v in sets["validation"]["slices"]["answer_length"].items()
    }
    lines = [
        "| set | F1 - validation F1 [95% CI] | p (Welch) | F1 at validation's answer-length mix |",
        "|---|---|---|---|",
    ]
    for name, entry in sets.items():
        if name == "validation":
            continue
        f1 = np.array([r["f1"] for r in per_question_f1(run, name)])
        test = stats.ttest_ind(f1, base_f1, equal_var=False)
        low, high = test.confidence_interval(0.95)
        lengths = entry["slices"]["answer_length"]
        reweighted = sum(share * lengths[k]["f1"] for k, share in mix.items())
        lines.append(
            f"| {name} | {f1.mean() - base_f1.mean():+.1f} [{low:+.1f}, {high:+.1f}] | "
            f"{test.pvalue:.2g} | {reweighted:.1f} |"
        )
    return lines


def main() -> None:
    run = Path(sys.argv[1])
    sets = json.loads((run / "metrics.json").read_text())["sets"]
    print("\n".join(scores_table(sets)))
    print()
    print("\n".join(drop_table(run, sets)))
    print()
    print("\n".join(slices_table(sets)))


if __name__ == "__main__":
    main()
