"""Data sources: read QA examples into the Hugging Face "squad" schema.

Every reader returns a :class:`datasets.Dataset` with exactly
:data:`~qa_lightning.data.validation.SQUAD_FEATURES` (``id``, ``title``, ``context``,
``question``, ``answers{text, answer_start}``); unanswerable questions (SQuAD 2.0) have empty
answer lists. Reading lives here; the checks live in :mod:`qa_lightning.data.validation`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import datasets

# the names read_flat_file(columns=...) accepts as keys, and their check, are the config's
from qa_lightning.data.checks import FLAT_FILE_FIELDS, check_columns
from qa_lightning.data.validation import (
    COLUMNS,
    SQUAD_FEATURES,
    DataValidationError,
    check_on_bad_record,
    examples_from_columns,
    validate_records,
)
from qa_lightning.errors import DataFileNotFoundError, UserError

__all__ = [
    "FLAT_FILE_SUFFIXES",
    "HubUnavailableError",
    "load_hub_squad",
    "read_flat_file",
    "read_squad_json",
]

FLAT_FILE_SUFFIXES: tuple[str, ...] = (".jsonl", ".json", ".csv", ".parquet")
_SQUAD_SHAPE = (
    '{"version": ..., "data": [{"title": ..., "paragraphs": [{"context": ..., '
    '"qas": [{"id": ..., "question": ..., "answers": [{"text": ..., "answer_start": ...}]}]}]}]}'
)


class HubUnavailableError(UserError, ConnectionError):
    """The Hugging Face Hub could not be reached (offline, no network, or not found)."""


# --------------------------------------------------------------------------- helpers


def _existing_file(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise DataFileNotFoundError(f"data file not found: {str(p)!r}")
    if not p.is_file():
        raise DataFileNotFoundError(f"data path is not a file: {str(p)!r}")
    return p


def _read_text(path: Path) -> str:
    """The file decoded as UTF-8 (a BOM is allowed); bad bytes -> DataValidationError."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1]
        raise DataValidationError(
            f"{path}: not valid UTF-8: byte 0x{bad.hex()} at byte offset {exc.start} "
            f"({exc.reason}); the file must be UTF-8 encoded"
        ) from None


def _parse_json(text: str, path: Path, *, what: str, line: int | None = None) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        lineno = exc.lineno if line is None else line
        raise DataValidationError(
            f"{path}: malformed JSON at line {lineno} column {exc.colno}: {exc.msg}; "
            f"expected {what}"
        ) from None


# --------------------------------------------------------------------------- SQuAD JSON


def read_squad_json(
    path: str | os.PathLike, *, on_bad_record: str = "raise", answers_optional: bool = False
) -> datasets.Dataset:
    """Read an official nested SQuAD v1.1 / v2.0 JSON file into the examples schema.

    Questions with ``is_impossible: true`` get empty answers (``plausible_answers`` are
    ignored). With ``answers_optional`` (files to predict on, such as a test split) a
    question without ``answers`` gets empty ones too. Bad records raise :class:`DataValidationError` naming the file and the question
    id, or are dropped and counted with ``on_bad_record="drop"``.
    """
    on_bad_record = check_on_bad_record(on_bad_record)
    p = _existing_file(path)
    doc = _parse_json(_read_text(p), p, what="valid JSON in the official SQuAD format")
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise DataValidationError(
            f"{p}: not a SQuAD JSON file: expected an object with a 'data' list of articles, "
            f"i.e. {_SQUAD_SHAPE}"
        )

    records: dict[str, list] = {c: [] for c in COLUMNS}
    locations: list[str] = []
    for a, article in enumerate(doc["data"]):
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise DataValidationError(
                f"{p}: data[{a}] must be an object with a 'paragraphs' list (SQuAD format "
                f"{_SQUAD_SHAPE})"
            )
        title = article.get("title", "")
        for g, paragraph in enumerate(article["paragraphs"]):
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("qas"), list):
                raise DataValidationError(
                    f"{p}: data[{a}].paragraphs[{g}] must be an object with 'context' and a "
                    f"'qas' list (SQuAD format {_SQUAD_SHAPE})"
                )
            context = paragraph.get("context")
            for q, qa in enumerate(paragraph["qas"]):
                if not isinstance(qa, dict):
                    raise DataValidationError(
                        f"{p}: data[{a}].paragraphs[{g}].qas[{q}] must be an object with 'id', "
                        f"'question' and 'answers'"
                    )
                if qa.get("is_impossible") is True or (
                    answers_optional and qa.get("answers") is None
                ):
                    answers: Any = {"text": [], "answer_start": []}
                else:
                    answers = qa.get("answers")
                records["id"].append(qa.get("id"))
                records["title"].append(title)
                records["context"].append(context)
                records["question"].append(qa.get("question"))
                records["answers"].append(answers)
                locations.append(f"data[{a}].paragraphs[{g}].qas[{q}]")

    columns, _ = validate_records(
        records, source=str(p), on_bad_record=on_bad_record, locations=locations
    )
    return examples_from_columns(columns)


