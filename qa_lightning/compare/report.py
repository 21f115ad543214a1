"""The compare command: collect runs, print the table, write the report files."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from qa_lightning.compare.runs import collect_runs
from qa_lightning.compare.table import Comparison, compare, markdown, print_table, write_csv

log = logging.getLogger(__name__)


def compare_runs(
    paths: list[str | Path],
    *,
    metric: str = "f1",
    out_dir: str | Path | None = None,
    plots: bool = True,
    top: int = 3,
    show: bool = True,
) -> Comparison:
    """Compare the runs under ``paths``; write the report into ``out_dir`` (default: the
    first path) and return the comparison."""
    comparison = compare(collect_runs(paths), metric)
    out = Path(out_dir if out_dir is not None else paths[0])
    out.mkdir(parents=True, exist_ok=True)
    title = f"Comparison of {', '.join(str(p) for p in paths)}"
    written: list[Path] = []
    if plots:
        from qa_lightning.compare.plots import plot_metric_vs_params, plot_training_curves

        written = plot_metric_vs_params(comparison, out)
        curves = plot_training_curves(comparison, out, top=top)
        if curves is not None:
            written.append(curves)
    write_csv(comparison, out / "comparison.csv")
    (out / "comparison.md").write_text(markdown(comparison, title=title, plots=written))
    if show:
        print_table(comparison, title=title)
        print(f"wrote {out / 'comparison.md'}, comparison.csv and {len(written)} plot(s)")
    return comparison


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m qa_lightning.compare",
        description="Compare run folders: a sweep (multirun/<task>/<time>) or single runs.",
    )
    parser.add_argument("paths", nargs="+", help="sweep folders or run folders")
    parser.add_argument(
        "--metric", default="f1", help="metrics.json key or logged name (f1, val/exact, ...)"
    )
    parser.add_argument("--out", help="where to write the report (default: the first path)")
    parser.add_argument("--top", type=int, default=3, help="runs in the training-curves plot")
    parser.add_argument("--no-plots", action="store_true", help="write the tables only")
    args = parser.parse_args(argv)
    try:
        compare_runs(
            args.paths, metric=args.metric, out_dir=args.out, plots=not args.no_plots, top=args.top
        )
    except FileNotFoundError as err:
        raise SystemExit(f"error: {err}") from None
