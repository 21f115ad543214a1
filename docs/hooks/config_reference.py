"""The page ``reference/configuration.md``, generated at build time from the typed schema
(``qa_lightning/config/``) and the YAML under ``conf/``, so that it can never disagree with
the code: every key with its type, default, allowed values, comment and entry points, and
every option of every config group. ``generated_pages.py`` (the mkdocs hook) calls
:func:`render`; ``tests/docs/test_config_reference.py`` checks the page against the schema.
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
from omegaconf import MISSING, OmegaConf

import qa_lightning
from qa_lightning.config import ModelRunConfig, register_configs

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"
PACKAGE = Path(qa_lightning.__file__).resolve().parent
PAGE = "reference/configuration.md"

# The sections in reading order; a node section not named here comes after them.
SECTION_ORDER = (
    "data",
    "model",
    "trainer",
    "optimizer",
    "optimizer_groups",
    "scheduler",
    "logger",
    "callbacks",
    "evaluation",
    "paths",
    "extras",
)
TOP_LEVEL = "top-level"
TOOLS = "tools"  # the keys of the entry points that run no model on data (export, serve)
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


def _node_class(tp: Any) -> type | None:
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
        node = _node_class(hints[f.name])
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


def _option_value(conf_dir: Path, group: str, option: str | None, key: str) -> Any:
    """The value an option file sets at ``key`` (dotted, below the group), or NOT_SET."""
    if option is None or not (conf_dir / group / f"{option}.yaml").is_file():
        return NOT_SET
    node = yaml.safe_load((conf_dir / group / f"{option}.yaml").read_text(encoding="utf-8"))
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return NOT_SET
        node = node[part]
    return node


# -- Markdown ----------------------------------------------------------------------------------

_CODE = re.compile(r"(`[^`\n]+`)")


def md(text: str) -> str:
    """Prose for a table cell: Markdown's special characters escaped outside inline code
    (``|`` would end the cell, ``<name>`` would be an HTML tag, ``_target_`` emphasis)."""
    parts = _CODE.split(text)
    for i in range(0, len(parts), 2):
        escaped = parts[i].replace("\\", "\\\\")
        for char in "|*_[{}`":
            escaped = escaped.replace(char, "\\" + char)
        parts[i] = escaped.replace("<", "&lt;").replace(">", "&gt;")
    return "".join(parts)


def code(text: str) -> str:
    """Inline code for a table cell (python-markdown's tables split no cell at a ``|``
    inside backticks; a backtick in the text takes a longer fence)."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def value_text(value: Any) -> str:
    """A value as YAML writes it, inline."""
    if isinstance(value, str):
        return value if value else '""'
    return (
        yaml.safe_dump(value, default_flow_style=True, width=10**6)
        .strip()
        .removesuffix("...")
        .strip()
    )


def default_cell(key: Key) -> str:
    if key.default is NOT_SET:
        return ""
    if key.default is MISSING or key.default == MISSING:
        return "required"
    if key.node:
        return code("null") if key.default is None else "the keys below"
    return code(value_text(key.default))


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _heading(level: int, title: str, anchor: str) -> str:
    return f"{'#' * level} {title} {{#{anchor}}}"


def group_anchor(group: str) -> str:
    return "group-" + group.replace("/", "-").replace("_", "-")


# -- the page ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Row:
    """One row of a section's table: a key as one or more entry points accept it."""

    key: Key
    defaults: dict[str, Any]  # script -> default, where they differ
    scripts: list[str]
    allowed: Allowed | None = None


def sections(entries: list[EntryPoint]) -> list[str]:
    """The top-level keys that head a section of their own (typed nodes and open ones), in
    :data:`SECTION_ORDER`, any other after them."""
    found: list[str] = []
    for entry in entries:
        hints = get_type_hints(entry.schema)
        for f in dataclasses.fields(entry.schema):
            opens = _node_class(hints[f.name]) is not None or hints[f.name] is Any
            if opens and f.name not in found:
                found.append(f.name)
    rank = {name: i for i, name in enumerate(SECTION_ORDER)}
    return sorted(found, key=lambda name: rank.get(name, len(rank)))


