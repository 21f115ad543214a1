"""The Optuna sweeper's search space: Hydra's override grammar as Optuna distributions, and
a trial's parameters back as the overrides its job runs with."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

optuna = pytest.importorskip("optuna")

from hydra_plugins.qa_lightning_sweepers.search_space import SearchSpace  # noqa: E402
from qa_lightning.errors import ConfigError  # noqa: E402

from optuna.distributions import (  # noqa: E402  isort: skip
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

PRESET = Path(__file__).resolve().parents[2] / "conf" / "sweep" / "optuna.yaml"


def test_the_presets_parameters_become_their_distributions():
    params = yaml.safe_load(PRESET.read_text())["hydra"]["sweeper"]["params"]
    space = SearchSpace.parse(params, [])
    assert space.distributions == {
        "optimizer.lr": FloatDistribution(1e-5, 3e-4, log=True),
        "optimizer.weight_decay": FloatDistribution(0.0, 0.1),
        "data.doc_stride": CategoricalDistribution([64, 96, 128]),
        "scheduler.warmup_ratio": CategoricalDistribution([0.0, 0.06, 0.1]),
    }
    assert space.fixed == []


def test_the_command_line_wins_and_fixed_values_pass_through():
    space = SearchSpace.parse(
        {"optimizer.lr": "interval(1e-5, 1e-4)", "data.doc_stride": "choice(64, 128)"},
        ["optimizer.lr=1e-4,3e-4", "data.doc_stride=96", "+data.x=tag(int, interval(8, 64))"],
    )
    assert space.distributions == {
        "optimizer.lr": CategoricalDistribution([1e-4, 3e-4]),
        "data.x": IntDistribution(8, 64),
    }
    assert space.fixed == ["data.doc_stride=96"]  # a single value: the same in every trial


def test_a_trials_parameters_read_back_as_the_same_overrides():
    space = SearchSpace.parse(
        {
            "optimizer.lr": "tag(log, interval(1e-5, 3e-4))",
            "data.doc_stride": "range(32, 160, 32)",
            "model.name": "choice(a, 'b c')",
        },
        ["+trainer.x=1"],
    )
    assert space.distributions["data.doc_stride"] == IntDistribution(32, 128, step=32)
    lr = 1.2345678901234567e-05
    overrides = space.overrides({"optimizer.lr": lr, "data.doc_stride": 96, "model.name": "b c"})
    assert overrides == [
        "+trainer.x=1",
        f"optimizer.lr={lr!r}",
        "data.doc_stride=96",
        "model.name=b\\ c",
    ]
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    assert [o.value() for o in parsed] == [1, lr, 96, "b c"]  # the very values sampled


def test_a_search_needs_a_searchable_form():
    with pytest.raises(ConfigError, match="choice"):
        SearchSpace.parse({}, ["optimizer.lr=glob(*)"])
