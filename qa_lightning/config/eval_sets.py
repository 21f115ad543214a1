"""``data.eval_sets`` entries read into :class:`EvalSetConfig` objects: the shape of each
entry (a path, a Hub name, a reader node or a mapping), nothing read from disk. The data side
(``qa_lightning.data.checks.resolve_eval_sets``) adds that the files exist; the evaluation
reads the names and ``version_2`` of the result to know which metrics a run logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qa_lightning.config.data import EVAL_SET_KEYS, EvalSetConfig
from qa_lightning.errors import ConfigError


def _looks_like_file(value: str) -> bool:
    """A path, not a Hub name: it starts like one (``/``, ``./``, ``../``), has a data
    file's suffix or exists. A path that does not exist then fails naming its key, never
    after a Hub lookup."""
    return (
        value.startswith(("/", "./", "../"))
        or Path(value).suffix.lower() in (".json", ".jsonl", ".csv", ".parquet", ".gz")
        or Path(value).exists()
    )


def parse_eval_sets(data: Mapping[str, Any]) -> dict[str, EvalSetConfig]:
    """``data.eval_sets`` as :class:`EvalSetConfig` objects, in the given order; a
    :class:`ConfigError` naming ``data.eval_sets.<name>`` for an entry of the wrong shape."""
    resolved: dict[str, EvalSetConfig] = {}
    for name, spec in (data.get("eval_sets") or {}).items():
        key = f"data.eval_sets.{name}"
        if name in ("train", "validation", "predict") or "/" in str(name):
            raise ConfigError(
                f"{key}: the name {name!r} is taken or has a '/'; choose another "
                "(e.g. new_wiki, amazon)"
            )
        if isinstance(spec, str):
            if _looks_like_file(spec):
                entry = EvalSetConfig(file=spec)
            else:
                hub_name, _, split = spec.partition(":")
                entry = EvalSetConfig(hub_name=hub_name, split=split or "validation")
        elif isinstance(spec, Mapping) and "_target_" in spec:
            entry = EvalSetConfig(reader=dict(spec))
        elif isinstance(spec, Mapping):
            unknown = sorted(set(spec) - set(EVAL_SET_KEYS))
            if unknown:
                raise ConfigError(
                    f"{key} has unknown key(s) {', '.join(unknown)}; allowed: "
                    f"{', '.join(EVAL_SET_KEYS)}"
                )
            entry = EvalSetConfig(**{k: v for k, v in spec.items()})
        else:
            raise ConfigError(
                f"{key}={spec!r}: give a file path, a Hub dataset name, a reader node "
                f"{{_target_: ...}} or a mapping with {', '.join(EVAL_SET_KEYS)}"
            )
        if sum(x is not None for x in (entry.file, entry.hub_name, entry.reader)) != 1:
            raise ConfigError(f"{key}: give exactly one of file, hub_name and reader")
        if entry.reader is not None and not (
            isinstance(entry.reader, Mapping) and entry.reader.get("_target_")
        ):
            raise ConfigError(f"{key}.reader needs a _target_ (the data reader's class path)")
        if entry.max_samples is not None and entry.max_samples <= 0:
            raise ConfigError(f"{key}.max_samples={entry.max_samples} must be positive or null")
        resolved[str(name)] = entry
    return resolved
