"""``hydra.sweeper.pruner``: a name, a ``_target_`` mapping, or nothing; anything else fails
in one line before a trial runs."""

from __future__ import annotations

import pytest

optuna = pytest.importorskip("optuna")

from qa_lightning.callbacks.pruning import make_pruner  # noqa: E402
from qa_lightning.errors import ConfigError  # noqa: E402


def test_a_pruner_by_name_or_by_target():
    assert make_pruner(None) is None and make_pruner("none") is None
    assert type(make_pruner("median")) is optuna.pruners.MedianPruner
    assert type(make_pruner("hyperband")) is optuna.pruners.HyperbandPruner
    pruner = make_pruner({"_target_": "optuna.pruners.PercentilePruner", "percentile": 25.0})
    assert type(pruner) is optuna.pruners.PercentilePruner and pruner._percentile == 25.0
    built = optuna.pruners.NopPruner()  # a mapping Hydra has instantiated already
    assert make_pruner(built) is built


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("medain", "is not a pruner; give one of none, median"),
        ({"_target_": "optuna.samplers.RandomSampler"}, "is not an Optuna pruner"),
        (3, "give a pruner's name or a mapping with _target_"),
    ],
)
def test_anything_else_is_refused_in_one_line(spec, message):
    with pytest.raises(ConfigError, match=message):
        make_pruner(spec)
