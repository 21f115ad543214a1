"""Schema and content checks for QA *examples* (the Hugging Face "squad" schema).

Every data source returns a :class:`datasets.Dataset` with exactly :data:`SQUAD_FEATURES`.
The checks here are shared by all sources: the readers in :mod:`qa_lightning.data.sources`
collect raw records and hand them to :func:`validate_records`; an existing ``Dataset`` is
checked with :func:`validate_examples`.

Failures raise :class:`DataValidationError` with a one-line message naming the source (file
path or dataset name), the record id, what is wrong and what would be accepted; with
``on_bad_record="drop"`` bad records are dropped instead and a warning reports how many, per
reason.
"""

from __future__ import annotations

import logging
import numbers
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import datasets
import numpy as np
import pyarrow as pa

from qa_lightning.config import ON_BAD_RECORD, choice
from qa_lightning.errors import UserError

log = logging.getLogger(__name__)

__all__ = [
    "COLUMNS",
    "SQUAD_FEATURES",
    "UNLOCATED",
    "DataValidationError",
    "ValidationReport",
    "check_on_bad_record",
    "examples_from_columns",
    "validate_examples",
    "validate_records",
]

#: The examples schema: identical features (and Arrow types) for every source.
SQUAD_FEATURES = datasets.Features(
    {
        "id": datasets.Value("string"),
        "title": datasets.Value("string"),
        "context": datasets.Value("string"),
        "question": datasets.Value("string"),
        "answers": {
            "text": datasets.List(datasets.Value("string")),
            "answer_start": datasets.List(datasets.Value("int32")),
        },
    }
)
COLUMNS: tuple[str, ...] = ("id", "title", "context", "question", "answers")

#: ``answer_start`` of a gold text kept for scoring only (see ``unlocated_answers``).
UNLOCATED = -1

_STRING_FIELDS = ("id", "title", "context", "question")
_INT32_MAX = 2**31 - 1
_SNIPPET = 60


class DataValidationError(UserError, ValueError):
    """Bad input data; the message is one line naming the source, the record and the fix."""


@dataclass
class ValidationReport:
    """What :func:`validate_records` found: rows kept and the reasons rows were dropped."""

    total: int
    kept: list[int] = field(default_factory=list)
    reasons: Counter = field(default_factory=Counter)

    @property
    def dropped(self) -> int:
        return self.total - len(self.kept)


