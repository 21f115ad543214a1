"""Table (results.md, results.csv) and plot (f1_by_setting.png) of the frozen-heads runs."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import yaml  # noqa: E402

HERE = Path(__file__).resolve().parent


def _count(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else str(n)


def read_runs(root: Path) -> list[dict]:
    rows = []
    for metrics_path in sorted(root.glob("*/*/metrics.json")):
        run = metrics_path.parent
        metrics = json.loads(metrics_path.read_text())
        cfg = yaml.safe_load((run / "config.yaml").read_text())
        model = cfg["model"]
        freeze = model["freeze"]
        if freeze == "layers":
            freeze = f"layers (bottom {model['freeze_layers']})"
        rows.append(
            {
                "head": model["head"],
                "freeze": freeze,
                "lr": cfg["optimizer"]["lr"],
                "epochs": cfg["trainer"]["max_epochs"],
                "exact": round(metrics["exact"], 2),
                "f1": round(metrics["f1"], 2),
                "trainable_parameters": metrics["trainable_parameters"],
                "wall_seconds": metrics["wall_seconds"],
                "encoder_cache": bool(model["encoder_cache"] and model["freeze"] == "all"),
            }
        )
    order = {"all": 0}
    rows.sort(key=lambda r: (order.get(r["freeze"], 1), r["trainable_parameters"]))
    return rows


def main(root: str) -> None:
    rows = read_runs(Path(root))
    if not rows:
        sys.exit(f"no finished runs under {root}")
    with open(HERE / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        "| head | freeze | lr | epochs | EM | F1 | trainable params | wall s | encoder cache |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['head']} | {r['freeze']} | {r['lr']:g} | {r['epochs']} "
            f"| {r['exact']:.2f} | {r['f1']:.2f} "
            f"| {r['trainable_parameters']:,} | {r['wall_seconds']:.0f} "
            f"| {'yes' if r['encoder_cache'] else 'no'} |"
        )
    (HERE / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    labels = [
        f"{r['head']}\nfreeze={r['freeze'].replace(' (', chr(10) + '(')}\n{r['epochs']} epochs"
        for r in rows
    ]
    fig, ax = plt.subplots(figsize=(max(7, 1.4 * len(rows)), 4.5))
    colors = ["tab:blue" if r["freeze"] == "all" else "tab:orange" for r in rows]
    bars = ax.bar(range(len(rows)), [r["f1"] for r in rows], color=colors)
    for bar, r in zip(bars, rows, strict=True):
        ax.annotate(
            f"F1 {r['f1']:.1f}\n{_count(r['trainable_parameters'])} trained\n{r['wall_seconds']:.0f}s",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_xticks(range(len(rows)), labels, fontsize=8)
    ax.set_ylabel("dev F1 (SQuAD v1.1 subset, 995 questions)")
    ax.set_ylim(0, max(r["f1"] for r in rows) * 1.35 + 1)
    ax.set_title("MiniLM-L6: span heads on a frozen encoder (blue) vs. less freezing (orange)")
    fig.tight_layout()
    fig.savefig(HERE / "f1_by_setting.png", dpi=120)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "outputs/experiments/frozen_heads")
