"""Question by question: which answers a change fixed and which it broke.

``python -m qa_lightning.compare diff A B`` where A and B are run folders, or a sweep folder
with a setting picked by its parameters (``SWEEP:model.head=bilstm,lr=1e-3``; the seeds of
that setting are averaged). A question is *right* for a side when its answer is an exact
match in more than half of that side's runs; it is *fixed* when it is wrong for A and right
for B, *broken* the other way round. Writes ``diff_<A>_vs_<B>.md`` and ``.csv``.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa_lightning.compare.paired import SettingScores, common_questions, setting_scores
from qa_lightning.compare.runs import COMPLETED, collect_runs
from qa_lightning.compare.settings import SEED_KEY, Setting
from qa_lightning.compare.stats import PairedTest, paired_test
from qa_lightning.compare.table import format_value, markdown_table
from qa_lightning.evaluation.intervals import bootstrap_interval
from qa_lightning.evaluation.metric_names import RECORD_SCORES
from qa_lightning.evaluation.sets import VALIDATION

NO_ANSWER = "(no answer)"
MIN_SLICE = 20  # slices named as "helped most" / "hurt most" need this many questions


@dataclass
class Flip:
    change: str  # "fixed" or "broken"
    id: str
    question: str
    gold_answers: list[str]
    prediction_a: str
    prediction_b: str
    exact_a: float
    exact_b: float
    f1_a: float
    f1_b: float


@dataclass
class SliceChange:
    family: str
    label: str
    questions: int
    f1_change: float  # mean F1 of B minus A on the slice's questions
    ci_low: float
    ci_high: float


@dataclass
class QuestionDiff:
    a: str
    b: str
    set_name: str
    questions: int  # scored by both
    tests: dict[str, PairedTest]  # B - A
    flips: list[Flip]
    slices: list[SliceChange]  # every slice, largest gain first

    @property
    def fixed(self) -> list[Flip]:
        return [f for f in self.flips if f.change == "fixed"]

    @property
    def broken(self) -> list[Flip]:
        return [f for f in self.flips if f.change == "broken"]

    def helped_most(self) -> SliceChange | None:
        big = [s for s in self.slices if s.questions >= MIN_SLICE] or self.slices
        return max(big, key=lambda s: s.f1_change, default=None)

    def hurt_most(self) -> SliceChange | None:
        big = [s for s in self.slices if s.questions >= MIN_SLICE] or self.slices
        return min(big, key=lambda s: s.f1_change, default=None)


def _most_common(predictions: list[str]) -> str:
    """The answer most of a setting's runs gave (the first run's on a tie)."""
    return Counter(predictions).most_common(1)[0][0]


def question_diff(
    a: SettingScores, b: SettingScores, *, a_label: str, b_label: str, set_name: str
) -> QuestionDiff:
    """Flipped questions, slice changes and the paired tests of B against A."""
    ia, ib = common_questions(a, b)
    scores_a = {metric: a.scores[metric][ia] for metric in RECORD_SCORES}
    scores_b = {metric: b.scores[metric][ib] for metric in RECORD_SCORES}
    # the families A's run folders hold (metrics.json), a researcher's own too
    families = [*a.families, *(f for f in b.families if f not in a.families)]
    tests = {metric: paired_test(scores_b[metric], scores_a[metric]) for metric in scores_a}
    flips: list[Flip] = []
    by_slice: dict[tuple[str, str], list[float]] = {}
    for k, i in enumerate(ia):
        qid = a.ids[i]
        exact_a, exact_b = float(scores_a["exact"][k]), float(scores_b["exact"][k])
        f1_a, f1_b = float(scores_a["f1"][k]), float(scores_b["f1"][k])
        record = a.records[qid]
        for family in families:
            if record.get(family) is not None:
                by_slice.setdefault((family, str(record[family])), []).append(f1_b - f1_a)
        right_a, right_b = exact_a > 50.0, exact_b > 50.0
        if right_a == right_b:
            continue
        flips.append(
            Flip(
                change="fixed" if right_b else "broken",
                id=qid,
                question=str(record.get("question", "")),
                gold_answers=list(record.get("gold_answers") or []),
                prediction_a=_most_common(a.predictions[qid]),
                prediction_b=_most_common(b.predictions[qid]),
                exact_a=exact_a,
                exact_b=exact_b,
                f1_a=f1_a,
                f1_b=f1_b,
            )
        )
    flips.sort(key=lambda f: (f.change != "fixed", -abs(f.f1_b - f.f1_a), f.id))
    slices = []
    for (family, label), changes in by_slice.items():
        low, high = bootstrap_interval(np.array(changes))
        slices.append(SliceChange(family, label, len(changes), float(np.mean(changes)), low, high))
    slices.sort(key=lambda s: -s.f1_change)
    questions = tests["f1"].questions
    return QuestionDiff(a_label, b_label, set_name, questions, tests, flips, slices)


# --- choosing the two sides -------------------------------------------------------------


def _matches(value: Any, wanted: str) -> bool:
    """``1e-3`` matches 0.001, ``bilstm`` matches "bilstm"."""
    if format_value(value) == wanted or str(value) == wanted:
        return True
    try:
        return math.isclose(float(value), float(wanted), rel_tol=1e-9)
    except (TypeError, ValueError):
        return False


def _resolve_key(key: str, params: set[str]) -> str:
    """A full override key, or a unique last part of one (``lr`` -> ``optimizer.lr``)."""
    if key in params:
        return key
    candidates = sorted(p for p in params if p.rsplit(".", 1)[-1] == key)
    if len(candidates) == 1:
        return candidates[0]
    known = ", ".join(sorted(params)) or "none"
    if candidates:
        raise ValueError(f"{key!r} is ambiguous: {', '.join(candidates)}")
    raise ValueError(f"no run overrides {key!r} (overridden keys: {known})")


def parse_side(spec: str) -> tuple[Path, dict[str, str]]:
    """``PATH`` or ``PATH:key=value,key=value`` -> (path, selection)."""
    path, _, selection = spec.rpartition(":")
    if not path or "=" not in selection:
        return Path(spec), {}
    chosen = {}
    for item in selection.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{spec!r}: pick a setting as PATH:key=value[,key=value...]")
        chosen[key.strip()] = value.strip()
    return Path(path), chosen


def select_side(spec: str) -> tuple[str, Setting]:
    """The runs ``spec`` names, as one setting, and a short label for it."""
    path, chosen = parse_side(spec)
    runs = [r for r in collect_runs([path]) if r.status == COMPLETED]
    if not runs:
        raise ValueError(f"{path} holds no completed run")
    keys = {k for run in runs for k in run.params}
    wanted = {_resolve_key(k, keys): v for k, v in chosen.items()}
    runs = [r for r in runs if all(_matches(r.params.get(k), v) for k, v in wanted.items())]
    if not runs:
        picked = ", ".join(f"{k}={v}" for k, v in wanted.items())
        raise ValueError(f"no completed run in {path} has {picked}")
    settings = {
        tuple(sorted((k, repr(v)) for k, v in r.params.items() if k != SEED_KEY)) for r in runs
    }
    seeds = [repr(r.params.get(SEED_KEY)) for r in runs]
    if len(settings) > 1 or len(set(seeds)) < len(seeds):
        varied = sorted(
            k for k in keys - {SEED_KEY} if len({repr(r.params.get(k)) for r in runs}) > 1
        )
        raise ValueError(
            f"{spec} holds {len(runs)} runs of more than one setting: pick one with "
            f"{path}:key=value (varied: {', '.join(varied) or 'nothing but the run'})"
        )
    if wanted:
        label = ",".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in chosen.items())
    else:
        label = path.name
    if len(runs) > 1:
        label += f" ({len(runs)} seeds)"
    return label, Setting(dict(wanted), runs, label)


# --- writing ----------------------------------------------------------------------------

CSV_COLUMNS = (
    "change",
    "id",
    "question",
    "gold_answers",
    "prediction_a",
    "prediction_b",
    "exact_a",
    "exact_b",
    "f1_a",
    "f1_b",
)


def file_stem(diff: QuestionDiff) -> str:
    def name(label: str) -> str:
        return re.sub(r"[^A-Za-z0-9_.=-]+", "_", label).strip("_")

    return f"diff_{name(diff.a)}_vs_{name(diff.b)}"


def write_csv(diff: QuestionDiff, path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for flip in diff.flips:
            row = [getattr(flip, c) for c in CSV_COLUMNS]
            row[3] = " | ".join(flip.gold_answers)
            writer.writerow(row)


def _signed(value: float) -> str:
    return f"{value:+.2f}"


def summary_lines(diff: QuestionDiff) -> list[str]:
    """The few lines a reader needs first (printed, and the top of the markdown)."""
    f1 = diff.tests["f1"]
    em = diff.tests["exact"]
    lines = [
        f"{diff.questions} questions of {diff.set_name} scored by both A ({diff.a}) and "
        f"B ({diff.b}).",
        f"Fixed by B: {len(diff.fixed)}; broken by B: {len(diff.broken)}.",
        f"F1 B - A: {_signed(f1.difference)} [{f1.ci_low:+.2f}, {f1.ci_high:+.2f}], "
        f"p = {f1.p_value:.3g}; EM B - A: {_signed(em.difference)} "
        f"[{em.ci_low:+.2f}, {em.ci_high:+.2f}], p = {em.p_value:.3g} "
        "(paired over questions).",
    ]
    helped, hurt = diff.helped_most(), diff.hurt_most()
    if helped is not None and hurt is not None:

        def named(s: SliceChange) -> str:
            return f"{s.family}={s.label} ({_signed(s.f1_change)} F1 over {s.questions} questions)"

        first = f"helped most: {named(helped)}" if helped.f1_change > 0 else "no slice gained"
        second = f"hurt most: {named(hurt)}" if hurt.f1_change < 0 else "no slice lost"
        if helped.f1_change > 0 and hurt.f1_change >= 0:
            second += f" (least gain: {named(hurt)})"
        if hurt.f1_change < 0 and helped.f1_change <= 0:
            first += f" (least loss: {named(helped)})"
        lines.append(f"{first[0].upper()}{first[1:]}; {second} (slices of {MIN_SLICE}+ questions).")
    return lines


def markdown(diff: QuestionDiff) -> str:
    lines = [f"# {diff.a} -> {diff.b}: question by question", ""]
    lines += [f"- {line}" for line in summary_lines(diff)]
    lines += [
        "",
        "A question is right for a side when its answer is an exact match in more than half "
        "of that side's runs. F1 columns are averaged over a side's seeds.",
        "",
        "## F1 change by slice (B - A, 95% paired interval)",
        "",
        f"The {len(diff.slices)} intervals are not corrected for their number: about "
        f"{0.05 * len(diff.slices):.1g} of them would exclude 0 by chance alone.",
        "",
    ]
    lines += markdown_table(
        ["slice", "questions", "F1 change", "95% interval"],
        [
            [
                f"{s.family}={s.label}",
                s.questions,
                _signed(s.f1_change),
                f"[{s.ci_low:+.2f}, {s.ci_high:+.2f}]",
            ]
            for s in diff.slices
        ],
    )
    for change, flips in (("Fixed by B", diff.fixed), ("Broken by B", diff.broken)):
        lines += ["", f"## {change} ({len(flips)})", ""]
        lines += markdown_table(
            ["id", "question", "gold answers", "A", "B", "F1 A", "F1 B"],
            [
                [
                    f.id,
                    f.question,
                    " / ".join(dict.fromkeys(f.gold_answers)) or NO_ANSWER,
                    f.prediction_a or NO_ANSWER,
                    f.prediction_b or NO_ANSWER,
                    f"{f.f1_a:.1f}",
                    f"{f.f1_b:.1f}",
                ]
                for f in flips
            ],
        )
    return "\n".join(lines) + "\n"


def diff_runs(
    a_spec: str,
    b_spec: str,
    *,
    set_name: str = VALIDATION,
    out_dir: str | Path | None = None,
    show: bool = True,
) -> tuple[QuestionDiff, list[Path]]:
    """Diff two runs or settings; write the markdown and CSV; return the diff and files."""
    a_label, a = select_side(a_spec)
    b_label, b = select_side(b_spec)
    if a_label == b_label:
        a_label, b_label = f"A {a_label}", f"B {b_label}"
    sides = []
    for label, setting in ((a_label, a), (b_label, b)):
        scores = setting_scores(setting, set_name)
        if isinstance(scores, str):
            raise ValueError(f"{label}: {scores}")
        sides.append(scores)
    diff = question_diff(*sides, a_label=a_label, b_label=b_label, set_name=set_name)
    if diff.questions == 0:
        raise ValueError(f"{a_label} and {b_label} scored no question of {set_name} in common")
    out = Path(out_dir) if out_dir is not None else _default_out(a_spec)
    out.mkdir(parents=True, exist_ok=True)
    stem = file_stem(diff)
    files = [out / f"{stem}.md", out / f"{stem}.csv"]
    files[0].write_text(markdown(diff), encoding="utf-8")
    write_csv(diff, files[1])
    if show:
        for line in summary_lines(diff):
            print(line)
        print(f"wrote {files[0]} and {files[1].name}")
    return diff, files


def _default_out(spec: str) -> Path:
    """Beside the compared runs: the sweep folder of a setting, the parent of a run folder."""
    path, chosen = parse_side(spec)
    return path if chosen else path.parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m qa_lightning.compare diff",
        description="List the questions whose correctness changed from A to B.",
    )
    parser.add_argument("a", help="run folder, or SWEEP:key=value,... (a setting's seeds)")
    parser.add_argument("b", help="the same for the other side")
    parser.add_argument("--set", default=VALIDATION, help="evaluation set (default: validation)")
    parser.add_argument("--out", help="folder for the files (default: beside A)")
    args = parser.parse_args(argv)
    try:
        diff_runs(args.a, args.b, set_name=args.set, out_dir=args.out)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f"error: {err}") from None