def merged_rows(entries: list[EntryPoint]) -> list[Row]:
    """Every key of every entry point's schema, one row per (key, type, comment) with the
    entry points that accept it; the sections' own nodes have their heading instead."""
    rows: dict[tuple[str, str, str], Row] = {}
    for entry in entries:
        for key in walk_schema(entry.schema):
            if key.node and "." not in key.name:
                continue
            row = rows.setdefault((key.name, key.type, key.doc), Row(key, {}, []))
            row.defaults[entry.script] = key.default
            row.scripts.append(entry.script)
    return list(rows.values())


def rows_by_section(entries: list[EntryPoint], conf_dir: Path) -> dict[str, list[Row]]:
    """The rows of every section, allowed values tied: a key goes to the section of its first
    part, else to the top level; a key that only the tools accept (export.py, serve.py: no
    model run on data) to their own section."""
    tools = {e.script for e in entries if not issubclass(e.schema, ModelRunConfig)}
    placed: dict[str, list[Row]] = {TOP_LEVEL: [], **{s: [] for s in sections(entries)}, TOOLS: []}
    for row in merged_rows(entries):
        section = row.key.name.split(".")[0]
        if set(row.scripts) <= tools:
            section = TOOLS
        elif section not in placed:
            section = TOP_LEVEL
        placed[section].append(row)
    _add_open_keys(placed, entries, conf_dir)
    allowed = allowed_values({row.key.name for rows in placed.values() for row in rows})
    for rows in placed.values():
        for row in rows:
            row.allowed = allowed.get(row.key.name)
    return placed


def _add_open_keys(placed: dict[str, list[Row]], entries: list[EntryPoint], conf_dir: Path) -> None:
    """Rows for the keys inside open nodes that the code checks against a closed set
    (``scheduler.name``): typed by that check, their default the one each entry point's
    default option sets, their comment the tuple's."""
    nodes = {row.key.name: row for rows in placed.values() for row in rows if row.key.type == "any"}
    for name, (module, constant) in open_choice_keys(set(nodes)).items():
        node, _, rest = name.rpartition(".")
        scripts = nodes[node].scripts
        by_script = {e.script: e for e in entries}
        defaults = {
            s: _option_value(conf_dir, node, entry_defaults(by_script[s]).get(node), rest)
            for s in scripts
        }
        doc = constant_doc(module, constant).removeprefix(f"{name}: ")
        key = Key(name, "str", next(iter(defaults.values())), doc)
        section = placed[node.split(".")[0]] if node.split(".")[0] in placed else placed[TOP_LEVEL]
        section.insert(section.index(nodes[node]) + 1, Row(key, defaults, list(scripts)))


def _scripts_cell(scripts: list[str], every: list[str]) -> str:
    if scripts == every:
        return "all"
    return ", ".join(s.removesuffix(".py") for s in scripts)


def _default_cell(row: Row) -> str:
    """The default, or each entry point's where they differ (``task_name``)."""
    cells = {
        s: default_cell(dataclasses.replace(row.key, default=v)) for s, v in row.defaults.items()
    }
    if len(set(cells.values())) == 1:
        return next(iter(cells.values()))
    return "<br>".join(f"{s.removesuffix('.py')}: {cell}" for s, cell in cells.items())


def _description(row: Row) -> str:
    """The key's comment, less the name of its closed set's tuple (the values are in their
    own column); where nothing else is left, the tuple's own comment."""
    doc, allowed = row.key.doc, row.allowed
    if allowed is None or not allowed.module.startswith(f"{PACKAGE.name}."):
        return doc
    # the name alone, leading ("NAME; auto: ...") or trailing ("... (NAME)")
    doc = re.sub(rf"^{allowed.name}(?:;\s*|$)|(?:^|\s+)\(?{allowed.name}\)?$", "", doc)
    return doc or constant_doc(allowed.module, allowed.name).removeprefix(f"{row.key.name}: ")


