"""Where a job left off, read from its run folder: a relaunched sweep or a requeued job
skips what finished, resumes what was cut short and reruns what failed.

A job has finished when ``metrics.json`` holds its ``optimized_metric`` entry: train.py
writes it last, after the best model is saved, so a job killed during its final
evaluation or while saving is resumed, not skipped. A job a sweep's pruner stopped
(``status: pruned``) has finished too: it is never resumed. A folder whose ``config.yaml`` is
another configuration's (a relaunch with other overrides into the same sweep folder) is
refused before anything is written into it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from qa_lightning.callbacks.checkpoints import LAST_CHECKPOINT
from qa_lightning.config import to_plain
from qa_lightning.errors import ForeignRunFolderError
from qa_lightning.storage.run_files import FAILURE_FILE, METRICS_FILE

log = logging.getLogger(__name__)

LAST = "last"  # ckpt_path=last: the run folder's last.ckpt when there is one
# Config keys that say where a run writes or how it reports, not what it computes: a
# relaunch may change them. (Hydra's own settings are not in the job's config.)
_WHERE_AND_HOW = (
    "paths",
    "logger",
    "extras",
    "evaluation",  # slice families: how results are broken down (older folders lack the key)
    "ckpt_path",
    "rerun_failed",
    "trainer.enable_progress_bar",
    "data.cache_dir",
    "data.encoder_cache_dir",
    "data.num_workers",
)


@dataclass(frozen=True)
class JobState:
    """What the run folder says of an earlier attempt at this job."""

    status: str  # fresh | completed | pruned | interrupted | failed
    metric: float | None = None  # completed, pruned: the optimized metric it returned
    checkpoint: Path | None = None  # interrupted: the checkpoint it resumes from
    error: str | None = None  # failed: the error it recorded


def last_checkpoint(cfg: DictConfig) -> Path:
    return Path(cfg.callbacks.checkpoint.dirpath) / LAST_CHECKPOINT


def resumes_automatically(cfg: DictConfig) -> bool:
    """``ckpt_path=last``, or a multirun job with no ``ckpt_path``: its folder is read."""
    from qa_lightning.cli.task import in_multirun

    return cfg.ckpt_path == LAST or (cfg.ckpt_path is None and in_multirun())


def previous_attempt(cfg: DictConfig) -> JobState:
    """The state of this job's run folder (``paths.output_dir``); raises
    :class:`ForeignRunFolderError` when it holds another configuration's run."""
    folder = Path(cfg.paths.output_dir)
    _check_same_config(cfg, folder / "config.yaml")
    finished = finished_result(folder)
    if finished is not None:
        if finished.get("name") == cfg.optimized_metric:
            return JobState(finished["status"], metric=finished.get("value"))
        log.info(
            "%s finished with optimized_metric=%s, not %s: running it again",
            folder,
            finished.get("name"),
            cfg.optimized_metric,
        )
        return JobState("fresh")
    failure = _read_json(folder / FAILURE_FILE)
    if failure is not None:
        return JobState("failed", error=f"{failure.get('error')}: {failure.get('message')}")
    checkpoint = last_checkpoint(cfg)
    if checkpoint.is_file():
        return JobState("interrupted", checkpoint=checkpoint)
    return JobState("fresh")


FINISHED = ("completed", "pruned")


def finished_result(folder: Path) -> dict[str, Any] | None:
    """The ``optimized_metric`` entry ({name, value}) of the job that finished in
    ``folder``, with its ``status`` (completed or pruned), or None when it did not (yet)."""
    metrics = _read_json(folder / METRICS_FILE) or {}
    entry = metrics.get("optimized_metric")
    if not isinstance(entry, dict) or metrics.get("status") not in FINISHED:
        return None
    return {**entry, "status": metrics["status"]}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(config, default=str))
    for dotted in _WHERE_AND_HOW:
        node, *parents = out, *dotted.split(".")[:-1]
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(dotted.split(".")[-1], None)
    return out


def _first_difference(a: Any, b: Any, prefix: str = "") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            found = _first_difference(a.get(key), b.get(key), f"{prefix}{key}.")
            if found:
                return found
        return None
    return None if a == b else f"{prefix[:-1]} ({a!r} there, {b!r} now)"


def _check_same_config(cfg: DictConfig, saved_path: Path) -> None:
    if not saved_path.is_file():
        return
    try:
        saved = OmegaConf.to_container(OmegaConf.load(saved_path))
    except Exception:  # unreadable: written by a killed job before config.yaml was atomic
        return
    difference = _first_difference(_comparable(saved), _comparable(to_plain(cfg)))
    if difference:
        raise ForeignRunFolderError(
            f"{saved_path.parent} holds a run of another configuration, which differs at "
            f"{difference}; relaunch into a new folder (hydra.sweep.dir= or hydra.run.dir=)"
        )


def announce(state: JobState, folder: str | Path, metric_name: str) -> None:
    """One log line saying what this attempt does with the earlier one."""
    if state.status == "pruned":
        log.info("%s was pruned before (%s = %s): left as it is", folder, metric_name, state.metric)
    elif state.status == "completed":
        log.info(
            "%s finished before (%s = %s): skipped, its files left as they are",
            folder,
            metric_name,
            state.metric,
        )
    elif state.status == "interrupted":
        log.info("%s was interrupted: resuming from %s", folder, state.checkpoint)
    elif state.status == "failed":
        log.info("%s failed before (%s): running it again", folder, state.error)
