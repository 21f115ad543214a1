"""What the configuration reference is made of, read from the code: the entry points and
their typed schemas (``qa_lightning/config/``), each field's comment read from the source,
the closed sets the start checks hold each key to, and the options of every config group
under ``conf/``. ``config_reference`` renders them as a page.
"""

from __future__ import annotations

import ast
import dataclasses
import fnmatch
import functools
import importlib
import importlib.util
import inspect
import re
import textwrap
import tokenize
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

import qa_lightning
from qa_lightning.config import register_configs

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"
PACKAGE = Path(qa_lightning.__file__).resolve().parent

NOT_SET = object()  # an open key that the default option does not set


def _precisions() -> tuple[str, ...]:
    """What ``trainer.precision`` takes: Lightning's values and ``auto`` (cli/checks.py)."""
    from qa_lightning.cli.checks import lightning_precisions
    from qa_lightning.cli.precision import AUTO

    return (AUTO, *lightning_precisions())


# Keys whose closed set no choice()/choice_error() call names (a membership test or a
# computed list checks them), tied here by hand: key -> (module, tuple or function that
# lists the values, what else the key takes). A test fails when one leaves the schema.
EXPLICIT_CHOICES = {
    "model.head": ("qa_lightning.config.model", "HEADS", "or a node with a `_target_`"),
    "model.attn_implementation": (
        "qa_lightning.models.checks",
        "ATTN_IMPLEMENTATIONS",
        "or null: transformers picks",
    ),
    "trainer.precision": (__name__, "_precisions", ""),
}


# -- comments and docstrings read from the source ---------------------------------------------
# No library reads a dataclass field's comments (they are not in the AST, and docstrings
# attach to classes only), so they are read here: ast gives the fields' lines, tokenize the
# comments' lines.


@functools.cache
def _comments(path: Path) -> dict[int, tuple[str, bool]]:
    """Line -> (comment text, whether the comment is alone on its line) of a source file."""
    found: dict[int, tuple[str, bool]] = {}
    with path.open("rb") as f:
        for tok in tokenize.tokenize(f.readline):
            if tok.type == tokenize.COMMENT:
                text = tok.string.lstrip("#").removeprefix(":")
                found[tok.start[0]] = (text.rstrip(), not tok.line[: tok.start[1]].strip())
    return found


def _comment_lines(path: Path, first: int, last: int) -> list[str]:
    """The comment block right above line ``first`` (no blank line between) and the
    trailing comments on lines ``first`` to ``last``, in reading order."""
    comments = _comments(path)
    above: list[str] = []
    line = first - 1
    while line in comments and comments[line][1]:
        above.insert(0, comments[line][0])
        line -= 1
    trailing = [comments[n][0] for n in range(first, last + 1) if n in comments]
    return above + [text for text in trailing if text not in above]


_COMMAND = re.compile(r"python |\S+=")  # a command line, or overrides (data=squad_json ...)


def _join(lines: list[str]) -> str:
    """Comment lines as one paragraph; a line indented beyond the block's margin that reads
    as a command or as overrides is kept whole as inline code."""
    lines = [line for line in lines if line.strip()]
    if not lines:
        return ""
    margin = min(len(line) - len(line.lstrip()) for line in lines)
    parts = []
    for line in lines:
        indented = len(line) - len(line.lstrip()) > margin
        parts.append(
            f"`{line.strip()}`" if indented and _COMMAND.match(line.strip()) else line.strip()
        )
    return " ".join(parts)


def _class_source(cls: type) -> tuple[Path, ast.ClassDef, int]:
    """The file, syntax tree and line offset of a class."""
    lines, start = inspect.getsourcelines(cls)
    node = ast.parse(textwrap.dedent("".join(lines))).body[0]
    assert isinstance(node, ast.ClassDef)
    return Path(inspect.getsourcefile(cls)), node, start - 1


@functools.cache
def field_comments(cls: type) -> dict[str, str]:
    """Field -> its comment, for the fields ``cls`` itself declares (not its bases')."""
    path, node, offset = _class_source(cls)
    docs = {}
    for stmt in node.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            lines = _comment_lines(path, stmt.lineno + offset, stmt.end_lineno + offset)
            docs[stmt.target.id] = _join(lines)
    return docs


def class_doc(cls: type) -> str:
    """A class's own docstring (never the signature dataclasses writes in its place)."""
    _, node, _ = _class_source(cls)
    return rst_to_md(ast.get_docstring(node) or "")


def field_doc(cls: type, name: str) -> str:
    """The comment of field ``name`` of ``cls``: where ``cls`` or the nearest base that
    declares it has one (an entry's own ``task_name`` has none; its base's says what it is)."""
    for klass in cls.__mro__:
        if dataclasses.is_dataclass(klass) and name in vars(klass).get("__annotations__", {}):
            doc = field_comments(klass).get(name)
            if doc:
                return doc
    return ""


