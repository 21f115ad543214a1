"""MRQA 2019 shared-task files (``.jsonl`` or ``.jsonl.gz``) as a built-in reader."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import datasets

from qa_lightning.data.readers import Reader
from qa_lightning.data.validation import COLUMNS, UNLOCATED, DataValidationError
from qa_lightning.errors import DataFileNotFoundError
from qa_lightning.evaluation.scoring import normalize_answer

__all__ = ["MrqaReader", "is_mrqa_file"]

_SHAPE = '{"context": ..., "qas": [{"qid": ..., "question": ..., "answers": [...], ...}]}'


def _lines(path: Path) -> list[str]:
    data = path.read_bytes()
    if path.suffix.lower() == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise DataValidationError(f"{path}: not a readable gzip file ({exc})") from None
    try:
        return data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise DataValidationError(
            f"{path}: not valid UTF-8 at byte offset {exc.start}; the file must be UTF-8"
        ) from None


def is_mrqa_file(path: str) -> bool:
    """A ``.jsonl`` / ``.jsonl.gz`` whose first line is an MRQA header (``{"header": ...}``)
    or an MRQA context (an object with a ``qas`` list): the rule that picks MRQA for a path.
    A flat file's rows have a ``question`` and no ``qas``, so no flat file qualifies."""
    name = str(path).lower()
    if not (name.endswith(".jsonl") or name.endswith(".jsonl.gz")) or not Path(path).is_file():
        return False
    try:
        if name.endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8") as f:
                first = f.readline()
        else:
            with open(path, encoding="utf-8-sig") as f:
                first = f.readline()
        doc = json.loads(first)
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(doc, dict) and ("header" in doc or isinstance(doc.get("qas"), list))


def _span_problem(context: str, detected: Any) -> tuple[str, str] | None:
    if not isinstance(detected, list):
        return "bad_type", "detected_answers must be a list of {text, char_spans} objects"
    n = len(context)
    for k, item in enumerate(detected):
        spans = item.get("char_spans") if isinstance(item, dict) else None
        if not isinstance(spans, list):
            return "missing_field", f"detected_answers[{k}] needs a 'char_spans' list"
        for j, span in enumerate(spans):
            ok = (
                isinstance(span, list)
                and len(span) == 2
                and all(isinstance(x, int) and not isinstance(x, bool) for x in span)
            )
            if not ok or not 0 <= span[0] <= span[1] < n:
                return "answer_start_out_of_range", (
                    f"detected_answers[{k}].char_spans[{j}]={span!r} is out of range for a "
                    f"context of {n} characters (inclusive [start, end], 0 <= start <= end < "
                    f"{n} is required)"
                )
    return None


def gold_answers(context: str, qa: dict) -> tuple[dict[str, list], tuple[str, str] | None]:
    """A question's ``answers{text, answer_start}`` (see :class:`MrqaReader`), or the
    problem that makes it a bad record."""
    empty: dict[str, list] = {"text": [], "answer_start": []}
    answers = qa.get("answers")
    if not isinstance(answers, list) or not answers:
        return empty, ("missing_field", "'answers' must be a non-empty list of answer strings")
    if not all(isinstance(a, str) and a for a in answers):
        return empty, ("bad_answer_text", f"'answers' must hold non-empty strings, got {answers!r}")
    detected = qa.get("detected_answers", [])
    problem = _span_problem(context, detected)
    if problem:
        return empty, problem
    wanted: dict[str, str] = {}
    for a in answers:
        wanted.setdefault(normalize_answer(a), a)
    located: dict[str, tuple[str, int]] = {}  # the first detected occurrence of each answer
    for item in detected:
        for start, end in item["char_spans"]:
            text = context[start : end + 1]
            key = normalize_answer(text)
            if key in wanted and key not in located:
                located[key] = (text, start)
    for key, a in wanted.items():
        if key not in located and a in context:
            located[key] = (a, context.index(a))
    if not located:
        return empty, (
            "answer_not_in_context",
            f"no answer of {answers!r} is in the context (no detected_answers span and no "
            "verbatim occurrence); MRQA questions are extractive",
        )
    first = next(iter(located))  # the training span: the first detected occurrence
    order = [first, *(k for k in wanted if k in located and k != first)]
    texts = [located[k][0] for k in order] + [a for k, a in wanted.items() if k not in located]
    starts = [located[k][1] for k in order] + [UNLOCATED] * (len(wanted) - len(located))
    return {"text": texts, "answer_start": starts}, None


