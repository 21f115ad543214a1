"""``hydra/sweeper: optuna`` on current Optuna: a study kept in the sweep folder, trials run
as the launcher's jobs (several at once with ``hydra/launcher=local|slurm``), pruning, and
a relaunch that continues the study as it was left.

* The study lives in ``hydra.sweeper.storage``: by default a journal file in the sweep
  folder, which every process (the sweeper, each job reporting to its trial) reads and
  writes under a file lock. Trial k runs as job k, in folder ``<sweep dir>/k``.
* Trials are asked ``n_jobs`` at a time and launched together; the sampler sees every
  finished trial. A job returns the run's ``optimized_metric``; a failed job is a failed
  trial, and the search goes on while the share of failures stays within
  ``max_failure_rate``. A job the pruner stopped (``qa_lightning.callbacks.pruning``) has
  marked its trial pruned itself.
* A relaunch of the same command into the same folder loads the study: finished, failed
  and pruned trials are left alone; a trial a kill left running runs again as its job, in
  its folder, with its parameters (train.py resumes it from ``last.ckpt``); then new trials
  are asked until ``n_trials`` trials exist in all.
* ``enqueue`` lists trials to run first (a recipe's parameters, say) in a new study.
* At the end ``optimization_results.yaml`` holds the best trial's parameters and value.

Hydra finds sweepers only in the ``hydra_plugins`` namespace, hence this module's place.
Hydra imports every plugin module at start, so optuna is imported only when a sweep runs;
it loads them outside ``sys.modules``, where a dataclass cannot read postponed annotations,
hence no ``from __future__ import annotations`` in this package.
"""

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import MISSING, DictConfig, OmegaConf

from hydra_plugins.qa_lightning_sweepers.search_space import SearchSpace

log = logging.getLogger(__name__)

RESULTS_FILE = "optimization_results.yaml"


@dataclass
class OptunaSweeperConf:
    """``hydra.sweeper`` for ``hydra/sweeper=optuna`` (the ``sweep=optuna`` preset sets it)."""

    _target_: str = "hydra_plugins.qa_lightning_sweepers.optuna_sweeper.OptunaSweeper"
    defaults: list[Any] = field(default_factory=lambda: [{"sampler": "tpe"}])
    sampler: Any = MISSING  # hydra/sweeper/sampler=tpe|random|gp|qmc|cmaes|nsgaii
    direction: str = "maximize"  # maximize | minimize: the optimized_metric's sense
    study_name: str = "qa_lightning"
    # a journal file (safe across processes and on NFS) or a database URL (sqlite:///...)
    storage: str = "${hydra.sweep.dir}/optuna_journal.log"
    n_trials: int = 20  # trials in all, those of earlier launches included
    n_jobs: int = 1  # trials asked and launched together (run in parallel by local/slurm)
    max_failure_rate: float = 0.0  # the share of failed trials that stops the search
    # none | median | hyperband | successive_halving | wilcoxon, or a mapping with _target_
    # (e.g. {_target_: optuna.pruners.MedianPruner, n_startup_trials: 2})
    pruner: Any = None
    params: dict[str, Any] = field(default_factory=dict)  # key: choice(...) | interval(...)
    # trials to run first, before the sampler's own, e.g. [{optimizer.lr: 5e-5}] (a new study)
    enqueue: list[Any] = field(default_factory=list)


def _sampler(target: str, **kwargs: Any) -> dict[str, Any]:
    return {"_target_": f"optuna.samplers.{target}", "seed": None, **kwargs}


_store = ConfigStore.instance()
_store.store(group="hydra/sweeper", name="optuna", node=OptunaSweeperConf, provider="qa_lightning")
for _name, _node in {
    "tpe": _sampler("TPESampler"),
    "random": _sampler("RandomSampler"),
    "gp": _sampler("GPSampler"),
    "qmc": _sampler("QMCSampler"),
    "cmaes": _sampler("CmaEsSampler"),  # needs the cmaes package
    "nsgaii": _sampler("NSGAIISampler"),
}.items():
    _store.store(group="hydra/sweeper/sampler", name=_name, node=_node, provider="qa_lightning")


