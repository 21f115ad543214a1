"""The fenced code blocks of the documentation, as the tests in tests/docs read them.

A page is read with markdown-it-py (CommonMark, the parser `rich` already brings), so fences
with backticks or tildes, fences indented inside list items and fences shown inside a longer
fence (a ```` ```` ```` block showing a ```` ``` ```` one) are told apart as a Markdown reader
tells them. The site is built by Python-Markdown, whose admonitions (``!!! note``, ``???``) and
content tabs (``=== "Tab"``) indent their body by four spaces: CommonMark would read such a body
as one indented code block, so those headers are blanked and their bodies dedented first, line
for line, which keeps every line number.

A block may carry a marker, an HTML comment on the line right before its fence:
``<!-- docs-test: illustrative (why) -->``; see docs/writing-docs.md.
"""

from __future__ import annotations

import re
import shlex
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

PYTHON = frozenset({"python", "py", "python3"})
SHELL = frozenset({"bash", "sh", "shell", "console", "zsh", "shell-session"})
YAML = frozenset({"yaml", "yml"})

MARKER = re.compile(r"<!--\s*docs-test:\s*(?P<body>.*?)\s*-->", re.DOTALL)
ILLUSTRATIVE = re.compile(r"illustrative\s*\((?P<why>[^()]*\S[^()]*)\)")
# Python-Markdown block headers whose body is indented by four spaces.
_INDENTED_BODY = re.compile(r"(!!!|\?\?\?\+?|===)\s")


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its language, its text (indentation removed)."""

    page: Path
    line: int  # 1-based line of the opening fence
    lang: str  # first word of the info string, lower case ("" when none)
    info: str  # the whole info string, e.g. 'python title="x.py"'
    text: str
    marker: str | None  # what follows "docs-test:" on the line before the fence

    @property
    def where(self) -> str:
        return f"{display(self.page)}:{self.line}"

    @property
    def illustrative(self) -> bool:
        return self.marker is not None and ILLUSTRATIVE.fullmatch(self.marker) is not None


def display(path: Path) -> str:
    """A page's path as the reports show it: relative to the repository when inside it."""
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def doc_pages(root: Path = ROOT) -> list[Path]:
    """Every page of the site whose blocks are tested: docs/**/*.md (not docs/hooks/),
    README.md, and the records the site's lab notebook and benchmarks pages are made of
    (experiments/**/*.md, benchmarks/README.md)."""
    docs = root / "docs"
    pages = sorted(p for p in docs.rglob("*.md") if "hooks" not in p.relative_to(docs).parts[:1])
    records = sorted((root / "experiments").rglob("*.md"))
    others = [root / "README.md", root / "benchmarks" / "README.md"]
    return [*pages, *records, *(p for p in others if p.is_file())]


def unnest_bodies(source: str) -> str:
    """The page with admonition, details and tab headers blanked and their bodies dedented
    by four spaces per level: the same number of lines, fences where CommonMark sees them."""
    out: list[str] = []
    bodies: list[int] = []  # column where each open body's text starts
    for raw in source.split("\n"):
        line = raw.expandtabs(4)
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if stripped:
            while bodies and indent < bodies[-1]:
                bodies.pop()
        if stripped and _INDENTED_BODY.match(stripped):
            bodies.append(indent + 4)
            out.append("")
            continue
        out.append(line[min(4 * len(bodies), indent) :] if stripped else "")
    return "\n".join(out)


def _lang(info: str) -> str:
    """``python title="x"`` -> python; ``{.python title="x"}`` (attribute form) -> python."""
    info = info.strip()
    if info.startswith("{"):
        match = re.search(r"\.([\w+-]+)", info)
        return match.group(1).lower() if match else ""
    return info.split()[0].lower() if info else ""


def _parse(page: Path) -> tuple[list[str], list[Any]]:
    source = unnest_bodies(page.read_text(encoding="utf-8"))
    return source.split("\n"), MarkdownIt("commonmark").parse(source)


