"""What the product has and the hand-written pages must name: config groups, entry points,
the files a run writes. Every list is read from the repository or from a real run folder,
never written down here, so a new group, entry point or run file fails until a page names it.

"Named" is a plain text rule on the pages' Markdown source (prose and code alike):

- a config group ``g`` (a folder of conf/, nested ones as ``model/head``): ``g=...`` (an
  override), ``conf/g/``, `` `g` `` in backticks, or ``g:`` in a defaults list;
- an entry point: the file name (``train.py``) or the script name (``qa-compare``) as a word;
- a run-folder file: its name as a word, alone or after its folder (``last.ckpt``,
  ``checkpoints/last.ckpt``, ``<run>/checkpoints/``, but not ``jsonl/csv/parquet``), a
  folder with its slash (``csv/``, ``.hydra/``); a name with numbers (``epoch3-step120.ckpt``)
  is matched with any number or placeholder in their place (``epoch<e>-step<s>.ckpt``,
  ``epoch{epoch}-step{step}.ckpt``, ``epoch*-...``),
  each evaluation set's folder as ``eval/<name>/``; the files transformers' ``save_pretrained``
  writes (``config.json``, ``tokenizer.json`` ...) count as named where ``save_pretrained`` is.
"""

from __future__ import annotations

import re
import sys
from fnmatch import fnmatch
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser as the package tomli
    import tomli as tomllib

from tests.docs.markdown_blocks import DOCS, ROOT

# The page of conventions for writing pages: naming a thing there documents nothing.
META_PAGES = frozenset({"writing-docs.md"})

# What transformers' save_pretrained writes for a model and its tokenizer (its own format,
# documented by transformers): a page that says save_pretrained has named them.
SAVE_PRETRAINED_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "model-*-of-*.safetensors",
    "model.safetensors.index.json",
    "pytorch_model*.bin",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "*.model",
    "chat_template.jinja",
)
# Folders whose entries are listed too (the rest are one entry: csv/, wandb/, .hydra/ ...).
LISTED_FOLDERS = frozenset({"checkpoints", "best_model", "onnx"})
EVAL_SETS = "eval"
# A number in a file name, or what a page writes in its place.
NUMBER = r"(?:\d+|<[^<>\s]*>|\{[^{}\s]*\}|\*|[A-Z])"


def hand_written_pages(docs: Path = DOCS) -> list[Path]:
    """The site's Markdown files (the generated pages are no files), without docs/hooks/ and
    the conventions page."""
    return sorted(
        p
        for p in docs.rglob("*.md")
        if p.relative_to(docs).parts[0] != "hooks" and p.name not in META_PAGES
    )


def pages_text(docs: Path = DOCS) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in hand_written_pages(docs))


# ------------------------------------------------------------------ config groups


def config_groups(conf: Path = ROOT / "conf") -> list[str]:
    """Every folder under conf/, nested ones by their path: data, model/head, hydra/launcher."""
    return sorted(p.relative_to(conf).as_posix() for p in conf.rglob("*") if p.is_dir())


def group_is_named(group: str, text: str) -> bool:
    g = re.escape(group)
    return any(
        re.search(pattern, text, flags=re.MULTILINE)
        for pattern in (
            rf"(?<![\w./-]){g}=",  # data=synthetic, model/head=mlp, +callbacks=...
            rf"(?<![\w.-])conf/{g}/",  # conf/model/head/
            rf"`{g}`",
            rf"^\s*-\s+(?:override\s+/)?{g}\s*:",  # a defaults list: - override /data: x
        )
    )


# ------------------------------------------------------------------ entry points


def entry_points(root: Path = ROOT) -> list[str]:
    """The Hydra entry points at the repository root (a ``@hydra.main`` script) and every
    console script of pyproject.toml."""
    scripts = [
        p.name
        for p in sorted(root.glob("*.py"))
        if re.search(r"^@hydra\.main\(", p.read_text(encoding="utf-8"), flags=re.MULTILINE)
    ]
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject.get("project", {})
    scripts += sorted({**project.get("scripts", {}), **project.get("gui-scripts", {})})
    return scripts


