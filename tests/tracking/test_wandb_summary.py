"""The sweep's W&B summary run, read back from its offline log with ``wandb leet inspect``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from qa_lightning.compare import compare_runs
from qa_lightning.tracking.wandb_summary import log_summary_run
from tests.cli.test_train_eval import wandb_run_record, wandb_summary
from tests.compare.builders import scored_run

N = 200


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    root = tmp_path / "multirun" / "train" / "2026-11-30_12-00-00"
    base = np.where(np.random.default_rng(0).random(N) < 0.5, 100.0, 0.0)
    job = 0
    for head, fixed in (("linear", 0), ("bilstm", 30)):
        for seed in (1, 2):
            scores = base.copy()
            scores[np.flatnonzero(base == 0)[:fixed]] = 100.0
            scores[seed * 7] = 100.0 - scores[seed * 7]  # a little seed noise
            scored_run(root / str(job), [f"model.head={head}", f"seed={seed}"], scores)
            job += 1
    return root


def test_summary_run_holds_the_comparison_tables_and_plots(sweep, monkeypatch):
    monkeypatch.setenv("WANDB_SILENT", "true")
    report = compare_runs([sweep], show=False)
    folder = log_summary_run(
        report,
        {"mode": "offline", "project": "qa-lightning-tests"},
        group="train-2026-11-30_12-00-00",
        save_dir=sweep,
    )
    assert folder is not None and folder.parent == sweep / "wandb"

    summary = wandb_summary(sweep)
    assert summary["state"] == "finished"  # finished inside the call
    values = summary["summary"]
    assert values["best_setting"] == "model.head=bilstm"
    assert values["best/n"] == 2
    assert values["best/f1_mean"] == pytest.approx(report.settings[0].mean("f1", "validation"))
    for key in ("summary/settings", "summary/runs", "summary/slices"):
        assert values[key]["_type"] == "table-file"
    assert values["summary/plots/slices"]["_type"] == "image-file"

    record = wandb_run_record(sweep)
    assert record["job_type"] == "summary"
    assert record["run_group"] == "train-2026-11-30_12-00-00"  # the jobs' group

    # The settings table in W&B is settings.csv, number for number.
    (table_file,) = folder.glob("files/media/table/summary/settings_*.table.json")
    table = json.loads(table_file.read_text())
    with open(sweep / "settings.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert table["columns"] == list(rows[0])
    assert len(table["data"]) == len(rows) == 2
    second = dict(zip(table["columns"], table["data"][1], strict=True))
    assert second["setting"] == "model.head=linear"
    assert second["f1_diff"] == pytest.approx(float(rows[1]["f1_diff"]))
    assert second["f1_p_holm"] == pytest.approx(float(rows[1]["f1_p_holm"]))
    assert second["significant"] == rows[1]["significant"] == "yes"


def test_disabled_wandb_logs_nothing(sweep):
    report = compare_runs([sweep], show=False, plots=False)
    assert log_summary_run(report, {"mode": "disabled"}, group="g", save_dir=sweep) is None
    assert not (sweep / "wandb").exists()
