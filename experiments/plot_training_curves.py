"""Plot train/loss (per step) of one or more run folders from their CSV logs.

python experiments/plot_training_curves.py OUT.png RUN_DIR[=LABEL] [RUN_DIR[=LABEL] ...]
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_loss(run_dir: Path) -> tuple[list[int], list[float]]:
    steps, losses = [], []
    with open(run_dir / "csv" / "metrics.csv") as f:
        for row in csv.DictReader(f):
            if row.get("train/loss_step"):
                steps.append(int(row["step"]))
                losses.append(float(row["train/loss_step"]))
    return steps, losses


def main(out: str, runs: list[str]) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for spec in runs:
        path, _, label = spec.partition("=")
        steps, losses = read_loss(Path(path))
        ax.plot(steps, losses, marker=".", label=label or Path(path).name)
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("train/loss (start + end cross-entropy / 2)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