# --------------------------------------------------------------------------- flat files


def _flat_rows_json(p: Path) -> list[tuple[str, Any]]:
    text = _read_text(p)
    stripped = text.lstrip()
    if stripped.startswith("["):  # a .json file holding one array of records
        rows = _parse_json(text, p, what="a JSON array of objects or one JSON object per line")
        return [(f"item {i}", row) for i, row in enumerate(rows)]
    if p.suffix.lower() == ".json" and stripped.startswith("{") and _looks_like_squad(stripped):
        raise DataValidationError(
            f"{p}: this looks like a nested SQuAD JSON file; read it with read_squad_json "
            "(data=squad_json), or give one JSON object per line"
        )
    out = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            row = _parse_json(line, p, what="one JSON object per line (JSON lines)", line=lineno)
            out.append((f"line {lineno}", row))
    return out


def _looks_like_squad(text: str) -> bool:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return False
    return isinstance(doc, dict) and isinstance(doc.get("data"), list)


def _flat_rows_csv(p: Path) -> list[tuple[str, Any]]:
    text = _read_text(p)
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = list(reader)
    except csv.Error as exc:
        raise DataValidationError(f"{p}: malformed CSV: {exc}") from None
    out = []
    for i, row in enumerate(rows):  # empty cells are missing values
        if None in row:
            raise DataValidationError(f"{p}: row {i} has more cells than the header row")
        out.append((f"row {i}", {k: (None if v == "" else v) for k, v in row.items()}))
    return out