def _allowed_cell(row: Row) -> str:
    if row.allowed is None:
        return ""
    cell = ", ".join(code(v) for v in row.allowed.values)
    return f"{cell} ({md(row.allowed.note)})" if row.allowed.note else cell


def key_table(rows: list[Row], every: list[str]) -> list[str]:
    header = ("key", "type", "default", "allowed values", "entry points", "description")
    return table(
        header,
        [
            (
                code(row.key.name),
                code(row.key.type),
                _default_cell(row),
                _allowed_cell(row),
                _scripts_cell(row.scripts, every),
                md(_description(row)),
            )
            for row in rows
        ],
    )


def _section_intro(section: str, entries: list[EntryPoint]) -> str:
    """A typed section's docstring, else its module's docstring where that names it (an open
    node has no class: its row holds its comment)."""
    for entry in entries:
        node = _node_class(get_type_hints(entry.schema).get(section))
        if node is None:
            continue
        if class_doc(node):
            return md(class_doc(node))
        module_doc = inspect.getdoc(inspect.getmodule(node)) or ""
        if f"``{section}``" in module_doc:
            return md(rst_to_md(module_doc.split("\n\n")[0]))
    return ""


def _group_link(section: str, groups: Mapping[str, list[Option]]) -> str:
    if section not in groups:
        return ""
    names = ", ".join(code(o.name) for o in groups[section])
    return f"Options ([`conf/{section}/`](#{group_anchor(section)})): {names}; pick one with `{section}=<option>`."


def render_sections(
    placed: dict[str, list[Row]], entries: list[EntryPoint], groups: Mapping[str, list[Option]]
) -> list[str]:
    every = [e.script for e in entries]
    tools = [e for e in entries if not issubclass(e.schema, ModelRunConfig)]
    out = []
    for section, rows in placed.items():
        if not rows:
            continue
        if section == TOP_LEVEL:
            out += [_heading(2, "Top-level keys", "top-level"), ""]
            out += ["The keys at the root of the config, beside the sections below.", ""]
        elif section == TOOLS:
            title = " and ".join(e.script for e in tools)
            anchor = "-".join(e.script.removesuffix(".py") for e in tools)
            out += [_heading(2, title, anchor), ""]
            for e in tools:
                out += [md(class_doc(e.schema)), ""] if class_doc(e.schema) else []
            out += [
                "The keys below are theirs alone; those they share with the other entry points "
                "are in the sections above (see each row's entry points).",
                "",
            ]
        else:
            out += [_heading(2, section, section), ""]
            intro = " ".join(
                filter(None, [_section_intro(section, entries), _group_link(section, groups)])
            )
            out += [intro, ""] if intro else []
        out += key_table(rows, every) + [""]
    return out


def render_entry_points(entries: list[EntryPoint], groups: Mapping[str, list[Option]]) -> list[str]:
    out = [_heading(2, "Entry points and their defaults", "entry-points"), ""]
    rows = []
    for e in entries:
        option = read_option(e.config)
        schema = f"{e.schema.__module__}.{e.schema.__qualname__}"
        rows.append((code(e.script), code(f"conf/{e.config.name}"), code(schema), md(option.doc)))
    out += table(("entry point", "config", "schema", "description"), rows) + [""]
    out += [
        "The group option each entry point picks by default (`null`: none; empty: the group is "
        "not in its defaults, add one with `+group=option`):",
        "",
    ]
    picks = {e.script: entry_defaults(e) for e in entries}
    names = list(dict.fromkeys(g for p in picks.values() for g in p))
    matrix = []
    for group in names:
        cells = []
        for e in entries:
            if group not in picks[e.script]:
                cells.append("")
            else:
                cells.append(code(value_text(picks[e.script][group])))
        title = f"[{code(group)}](#{group_anchor(group)})" if group in groups else code(group)
        matrix.append((title, *cells))
    out += table(("group", *(e.script for e in entries)), matrix) + [""]
    for e in entries:
        out += [f'??? note "conf/{e.config.name}"', "", "    ```yaml"]
        out += textwrap.indent(read_option(e.config).body, "    ").splitlines() + ["    ```", ""]
    return out