class _BadRecord(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def check_on_bad_record(on_bad_record: str) -> str:
    """``on_bad_record`` if it is allowed, else a one-line ``ConfigError`` (a ``ValueError``)
    naming the choices: the readers' own check of their argument (the config's
    ``data.on_bad_record`` is checked at start, by ``checks.check_data``)."""
    return choice(ON_BAD_RECORD, on_bad_record, "on_bad_record")


def _short(text: str) -> str:
    """repr() of ``text``, cut to a readable length (repr keeps the message on one line)."""
    if len(text) > _SNIPPET:
        return repr(text[: _SNIPPET - 3] + "...")
    return repr(text)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _as_int(value: Any) -> int | None:
    """An integer offset from int / numpy int / integral float; None if not an integer."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _normalise_answers(answers: Any) -> tuple[list, list]:
    """Answers as (texts, starts) from a {"text", "answer_start"} dict or a SQuAD list of dicts."""
    if answers is None:
        raise _BadRecord(
            "missing_field",
            "missing required field 'answers' (give {'text': [...], 'answer_start': [...]}, "
            "empty lists for an unanswerable question)",
        )
    if isinstance(answers, Mapping):
        missing = [k for k in ("text", "answer_start") if k not in answers]
        if missing:
            raise _BadRecord(
                "missing_field",
                f"answers lacks {' and '.join(map(repr, missing))} "
                "(expected {'text': [...], 'answer_start': [...]})",
            )
        texts, starts = answers["text"], answers["answer_start"]
        texts = [] if texts is None else texts
        starts = [] if starts is None else starts
        if isinstance(texts, str) or not isinstance(texts, Sequence | np.ndarray):
            raise _BadRecord(
                "bad_type",
                f"answers['text'] must be a list of strings, got {_type_name(texts)}",
            )
        if isinstance(starts, str) or not isinstance(starts, Sequence | np.ndarray):
            raise _BadRecord(
                "bad_type",
                f"answers['answer_start'] must be a list of integers, got {_type_name(starts)}",
            )
        return list(texts), list(starts)
    if isinstance(answers, Sequence) and not isinstance(answers, str):
        texts, starts = [], []
        for k, item in enumerate(answers):
            if not isinstance(item, Mapping) or "text" not in item or "answer_start" not in item:
                raise _BadRecord(
                    "missing_field",
                    f"answers[{k}] must be an object with 'text' and 'answer_start', "
                    f"got {_short(str(item))}",
                )
            texts.append(item["text"])
            starts.append(item["answer_start"])
        return texts, starts
    raise _BadRecord(
        "bad_type",
        f"answers must be {{'text': [...], 'answer_start': [...]}} or a list of "
        f"{{'text', 'answer_start'}} objects, got {_type_name(answers)}",
    )


def _check_record(
    id_: Any, title: Any, context: Any, question: Any, answers: Any, unlocated: bool = False
) -> tuple[list[str], list[int]]:
    for name, value in zip(_STRING_FIELDS, (id_, title, context, question), strict=True):
        if value is None:
            raise _BadRecord(
                "missing_field", f"missing required field {name!r} (a string is required)"
            )
        if not isinstance(value, str):
            raise _BadRecord(
                "bad_type",
                f"field {name!r} must be a string, got {_type_name(value)} {_short(str(value))}",
            )
    if not id_.strip():
        raise _BadRecord("empty_id", "empty id (a non-empty string is required)")
    if not context.strip():
        raise _BadRecord("empty_context", "empty context (a non-empty string is required)")
    if not question.strip():
        raise _BadRecord("empty_question", "empty question (a non-empty string is required)")

    texts, starts = _normalise_answers(answers)
    if len(texts) != len(starts):
        raise _BadRecord(
            "answer_count_mismatch",
            f"answers has {len(texts)} text(s) but {len(starts)} answer_start value(s) "
            "(one answer_start per text is required)",
        )
    n = len(context)
    clean_starts: list[int] = []
    for k, (text, raw_start) in enumerate(zip(texts, starts, strict=True)):
        if not isinstance(text, str) or not text:
            raise _BadRecord(
                "bad_answer_text",
                f"answer text must be a non-empty string, got {_type_name(text)} "
                f"{_short(str(text))}",
            )
        start = _as_int(raw_start)
        if start is None:
            raise _BadRecord(
                "bad_type",
                f"answer_start for answer {_short(text)} must be an integer, got "
                f"{_type_name(raw_start)} {_short(str(raw_start))}",
            )
        if unlocated and start == UNLOCATED and k > 0:  # a gold text for scoring only
            clean_starts.append(start)
            continue
        if start < 0 or start + len(text) > n or start > _INT32_MAX:
            raise _BadRecord(
                "answer_start_out_of_range",
                f"answer_start={start} for answer {_short(text)} is out of range for a context "
                f"of {n} characters (0 <= answer_start <= {max(n - len(text), 0)} is required)",
            )
        found = context[start : start + len(text)]
        if found != text:
            raise _BadRecord(
                "answer_mismatch",
                f"answer {_short(text)} is not at answer_start={start} in the context "
                f"(found {_short(found)}); answer_start must be the character offset where "
                "the answer text starts in the context",
            )
        clean_starts.append(start)
    return list(texts), clean_starts


def _fast_check(
    id_: Any, title: Any, context: Any, question: Any, answers: Any
) -> tuple[list[str], list[int]] | None:
    """The common, valid case without building messages; None means "look closer"."""
    if not (
        type(id_) is str
        and type(title) is str
        and type(context) is str
        and type(question) is str
        and type(answers) is dict
        and id_.strip()
        and context.strip()
        and question.strip()
    ):
        return None
    texts = answers.get("text")
    starts = answers.get("answer_start")
    if type(texts) is not list or type(starts) is not list or len(texts) != len(starts):
        return None
    for text, start in zip(texts, starts):  # noqa: B905 - lengths checked above
        if (
            type(text) is not str
            or type(start) is not int
            or not text
            or start < 0
            or start > _INT32_MAX
            or not context.startswith(text, start)
        ):
            return None
    return texts, starts


def _label(id_: Any, location: str | None) -> str:
    where = f" ({location})" if location else ""
    if isinstance(id_, str) and id_:
        return f"record id {id_!r}{where}"
    if id_ is None:
        return f"record{where or ' ?'} (no id)"
    return f"record id {_short(str(id_))}{where}"


def validate_records(
    records: Mapping[str, Sequence[Any]],
    *,
    source: str,
    on_bad_record: str = "raise",
    locations: Sequence[str] | None = None,
    problems: Sequence[tuple[str, str] | None] | None = None,
    unlocated_answers: bool = False,
) -> tuple[dict[str, list], ValidationReport]:
    """Check raw column lists and return the cleaned columns of the records kept.

    ``records`` maps each of :data:`COLUMNS` to a list (``None`` marks a missing value);
    ``answers`` may be a ``{"text", "answer_start"}`` dict or a SQuAD list of answer objects.
    ``locations`` (optional, one per record) says where a record sits in the file, for the
    messages. ``problems`` (optional, one per record): a ``(reason, message)`` a reader
    already found in its own format, so that the record fails, or is dropped and counted,
    exactly as a bad SQuAD record. ``unlocated_answers``: answers after the first may have
    ``answer_start`` :data:`UNLOCATED` (gold texts for scoring that the context does not
    hold verbatim, such as MRQA's answer aliases). The returned columns fit
    :data:`SQUAD_FEATURES`.
    """
    on_bad_record = check_on_bad_record(on_bad_record)
    missing = [c for c in COLUMNS if c not in records]
    if missing:
        raise DataValidationError(
            f"{source}: missing column(s) {', '.join(map(repr, missing))} "
            f"(required columns: {', '.join(COLUMNS)})"
        )
    ids, titles, contexts, questions, answers = (records[c] for c in COLUMNS)
    total = len(ids)
    if any(len(col) != total for col in (titles, contexts, questions, answers)):
        raise DataValidationError(f"{source}: columns have different lengths")

    report = ValidationReport(total=total)
    out: dict[str, list] = {c: [] for c in COLUMNS}
    seen: dict[str, int] = {}
    for i in range(total):
        id_ = ids[i]
        try:
            if problems is not None and problems[i] is not None:
                raise _BadRecord(*problems[i])
            checked = _fast_check(id_, titles[i], contexts[i], questions[i], answers[i])
            if checked is None:
                checked = _check_record(
                    id_, titles[i], contexts[i], questions[i], answers[i], unlocated_answers
                )
            texts, starts = checked
            if id_ in seen:
                first = seen[id_]
                first_at = locations[first] if locations is not None else f"row {first}"
                raise _BadRecord(
                    "duplicate_id",
                    f"id {id_!r} is duplicated (first used at {first_at}); ids must be unique",
                )
        except _BadRecord as bad:
            if on_bad_record == "raise":
                location = locations[i] if locations is not None else f"row {i}"
                raise DataValidationError(
                    f"{source}: {_label(id_, location)}: {bad.message}"
                ) from None
            report.reasons[bad.reason] += 1
            continue
        seen[id_] = i
        report.kept.append(i)
        out["id"].append(id_)
        out["title"].append(titles[i])
        out["context"].append(contexts[i])
        out["question"].append(questions[i])
        out["answers"].append({"text": texts, "answer_start": starts})

    if report.dropped:
        log.warning(
            "%s: dropped %d of %d records (%s)",
            source,
            report.dropped,
            total,
            ", ".join(f"{reason}={count}" for reason, count in sorted(report.reasons.items())),
        )
    return out, report


def examples_from_columns(columns: Mapping[str, Sequence[Any]]) -> datasets.Dataset:
    """A ``Dataset`` with exactly :data:`SQUAD_FEATURES` from checked column lists.

    Builds the Arrow table in one call (``Dataset.from_dict`` encodes row by row, which is
    several times slower on SQuAD-sized data).
    """
    table = pa.Table.from_pydict(
        {c: list(columns[c]) for c in COLUMNS}, schema=SQUAD_FEATURES.arrow_schema
    )
    return datasets.Dataset(table, info=datasets.DatasetInfo(features=SQUAD_FEATURES.copy()))


def validate_examples(
    ds: datasets.Dataset, *, source: str, on_bad_record: str = "raise"
) -> datasets.Dataset:
    """Check an examples ``Dataset``; return it unchanged, or without its bad records on "drop".

    Raises :class:`DataValidationError` for the first bad record (``on_bad_record="raise"``) or
    logs a warning with the count dropped and the count per reason (``"drop"``).
    """
    on_bad_record = check_on_bad_record(on_bad_record)
    missing = [c for c in COLUMNS if c not in ds.column_names]
    if missing:
        raise DataValidationError(
            f"{source}: missing column(s) {', '.join(map(repr, missing))} "
            f"(required columns: {', '.join(COLUMNS)}; found: {', '.join(ds.column_names)})"
        )
    table = ds.with_format("arrow")[:]  # applies any indices mapping; one pass to Python
    records = {c: table.column(c).to_pylist() for c in COLUMNS}
    _, report = validate_records(records, source=source, on_bad_record=on_bad_record)
    if not report.dropped:
        return ds
    return ds.select(report.kept)
