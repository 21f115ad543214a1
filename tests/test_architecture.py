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