def entry_point_is_named(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w./-]){re.escape(name)}(?![\w-])", text) is not None


# ------------------------------------------------------------------ run folders


def _ignored(name: str) -> bool:
    """Temporary names (an atomic write's ``.<name>-xyz``, locks) and hidden internals."""
    if name == ".hydra":
        return False
    return name.startswith(".") or name.endswith((".tmp", ".lock", ".partial", "~"))


def _generalised(name: str) -> str:
    return re.sub(r"\d+", "<n>", name)


def run_file_names(run_dir: Path) -> list[str]:
    """The names a run (or an export) wrote, as a page would name them: top-level entries
    (folders with a slash), the entries of checkpoints/, best_model/ and onnx/, each
    evaluation set's folder as ``eval/<name>/`` and its entries, numbers generalised
    (``checkpoints/epoch<n>-step<n>.ckpt``), and ``save_pretrained`` for a model's own files."""
    names: list[str] = []

    def add(prefix: str, entry: Path) -> None:
        if _ignored(entry.name):
            return
        if any(fnmatch(entry.name, pattern) for pattern in SAVE_PRETRAINED_FILES):
            names.append(f"{prefix}save_pretrained")
            return
        names.append(prefix + _generalised(entry.name) + ("/" if entry.is_dir() else ""))

    for entry in sorted(run_dir.iterdir()):
        if entry.name == EVAL_SETS and entry.is_dir():
            for set_dir in sorted(p for p in entry.iterdir() if p.is_dir()):
                names.append(f"{EVAL_SETS}/<name>/")
                for inner in sorted(set_dir.iterdir()):
                    add(f"{EVAL_SETS}/<name>/", inner)
            continue
        add("", entry)
        if entry.is_dir() and entry.name in LISTED_FOLDERS:
            for inner in sorted(entry.iterdir()):
                add(f"{entry.name}/", inner)
    return list(dict.fromkeys(names))


# Where a named path may start: not inside a longer word or path (jsonl/csv/parquet does not
# name csv/), but after a placeholder folder (<run>/csv/, runs/{time}/checkpoints/).
PATH_START = r"(?:(?<![\w./-])|(?<=[>}*]/))"


def _generalised_regex(text: str) -> str:
    """A generalised name as a regex: each <n> (a number in the real name) may be written
    as a number or a placeholder."""
    return NUMBER.join(re.escape(p) for p in text.split("<n>"))


def _pattern(name: str) -> str:
    """The regex that finds a generalised name on a page: its last part, alone or after its
    folder (``last.ckpt`` or ``checkpoints/last.ckpt``; ``eval/<name>/`` for a set's folder)."""
    if name.endswith("save_pretrained"):
        return r"save_pretrained"
    if name == f"{EVAL_SETS}/<name>/":
        return rf"{PATH_START}{EVAL_SETS}/{NUMBER}/"
    folder, _, last = name.rstrip("/").rpartition("/")
    last += "/" if name.endswith("/") else ""
    prefix = ""
    if folder:
        folder = folder.replace(f"{EVAL_SETS}/<name>", f"{EVAL_SETS}/<n>")
        prefix = f"(?:{_generalised_regex(folder + '/')})?"
    end = "" if last.endswith("/") else r"(?![\w-])"  # csv/ is named by csv/metrics.csv
    return f"{PATH_START}{prefix}{_generalised_regex(last)}{end}"


def undocumented_run_files(run_dir: Path, text: str | None = None) -> list[str]:
    """The names of ``run_file_names(run_dir)`` that no hand-written page names."""
    text = pages_text() if text is None else text
    return [n for n in run_file_names(run_dir) if not re.search(_pattern(n), text)]


def check_run_files_documented(folder: Path) -> None:
    """For the tests that already write a run (or export) folder: fail naming every file of
    it that no hand-written page names (docs/writing-docs.md)."""
    missing = undocumented_run_files(folder)
    if missing:
        raise AssertionError(
            f"files in {folder} that no page of docs/ names (add them where a user would "
            f"look, e.g. docs/reference/run-folder.md): {missing}"
        )
