"""Components from config: one checked way to turn a ``_target_`` node into an object.

Every replaceable part (span head, loss, LightningModule, data reader, optimizer, slice,
logger, callback) is a ``_target_`` node built by ``hydra.utils.instantiate``. Before
anything loads, :func:`check_component` resolves the node's class path, checks it is what
its seam expects (a subclass of the seam's base) and that its signature takes the keys
given, so a typo fails in one line naming the config key, not deep in a training step.

The same check guards what a run saved: a class path read back from a checkpoint or a
``qa_head.json`` is only ever instantiated after :func:`resolve_class` confirms it is a
subclass of its base, so a file naming ``os.system`` runs nothing.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from qa_lightning.errors import ConfigError

# Hydra's own keys in a node: never constructor arguments.
HYDRA_KEYS = frozenset({"_target_", "_partial_", "_recursive_", "_convert_", "_args_"})


def class_path(obj: Any) -> str:
    """``module.QualifiedName`` of a class or function: what a run saves to rebuild it."""
    return f"{obj.__module__}.{obj.__qualname__}"


def _import(key: str, target: Any) -> Any:
    """The object a dotted path names: the longest importable module prefix, then its
    attributes (written here rather than Hydra's ``get_object``, which logs an error of
    several lines before raising)."""
    import importlib

    if not isinstance(target, str) or not target:
        raise ConfigError(f"{key}._target_ must be a class path string (got {target!r})")
    parts = target.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name is not None and not module_name.startswith(err.name):
                # a module that exists failed importing one of its own dependencies
                raise ConfigError(f"{key}._target_={target!r} cannot be imported ({err})") from None
            continue
        except Exception as err:  # the module itself fails on import
            reason = " ".join(str(err).split())[:200]
            raise ConfigError(f"{key}._target_={target!r} cannot be imported ({reason})") from None
        for attribute in parts[cut:]:
            if not hasattr(obj, attribute):
                raise ConfigError(
                    f"{key}._target_={target!r} cannot be imported ({module_name!r} has no "
                    f"{attribute!r})"
                )
            obj = getattr(obj, attribute)
        return obj
    raise ConfigError(f"{key}._target_={target!r} cannot be imported (no module {parts[0]!r})")


def _check_base(key: str, target: str, obj: Any, base: type | None, what: str) -> None:
    if base is None:
        if not callable(obj):
            raise ConfigError(f"{key}._target_={target!r} is not callable; give a {what}")
        return
    if not (inspect.isclass(obj) and issubclass(obj, base)):
        raise ConfigError(
            f"{key}._target_={target!r} is not a {what}: give a subclass of {class_path(base)}"
        )


def check_signature(
    key: str, obj: Callable, given: Mapping[str, Any], supplied: tuple = ()
) -> None:
    """``obj`` takes the keyword arguments ``given`` (and ``supplied``, the ones the seam
    passes itself); a one-line :class:`ConfigError` naming the first unknown key."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):  # a builtin without a signature: nothing to check
        return
    params = signature.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    names = [
        n
        for n, p in params.items()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    for name in [*given, *supplied]:
        if name not in names:
            taken = ", ".join(n for n in names if n not in supplied and n != "self") or "none"
            raise ConfigError(
                f"{key}.{name}: {obj.__qualname__} takes no {name!r}; it takes {taken}"
            )


def check_component(
    key: str,
    spec: Any,
    base: type | None,
    *,
    what: str,
    supplied: tuple[str, ...] = (),
) -> Any:
    """The class (or function) the node ``spec`` at config ``key`` names, checked: it
    imports, is a subclass of ``base`` (``None``: any callable) and takes the node's keys
    plus ``supplied`` (the arguments the seam passes when it builds it). ``what`` names the
    kind of component in messages ("span head", "loss")."""
    if not isinstance(spec, Mapping) or not spec.get("_target_"):
        raise ConfigError(f"{key} needs a _target_ (the {what}'s class path)")
    target = spec["_target_"]
    obj = _import(key, target)
    _check_base(key, target, obj, base, what)
    given = {k: v for k, v in spec.items() if k not in HYDRA_KEYS}
    check_signature(key, obj, given, supplied)
    return obj


def build_component(
    key: str, spec: Mapping[str, Any], base: type | None, *, what: str, **supplied: Any
) -> Any:
    """``spec`` checked (:func:`check_component`) and instantiated with ``supplied``."""
    from hydra.utils import instantiate

    check_component(key, spec, base, what=what, supplied=tuple(supplied))
    plain = {k: v for k, v in spec.items()}
    return instantiate(plain, _convert_="all", **supplied)


def import_modules(modules: Any, key: str = "imports") -> None:
    """Import the researcher's packages named by ``imports`` (fairseq's ``--user-dir``): what
    the user asks to run. A class path saved by a run resolves only inside these (and
    ``qa_lightning``); see :func:`resolve_class`."""
    import importlib

    for name in modules or ():
        try:
            importlib.import_module(str(name))
        except Exception as err:
            reason = " ".join(str(err).split())[:200]
            raise ConfigError(f"{key}: cannot import {name!r} ({reason})") from None


def _trusted_module(path: str) -> bool:
    """The class path's package is ``qa_lightning`` or one the user already imported."""
    import sys

    top = path.split(".", 1)[0]
    return top == "qa_lightning" or top in sys.modules


def resolve_class(path: Any, base: type, *, where: str) -> type:
    """A class path read from a saved file (``where``) as the class, only if its package is
    ``qa_lightning`` or one the user imported (``imports=[...]``, or their own script) and it
    is a subclass of ``base``: a file can never make us import a new module (whose import
    could run code) nor build anything but a component of the expected kind."""
    if not isinstance(path, str) or not _trusted_module(path):
        package = str(path).split(".", 1)[0]
        raise ConfigError(
            f"{where} names {path!r}, from a package not imported; if you trust it, add "
            f"imports=[{package}] to the command line (refusing to import it)"
        )
    obj = _import(where, path)
    if not (inspect.isclass(obj) and issubclass(obj, base)):
        raise ConfigError(
            f"{where}: {path!r} is not a subclass of {class_path(base)}; refusing to build it"
        )
    return obj
