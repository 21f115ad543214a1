"""The generated configuration reference (docs/hooks/config_reference.py) against the schema
and conf/: every key each entry point accepts has a row, every option of every group is
listed, the closed sets and the comments reach their rows, and a key added to the schema
shows up (or is reported missing by the same check)."""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import re
import sys
from pathlib import Path

import pytest
import yaml
from omegaconf import DictConfig, OmegaConf

from qa_lightning.config import (
    BACKENDS,
    FREEZE_POLICIES,
    HEADS,
    LANGUAGES,
    LOGGING_INTERVALS,
    MONITOR_MODES,
    ON_BAD_RECORD,
    WANDB_MODES,
    DataConfig,
    ExportConfig,
    ServeConfig,
)

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"


def _load_generator():
    """docs/hooks/config_reference.py and config_schema.py, imported as mkdocs imports the
    hook beside them: with their folder on sys.path."""
    hooks = str(ROOT / "docs" / "hooks")
    sys.path.insert(0, hooks)
    try:
        return importlib.import_module("config_reference"), importlib.import_module("config_schema")
    finally:
        sys.path.remove(hooks)


ref, schema = _load_generator()


# -- reading the page --------------------------------------------------------------------------


def cells(line: str) -> list[str]:
    """A Markdown table row's cells: split at each ``|`` that is neither escaped nor inside
    inline code (as python-markdown's tables split them)."""
    out, cell, in_code, i = [], "", False, 0
    body = line.strip()[1:-1]
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            cell += body[i : i + 2]
            i += 2
            continue
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            out.append(cell.strip())
            cell = ""
        else:
            cell += char
        i += 1
    return [*out, cell.strip()]


def key_rows(page: str) -> dict[str, list[list[str]]]:
    """Key -> the cells of each row of a key table (a key may have one row per meaning)."""
    rows: dict[str, list[list[str]]] = {}
    for line in page.splitlines():
        if line.startswith("| `"):
            row = cells(line)
            if len(row) == 6:  # key, type, default, allowed, entry points, description
                rows.setdefault(row[0].strip("`"), []).append(row)
    return rows


def plain(cell: str) -> str:
    """A cell's text as a reader sees it: escapes and backticks gone."""
    text = re.sub(r"\\(.)", r"\1", cell).replace("&lt;", "<").replace("&gt;", ">")
    return text.replace("`", "")


def accepts(row: list[str], script: str) -> bool:
    return row[4] == "all" or script.removesuffix(".py") in row[4].split(", ")


def omegaconf_keys(schema: type) -> set[str]:
    """Every dotted key OmegaConf's structured config of ``schema`` accepts: a typed node is
    walked (a null one by its declared type), anything else (a value, a list, a dict, an
    ``Any`` node) is one key. Written apart from the generator's walk, which reads the
    dataclasses' type hints."""

    def walk(node: DictConfig, prefix: str) -> set[str]:
        found = set()
        for name in node:
            child = node._get_node(name)  # the node itself, even where its value is null
            declared = child._metadata.ref_type  # OmegaConf has no public getter for it
            if dataclasses.is_dataclass(declared):
                found |= walk(OmegaConf.structured(declared), f"{prefix}{name}.")
            else:
                found.add(f"{prefix}{name}")
        return found

    return walk(OmegaConf.structured(schema), "")


def missing_rows(page: str, keys_by_script: dict[str, set[str]]) -> list[str]:
    """``script: key`` for each key a schema accepts that no row of the page lists for it."""
    rows = key_rows(page)
    return sorted(
        f"{script}: {key}"
        for script, keys in keys_by_script.items()
        for key in keys
        if not any(accepts(row, script) for row in rows.get(key, []))
    )


@pytest.fixture(scope="module")
def entries():
    return schema.entry_points()


@pytest.fixture(scope="module")
def page(entries):
    return ref.render(entries)


# -- the tests ---------------------------------------------------------------------------------


def test_entry_points_are_every_top_level_config(entries):
    assert sorted(e.config.name for e in entries) == sorted(p.name for p in CONF.glob("*.yaml"))
    for entry in entries:
        assert (ROOT / entry.script).is_file(), entry.script


def test_every_key_of_every_entry_schema_has_a_row(page, entries):
    keys = {e.script: omegaconf_keys(e.schema) for e in entries}
    assert all(keys.values())
    assert missing_rows(page, keys) == []
    generated = schema.schema_keys(entries)
    for script, found in keys.items():
        assert found <= generated[script]
        # beyond these, schema_keys() lists only the typed nodes that hold them
        for node in generated[script] - found:
            assert any(key.startswith(f"{node}.") for key in found), node


def test_every_table_row_has_its_header_s_cells(page):
    """An unescaped ``|`` in a type, a value or a comment would split a cell."""
    header = None
    for line in page.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        if header is None:
            header = cells(line)
        assert len(cells(line)) == len(header), line


def test_a_key_added_to_the_schema_is_caught_and_then_listed(page, entries):
    @dataclasses.dataclass
    class ExportWithKnob(ExportConfig):
        # a knob the page was not built with
        knob: int = 3  # turned at start

    changed = [
        dataclasses.replace(e, schema=ExportWithKnob) if e.schema is ExportConfig else e
        for e in entries
    ]
    keys = {e.script: omegaconf_keys(e.schema) for e in changed}
    assert missing_rows(page, keys) == ["export.py: knob"]

    new_page = ref.render(changed)
    assert missing_rows(new_page, keys) == []
    (row,) = key_rows(new_page)["knob"]
    assert row[1:3] == ["`int`", "`3`"]
    assert row[4] == "export"
    assert plain(row[5]) == "a knob the page was not built with turned at start"


