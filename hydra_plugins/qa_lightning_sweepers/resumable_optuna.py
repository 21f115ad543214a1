"""The Optuna sweeper, resumable: a relaunch of the same command into the same sweep folder
continues the search instead of starting a new one over the finished jobs' folders.

The plugin's sweeper numbers its jobs from 0 on every launch and asks ``n_trials`` new
trials. Its SQL storage would keep the study, but the Optuna the plugin pins (2.x) cannot
use SQLite with SQLAlchemy 2. So the run folders are the record, as they are for every
other sweep (``qa_lightning/cli/resume.py``). Before the plugin's loop runs:

* each job folder of the sweep becomes a trial of an in-memory study handed to the plugin:
  its parameters from the job's overrides, its value from ``metrics.json`` (a finished
  job) or a failed trial (``failure.json``);
* a job a kill left unfinished is run again first, in its own folder with its own
  overrides (it resumes from its ``last.ckpt``), and its result becomes its trial;
* ``hydra.sweeper.n_trials`` counts the search's trials in all: the plugin asks only for
  those still missing, numbered after the existing ones (job k is trial k). Finished jobs
  are never run again; the sampler sees them as history.

Hydra takes sweepers only from the ``hydra_plugins`` namespace, hence this module's place;
it extends nothing when the Optuna plugin (the ``sweeps`` extra) is not installed, and
imports optuna only when a sweep runs, since Hydra imports every plugin module at start.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

try:
    from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper
except ImportError:  # no sweeps extra: nothing to extend
    OptunaSweeper = object  # type: ignore[assignment,misc]

log = logging.getLogger(__name__)


class ResumableOptunaSweeper(OptunaSweeper):
    """``hydra/sweeper: optuna`` that continues its search in a relaunch (module notes)."""

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self.sweep_dir = Path(config.hydra.sweep.dir)
        self.optimized_metric = config.get("optimized_metric")

    def sweep(self, arguments: list[str]) -> Any:
        impl = self.sweeper
        jobs = sorted(
            (p for p in self.sweep_dir.glob("*") if p.name.isdigit() and p.is_dir()),
            key=lambda p: int(p.name),
        )
        if jobs and impl.storage is None:
            impl.storage = self._study_of(jobs, arguments)
            impl.job_idx = len(jobs)
            impl.n_trials = max(impl.n_trials - len(jobs), 0)
            log.info("Continuing the search: %d trials done, %d to go", len(jobs), impl.n_trials)
        return super().sweep(arguments)

    def _study_of(self, jobs: list[Path], arguments: list[str]) -> Any:
        """An in-memory storage holding one trial per job folder, in job order."""
        import optuna
        from hydra_plugins.hydra_optuna_sweeper._impl import create_params_from_overrides

        from qa_lightning.cli.resume import finished_result
        from qa_lightning.storage.run_files import FAILURE_FILE

        impl = self.sweeper
        impl._process_searchspace_config()
        distributions, _ = create_params_from_overrides(
            [*impl._parse_sweeper_params_config(), *arguments]
        )
        storage = optuna.storages.InMemoryStorage()
        study = optuna.create_study(
            study_name=impl.study_name, storage=storage, directions=impl._get_directions()
        )
        for number, job in enumerate(jobs):
            if int(job.name) != number:
                raise RuntimeError(f"{self.sweep_dir}: job folders must be 0..N-1, found {job}")
            overrides = list(OmegaConf.to_container(OmegaConf.load(job / ".hydra/overrides.yaml")))
            finished = finished_result(job)
            value = _as_float(finished["value"]) if finished else None
            if value is None and not (job / FAILURE_FILE).is_file():
                log.info("Job %d was interrupted: running it again", number)
                (result,) = impl.launcher.launch([overrides], initial_job_idx=number)
                value = _as_float(result.return_value)
            params = _trial_params(overrides, distributions)
            study.add_trial(
                optuna.trial.create_trial(
                    params=params,
                    distributions={k: distributions[k] for k in params},
                    value=value,
                    state=optuna.trial.TrialState.COMPLETE
                    if value is not None
                    else optuna.trial.TrialState.FAIL,
                )
            )
        return storage


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):  # a failed job returns None (qa_lightning/cli/task.py)
        return None


def _trial_params(overrides: list[str], distributions: dict[str, Any]) -> dict[str, Any]:
    """The searched parameters of a job's overrides, as the values their distributions hold
    (a choice's own value, a number for a range)."""
    import optuna

    params = {}
    for override in overrides:
        key, _, text = override.partition("=")
        distribution = distributions.get(key)
        if distribution is None:
            continue
        if isinstance(distribution, optuna.distributions.CategoricalDistribution):
            params[key] = next(c for c in distribution.choices if str(c) == text)
        elif isinstance(
            distribution,
            optuna.distributions.IntUniformDistribution
            | optuna.distributions.IntLogUniformDistribution,
        ):
            params[key] = int(text)
        else:
            params[key] = float(text)
    return params
