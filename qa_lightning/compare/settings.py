"""Settings: runs that differ only in ``seed`` are one setting, scored as mean ± sd over seeds.

A single run's score mixes the setting's effect with the luck of its seed (initialisation,
data order, the sampled training subset). Grouping the seeds of a setting shows both: the
mean is the setting's score, the standard deviation how much a rerun would move it.

A setting whose runs all name the same system (``system_name=``, metrics.json ``system``:
a published system's predictions, or a model its author named) is labelled by that name.
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
    # "model.head=bilstm, optimizer.lr=0.001" (the parameters it sets), its runs' shared
    # system name, or the job when nothing varies
    label: str

    @property
    def system(self) -> str | None:
        """The system name every run of the setting has (None unless they share one)."""
        return shared_system(self.runs)

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

    _tell_systems_apart(settings)
    return by_mean(settings, comparison.metric, comparison.set_name)


def by_mean(settings: list[Setting], metric: str, set_name: str) -> list[Setting]:
    """Best mean of ``metric`` on ``set_name`` first; settings without one last."""

    def order(setting: Setting) -> tuple:
        mean = setting.mean(metric, set_name)
        return (math.isnan(mean), 0.0 if math.isnan(mean) else -mean)

    return sorted(settings, key=order)


def reference_first(settings: list[Setting], name: str) -> list[Setting]:
    """The setting named ``name`` (its label or its system name) first, the others in
    their order: every one is then tested against it instead of against the best."""
    found = [s for s in settings if name in (s.label, s.system)]
    if len(found) != 1:
        labels = "; ".join(s.label for s in settings)
        how_many = "no setting" if not found else f"{len(found)} settings"
        raise ValueError(f"--baseline {name!r} names {how_many}; give one of: {labels}")
    return [found[0], *(s for s in settings if s is not found[0])]


def shared_system(runs: list[RunRecord]) -> str | None:
    """The system name of ``runs`` when every one has the same non-empty one, else None."""
    names = {run.system for run in runs}
    if len(names) == 1:
        return names.pop()
    return None


def _params_text(params: dict[str, Any]) -> str:
    """``key=value, ...`` of the parameters the setting's runs set: one that they leave at
    its default is left out (runs of different kinds, a train.py run beside an eval.py one,
    each vary keys the other never sets)."""
    return ", ".join(f"{k}={format_value(v)}" for k, v in params.items() if v != NOT_SET)


def _label(params: dict[str, Any], runs: list[RunRecord], *, with_job: bool = False) -> str:
    text = shared_system(runs) or _params_text(params)
    if len(runs) == 1 and (with_job or not text):
        return f"{text} (job {runs[0].job})" if text else f"job {runs[0].job}"
    if not text:
        return "config defaults" if params else "all runs"
    return text


def _tell_systems_apart(settings: list[Setting]) -> None:
    """Settings that share a system name (a named model swept over a parameter) keep the
    name and add their parameters, so that no two rows, columns or legend entries read
    the same."""
    counts: dict[str, int] = {}
    for setting in settings:
        counts[setting.label] = counts.get(setting.label, 0) + 1
    for setting in settings:
        params = _params_text(setting.params)
        if setting.system is not None and counts[setting.label] > 1 and params:
            setting.label = f"{setting.label} ({params})"
