"""Plain values: the config object holds strings, numbers and nodes only (no Enum), so what
leaves the process (config.yaml, loggers' configs, checkpoints' hyper-parameters) is the
config as composed. A value from a fixed set is a plain string checked once at start by its
owner with :func:`choice`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from qa_lightning.errors import ConfigError


def choice_error(allowed: Sequence[str], value: Any, key: str) -> ConfigError:
    """The one-line error of ``key=value`` outside ``allowed``: for code that dispatches on
    the value and meets one nobody checked (a library caller)."""
    return ConfigError(f"{key}={value!r}; use one of {', '.join(allowed)}")


def choice(allowed: Sequence[str], value: Any, key: str) -> str:
    """``value`` if it is one of ``allowed``, else a one-line :class:`ConfigError` naming
    ``key`` and the values allowed."""
    if isinstance(value, str) and value in allowed:
        return value
    raise choice_error(allowed, value, key)


def to_plain(node: Any) -> Any:
    """A config node as plain Python, interpolations resolved (anything else as it is): what
    is handed to code outside the config and written to files."""
    if isinstance(node, DictConfig | ListConfig):
        return OmegaConf.to_container(node, resolve=True)
    return node
