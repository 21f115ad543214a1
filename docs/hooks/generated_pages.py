"""mkdocs hooks: the pages generated from the code at build time, so none is written twice.

- ``reference/configuration.md`` from the typed schema and ``conf/`` (``config_schema`` reads
  them, ``config_reference`` renders the page);
- the lab notebook, ``notebook/``, from ``experiments/`` (its records, tables and plots, with
  their relative links kept: the folder is mirrored as it is);
- ``benchmarks.md`` from ``benchmarks/README.md``;
- the layer contracts on the architecture page from ``pyproject.toml`` (import-linter's).

mkdocs puts this folder on ``sys.path`` while it loads the hook, hence the plain import.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from config_reference import PAGE as CONFIGURATION_PAGE
from config_reference import render as render_configuration
from mkdocs.structure.files import File, Files, InclusionLevel

if sys.version_info >= (3, 11):
    import tomllib
else:  # the docs extra installs tomli on Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = ROOT / "experiments"
NOTEBOOK = "notebook"
BENCHMARKS_PAGE = "benchmarks.md"
CONTRACTS_MARKER = "<!-- generated: import-linter contracts -->"
# The package's docstrings cross-reference in Sphinx's style (:class:`X`), which the Python
# API pages render as Markdown: the role's prefix would show as text before the name.
SPHINX_ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|exc|obj):(?=<code>)")


def notebook_records() -> list[Path]:
    """The records the notebook's index lists, in its order: the experiments' READMEs and
    the top-level records (the tables and diffs they link to are pages off the nav)."""
    index = (EXPERIMENTS / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"^\| \[[^\]]+\]\(([^)]+)\)", index, flags=re.MULTILINE)
    return [EXPERIMENTS / target for target in targets]


def page_title(path: Path) -> str:
    """A record's first heading, for the navigation."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.parent.name


def notebook_uri(path: Path) -> str:
    return f"{NOTEBOOK}/{path.relative_to(EXPERIMENTS).as_posix()}"


def on_config(config):
    """The notebook's records in the navigation, under the lab notebook's index."""
    for entry in config.nav:
        if isinstance(entry, dict) and "Lab notebook" in entry:
            entry["Lab notebook"] = [f"{NOTEBOOK}/README.md"] + [
                {page_title(record): notebook_uri(record)} for record in notebook_records()
            ]
    return config


def on_files(files: Files, config) -> Files:
    files.append(File.generated(config, CONFIGURATION_PAGE, content=render_configuration()))
    benchmarks = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    files.append(File.generated(config, BENCHMARKS_PAGE, content=benchmarks))
    in_nav = {notebook_uri(record) for record in notebook_records()} | {f"{NOTEBOOK}/README.md"}
    for path in sorted(EXPERIMENTS.rglob("*")):
        if path.is_file():
            uri = notebook_uri(path)
            inclusion = InclusionLevel.UNDEFINED if uri in in_nav else InclusionLevel.NOT_IN_NAV
            files.append(File.generated(config, uri, abs_src_path=str(path), inclusion=inclusion))
    return files


def contracts_table() -> str:
    """import-linter's contracts, as ``lint-imports`` checks them."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        contracts = tomllib.load(f)["tool"]["importlinter"]["contracts"]
    rows = ["| contract | kind | modules |", "|---|---|---|"]
    for contract in contracts:
        if contract["type"] == "layers":
            modules = " > ".join(f"`{layer}`" for layer in contract["layers"])
        elif contract["type"] == "forbidden":
            sources = ", ".join(f"`{m}`" for m in contract["source_modules"])
            forbidden = ", ".join(f"`{m}`" for m in contract["forbidden_modules"])
            modules = f"{sources} may not import {forbidden}"
        else:
            modules = ", ".join(f"`{m}`" for m in contract.get("ancestors", []))
        rows.append(f"| {contract['name']} | {contract['type']} | {modules} |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if CONTRACTS_MARKER in markdown:
        markdown = markdown.replace(CONTRACTS_MARKER, contracts_table())
    return markdown


def on_page_content(html: str, page, config, files) -> str:
    return SPHINX_ROLE.sub("", html)
