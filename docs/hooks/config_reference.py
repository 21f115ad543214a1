"""The page ``reference/configuration.md``, generated at build time from the typed schema
(``qa_lightning/config/``) and the YAML under ``conf/``, so that it can never disagree with
the code: every key with its type, default, allowed values, comment and entry points, and
every option of every config group. ``generated_pages.py`` (the mkdocs hook) calls
:func:`render`; ``tests/docs/test_config_reference.py`` checks the page against the schema.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_type_hints

import yaml
from config_schema import (
    CONF,
    NOT_SET,
    PACKAGE,
    Allowed,
    EntryPoint,
    Key,
    Option,
    allowed_values,
    class_doc,
    config_groups,
    constant_doc,
    entry_defaults,
    entry_points,
    node_class,
    open_choice_keys,
    option_value,
    read_option,
    rst_to_md,
    walk_schema,
)
from omegaconf import MISSING

from qa_lightning.config import ModelRunConfig

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
            opens = node_class(hints[f.name]) is not None or hints[f.name] is Any
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
            s: option_value(conf_dir, node, entry_defaults(by_script[s]).get(node), rest)
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
        node = node_class(get_type_hints(entry.schema).get(section))
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