def read_blocks(page: Path) -> list[Block]:
    """The page's fenced code blocks in page order (a fence shown inside another is text)."""
    lines, tokens = _parse(page)
    blocks = []
    for token in tokens:
        if token.type != "fence" or token.map is None:
            continue
        start = token.map[0]
        before = MARKER.fullmatch(lines[start - 1].strip()) if start > 0 else None
        blocks.append(
            Block(
                page=page,
                line=start + 1,
                lang=_lang(token.info),
                info=token.info.strip(),
                text=token.content,
                marker=before.group("body").strip() if before else None,
            )
        )
    return blocks


def marker_problems(page: Path) -> list[str]:
    """Markers that would silently mean nothing: not right before a fence, of an unknown
    kind or without a reason, or on a block that always runs (Python, YAML)."""
    lines, tokens = _parse(page)
    fence_starts = {t.map[0] for t in tokens if t.type == "fence" and t.map}
    problems = []
    for token in tokens:
        html = [token] if token.type == "html_block" else []
        html += [c for c in token.children or [] if c.type == "html_inline"]
        for node in html:
            if not MARKER.search(node.content):
                continue
            line = (node.map or token.map or [0])[0] + 1
            if node.type == "html_inline" or node.map is None or node.map[1] not in fence_starts:
                problems.append(
                    f"{display(page)}:{line}: a docs-test marker must be on the line right "
                    "before a fence"
                )
    for block in read_blocks(page):
        if block.marker is None:
            continue
        if not block.illustrative:
            problems.append(
                f"{block.where}: unknown marker 'docs-test: {block.marker}' "
                "(the one kind: 'docs-test: illustrative (why)')"
            )
        elif block.lang not in SHELL:
            problems.append(
                f"{block.where}: a ```{block.lang or '(no language)'} block cannot be "
                "illustrative: only shell blocks may be (Python and YAML blocks always run; "
                "show other text as ```text)"
            )
    return problems


# ---------------------------------------------------------------- Python blocks


class DocBlockError(AssertionError):
    """A documented block failed; the message names the page, the block's line and why."""


