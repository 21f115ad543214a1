"""Fixed-choice config values: the Enum base every closed set of the schema uses, and the
check a library function runs on a plain string."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar

from omegaconf import DictConfig, ListConfig, OmegaConf

from qa_lightning.errors import ConfigError


class Choice(str, Enum):
    """A fixed-choice config value. YAML and the command line give the member's name, which is
    its value too; a member compares equal to its string and formats as it (``f"{x}"``), and
    :func:`to_plain` turns it back into that string wherever the config leaves the process
    (config.yaml, logger configs, checkpoints' hyper-parameters)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(member.value for member in cls)


C = TypeVar("C", bound=Choice)


def choice(kind: type[C], value: Any, key: str) -> str:
    """``value`` as the plain string of a member of ``kind``, or a one-line
    :class:`ConfigError` naming ``key`` and the values allowed. The schema's Enum fields
    already fail at compose time; this is the same check for code called with a plain string
    (a library function, an old checkpoint). Strings in, strings out."""
    try:
        return kind(value).value
    except ValueError:
        raise ConfigError(f"{key}={value!r}; use one of {', '.join(kind.values())}") from None


def to_plain(node: Any) -> Any:
    """A config node as plain Python (interpolations resolved, Enum members as their strings):
    what is handed to code outside the config (loggers, callbacks, checkpoints' hyper-
    parameters) and written to files."""
    if isinstance(node, DictConfig | ListConfig):
        return OmegaConf.to_container(node, resolve=True, enum_to_str=True)
    if isinstance(node, Mapping):
        return {k: to_plain(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return type(node)(to_plain(v) for v in node)
    return node.value if isinstance(node, Enum) else node