def constant_doc(module: str, name: str) -> str:
    """The comment block above a module-level constant's assignment."""
    path, tree = _parsed(module)
    stmt = _assignment(tree, name)
    return _join(_comment_lines(path, stmt.lineno, stmt.lineno)) if stmt else ""


def rst_to_md(text: str) -> str:
    """A docstring's reStructuredText markup as Markdown, unwrapped (``x`` and :class:`x`
    are inline code)."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text).replace("``", "`")
    return re.sub(r"\s*\n\s*", " ", text.strip())


# -- the schema ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class EntryPoint:
    """One entry point: its script, its typed schema and its config file."""

    script: str
    schema: type
    config: Path


def entry_points(conf_dir: Path = CONF) -> list[EntryPoint]:
    """Every ``conf/<name>.yaml`` whose defaults start from a registered schema, in the order
    the schemas are registered (qa_lightning.config.register_configs)."""
    register_configs()
    repo = ConfigStore.instance().repo
    found = []
    for path in conf_dir.glob("*.yaml"):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("defaults", []):
            if isinstance(item, str) and f"{item}.yaml" in repo:
                schema = OmegaConf.get_type(ConfigStore.instance().load(f"{item}.yaml").node)
                found.append((list(repo).index(f"{item}.yaml"), path, schema))
    return [EntryPoint(f"{path.stem}.py", schema, path) for _, path, schema in sorted(found)]


@dataclasses.dataclass(frozen=True)
class Key:
    """One key a schema accepts."""

    name: str
    type: str
    default: Any
    doc: str
    node: bool = False  # a typed node: its keys follow it


def node_class(tp: Any) -> type | None:
    """The dataclass a field's type is, alone or with None."""
    args = get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,)
    found = [a for a in args if dataclasses.is_dataclass(a)]
    return found[0] if found else None


def type_text(tp: Any) -> str:
    """A type as a reader writes it: ``int``, ``str | None``, ``list[str]``, ``any``."""
    if tp is Any:
        return "any"
    if tp is type(None):
        return "None"
    if dataclasses.is_dataclass(tp):
        return "node"
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        none = ["None"] if type(None) in args else []
        return " | ".join([type_text(a) for a in args if a is not type(None)] + none)
    if origin is not None:
        return f"{origin.__name__}[{', '.join(type_text(a) for a in get_args(tp))}]"
    return tp.__name__


def _default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def walk_schema(cls: type, prefix: str = "") -> Iterator[Key]:
    """Every key of a schema dataclass, depth first: a typed node, then its keys. A field
    typed ``Any`` or as a dict or list is one key (its contents are open)."""
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        name = f"{prefix}{f.name}"
        node = node_class(hints[f.name])
        yield Key(name, type_text(hints[f.name]), _default(f), field_doc(cls, f.name), bool(node))
        if node is not None:
            yield from walk_schema(node, f"{name}.")


def schema_keys(entries: list[EntryPoint] | None = None) -> dict[str, set[str]]:
    """Every dotted key each entry point's schema accepts, by script."""
    entries = entry_points() if entries is None else entries
    return {e.script: {key.name for key in walk_schema(e.schema)} for e in entries}


# -- the closed sets -------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def _parsed(module: str) -> tuple[Path, ast.Module]:
    """A qa_lightning module's file and syntax tree, read without importing it."""
    base = PACKAGE.parent.joinpath(*module.split("."))
    path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    return path, ast.parse(path.read_text(encoding="utf-8"))


def _assignment(tree: ast.Module, name: str) -> ast.stmt | None:
    """The module-level statement that assigns ``name``, if any."""
    for stmt in tree.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return stmt
    return None


def _imported_names(module: str) -> dict[str, str]:
    """Name -> the module a ``from ... import name`` in ``module`` takes it from."""
    path, tree = _parsed(module)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return {
        alias.asname or alias.name: importlib.util.resolve_name(
            "." * stmt.level + (stmt.module or ""), package
        )
        for stmt in ast.walk(tree)
        if isinstance(stmt, ast.ImportFrom)
        for alias in stmt.names
    }


def defining_module(module: str, name: str) -> str:
    """The module that assigns ``name``, followed from ``module`` through its imports (only
    that module is imported for the value, and its comment is read there)."""
    while _assignment(_parsed(module)[1], name) is None:
        source = _imported_names(module).get(name)
        if source is None or not source.startswith(f"{PACKAGE.name}."):
            break
        module = source
    return module


def _key_pattern(node: ast.expr, strings: Mapping[str, ast.expr]) -> str | None:
    """A choice() call's key argument as a pattern: ``"data.source"``, an f-string with
    ``*`` for each field, or a local variable holding either."""
    if isinstance(node, ast.Name) and node.id in strings:
        node = strings[node.id]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "*" for v in node.values)
    return None