def run_python_blocks(blocks: list[Block]) -> dict[str, Any]:
    """Run Python blocks in order in one namespace, like a notebook's cells (the caller
    chooses the working folder). Each block is compiled under its page's path with its own
    line numbers, so a traceback points at the Markdown line that failed."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for block in blocks:
        # the block's first line is the line after its fence: pad so line numbers agree
        source = "\n" * block.line + block.text
        try:
            code = compile(source, str(block.page), "exec")
            exec(code, namespace)
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # SystemExit too: a block must not end the tests
            trace = "".join(traceback.format_exception(error))
            raise DocBlockError(f"{block.where}: the python block failed:\n{trace}") from error
    return namespace


# ---------------------------------------------------------------- shell blocks

# The commands a shell block may hold to run in the tests (see docs/writing-docs.md).
SCRIPTS = ("train.py", "eval.py", "predict.py", "export.py")
COMPARE_MODULE = "qa_lightning.compare"
COMPARE_SCRIPT = "qa-compare"
# An override that names a data file: the tests replace the data by generated data, so
# such a command would not run what the page shows.
DATA_FILE_KEY = re.compile(r"[+~]*data\.(train_file|validation_file|predict_file|eval_sets)\b")
PLACEHOLDER = re.compile(r"<[A-Za-z][^<>]*>|(?<![.\w])\.\.\.(?![.\w])")
SHELL_SYNTAX = frozenset({"|", "||", "&&", ";", "&", ">", ">>", "<", "2>", "2>&1", "$("})


@dataclass(frozen=True)
class Command:
    """One command line of a shell block: continuations joined, comments dropped."""

    line: int  # 1-based page line where it starts
    text: str
    argv: tuple[str, ...]

    @property
    def kind(self) -> str | None:
        """train.py / eval.py / predict.py / export.py / compare, or None for anything else."""
        argv = self.argv
        if argv and argv[0] == COMPARE_SCRIPT:
            return "compare"
        if len(argv) >= 2 and Path(argv[0]).name in ("python", "python3"):
            if argv[1] in SCRIPTS or argv[1].removeprefix("./") in SCRIPTS:
                return argv[1].removeprefix("./")
            if argv[1:3] == ("-m", COMPARE_MODULE):
                return "compare"
        return None

    @property
    def multirun(self) -> bool:
        return "-m" in self.args or "--multirun" in self.args

    @property
    def keys(self) -> frozenset[str]:
        """The config keys the command sets (``+key=``, ``~key`` as ``key``)."""
        return frozenset(
            a.split("=", 1)[0].lstrip("+~") for a in self.args if "=" in a or a.startswith("~")
        )

    @property
    def overrides(self) -> tuple[str, ...]:
        """The Hydra overrides among the arguments (``key=value``, ``~key``), in order."""
        return tuple(a for a in self.args if not a.startswith("-") and ("=" in a or a[:1] == "~"))

    @property
    def flags(self) -> tuple[str, ...]:
        """The other arguments (``-m``, ``--cfg job`` ...), in order."""
        overrides = set(self.overrides)
        return tuple(a for a in self.args if a not in overrides)

    @property
    def args(self) -> tuple[str, ...]:
        """The arguments after the script or the compare command."""
        kind = self.kind
        if kind is None:
            return ()
        if self.argv[0] == COMPARE_SCRIPT:
            return self.argv[1:]
        return self.argv[3:] if kind == "compare" else self.argv[2:]


def shell_commands(block: Block) -> list[Command]:
    """The block's commands. A ``$ `` prompt is dropped; in a ``console`` block only lines
    with a prompt are commands (the rest is output). Raises ValueError on a quote left open."""
    commands: list[Command] = []
    pending, start = "", 0
    prompted = block.lang in ("console", "shell-session")
    for number, raw in enumerate(block.text.split("\n"), start=block.line + 1):
        line = raw.rstrip()
        if not pending:
            if line.lstrip().startswith("$ "):
                line = line.lstrip()[2:]
            elif prompted:
                continue
            start = number
        pending = f"{pending}\n{line}" if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        try:
            argv = shlex.split(pending, comments=True)
        except ValueError:  # a quote spans lines: read on
            continue
        if argv:
            commands.append(Command(start, " ".join(pending.split()), tuple(argv)))
        pending = ""
    if pending.strip():
        raise ValueError(f"{display(block.page)}:{start}: unterminated command: {pending!r}")
    return commands


def _shell_syntax(text: str) -> str | None:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.commenters = "#"
    lexer.whitespace_split = True
    try:
        for token in lexer:
            if token in SHELL_SYNTAX or token.startswith(("$(", ">", "|", "&", ";")):
                return token
    except ValueError:
        return None
    return "$(" if "$(" in text or "`" in text else None


def not_runnable(command: Command) -> str | None:
    """Why the tests cannot run this command with tiny settings, or None when they can."""
    kind = command.kind
    first = command.argv[0]
    if kind is None:
        if "=" in first and not first.startswith("-"):
            return f"sets an environment variable ({first})"
        if len(command.argv) > 1 and command.argv[1] == "serve.py":
            return "serve.py serves until it is stopped"
        shown = " ".join(command.argv[:2])
        return f"`{shown}` is not python train.py|eval.py|predict.py|export.py or qa-compare"
    placeholder = PLACEHOLDER.search(command.text)  # before <time> reads as a redirection
    if placeholder:
        return f"placeholder `{placeholder.group(0)}`"
    syntax = _shell_syntax(command.text)
    if syntax:
        return f"shell syntax `{syntax}`"
    if kind != "compare":
        for arg in command.args:
            if DATA_FILE_KEY.match(arg):
                return f"names a data file ({arg.split('=', 1)[0]})"
    return None


def shell_block_problems(block: Block) -> list[str]:
    """For an unmarked shell block: why it neither runs nor is marked illustrative."""
    if block.illustrative:
        return []
    try:
        commands = shell_commands(block)
    except ValueError as error:
        return [str(error)]
    if not commands:
        return [f"{block.where}: a shell block with no command (show output as ```text)"]
    problems = []
    for command in commands:
        why = not_runnable(command)
        if why:
            problems.append(
                f"{display(block.page)}:{command.line}: not runnable ({why}) and the block "
                f"(line {block.line}) is not marked <!-- docs-test: illustrative (why) -->: "
                f"{command.text}"
            )
    return problems


def runnable_blocks(page: Path) -> list[Block]:
    """The page's shell blocks that run in the slow test: unmarked and every command runnable."""
    return [
        b
        for b in read_blocks(page)
        if b.lang in SHELL and not b.illustrative and not shell_block_problems(b)
    ]
