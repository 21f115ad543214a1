"""The layer rules of the design (pyproject's import-linter contracts) hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_the_compare_command_loads_no_torch() -> None:
    """compare reads files: importing it (statistics, diff, plots included) must not pull in
    torch through the evaluation package it borrows intervals and slice names from."""
    code = (
        "import sys; import qa_lightning.compare.report, qa_lightning.compare.diff, "
        "qa_lightning.compare.plots; print('torch' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "False"


def test_models_never_reach_into_the_datamodule() -> None:
    """An import contract cannot see ``self.trainer.datamodule``: the model would read the
    data side at run time (as the encoder cache once did). Models get what they need in the
    batch; this walks their source for any ``.datamodule`` attribute."""
    import ast

    found = []
    for path in sorted((ROOT / "qa_lightning" / "models").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "datamodule":
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