def _package_note(group: str, options: list[Option]) -> str:
    """Where the options' keys go: under the group's path, or where their ``# @package``
    line says (``_global_``: anywhere, the presets)."""
    package = options[0].package
    if package == "_global_":
        return "keys are set from the root (`# @package _global_`)"
    if package:
        return f"keys go under `{package}` (`# @package {package}`)"
    return f"keys go under `{group.replace('/', '.')}`"


def render_groups(groups: Mapping[str, list[Option]], entries: list[EntryPoint]) -> list[str]:
    out = [_heading(2, "Config groups", "config-groups"), ""]
    out += [
        "Every folder under `conf/` is a config group and every YAML file in it an option: "
        "`python train.py model=minilm` picks `conf/model/minilm.yaml`, `model/head=mlp` "
        "picks `conf/model/head/mlp.yaml`. An option's keys go under the group's path "
        "(`model/head` → `model.head`) unless its first line says `# @package _global_` "
        "(the presets: they set keys anywhere).",
        "",
    ]
    picks = {e.script: entry_defaults(e) for e in entries}
    for group, options in groups.items():
        out += [_heading(3, group, group_anchor(group)), ""]
        by_option: dict[str, list[str]] = {}
        for script, p in picks.items():
            if group in p:
                by_option.setdefault(value_text(p[group]), []).append(script.removesuffix(".py"))
        intro = f"Pick with `{group}=<option>`; {_package_note(group, options)}."
        if by_option:
            picked = ", ".join(f"{code(o)} ({', '.join(s)})" for o, s in by_option.items())
            intro += f" Default: {picked}."
        out += [intro, ""]
        shared = len({o.package for o in options}) == 1
        rows = [
            (code(o.name), md(o.doc) + ("" if shared else f" ({_package_note(group, [o])})"))
            for o in options
        ]
        out += table(("option", "description"), rows) + [""]
        for o in options:
            out += [f'??? note "{group}={o.name}"', "", "    ```yaml"]
            out += textwrap.indent(o.body or "{}", "    ").splitlines() + ["    ```", ""]
    return out


def render(entries: list[EntryPoint] | None = None, conf_dir: Path = CONF) -> str:
    """The Markdown of ``reference/configuration.md``."""
    entries = entry_points(conf_dir) if entries is None else entries
    groups = config_groups(conf_dir)
    out = [
        "# Configuration reference",
        "",
        "<!-- Generated at build time by docs/hooks/config_reference.py: edit the schema or conf/, not this page. -->",
        "",
        "Set any key on the command line: `python train.py data.doc_stride=64`; a key of an "
        "open node that neither the schema nor the chosen option has takes a `+` "
        "(`+optimizer.amsgrad=true`), `~key` deletes one (`~scheduler.warmup_steps`), and "
        "`model=minilm` picks an option of a config group. This page is "
        "generated from the typed schema (`qa_lightning/config/`) and the YAML under `conf/` "
        "each time the site is built, so it always matches the code.",
        "",
        "Each table lists a section's keys: the type the schema checks when the config is "
        "composed (`any`: an "
        "open value, often a node whose keys come from the group's options below), the schema's "
        "default (`required`: no default, give one; an option an entry point picks may set "
        "another), the allowed values where the key takes one of a fixed set, the entry points "
        "that accept the key and its comment in the schema.",
        "",
    ]
    out += render_entry_points(entries, groups)
    out += render_sections(rows_by_section(entries, conf_dir), entries, groups)
    out += render_groups(groups, entries)
    return "\n".join(out).rstrip() + "\n"