class OptunaSweeper(Sweeper):
    """Runs an Optuna study's trials as Hydra jobs (module notes)."""

    def __init__(
        self,
        sampler: Any,
        direction: str,
        study_name: str,
        storage: str,
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float,
        pruner: Any = None,
        params: Any = None,
        enqueue: Any = (),
    ) -> None:
        # Hydra has built the sampler (and a pruner given as a _target_ mapping) already
        self.sampler = sampler
        self.direction = direction
        self.study_name = study_name
        self.storage = str(storage)
        self.n_trials = n_trials
        self.n_jobs = max(1, n_jobs)
        self.max_failure_rate = max_failure_rate
        self.pruner = pruner
        self.params = params
        self.enqueue = [dict(p) for p in enqueue or ()]

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )
        self.sweep_dir = Path(config.hydra.sweep.dir)

    def sweep(self, arguments: list[str]) -> Any:
        import optuna

        from qa_lightning.callbacks.pruning import make_pruner
        from qa_lightning.errors import ConfigError
        from qa_lightning.storage.study import open_study_storage

        space = SearchSpace.parse(self.params, arguments)
        if not space.distributions:
            raise ConfigError("sweep=optuna: nothing to search; give hydra.sweeper.params")
        make_pruner(self.pruner)  # a bad pruner fails now, not in every job
        jobs = [p for p in self.sweep_dir.glob("*") if p.name.isdigit() and p.is_dir()]
        study = optuna.create_study(
            study_name=self.study_name,
            storage=open_study_storage(self.storage),
            sampler=self.sampler,
            direction=self.direction,
            load_if_exists=True,
        )
        if jobs and not study.trials:
            raise ConfigError(
                f"{self.sweep_dir} holds {len(jobs)} job folders but no study in "
                f"{self.storage} (another sweeper's sweep): relaunch into a new folder "
                "(hydra.sweep.dir=...)"
            )
        unfinished = [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
        if not study.trials:
            for params in self.enqueue:  # a new study: the user's trials come first
                study.enqueue_trial(params)
        else:
            log.info(
                "Continuing study %r: %d trials, %d of them cut short",
                study.study_name,
                len(study.trials),
                len(unfinished),
            )
        for trial in unfinished:  # one at a time: their numbers need not be consecutive
            if set(trial.params) != set(space.distributions):  # killed while being asked
                log.warning("Trial %d has no whole set of parameters: failed", trial.number)
                study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
                continue
            log.info("Trial %d was interrupted: running it again", trial.number)
            self._run(study, space, [trial])
        while (missing := self.n_trials - _started(study)) > 0:
            batch = [study.ask(space.distributions) for _ in range(min(self.n_jobs, missing))]
            self._run(study, space, batch)
            self._check_failures(study)
        self._write_results(study)
        return study

    def _run(self, study: Any, space: SearchSpace, trials: list[Any]) -> None:
        """Launch ``trials`` (consecutive numbers) as their jobs; record what each returned."""
        import optuna
        from hydra.core.utils import JobStatus

        batch = [space.overrides(t.params) for t in trials]
        self.validate_batch_is_legal(batch)
        results = self.launcher.launch(batch, initial_job_idx=trials[0].number)
        states = study.get_trials(deepcopy=False)
        for trial, result in zip(trials, results, strict=True):
            if states[trial.number].state.is_finished():  # pruned: the job told the study
                continue
            value = _as_float(result.return_value) if result.status == JobStatus.COMPLETED else None
            if value is None:
                study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(trial.number, value)

    def _check_failures(self, study: Any) -> None:
        import optuna

        failed = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,)))
        rate = failed / len(study.trials)
        if rate > self.max_failure_rate:
            raise RuntimeError(
                f"{failed} of {len(study.trials)} trials failed, more than "
                f"hydra.sweeper.max_failure_rate={self.max_failure_rate}; "
                f"the failures are in {self.sweep_dir}/*/failure.json"
            )

    def _write_results(self, study: Any) -> None:
        counts = Counter(t.state.name.lower() for t in study.get_trials(deepcopy=False))
        if not counts["complete"]:
            log.warning("No trial completed: no best parameters to write")
            return
        best = study.best_trial
        results = {
            "name": "optuna",
            "study": study.study_name,
            "best_trial": best.number,
            "best_params": best.params,
            "best_value": best.value,
            "trials": dict(counts),  # by state: complete, pruned, fail
        }
        OmegaConf.save(OmegaConf.create(results), self.sweep_dir / RESULTS_FILE)
        metric = self.config.get("optimized_metric") or "value"
        log.info("Best trial %d: %s = %s %s", best.number, metric, best.value, best.params)


def _started(study: Any) -> int:
    """Trials asked so far (an enqueued trial waits until it is asked)."""
    import optuna

    waiting = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))
    return len(study.trials) - len(waiting)


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):  # a failed job returns None (qa_lightning/cli/task.py)
        return None
