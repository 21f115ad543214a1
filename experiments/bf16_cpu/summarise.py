"""bf16 against fp32, set by set: each run's scores with intervals, whether bf16's F1 lies
in fp32's interval, the paired difference over the same questions, and how many answers
are identical.

python experiments/bf16_cpu/summarise.py <fp32 run folder> <bf16 run folder> > results.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from qa_lightning.compare.stats import paired_test


def per_question(run: Path, name: str) -> dict[str, dict]:
    folder = run if name == "validation" else run / "eval" / name
    lines = (folder / "per_question.jsonl").read_text().splitlines()
    return {r["id"]: r for r in map(json.loads, lines)}


def main(fp32: Path, bf16: Path) -> None:
    sets_a = json.loads((fp32 / "metrics.json").read_text())["sets"]
    sets_b = json.loads((bf16 / "metrics.json").read_text())["sets"]
    print(
        "| set | questions | fp32 EM [95% CI] | bf16 EM [95% CI] | fp32 F1 [95% CI] "
        "| bf16 F1 [95% CI] | bf16 F1 in fp32's CI | fp32 F1 in bf16's CI |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, a in sets_a.items():
        b = sets_b[name]
        cells = []
        for metric in ("exact", "f1"):
            for run in (a, b):
                low, high = run["intervals"][metric]
                cells.append(f"{run['scores'][metric]:.2f} [{low:.2f}, {high:.2f}]")
        inside = [
            "yes"
            if y["intervals"]["f1"][0] <= x["scores"]["f1"] <= y["intervals"]["f1"][1]
            else "no"
            for x, y in ((b, a), (a, b))
        ]
        print(f"| {name} | {a['scores']['total']} | " + " | ".join(cells + inside) + " |")
    print()
    print("| set | bf16 - fp32 F1 [95% CI] | p | bf16 - fp32 EM [95% CI] | p | identical answers |")
    print("|---|---|---|---|---|---|")
    for name in sets_a:
        a, b = per_question(fp32, name), per_question(bf16, name)
        ids = sorted(a.keys() & b.keys())
        cells = []
        for metric in ("f1", "exact"):
            test = paired_test([b[q][metric] for q in ids], [a[q][metric] for q in ids])
            cells += [
                f"{test.difference:+.2f} [{test.ci_low:+.2f}, {test.ci_high:+.2f}]",
                f"{test.p_value:.2f}",
            ]
        same = sum(a[q]["prediction"] == b[q]["prediction"] for q in ids)
        print(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {same}/{len(ids)} ({100 * same / len(ids):.1f}%) |"
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