def _flat_rows_parquet(p: Path) -> list[tuple[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(p)
    except (pa.ArrowInvalid, OSError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataValidationError(f"{p}: cannot read as Parquet: {msg}") from None
    return [(f"row {i}", row) for i, row in enumerate(table.to_pylist())]


def _csv_int(value: Any) -> Any:
    """CSV cells are strings: turn '12' into 12 (anything else is left for validation)."""
    if isinstance(value, str):
        s = value.strip()
        if s.lstrip("-").isdigit():
            return int(s)
    return value


def read_flat_file(
    path: str | os.PathLike,
    *,
    columns: Mapping[str, str] | None = None,
    on_bad_record: str = "raise",
    answers_optional: bool = False,
) -> datasets.Dataset:
    """Read a flat table of QA records (``.jsonl``, ``.json`` lines, ``.csv``, ``.parquet``).

    ``columns`` maps our names (``id``, ``title``, ``context``, ``question``, ``answers``,
    ``answer_text``, ``answer_start``) to the file's column names. Answers come either from an
    ``answers`` column (``{"text": [...], "answer_start": [...]}``, a list of such objects, or
    in CSV that structure as a JSON string) or from flat ``answer_text`` + ``answer_start``
    columns with one answer per row (empty/None = unanswerable). A missing ``id`` column gets
    ids from the row number (``"0"``, ``"1"``, ...); a missing ``title`` becomes ``""``.
    With ``answers_optional`` (files to predict on) a file without answer columns is read
    with empty answers.
    """
    on_bad_record = check_on_bad_record(on_bad_record)
    mapping = {name: name for name in FLAT_FILE_FIELDS}
    if columns:
        check_columns(columns, "columns")  # the config's own check (data.columns)
        mapping.update(columns)
    p = _existing_file(path)
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".json"):
        located = _flat_rows_json(p)
    elif suffix == ".csv":
        located = _flat_rows_csv(p)
    elif suffix == ".parquet":
        located = _flat_rows_parquet(p)
    else:
        raise DataValidationError(
            f"{p}: unsupported file type {suffix or '(none)'!r}; expected one of "
            f"{', '.join(FLAT_FILE_SUFFIXES)} (or read_squad_json for nested SQuAD JSON)"
        )

    for where, row in located:
        if not isinstance(row, dict):
            raise DataValidationError(
                f"{p}: {where} is a JSON {type(row).__name__}; expected an object like "
                '{"id": ..., "context": ..., "question": ..., "answers": {...}}'
            )
    rows = [row for _, row in located]
    present: set[str] = set()
    for row in rows:
        present.update(row)
    found = ", ".join(sorted(present)) or "none"

    def has(name: str) -> bool:
        return mapping[name] in present

    def hint(name: str) -> str:
        return (
            f"column {mapping[name]!r}"
            if mapping[name] == name
            else f"column {mapping[name]!r} (mapped from {name!r})"
        )

    for name in ("context", "question"):
        if rows and not has(name):
            raise DataValidationError(
                f"{p}: missing required {hint(name)}; columns found: {found} "
                f"(pass columns={{{name!r}: '<file column>'}} to map it)"
            )
    if columns:
        for name in columns:
            if rows and not has(name):
                raise DataValidationError(f"{p}: {hint(name)} not found; columns found: {found}")
    use_struct = has("answers")
    use_flat = has("answer_text") and has("answer_start")
    if rows and not (use_struct or use_flat or answers_optional):
        raise DataValidationError(
            f"{p}: no answers: give an 'answers' column ({{'text': [...], 'answer_start': "
            f"[...]}}) or 'answer_text' + 'answer_start' columns (empty = unanswerable); "
            f"columns found: {found}"
        )

    is_csv = suffix == ".csv"
    records: dict[str, list] = {c: [] for c in COLUMNS}
    locations: list[str] = []
    for i, row in enumerate(rows):
        records["id"].append(row.get(mapping["id"]) if has("id") else str(i))
        title = row.get(mapping["title"]) if has("title") else ""
        records["title"].append("" if title is None else title)
        records["context"].append(row.get(mapping["context"]))
        records["question"].append(row.get(mapping["question"]))
        if use_struct:
            answers = row.get(mapping["answers"])
            if answers is None and answers_optional:
                answers = {"text": [], "answer_start": []}
            if is_csv and isinstance(answers, str):
                with contextlib.suppress(json.JSONDecodeError):  # else validation explains
                    answers = json.loads(answers)
        else:
            text = row.get(mapping["answer_text"])
            start = row.get(mapping["answer_start"])
            if is_csv:
                start = _csv_int(start)
            if (text is None or text == "") and (start is None or start == ""):
                answers = {"text": [], "answer_start": []}
            else:
                texts = [] if text is None or text == "" else [text]
                starts = [] if start is None or start == "" else [start]
                answers = {"text": texts, "answer_start": starts}
        if is_csv and isinstance(answers, dict) and "answer_start" in answers:
            starts_ = answers["answer_start"]
            if isinstance(starts_, list):
                answers = {**answers, "answer_start": [_csv_int(s) for s in starts_]}
        records["answers"].append(answers)
        locations.append(located[i][0])

    out, _ = validate_records(
        records, source=str(p), on_bad_record=on_bad_record, locations=locations
    )
    return examples_from_columns(out)


# --------------------------------------------------------------------------- Hub


def _is_unreachable(exc: BaseException) -> bool:
    """Connection / offline / not-found failures of the Hub (vs. e.g. a bad split name)."""
    if isinstance(exc, OSError):  # ConnectionError, TimeoutError, FileNotFoundError, requests
        return True
    name = type(exc).__name__
    module = type(exc).__module__ or ""
    return (
        "Offline" in name
        or "Connect" in name
        or "Timeout" in name
        or "NotFound" in name
        or module.startswith(("httpx", "requests", "urllib3"))
    )


def load_hub_squad(
    name: str, split: str, *, cache_dir: str | os.PathLike | None = None
) -> datasets.Dataset:
    """``datasets.load_dataset(name, split=split)`` in the examples schema.

    If the Hub cannot be reached (offline, no network, not found) this raises
    :class:`HubUnavailableError` with a one-line message pointing to the local alternatives.
    Extra columns are dropped and the features cast to ``SQUAD_FEATURES``; the content is not
    checked here (callers run ``validate_examples`` with their own ``on_bad_record``).
    """
    try:
        ds = datasets.load_dataset(
            name, split=split, cache_dir=None if cache_dir is None else str(cache_dir)
        )
    except Exception as exc:
        if not _is_unreachable(exc):
            raise
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise HubUnavailableError(
            f"could not load dataset {name!r} (split {split!r}) from the Hugging Face Hub "
            f"({type(exc).__name__}: {detail}); the Hub may be unreachable or offline: use "
            "data=squad_json with local SQuAD JSON files, or data=synthetic"
        ) from exc
    if not isinstance(ds, datasets.Dataset):
        raise ValueError(f"load_dataset({name!r}, split={split!r}) did not return one split")
    missing = [c for c in COLUMNS if c not in ds.column_names]
    if missing:
        raise DataValidationError(
            f"hub:{name}[{split}]: missing column(s) {', '.join(map(repr, missing))}; the "
            f"dataset must follow the SQuAD schema ({', '.join(COLUMNS)})"
        )
    extra = [c for c in ds.column_names if c not in COLUMNS]
    if extra:
        ds = ds.remove_columns(extra)
    ds = ds.select_columns(list(COLUMNS))
    if ds.features != SQUAD_FEATURES:
        ds = ds.cast(SQUAD_FEATURES)
    return ds
