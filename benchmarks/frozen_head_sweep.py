"""Head learning-rate sweep on a frozen encoder: encoder-output cache against recomputing.

Runs the same Hydra multirun twice through ``train.py`` (4 learning rates x 2 epochs,
bundled MiniLM, the v1 train subset capped at 1,500 examples, validation on the v1 dev
subset): once with ``model.encoder_cache=true`` starting from an empty encoder cache (so
building it is inside the timed run) and once with the encoder recomputed on every step.
Token features are built before either run and shared, so both time the same work.
Prints both wall times, their ratio, and how far apart the jobs' EM/F1 are.

    .venv/bin/python benchmarks/frozen_head_sweep.py [--lrs 3e-4,1e-3,3e-3,1e-2] [--head linear]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_sweep(work: Path, mode: str, overrides: list[str]) -> float:
    cmd = [
        sys.executable,
        str(ROOT / "train.py"),
        "-m",
        *overrides,
        f"model.encoder_cache={'true' if mode == 'cached' else 'false'}",
        f"paths.cache_dir={work / mode / 'cache'}",
        f"data.cache_dir={work / 'features'}",
        f"hydra.sweep.dir={work / mode / 'runs'}",
    ]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{mode} sweep failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return seconds


def job_scores(work: Path, mode: str) -> dict[str, dict]:
    scores = {}
    for metrics in sorted((work / mode / "runs").glob("*/metrics.json")):
        config = (metrics.parent / ".hydra" / "overrides.yaml").read_text()
        lr = next(line.split("=")[1] for line in config.splitlines() if "optimizer.lr=" in line)
        scores[lr] = json.loads(metrics.read_text())
    return scores


def stage_seconds(work: Path, mode: str, total: float) -> dict[str, float]:
    jobs = [
        json.loads(p.read_text()) for p in sorted((work / mode / "runs").glob("*/metrics.json"))
    ]
    fit = [job["fit_seconds"] for job in jobs]
    wall = [job["wall_seconds"] for job in jobs]
    return {
        "first job through training (a cached sweep builds the cache here)": fit[0],
        "the other jobs through training": sum(fit[1:]),
        "jobs' final evaluation and saving": sum(wall) - sum(fit),
        "outside the jobs (start-up, sweep summary)": total - sum(wall),
    }


def precision(work: Path, mode: str) -> str:
    config = (work / mode / "runs" / "0" / "config.yaml").read_text()
    return next(
        (line.split(":", 1)[1].strip() for line in config.splitlines() if "precision:" in line),
        "?",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lrs", default="3e-4,1e-3,3e-3,1e-2")
    parser.add_argument("--head", default="linear")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--keep", help="keep the run folders here instead of a temp dir")
    parser.add_argument("overrides", nargs="*", help="more Hydra overrides for both sweeps")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("WANDB_MODE", "offline")
    work = Path(args.keep or tempfile.mkdtemp(prefix="frozen-head-bench-"))
    overrides = [
        "experiment=frozen_head",
        f"model.head={args.head}",
        f"optimizer.lr={args.lrs}",
        f"trainer.max_epochs={args.epochs}",
        "trainer.enable_progress_bar=false",
        "logger=csv",
        *args.overrides,
    ]
    # Token features once, outside both timings (the encoder cache stays empty).
    warm = [
        sys.executable,
        str(ROOT / "train.py"),
        *overrides[:2],
        *args.overrides,
        "model.encoder_cache=false",
        "debug=fast",
        "logger=none",
        f"paths.cache_dir={work / 'warm'}",
        f"data.cache_dir={work / 'features'}",
        f"hydra.run.dir={work / 'warm' / 'run'}",
    ]
    subprocess.run(warm, cwd=ROOT, check=True, capture_output=True)

    seconds = {}
    for mode in ("cached", "recomputed"):
        seconds[mode] = run_sweep(work, mode, overrides)
        print(f"{mode:>10}: {seconds[mode]:7.1f} s", flush=True)

    cached, recomputed = job_scores(work, "cached"), job_scores(work, "recomputed")
    n_jobs = len(args.lrs.split(","))
    if len(cached) != n_jobs or len(recomputed) != n_jobs:
        sys.exit(
            f"expected {n_jobs} finished jobs per sweep, got {len(cached)} and {len(recomputed)}"
        )
    print()
    print(f"{'lr':>8} | {'EM cached':>9} {'EM recomp':>9} | {'F1 cached':>9} {'F1 recomp':>9}")
    worst = 0.0
    for lr in sorted(cached, key=float):
        c, r = cached[lr], recomputed[lr]
        worst = max(worst, abs(c["exact"] - r["exact"]), abs(c["f1"] - r["f1"]))
        print(f"{lr:>8} | {c['exact']:9.2f} {r['exact']:9.2f} | {c['f1']:9.2f} {r['f1']:9.2f}")
    cache_mb = (
        sum(f.stat().st_size for f in (work / "cached" / "cache" / "encoder").rglob("hidden.npy"))
        / 2**20
    )
    print()
    print(f"| sweep ({n_jobs} lrs x {args.epochs} epochs, head={args.head}) | wall s |")
    print("|---|---|")
    print(f"| encoder recomputed every step | {seconds['recomputed']:.1f} |")
    print(
        f"| encoder cache (built inside the run, {cache_mb:.0f} MB fp16) | {seconds['cached']:.1f} |"
    )
    print(f"| ratio recomputed / cached | {seconds['recomputed'] / seconds['cached']:.2f}x |")
    print()
    # Where each sweep's time went, from the jobs' own metrics.json (fit_seconds: from the
    # job's start through training and its validations; the rest: final evaluation, saving)
    print("| stage (s) | cached | recomputed |")
    print("|---|---|---|")
    stages = {mode: stage_seconds(work, mode, seconds[mode]) for mode in seconds}
    for stage in stages["cached"]:
        print(f"| {stage} | {stages['cached'][stage]:.1f} | {stages['recomputed'][stage]:.1f} |")
    print(
        f"precision: cached {precision(work, 'cached')}, recomputed {precision(work, 'recomputed')}"
    )
    print(f"largest EM/F1 difference between the paths: {worst:.2f} points")
    if worst > 1.0:
        sys.exit("cached and recomputed runs disagree by more than 1 point")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
