"""Settings: runs that differ only in ``seed`` are one setting, scored as mean ± sd over seeds.

A single run's score mixes the setting's effect with the luck of its seed (initialisation,
data order, the sampled training subset). Grouping the seeds of a setting shows both: the
mean is the setting's score, the standard deviation how much a rerun would move it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from qa_lightning.compare.runs import COMPLETED, RunRecord
from qa_lightning.compare.table import NOT_SET, Comparison, format_value, metric_value

SEED_KEY = "seed"


@dataclass
class Setting:
    """One setting's completed runs (one per seed) and the parameters that define it."""

    params: dict[str, Any]  # the varied parameters other than the seed
    runs: list[RunRecord]
    label: str  # "model.head=bilstm, optimizer.lr=0.001" (or the job, when nothing varies)

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def seeds(self) -> list[Any]:
        return [run.params.get(SEED_KEY, NOT_SET) for run in self.runs]

    def values(self, metric: str, set_name: str) -> np.ndarray:
        """The metric of each run that has it (seed order)."""
        values = [metric_value(run, metric, set_name) for run in self.runs]
        return np.array([v for v in values if not math.isnan(v)], dtype=np.float64)

    def mean(self, metric: str, set_name: str) -> float:
        values = self.values(metric, set_name)
        return float(values.mean()) if values.size else math.nan

    def sd(self, metric: str, set_name: str) -> float:
        """Sample standard deviation over seeds (ddof=1); NaN for a single run."""
        values = self.values(metric, set_name)
        return float(values.std(ddof=1)) if values.size > 1 else math.nan


def setting_params(comparison: Comparison) -> list[str]:
    """The varied parameters that define a setting: every one but the seed."""
    return [p for p in comparison.varied if p != SEED_KEY]


def group_settings(comparison: Comparison) -> list[Setting]:
    """Completed runs grouped into settings, best mean of ``comparison.metric`` first.

    Runs with the same parameters are seeds of one setting only when their seeds differ:
    two runs with the same parameters and the same (or no) seed are different experiments
    that happen to share their overrides (two single runs, say), and stay apart.
    """
    keys = setting_params(comparison)
    groups: dict[tuple, list[RunRecord]] = {}
    for run in comparison.runs:
        if run.status != COMPLETED:
            continue
        key = tuple(repr(run.params.get(k, NOT_SET)) for k in keys)
        groups.setdefault(key, []).append(run)
    settings = []
    for runs in groups.values():
        params = {k: runs[0].params.get(k, NOT_SET) for k in keys}
        seeds = [repr(run.params.get(SEED_KEY, NOT_SET)) for run in runs]
        if len(set(seeds)) == len(seeds):
            settings.append(Setting(params, runs, _label(params, runs)))
        else:
            settings.extend(
                Setting(params, [run], _label(params, [run], with_job=True)) for run in runs
            )

    def order(setting: Setting) -> tuple:
        mean = setting.mean(comparison.metric, comparison.set_name)
        return (math.isnan(mean), 0.0 if math.isnan(mean) else -mean)

    return sorted(settings, key=order)


def _label(params: dict[str, Any], runs: list[RunRecord], *, with_job: bool = False) -> str:
    text = ", ".join(f"{k}={format_value(v)}" for k, v in params.items())
    if len(runs) == 1 and (with_job or not text):
        return f"{text} (job {runs[0].job})" if text else f"job {runs[0].job}"
    return text or "all runs"
