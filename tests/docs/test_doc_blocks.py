"""The code blocks of docs/**/*.md and README.md run as the pages show them.

- Python blocks: every block of a page, in order, in one namespace, in a fresh folder, with
  the Hub and W&B offline (default run; one test per page that has Python blocks).
- YAML blocks parse.
- Shell blocks are runnable (`markdown_blocks.not_runnable`) or marked illustrative (default
  run); the runnable ones run with tiny settings in the slow test `test_runnable_shell_blocks`.
- The parser and the runners are tested on small pages written here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.docs.markdown_blocks import (
    PYTHON,
    ROOT,
    SHELL,
    YAML,
    Command,
    DocBlockError,
    display,
    doc_pages,
    marker_problems,
    read_blocks,
    run_python_blocks,
    runnable_blocks,
    shell_block_problems,
    shell_commands,
)

PAGES = doc_pages()


def _pages_with(langs: frozenset[str]) -> list[Path]:
    return [p for p in PAGES if any(b.lang in langs for b in read_blocks(p))]


# ------------------------------------------------------------------ the pages


@pytest.mark.parametrize("page", _pages_with(PYTHON), ids=display)
def test_python_blocks_run(page: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("WANDB_MODE", "offline")
    environ, path = dict(os.environ), list(sys.path)
    try:
        run_python_blocks([b for b in read_blocks(page) if b.lang in PYTHON])
    finally:  # what a page's code changes in the process stays with its page
        os.environ.clear()
        os.environ.update(environ)
        sys.path[:] = path


def test_yaml_blocks_parse() -> None:
    failures = []
    for page in PAGES:
        for block in read_blocks(page):
            if block.lang in YAML:
                try:
                    yaml.safe_load(block.text)
                except yaml.YAMLError as error:
                    failures.append(f"{block.where}: {error}")
    assert not failures, "YAML blocks that do not parse:\n" + "\n".join(failures)


def test_shell_blocks_are_runnable_or_illustrative() -> None:
    problems = [
        problem
        for page in PAGES
        for block in read_blocks(page)
        if block.lang in SHELL
        for problem in shell_block_problems(block)
    ]
    assert not problems, "\n".join(problems)


def test_every_block_names_its_language() -> None:
    """A fence without a language would escape every check above (a command in it is never
    run nor marked): output is ```text, commands ```bash."""
    unnamed = [b.where for page in PAGES for b in read_blocks(page) if not b.lang]
    assert not unnamed, f"fences without a language (```text, ```bash ...): {unnamed}"


def test_docs_test_markers_are_well_placed() -> None:
    problems = [problem for page in PAGES for problem in marker_problems(page)]
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ shell blocks, run


# Appended to every train.py / eval.py / predict.py command of a page: they always win.
FORCED = {
    "train.py": ["data=synthetic", "trainer.accelerator=cpu", "trainer.devices=1"],
    "eval.py": ["data=synthetic", "trainer.accelerator=cpu", "trainer.devices=1"],
    "predict.py": ["trainer.accelerator=cpu", "trainer.devices=1"],
}
# Appended only where the command does not set the key itself (a page's own value is kept).
DEFAULTS = {
    "train.py": {
        "data.synthetic.n_train": "120",
        "data.synthetic.n_eval": "40",
        "data.batch_size": "16",
        "trainer.max_epochs": "1",
        "logger": "csv",
    },
    "eval.py": {"data.synthetic.n_eval": "40", "data.batch_size": "16", "logger": "csv"},
    "predict.py": {},
}
# The window: both or neither (a page's doc_stride=128 with a tiny max_length=96 would fail).
WINDOW = {"data.max_length": "96", "data.doc_stride": "32"}


def tiny_command(command: Command, *, workdir: Path, model_dir: Path, number: int) -> list[str]:
    """The command as the tests run it: the page's arguments first, the tiny settings after
    them (Hydra applies command-line overrides in order, so an appended ``key=value`` or
    ``group=option`` wins over the page's and over any preset the page picks).

    Always appended: the tiny BERT as ``model.name_or_path`` unless the command loads a model
    of its own (``model.name_or_path`` or ``ckpt_path``: a run of an earlier block),
    ``data=synthetic`` (train.py, eval.py) or a generated ``data.predict_file`` (predict.py),
    the CPU, a shared feature cache. Appended only for keys the command leaves unset: the
    small data sizes, the window, one epoch, the CSV logger, and the run (or sweep) folder
    ``workdir/outputs/<n>-<script>``. The page's flags (``-m``, ``--cfg job``) go last."""
    kind = command.kind
    if kind == "compare":
        script = Path(sys.executable).with_name(command.argv[0])  # qa-compare, installed
        if command.argv[0] != "qa-compare" or not script.is_file():
            return [sys.executable, "-m", "qa_lightning.compare", *command.args]
        return [str(script), *command.args]
    given = command.keys
    extra: list[str] = []
    if kind in FORCED:
        if not given & {"model.name_or_path", "ckpt_path"}:
            extra.append(f"model.name_or_path={model_dir}")
        extra += [*FORCED[kind], f"paths.cache_dir={workdir.parent / 'cache'}"]
        if kind == "predict.py":
            extra.append(f"data.predict_file={workdir.parent / 'questions.json'}")
        defaults = dict(DEFAULTS[kind])
        if not given & set(WINDOW):
            defaults |= WINDOW
        extra += [f"{key}={value}" for key, value in defaults.items() if key not in given]
    folder = "hydra.sweep.dir" if command.multirun else "hydra.run.dir"
    if folder not in given:
        extra.append(f"{folder}={workdir / 'outputs' / f'{number}-{Path(kind).stem}'}")
    # flags last: Hydra's argument parser takes no override after a flag such as --cfg job
    return [sys.executable, str(ROOT / kind), *command.overrides, *extra, *command.flags]


def _write_questions(path: Path) -> None:
    """An unlabelled SQuAD file for predict.py commands (data.predict_file)."""
    from qa_lightning.data.synthetic import make_synthetic_squad

    rows = make_synthetic_squad(8, seed=3, id_prefix="docs")
    paragraphs = [
        {"context": c, "qas": [{"id": i, "question": q}]}
        for i, q, c in zip(rows["id"], rows["question"], rows["context"], strict=True)
    ]
    path.write_text(
        json.dumps({"version": "1.1", "data": [{"title": "d", "paragraphs": paragraphs}]})
    )


def run_shell_blocks(page: Path, workdir: Path, model_dir: Path) -> None:
    """Every runnable shell block of the page, in order, every command in ``workdir`` (so a
    later command finds the folders an earlier one wrote); fails naming the page's line."""
    _write_questions(workdir.parent / "questions.json")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    number = 0
    for block in runnable_blocks(page):
        for command in shell_commands(block):
            number += 1
            argv = tiny_command(command, workdir=workdir, model_dir=model_dir, number=number)
            proc = subprocess.run(
                argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=600
            )
            if proc.returncode != 0:
                raise DocBlockError(
                    f"{display(page)}:{command.line}: exit {proc.returncode}: {command.text}\n"
                    f"ran: {' '.join(argv)}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
                )


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if runnable_blocks(p)], ids=display)
def test_runnable_shell_blocks(page: Path, tmp_path: Path, tiny_bert_dir: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    run_shell_blocks(page, workdir, tiny_bert_dir)


# ------------------------------------------------------------------ the tools themselves

PAGE = """\
# A page

```python title="first.py"
x = 40
```

- a list item

  ```python
  y = x + 2
  ```

!!! note "an admonition"
    ~~~python
    assert y == 42
    ~~~

````markdown
```python
raise SystemExit("shown, never run")
```
````

<!-- docs-test: illustrative (needs the Hub) -->
```bash
python train.py model=distilbert data=squad
```

```{.yaml title="conf.yaml"}
a: [1, 2]
```

```
no language
```
"""


def test_blocks_are_read_as_a_markdown_reader_reads_them(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    blocks = read_blocks(page)
    got = [(b.line, b.lang, b.text, b.marker) for b in blocks]
    assert got == [
        (3, "python", "x = 40\n", None),
        (9, "python", "y = x + 2\n", None),  # the list item's indentation stripped
        (14, "python", "assert y == 42\n", None),  # inside an admonition
        (18, "markdown", '```python\nraise SystemExit("shown, never run")\n```\n', None),
        (
            25,
            "bash",
            "python train.py model=distilbert data=squad\n",
            "illustrative (needs the Hub)",
        ),
        (29, "yaml", "a: [1, 2]\n", None),
        (33, "", "no language\n", None),
    ]
    assert blocks[0].info == 'python title="first.py"' and blocks[4].illustrative
    namespace = run_python_blocks([b for b in blocks if b.lang in PYTHON])
    assert namespace["y"] == 42  # one namespace, in page order
    assert marker_problems(page) == []


def test_a_failing_python_block_names_its_page_and_line(tmp_path: Path) -> None:
    page = tmp_path / "failing.md"
    page.write_text(
        "Text.\n\n```python\nx = 1\n```\n\n```python\nx += 1\nraise ValueError(x)\n```\n"
    )
    blocks = read_blocks(page)
    with pytest.raises(DocBlockError) as failure:
        run_python_blocks(blocks)
    message = str(failure.value)
    assert message.startswith(f"{page}:7: the python block failed")
    assert f'File "{page}", line 9' in message  # the traceback's line is the page's line
    assert "ValueError: 2" in message  # the first block ran first, in the same namespace


def test_a_python_block_that_exits_fails_instead_of_ending_the_tests(tmp_path: Path) -> None:
    page = tmp_path / "exit.md"
    page.write_text("```python\nimport sys\nsys.exit(0)\n```\n")
    with pytest.raises(DocBlockError, match="exit.md:1"):
        run_python_blocks(read_blocks(page))


SHELL_PAGE = """\
```bash
python train.py experiment=demo \\
    optimizer.lr=1e-4   # a comment
python eval.py model.name_or_path=outputs/0-train/best_model
qa-compare outputs
python -m qa_lightning.compare diff outputs/a outputs/b --metric exact
python train.py -m optimizer.lr=1e-4,2e-4 data.doc_stride=64 trainer.max_epochs=2
```

```bash
python eval.py ckpt_path=outputs/train/runs/<time>/checkpoints/last.ckpt
```

```bash
python train.py trainer.max_epochs=2 && ls
PYTHONPATH=examples python train.py experiment=my_research
python train.py data=squad_json data.train_file=train.json
python export.py run=... out=x
python serve.py model_dir=x
python train.py | tee log
make demo
```

```console
$ python train.py 'tags=[a,
  b]'
validation: EM 1.00 F1 2.00
```

<!-- docs-test: illustrative (needs a GPU) -->
```bash
python train.py trainer=gpu <more>
```
"""


def test_shell_blocks_are_told_runnable_or_not(tmp_path: Path) -> None:
    page = tmp_path / "shell.md"
    page.write_text(SHELL_PAGE)
    first, placeholder, others, console, marked = read_blocks(page)
    commands = shell_commands(first)
    assert [(c.line, c.kind) for c in commands] == [
        (2, "train.py"),
        (4, "eval.py"),
        (5, "compare"),
        (6, "compare"),
        (7, "train.py"),
    ]
    assert commands[0].args == ("experiment=demo", "optimizer.lr=1e-4")  # joined, no comment
    assert commands[3].args == ("diff", "outputs/a", "outputs/b", "--metric", "exact")
    assert shell_block_problems(first) == []

    (problem,) = shell_block_problems(placeholder)
    assert problem.startswith(f"{page}:11: not runnable (placeholder `<time>`)")
    reasons = [
        p.split("not runnable (", 1)[1].split(")", 1)[0] for p in shell_block_problems(others)
    ]
    assert reasons == [
        "shell syntax `&&`",
        "sets an environment variable (PYTHONPATH=examples",
        "names a data file (data.train_file",
        "placeholder `...`",
        "serve.py serves until it is stopped",
        "shell syntax `|`",
        "`make demo` is not python train.py|eval.py|predict.py|export.py or qa-compare",
    ]
    (command,) = shell_commands(console)  # a prompt's command, its quote over two lines
    assert command.argv == ("python", "train.py", "tags=[a,\n  b]") and command.line == 25
    assert shell_block_problems(console) == [] and shell_block_problems(marked) == []
    assert runnable_blocks(page) == [first, console]


def test_tiny_settings_come_after_the_pages_own(tmp_path: Path) -> None:
    page = tmp_path / "shell.md"
    page.write_text(SHELL_PAGE)
    train, evaluate, compare, _, sweep = shell_commands(read_blocks(page)[0])
    model = tmp_path / "tiny"
    argv = tiny_command(train, workdir=tmp_path, model_dir=model, number=1)
    assert argv[1:4] == [str(ROOT / "train.py"), "experiment=demo", "optimizer.lr=1e-4"]
    assert argv.index("data=synthetic") > argv.index("experiment=demo")
    assert f"model.name_or_path={model}" in argv and "logger=csv" in argv
    assert "data.max_length=96" in argv and "trainer.max_epochs=1" in argv
    assert f"hydra.run.dir={tmp_path / 'outputs' / '1-train'}" in argv
    # the page's own values are kept: its sweep, its window, its epochs, its sweep folder
    argv = tiny_command(sweep, workdir=tmp_path, model_dir=model, number=4)
    appended = argv[5:-1]
    assert argv[2:5] == ["optimizer.lr=1e-4,2e-4", "data.doc_stride=64", "trainer.max_epochs=2"]
    assert argv[-1] == "-m"  # Hydra's flags after every override
    assert "data=synthetic" in appended and f"model.name_or_path={model}" in appended
    assert not [a for a in appended if a.split("=")[0] in ("optimizer.lr", "data.max_length")]
    assert not [a for a in appended if a.split("=")[0] in ("hydra.run.dir", "trainer.max_epochs")]
    assert f"hydra.sweep.dir={tmp_path / 'outputs' / '4-train'}" in appended
    # a model of the page's own (an earlier block's run) is kept
    argv = tiny_command(evaluate, workdir=tmp_path, model_dir=model, number=2)
    assert not any(a.startswith("model.name_or_path=") for a in argv[3:])
    script = Path(sys.executable).with_name("qa-compare")  # the console script the page names
    assert tiny_command(compare, workdir=tmp_path, model_dir=model, number=3) == [
        str(script),
        "outputs",
    ]


def test_misplaced_and_unknown_markers_are_reported(tmp_path: Path) -> None:
    page = tmp_path / "markers.md"
    page.write_text(
        "<!-- docs-test: illustrative (a blank line follows) -->\n\n```bash\nmake demo\n```\n\n"
        "<!-- docs-test: skip -->\n```bash\nmake demo\n```\n\n"
        "<!-- docs-test: illustrative (python always runs) -->\n```python\nx = 1\n```\n\n"
        "<!-- docs-test: illustrative () -->\n```bash\nmake demo\n```\n"
    )
    assert marker_problems(page) == [
        f"{page}:1: a docs-test marker must be on the line right before a fence",
        f"{page}:8: unknown marker 'docs-test: skip' (the one kind: "
        "'docs-test: illustrative (why)')",
        f"{page}:13: a ```python block cannot be illustrative: only shell blocks may be "
        "(Python and YAML blocks always run; show other text as ```text)",
        f"{page}:18: unknown marker 'docs-test: illustrative ()' (the one kind: "
        "'docs-test: illustrative (why)')",
    ]


CHAIN_PAGE = """\
```bash
python train.py hydra.run.dir=runs/a  # the page's own folder, kept
python eval.py model.name_or_path=runs/a/best_model hydra.run.dir=runs/a-eval
```

Text between blocks.

```bash
python predict.py model.name_or_path=runs/a/best_model hydra.run.dir=runs/a-predict
python export.py run=runs/a out=exported
qa-compare runs/a --out report
python train.py optimizer.lr=inf
```
"""


@pytest.mark.slow  # ~55 s: a train, eval, predict, export and compare of the tiny model
def test_a_pages_commands_run_in_one_folder_and_a_failure_names_its_line(
    tmp_path: Path, tiny_bert_dir: Path
) -> None:
    page = tmp_path / "chain.md"
    page.write_text(CHAIN_PAGE)
    workdir = tmp_path / "work"
    workdir.mkdir()
    with pytest.raises(DocBlockError) as failure:
        run_shell_blocks(page, workdir, tiny_bert_dir)
    assert str(failure.value).startswith(f"{page}:12: exit 1: python train.py optimizer.lr=inf")
    # every earlier command ran, each reading what the one before it wrote
    assert (workdir / "runs" / "a" / "best_model").is_dir()
    assert (workdir / "runs" / "a-eval" / "metrics.json").is_file()
    predictions = json.loads((workdir / "runs" / "a-predict" / "predictions.json").read_text())
    assert len(predictions) == 8  # the generated questions
    assert (workdir / "exported" / "qa_decoding.json").is_file()
    assert list((workdir / "report").iterdir())