def test_every_option_of_every_group_is_listed(page):
    options = sorted(p for p in CONF.rglob("*.yaml") if p.parent != CONF)
    assert options
    groups = re.split(r"^### ", page, flags=re.MULTILINE)
    by_group = {chunk.split(" ", 1)[0]: chunk for chunk in groups[1:]}
    for path in options:
        group = path.parent.relative_to(CONF).as_posix()
        assert group in by_group, group
        assert f"| `{path.stem}` |" in by_group[group], path
        assert f'??? note "{group}={path.stem}"' in by_group[group], path


def test_each_entry_point_s_default_options_are_shown(page, entries):
    matrix = {}
    for line in page.split("## Top-level keys")[0].splitlines():
        if line.startswith("| [`") or line.startswith("| `"):
            row = cells(line)
            matrix[re.search(r"`([^`]+)`", row[0]).group(1)] = row[1:]
    for column, entry in enumerate(entries):
        assert f"`conf/{entry.config.name}`" in page
        config = yaml.safe_load(entry.config.read_text(encoding="utf-8"))
        picks = [item for item in config["defaults"] if isinstance(item, dict)]
        assert picks, entry.config
        for item in picks:
            ((group, option),) = item.items()
            assert matrix[group][column] == f"`{'null' if option is None else option}`"


def _closed_sets() -> dict[str, tuple[str, ...]]:
    """The keys with a fixed set of values and that set, imported from where the code
    checks them (the heavy modules only here)."""
    from qa_lightning.cli.checks import lightning_precisions
    from qa_lightning.data.checks import SOURCES
    from qa_lightning.models.checks import ATTN_IMPLEMENTATIONS
    from qa_lightning.models.optimization import SCHEDULER_NAMES

    return {
        "data.source": SOURCES,
        "data.on_bad_record": ON_BAD_RECORD,
        "data.language": LANGUAGES,
        "backend": BACKENDS,
        "model.freeze": FREEZE_POLICIES,
        "model.head": HEADS,
        "model.attn_implementation": ATTN_IMPLEMENTATIONS,
        "trainer.precision": ("auto", *lightning_precisions()),
        "scheduler.name": SCHEDULER_NAMES,
        "logger.wandb.mode": WANDB_MODES,
        "callbacks.checkpoint.mode": MONITOR_MODES,
        "callbacks.early_stopping.mode": MONITOR_MODES,
        "callbacks.lr_monitor.logging_interval": LOGGING_INTERVALS,
    }


def _allowed(cell: str) -> list[str]:
    """The values of an allowed-values cell (its note, in parentheses, left out)."""
    return re.findall(r"`([^`]+)`", cell.split(" (", 1)[0])


def test_each_closed_set_shows_exactly_its_values(page):
    rows = key_rows(page)
    expected = _closed_sets()
    for key, values in expected.items():
        (row,) = rows[key]
        assert _allowed(row[3]) == list(values), key
    tied = {key for key, found in rows.items() for row in found if row[3]}
    assert tied == set(expected), "a key gained or lost its closed set: update _closed_sets"


def test_the_hand_tied_closed_sets_name_keys_of_the_schema(entries):
    keys = set().union(*(omegaconf_keys(e.schema) for e in entries))
    for key in schema.EXPLICIT_CHOICES:
        assert key in keys, f"{key} left the schema: drop it from EXPLICIT_CHOICES"


def _source_comment(cls: type, field: str) -> str:
    """A field's comment as its source has it: the ``#`` lines right above it and the one
    at the end of its line, joined."""
    lines = inspect.getsource(cls).splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{field}:"))
    above = []
    for line in reversed(lines[:at]):
        if not line.strip().startswith("#"):
            break
        above.insert(0, line.strip().lstrip("#").strip())
    trailing = lines[at].partition("  # ")[2].strip()
    return " ".join([*above, trailing] if trailing else above)


@pytest.mark.parametrize(
    ("cls", "field", "key"),
    [
        (DataConfig, "max_question_tokens", "data.max_question_tokens"),  # trailing comment
        (DataConfig, "eval_sets", "data.eval_sets"),  # a block above the field
        (ServeConfig, "max_wait_ms", "max_wait_ms"),  # a block, on an entry's own key
    ],
)
def test_a_field_s_comment_reaches_its_row(page, cls, field, key):
    comment = _source_comment(cls, field)
    assert comment
    (row,) = key_rows(page)[key]
    assert plain(row[5]) == comment


def test_the_sections_other_pages_link_to_have_stable_anchors(page):
    for section in (
        "top-level",
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
        "export-serve",
        "entry-points",
        "config-groups",
        "group-model-head",
    ):
        assert re.search(rf"^##+ .+ \{{#{section}\}}$", page, flags=re.MULTILINE), section


def test_the_page_says_how_to_set_a_key_and_that_it_is_generated(page):
    intro = page.split("## ", 1)[0]
    for phrase in ("python train.py data.doc_stride=64", "`+", "`~", "model=minilm", "generated"):
        assert phrase in intro, phrase
