"""Pruning a sweep's trial: a run that will not win stops after a validation, not at the end.

After each validation the monitored metric is reported to the run's trial in its Optuna
study (the storage the sweeper keeps in the sweep folder, shared by every job process);
when the study's pruner says the trial falls behind the others, the trial is marked
pruned in the study and training ends with :class:`~qa_lightning.errors.TrialPruned`,
which train.py records as a ``pruned`` run. ``sweep=optuna`` adds this callback, its
arguments taken from the sweeper's config; with ``pruner=null`` it does nothing.

Lightning's own ``should_stop`` would end the fit as a success and leave the entry point
to find out why by reading the callback back; an exception carries the outcome instead.
(optuna-integration's Lightning callback is not used: it takes the trial object of the
process that runs ``study.optimize``, which a sweep job, a process of its own, does not
have; here the job finds its trial in the shared storage by its number.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytorch_lightning as pl

from qa_lightning.errors import ConfigError, TrialPruned

# Optuna's pruners that work with their defaults, by the names the sweeper's config takes;
# the others (percentile, threshold, patient) need arguments: give a _target_ mapping.
PRUNER_NAMES = {
    "median": "MedianPruner",
    "hyperband": "HyperbandPruner",
    "successive_halving": "SuccessiveHalvingPruner",
    "wilcoxon": "WilcoxonPruner",
}


def make_pruner(spec: Any, key: str = "hydra.sweeper.pruner") -> Any | None:
    """An Optuna pruner from a name (``median``, ``hyperband``, ...), a ``_target_`` mapping
    (its arguments beside it), or None / ``none`` for no pruning."""
    import optuna
    from hydra.utils import instantiate

    if spec is None or spec == "none":
        return None
    if isinstance(spec, optuna.pruners.BasePruner):  # a mapping Hydra has built already
        return spec
    if isinstance(spec, str):
        if spec not in PRUNER_NAMES:
            raise ConfigError(
                f"{key}={spec!r} is not a pruner; give one of none, {', '.join(PRUNER_NAMES)}, "
                "or a mapping with _target_ (e.g. {_target_:optuna.pruners.MedianPruner,"
                "n_startup_trials:2})"
            )
        return getattr(optuna.pruners, PRUNER_NAMES[spec])()
    if isinstance(spec, Mapping) and "_target_" in spec:
        pruner = instantiate(dict(spec))
        if not isinstance(pruner, optuna.pruners.BasePruner):
            raise ConfigError(f"{key}._target_={spec['_target_']} is not an Optuna pruner")
        return pruner
    raise ConfigError(f"{key}={spec!r}: give a pruner's name or a mapping with _target_")


def validation_step_index(trainer: pl.Trainer) -> int:
    """The step a validation is reported at, the same in every trial of a sweep: its epoch
    when validation runs once per epoch (trials that sweep the stride or the batch size
    differ in optimiser steps per epoch), else the optimiser step."""
    interval = trainer.val_check_interval
    if isinstance(interval, float) and interval == 1.0:
        return trainer.current_epoch
    return trainer.global_step


class OptunaPruning(pl.Callback):
    """Reports ``monitor`` to trial ``trial`` of study ``study_name`` in ``storage`` (a
    journal file or a database URL) after every validation, and ends the run when
    ``pruner`` (a name, a ``_target_`` mapping, or None for no pruning) prunes it."""

    def __init__(self, storage: str, study_name: str, trial: int, monitor: str, pruner: Any = None):
        self.storage = storage
        self.study_name = study_name
        self.trial = int(trial)
        self.monitor = monitor
        self.pruner = make_pruner(pruner)
        self._study: Any = None
        self._trial: Any = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.pruner is None or not trainer.is_global_zero:
            return  # rank 0 alone talks to the study; the others follow its decision
        import optuna

        from qa_lightning.storage.study import open_study_storage

        storage = open_study_storage(self.storage)
        try:
            study_id = storage.get_study_id_from_name(self.study_name)
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, self.trial)
        except KeyError:
            raise ConfigError(
                f"callbacks.extra: no trial {self.trial} of study {self.study_name!r} in "
                f"{self.storage}; pruning runs inside a sweep=optuna multirun (-m)"
            ) from None
        self._study = optuna.load_study(
            study_name=self.study_name, storage=storage, pruner=self.pruner
        )
        self._trial = optuna.trial.Trial(self._study, trial_id)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.pruner is None or trainer.sanity_checking or trainer.state.fn != "fit":
            return  # the final scoring of the best checkpoint (trainer.validate) is no step
        step = validation_step_index(trainer)
        prune, value = False, None
        if trainer.is_global_zero:
            logged = trainer.callback_metrics.get(self.monitor)
            if logged is None:
                raise ConfigError(
                    f"optimized_metric={self.monitor} was not logged by the validation, so "
                    "the pruner has nothing to judge; give a val/... metric"
                )
            value = float(logged)
            self._trial.report(value, step)  # a resumed run's repeated step is ignored
            prune = self._trial.should_prune()
        if trainer.strategy.broadcast(prune, src=0):
            if trainer.is_global_zero:
                import optuna

                self._study.tell(self.trial, state=optuna.trial.TrialState.PRUNED)
            raise TrialPruned(
                f"trial {self.trial} pruned at step {step}: {self.monitor} = {value}, behind "
                "the other trials there"
            )
