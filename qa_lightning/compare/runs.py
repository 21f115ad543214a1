"""Read run folders (a sweep's jobs, or single runs) into :class:`RunRecord` rows.

A run folder holds ``.hydra/overrides.yaml`` (what the job changed), ``metrics.json``
(scores of every evaluation set; ``status: completed`` once the run finished, ``pruned``
when its sweep's pruner stopped it),
``per_question.jsonl`` (one record per question, ``eval/<set>/`` for further sets),
``failure.json`` (a sweep job that raised), ``csv/metrics.csv`` (curves) and an offline
W&B run. A folder with neither a
finished ``metrics.json`` nor ``failure.json`` was killed or is still running: it is
``incomplete``, and its last known scores come from mid-training evaluation or from W&B.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser

from qa_lightning.evaluation.sets import VALIDATION, set_folder
from qa_lightning.storage.run_files import FAILURE_FILE, METRICS_FILE, RECORDS_FILE

COMPLETED, FAILED, INCOMPLETE = "completed", "failed", "incomplete"
PRUNED = "pruned"  # stopped early by its sweep's pruner: listed, never ranked nor compared
# Overrides that say where a run writes, not what it is: never a compared parameter.
_IGNORED_PREFIXES = (
    "hydra.",
    "paths.",
    "logger",
    "trainer.enable_progress_bar",
    "data.cache_dir",
    "data.encoder_cache_dir",
)
# A sweep preset only sets the sweeper's parameters; each job's own overrides carry them.
_IGNORED_KEYS = {"sweep"}
_NOT_RUNS = {"wandb", "checkpoints", "best_model", "csv", ".hydra", "cache", ".cache"}


@dataclass
class RunRecord:
    path: Path
    job: str  # the folder's name relative to the compared root
    status: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def curves_file(self) -> Path:
        return self.path / "csv" / "metrics.csv"

    def set_names(self) -> list[str]:
        """The evaluation sets this run scored (metrics.json ``sets``; older runs: validation)."""
        sets = self.metrics.get("sets")
        if isinstance(sets, dict) and sets:
            return list(sets)
        return [VALIDATION] if "f1" in self.metrics else []

    @property
    def system(self) -> str | None:
        """The name of the system the run scored (metrics.json ``system``, given as
        ``system_name=``); None when the run was not named."""
        name = self.metrics.get("system")
        return (name.strip() or None) if isinstance(name, str) else None

    def set_summary(self, name: str = VALIDATION) -> dict[str, Any]:
        """metrics.json ``sets.<name>`` (empty for older runs and sets the run did not score)."""
        sets = self.metrics.get("sets")
        if isinstance(sets, dict) and isinstance(sets.get(name), dict):
            return sets[name]
        return {}

    def set_questions(self, name: str = VALIDATION) -> int | None:
        """The questions of one set (``examples``; older runs: the scored ``total``)."""
        count = self.set_summary(name).get("examples", self.set_scores(name).get("total"))
        return int(count) if isinstance(count, int | float) else None

    def set_unanswered(self, name: str = VALIDATION) -> int:
        """Questions of one set a predictions file had no answer for (0 for a model's run)."""
        count = self.set_summary(name).get("unanswered")
        return int(count) if isinstance(count, int | float) else 0

    def set_selective(self, name: str = VALIDATION) -> dict[str, Any]:
        """One set's selective-answering numbers (aurc, ece, coverage_at_80, ...; percent);
        empty when the run had no confidences or predates them."""
        return self.set_summary(name).get("selective") or {}

    def set_scores(self, name: str = VALIDATION) -> dict[str, Any]:
        """The official scores of one set; the flat ones for validation in older folders."""
        sets = self.metrics.get("sets")
        if isinstance(sets, dict) and name in sets:
            return sets[name].get("scores") or {}
        return self.metrics if name == VALIDATION else {}

    def set_slices(self, name: str = VALIDATION) -> dict[str, dict[str, dict[str, Any]]]:
        """family -> label -> {count, exact, f1, f1_ci} of one set; empty for older runs."""
        sets = self.metrics.get("sets")
        if isinstance(sets, dict) and name in sets:
            return sets[name].get("slices") or {}
        return {}

    def records_file(self, name: str = VALIDATION) -> Path:
        return set_folder(self.path, name) / RECORDS_FILE


def is_run_folder(path: Path) -> bool:
    return (path / ".hydra").is_dir() or (path / "config.yaml").is_file()


def find_run_folders(root: Path, max_depth: int = 3) -> list[Path]:
    """``root`` itself if it is a run, else the runs below it (sweeps of sweeps too)."""
    if is_run_folder(root):
        return [root]
    if max_depth == 0 or not root.is_dir():
        return []
    found: list[Path] = []
    for child in sorted(root.iterdir(), key=_natural_key):
        if child.is_dir() and child.name not in _NOT_RUNS:
            found.extend(find_run_folders(child, max_depth - 1))
    return found


def _natural_key(path: Path) -> tuple:
    """Job folders 0, 1, ..., 10 in numeric order."""
    return (0, int(path.name), "") if path.name.isdigit() else (1, 0, path.name)


def read_overrides(run: Path) -> dict[str, Any]:
    """{key: typed value} of the job's command-line overrides, parsed the way Hydra does."""
    path = run / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return {}
    overrides = yaml.safe_load(path.read_text()) or []
    params = {}
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.key_or_group
        if key.startswith(_IGNORED_PREFIXES) or key in _IGNORED_KEYS or override.is_delete():
            continue
        params[key] = override.value()
    return params


def read_wandb_summary(run: Path) -> dict[str, Any] | None:
    """State and summary of the run's offline W&B log, read by ``wandb leet inspect``."""
    logs = sorted((run / "wandb").glob("*run-*/run-*.wandb"))
    wandb_cli = shutil.which("wandb", path=str(Path(sys.executable).parent)) or shutil.which(
        "wandb"
    )
    if not logs or wandb_cli is None:
        return None
    cmd = [wandb_cli, "leet", "inspect", "--summary", "--json", str(logs[-1].parent)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        return None
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        return None


def read_run(run: Path, root: Path) -> RunRecord:
    """The record of ``run``, named by its path below ``root``."""
    job = str(run.relative_to(root))
    record = RunRecord(path=run, job=job, status=INCOMPLETE, params=read_overrides(run))
    metrics_file = run / METRICS_FILE
    if metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
        record.metrics = metrics
        status = metrics.get("status", COMPLETED)
        if status in (COMPLETED, PRUNED):
            record.status = status
    failure_file = run / FAILURE_FILE
    if failure_file.is_file():  # wins over any metrics written before the job raised
        failure = json.loads(failure_file.read_text())
        record.status = FAILED
        record.error = f"{failure.get('error')}: {failure.get('message')}"
    elif record.status == INCOMPLETE:
        summary = read_wandb_summary(run)
        if summary is not None:
            scores = {
                k.removeprefix("val/"): v
                for k, v in (summary.get("summary") or {}).items()
                if k.startswith("val/")
            }
            record.metrics = {**scores, **record.metrics}
            if summary.get("exit_code") not in (None, 0):
                record.status = FAILED
                failure = (summary.get("summary") or {}).get("failure")
                record.error = failure or f"W&B run {summary.get('state')}"
    return record


def read_records(run: RunRecord, name: str = VALIDATION) -> dict[str, dict[str, Any]] | None:
    """{question id: record} of one set's per_question.jsonl; None where the run has none
    (a folder written before per-question records existed, or a set it did not score)."""
    path = run.records_file(name)
    if not path.is_file():
        return None
    records = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                record = json.loads(line)
                records[record["id"]] = record
    return records


def collect_runs(paths: list[str | Path]) -> list[RunRecord]:
    """Every run folder under ``paths``, read; raises if there is none."""
    records = []
    for root in map(Path, paths):
        if not root.exists():
            raise FileNotFoundError(f"{root} does not exist")
        runs = find_run_folders(root)
        # several roots: name jobs by their root too (two sweeps both have a job 0)
        base = root.parent if runs == [root] or len(paths) > 1 else root
        records.extend(read_run(run, base) for run in runs)
    if not records:
        raise FileNotFoundError(
            f"no run folders under {', '.join(map(str, paths))}: a run folder holds "
            ".hydra/ or config.yaml (outputs/train/runs/<time> or multirun/<task>/<time>/<job>)"
        )
    return records
