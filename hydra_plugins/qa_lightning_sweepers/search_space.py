"""The search space of an Optuna sweep, in Hydra's override grammar, as Optuna distributions.

``hydra.sweeper.params`` and the command line name parameters the way every Hydra sweep
does; the command line wins for a key in both. What each form searches:

* ``choice(a, b, c)`` or ``a,b,c``: one of the values (categorical);
* ``range(1, 5)``: the integers 1..4 (``range(start, stop, step)``; a float range is
  categorical over its values);
* ``interval(1e-5, 3e-4)``: a float between; ``tag(log, interval(...))`` on a log scale,
  ``tag(int, interval(8, 64))`` an integer (Hydra reads an interval's ends as floats);
* anything else is fixed, the same in every trial.

The distributions are Optuna's current classes (Float, Int, Categorical); the Hydra plugin
built the Optuna 2 ones that Optuna 3 deprecated.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep

from qa_lightning.errors import ConfigError


@dataclass
class SearchSpace:
    """Searched parameters (their distributions) and the overrides every trial shares."""

    distributions: dict[str, Any] = field(default_factory=dict)
    fixed: list[str] = field(default_factory=list)
    # the override's key as written (``+key`` for an added one) and, for a choice, the
    # text of each value (a sampled value becomes an override by its own text)
    keys: dict[str, str] = field(default_factory=dict)
    choice_texts: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, params: Mapping[str, Any] | None, arguments: Iterable[str]) -> "SearchSpace":
        """From ``hydra.sweeper.params`` ({key: override value}) and the command line."""
        parser = OverridesParser.create()
        lines = [f"{key}={value}" for key, value in (params or {}).items()]
        overrides: dict[str, Override] = {}
        for override in [*parser.parse_overrides(lines), *parser.parse_overrides(list(arguments))]:
            overrides[override.key_or_group] = override  # the command line comes last: it wins
        space = cls()
        for key, override in overrides.items():
            if not override.is_sweep_override():
                space.fixed.append(override.input_line)
                continue
            space.keys[key] = override.get_key_element()
            space.distributions[key] = space._distribution(key, override)
        return space

    def _distribution(self, key: str, override: Override) -> Any:
        import optuna.distributions as d

        sweep = override.value()
        tags = getattr(sweep, "tags", set())
        if isinstance(sweep, IntervalSweep):
            if "int" in tags:
                return d.IntDistribution(int(sweep.start), int(sweep.end), log="log" in tags)
            return d.FloatDistribution(float(sweep.start), float(sweep.end), log="log" in tags)
        if isinstance(sweep, RangeSweep) and not sweep.shuffle and "log" not in tags:
            values = list(override.sweep_iterator())
            if values and all(isinstance(v, int) for v in values):
                return d.IntDistribution(values[0], values[-1], step=int(sweep.step))
        if isinstance(sweep, ChoiceSweep | RangeSweep):
            values = list(override.sweep_iterator())
            if not values:
                raise ConfigError(f"{override.input_line}: an empty search range")
            self.choice_texts[key] = list(override.sweep_string_iterator())
            return d.CategoricalDistribution([_plain(v) for v in values])
        raise ConfigError(
            f"{override.input_line}: give choice(...), range(...) or interval(...) to search"
        )

    def overrides(self, params: Mapping[str, Any]) -> list[str]:
        """One trial's overrides: the fixed ones, then each searched key at its value."""
        sampled = []
        for key, distribution in self.distributions.items():
            value = params[key]
            if key in self.choice_texts:
                index = distribution.choices.index(_plain(value))
                text = self.choice_texts[key][index]
            else:
                text = repr(value)  # a float's repr reads back as the same float
            sampled.append(f"{self.keys[key]}={text}")
        return [*self.fixed, *sampled]


def _plain(value: Any) -> Any:
    """A choice as Optuna keeps it (None, bool, int, float or str; a list or a mapping of
    a choice becomes its text)."""
    return value if value is None or isinstance(value, bool | int | float | str) else str(value)
