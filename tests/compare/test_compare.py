"""The compare command on hand-made run folders: columns, order, statuses, files, plots."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from qa_lightning.compare import compare_runs
from qa_lightning.compare.plots import read_curves
from qa_lightning.compare.runs import COMPLETED, FAILED, INCOMPLETE, collect_runs
from qa_lightning.compare.table import compare

ROOT = Path(__file__).resolve().parents[2]


def make_run(
    folder: Path,
    overrides: list[str],
    *,
    f1: float | None = None,
    status: str = "completed",
    failure: str | None = None,
    curve: list[tuple[int, int, float | None, float | None]] = (),
) -> Path:
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (folder / "config.yaml").write_text("seed: 1\n")
    if f1 is not None:
        metrics = {"status": status, "exact": f1 - 10, "f1": f1, "total": 50, "wall_seconds": 3.0}
        (folder / "metrics.json").write_text(json.dumps(metrics))
    if failure:
        (folder / "failure.json").write_text(
            json.dumps({"error": "ConfigError", "message": failure, "job": 0})
        )
    if curve:
        (folder / "csv").mkdir()
        with open(folder / "csv" / "metrics.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["epoch", "step", "train/loss_step", "val/f1"])
            for epoch, step, loss, val in curve:
                writer.writerow([epoch, step, "" if loss is None else loss, val or ""])
    return folder


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """A 2x2 lr x doc_stride sweep, plus a failed job and one killed mid-training."""
    root = tmp_path / "sweep"
    common = [
        "model=minilm",
        "hydra.sweep.dir=/x",
        "paths.cache_dir=/c",
        "data.cache_dir=/f",  # where caches live is not a parameter either
        "data.encoder_cache_dir=/e",
    ]
    grid = [(2e-5, 64, 40.0), (2e-5, 128, 45.0), (5e-5, 64, 55.0), (5e-5, 128, 50.0)]
    for job, (lr, stride, f1) in enumerate(grid):
        curve = [(0, 4, 3.0, None), (0, 9, 2.0, f1 - 5), (1, 19, 1.0, f1), (2, 20, None, f1)]
        make_run(
            root / str(job),
            [*common, f"optimizer.lr={lr}", f"data.doc_stride={stride}"],
            f1=f1,
            curve=curve,
        )
    make_run(
        root / "4",
        [*common, "optimizer.lr=1e-3", "data.doc_stride=600"],
        f1=70.0,  # written mid-training before the job raised: not a result
        status="training",
        failure="data.doc_stride=600 leaves no room",
    )
    make_run(
        root / "10",
        [*common, "optimizer.lr=1e-3", "data.doc_stride=64"],
        f1=60.0,
        status="training",
    )
    return root


def test_table_has_the_varied_parameters_as_columns_and_sorts_by_the_metric(sweep: Path):
    comparison = compare(collect_runs([sweep]), "val/f1")
    assert comparison.varied == ["optimizer.lr", "data.doc_stride"]
    # hydra.*, paths.* and the cache folders are not parameters
    assert comparison.fixed == {"model": "minilm"}
    assert [r.job for r in comparison.runs] == ["2", "3", "1", "0", "10", "4"]
    assert [r.status for r in comparison.runs][-2:] == [INCOMPLETE, FAILED]
    assert comparison.best.params == {
        "model": "minilm",
        "optimizer.lr": 5e-5,
        "data.doc_stride": 64,
    }
    assert "leaves no room" in comparison.runs[-1].error


def test_report_files_mark_failed_jobs_and_plot_each_swept_parameter(sweep: Path):
    compare_runs([sweep], metric="f1", show=False)
    with open(sweep / "comparison.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["job"] for r in rows] == ["2", "3", "1", "0", "10", "4"]
    assert [r["rank"] for r in rows] == ["1", "2", "3", "4", "", ""]
    assert rows[0]["optimizer.lr"] == "5e-05" and rows[0]["data.doc_stride"] == "64"
    assert float(rows[0]["f1"]) == 55.0
    assert rows[-1]["status"] == "FAILED" and "leaves no room" in rows[-1]["error"]
    report = (sweep / "comparison.md").read_text()
    assert "## Failed jobs" in report and "job 4: ConfigError" in report
    assert "4 completed" in report and "1 failed" in report and "1 incomplete" in report
    plots = {p.name for p in sweep.glob("*.png")}
    assert plots == {"f1_vs_optimizer.lr.png", "f1_vs_data.doc_stride.png", "training_curves.png"}
    assert all((sweep / p).stat().st_size > 10_000 for p in plots)


def test_curves_leave_out_the_re_evaluation_after_training(sweep: Path):
    (run,) = [r for r in collect_runs([sweep]) if r.job == "0"]
    curves = read_curves(run, "f1")
    assert curves["train/loss_step"] == ([4, 9, 19], [3.0, 2.0, 1.0])
    assert curves["val/f1"] == ([9, 19], [35.0, 40.0])  # not the epoch-2 row at step 20


def test_several_roots_and_single_run_folders(tmp_path: Path):
    a = make_run(tmp_path / "a" / "0", ["optimizer.lr=1e-4"], f1=10.0)
    make_run(tmp_path / "b" / "0", ["optimizer.lr=2e-4"], f1=20.0)
    jobs = [r.job for r in compare(collect_runs([tmp_path / "a", tmp_path / "b"])).runs]
    assert jobs == ["b/0", "a/0"]  # two sweeps both have a job 0
    (single,) = collect_runs([a])
    assert single.job == "0" and single.status == COMPLETED


def test_command_line_prints_the_table_and_fails_in_one_line_without_runs(
    sweep: Path, tmp_path: Path
):
    cmd = [sys.executable, "-m", "qa_lightning.compare", str(sweep), "--no-plots"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "optimizer.lr" in proc.stdout and "FAILED" in proc.stdout
    assert not list(sweep.glob("*.png"))
    empty = tmp_path / "empty"
    empty.mkdir()
    cmd = [sys.executable, "-m", "qa_lightning.compare", str(empty)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("error: no run folders under")
    assert "Traceback" not in proc.stderr