@functools.cache
def choice_sites() -> tuple[tuple[str, str, str], ...]:
    """(key pattern, module, name of the tuple) of every ``choice(ALLOWED, value, key)`` and
    ``choice_error(ALLOWED, value, key)`` call under qa_lightning/: where a key is tied to
    its closed set. The module is the one that defines the tuple."""
    sites = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        tree = _parsed(module)[1]
        for scope in [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef))]:
            strings = {
                t.id: stmt.value
                for stmt in ast.walk(scope)
                if isinstance(stmt, ast.Assign)
                for t in stmt.targets
                if isinstance(t, ast.Name)
            }
            for call in ast.walk(scope):
                if not (
                    isinstance(call, ast.Call)
                    and getattr(call.func, "id", getattr(call.func, "attr", None))
                    in ("choice", "choice_error")
                    and len(call.args) == 3
                    and isinstance(call.args[0], ast.Name)
                ):
                    continue
                pattern = _key_pattern(call.args[2], strings)
                name = call.args[0].id
                if pattern is not None:
                    sites.add((pattern, defining_module(module, name), name))
    return tuple(sorted(sites))


@dataclasses.dataclass(frozen=True)
class Allowed:
    """A key's closed set, where it is defined and what else the key takes."""

    values: tuple[str, ...]
    module: str
    name: str  # the tuple, or the function that lists the values
    note: str = ""

    @classmethod
    def load(cls, module: str, name: str, note: str = "") -> Allowed:
        """The values, imported from where they are defined (never copied)."""
        found = getattr(importlib.import_module(module), name)
        return cls(tuple(found() if callable(found) else found), module, name, note)


def allowed_values(keys: set[str]) -> dict[str, Allowed]:
    """The closed set of each of ``keys`` that has one: from the choice() calls, else from
    :data:`EXPLICIT_CHOICES`. Two calls that tie one key to different values fail."""
    found: dict[str, Allowed] = {}
    for pattern, module, name in choice_sites():
        for key in fnmatch.filter(keys, pattern):
            allowed = Allowed.load(module, name)
            if key in found and found[key].values != allowed.values:
                raise ValueError(f"{key} is checked against {found[key].name} and {name}")
            found[key] = allowed
    for key, (module, name, note) in EXPLICIT_CHOICES.items():
        if key in keys and key not in found:
            found[key] = Allowed.load(module, name, note)
    return found


def open_choice_keys(nodes: set[str]) -> dict[str, tuple[str, str]]:
    """The keys inside open nodes (``scheduler.name``) that a choice() call checks:
    key -> (module, tuple name)."""
    return {
        pattern: (module, name)
        for pattern, module, name in choice_sites()
        if "*" not in pattern and pattern.rpartition(".")[0] in nodes
    }


# -- the config groups -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Option:
    """One YAML file of a config group."""

    name: str
    path: Path
    package: str | None  # its ``# @package`` line, if any
    doc: str
    body: str  # the file without its leading comment


def read_option(path: Path) -> Option:
    """An option file split into its leading comment (the description) and the rest."""
    lines = path.read_text(encoding="utf-8").splitlines()
    package, doc = None, []
    while lines and lines[0].startswith("#"):
        line = lines.pop(0)
        if line.startswith("# @package"):
            package = line.removeprefix("# @package").strip()
        else:
            doc.append(line[1:].rstrip())
    return Option(path.stem, path, package, _join(doc), "\n".join(lines).strip("\n"))


def config_groups(conf_dir: Path = CONF) -> dict[str, list[Option]]:
    """Every folder under conf/ with YAML files (nested ones as ``model/head``) -> options."""
    groups = {}
    for folder in sorted(p for p in conf_dir.rglob("*") if p.is_dir()):
        options = sorted(folder.glob("*.yaml"))
        if options:
            groups[folder.relative_to(conf_dir).as_posix()] = [read_option(p) for p in options]
    return groups


def entry_defaults(entry: EntryPoint) -> dict[str, str | None]:
    """Group -> the option an entry point's config picks (None: the group is empty)."""
    picks = {}
    for item in yaml.safe_load(entry.config.read_text(encoding="utf-8")).get("defaults", []):
        if isinstance(item, Mapping):
            for group, option in item.items():
                picks[group] = option
    return picks


def option_value(conf_dir: Path, group: str, option: str | None, key: str) -> Any:
    """The value an option file sets at ``key`` (dotted, below the group), or NOT_SET."""
    if option is None or not (conf_dir / group / f"{option}.yaml").is_file():
        return NOT_SET
    node = yaml.safe_load((conf_dir / group / f"{option}.yaml").read_text(encoding="utf-8"))
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return NOT_SET
        node = node[part]
    return node