class MrqaReader(Reader):
    """The MRQA 2019 shared task's jsonl (optionally gzipped): an optional header line
    ``{"header": {"dataset", "split"}}``, then one context per line with its ``qas``.

    How a question maps into the SQuAD schema, so that our scores equal the official MRQA
    script's (SQuAD v1.1 normalisation, EM/F1 as the maximum over the question's
    ``answers`` strings):

    - ``id`` is the ``qid`` (the official script keys predictions by it); ``title`` is the
      header's ``dataset`` (or empty);
    - ``answers.text`` holds one text per distinct normalised ``answers`` string, so the
      maximum over them is the official maximum: the context's own text where the answer
      occurs (the first ``detected_answers`` span, ``context[start:end + 1]`` with the
      inclusive ``char_spans``, whose text normalises to it; else a verbatim occurrence),
      else the string itself with ``answer_start`` ``-1`` (scored, never trained on);
    - the first answer, the training span, is the first detected occurrence in file order
      (the feature builder trains on the first answer). Detected spans whose text matches
      no ``answers`` string are not gold answers of the official script and are ignored.

    A question whose answers occur nowhere in its context, bad ``char_spans``, or a
    question without ``qid``/``question``/``answers`` is a bad record: one line naming the
    file, the line and the ``qid``; dropped and counted with ``on_bad_record=drop``. With
    ``answers_optional`` (predicting) questions without answers get empty ones.
    """

    def __init__(self, path: str, *, on_bad_record: str = "raise", answers_optional: bool = False):
        self.path, self.on_bad_record, self.answers_optional = path, on_bad_record, answers_optional

    def files(self) -> list[str]:
        return [str(self.path)]

    def read(self) -> datasets.Dataset:
        p = Path(self.path)
        if not p.is_file():
            raise DataFileNotFoundError(f"data file not found: {str(p)!r}")
        records: dict[str, list] = {c: [] for c in COLUMNS}
        locations: list[str] = []
        problems: list[tuple[str, str] | None] = []
        title = ""
        for lineno, line in enumerate(_lines(p), start=1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataValidationError(
                    f"{p}: malformed JSON at line {lineno} column {exc.colno}: {exc.msg}; "
                    f"expected one MRQA context per line, {_SHAPE}"
                ) from None
            if lineno == 1 and isinstance(doc, dict) and "header" in doc:
                header = doc["header"] if isinstance(doc["header"], dict) else {}
                title = str(header.get("dataset") or "")
                continue
            context = doc.get("context") if isinstance(doc, dict) else None
            qas = doc.get("qas") if isinstance(doc, dict) else None
            if not isinstance(context, str) or not isinstance(qas, list):
                raise DataValidationError(
                    f"{p}: line {lineno} must be an object with a 'context' string and a "
                    f"'qas' list, {_SHAPE}"
                )
            for q, qa in enumerate(qas):
                if not isinstance(qa, dict):
                    raise DataValidationError(
                        f"{p}: line {lineno}, qas[{q}] must be an object with 'qid', "
                        "'question' and 'answers'"
                    )
                problem = None
                if "qid" not in qa:
                    problem = ("missing_field", "missing required field 'qid' (the question id)")
                if qa.get("is_impossible") is True or (
                    self.answers_optional
                    and qa.get("answers") is None
                    and not qa.get("detected_answers")
                ):
                    answers: dict[str, list] = {"text": [], "answer_start": []}
                else:
                    answers, found = gold_answers(context, qa)
                    problem = problem or found
                records["id"].append(qa.get("qid"))
                records["title"].append(title)
                records["context"].append(context)
                records["question"].append(qa.get("question"))
                records["answers"].append(answers)
                locations.append(f"line {lineno}, qas[{q}]")
                problems.append(problem)
        return self.examples(
            records,
            source=str(p),
            locations=locations,
            problems=problems,
            unlocated_answers=True,
        )
