"""Data readers: one seam that turns any source into checked examples, with a cache identity.

A reader is a :class:`Reader` subclass built from a config node (``data.train_file``,
``data.validation_file``, ``data.predict_file`` or ``data.eval_sets.<name>``, each a path or
``{_target_: my_pkg.MyReader, ...}``). ``read()`` returns examples in the SQuAD schema
(:data:`~qa_lightning.data.validation.SQUAD_FEATURES`), plus the ``extra_columns`` it
declares; ``identity()`` is what the feature cache is keyed on: the class, its arguments
and the sha256 of every file it reads, so an edited data file never reuses stale features.

The built-ins (SQuAD JSON, flat files, Hub datasets, synthetic data and MRQA, in
:mod:`qa_lightning.data.mrqa`) go through the same seam.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import datasets

from qa_lightning.components import class_path
from qa_lightning.data.sources import load_hub_squad, read_flat_file, read_squad_json
from qa_lightning.data.synthetic import make_synthetic_squad
from qa_lightning.data.validation import (
    COLUMNS,
    DataValidationError,
    examples_from_columns,
    validate_examples,
    validate_records,
)
from qa_lightning.errors import DataFileNotFoundError

__all__ = [
    "FlatFileReader",
    "HubReader",
    "Reader",
    "SquadJsonReader",
    "SyntheticReader",
    "file_digest",
]


# set by the datamodule from the data config (unless a node gives them): in identity() once
_SETTINGS = ("on_bad_record", "answers_optional")
_FILE = "<file: see files>"  # an argument naming a file: its content is in identity()["files"]


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes: the content part of a reader's identity."""
    if not Path(path).is_file():
        raise DataFileNotFoundError(f"data file not found: {str(path)!r}")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    """An argument as JSON-able data (paths as strings) for the cache identity."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _arguments(cls: type, args: tuple, kwargs: dict) -> dict[str, Any]:
    """The constructor's arguments by name, defaults filled in."""
    try:
        bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
    except TypeError:  # __init__ will say what is wrong
        return {"args": list(args), **kwargs}
    bound.apply_defaults()
    named = dict(bound.arguments)
    named.pop(next(iter(named)))  # self
    return named


class Reader:
    """Base class of data readers: subclass it and implement :meth:`read`.

    ``read()`` returns a :class:`datasets.Dataset` with the columns ``id, title, context,
    question, answers{text, answer_start}`` (answers empty for an unanswerable question)
    and the declared :attr:`extra_columns`. Build it with :meth:`examples` from raw column
    lists: every record is then checked as a SQuAD record is (one-line errors naming the
    source and the record id), bad ones raising or being dropped and counted as
    :attr:`on_bad_record` says. A dataset built otherwise is checked after ``read()``.

    The datamodule sets the attributes :attr:`on_bad_record` (``data.on_bad_record``) and
    :attr:`answers_optional` (true when predicting: records may lack answers) after
    building the reader, unless the node gives them. The constructor's arguments are
    recorded automatically for :meth:`identity`; every argument naming an existing file is
    fingerprinted by content (override :meth:`files` if the reader reads others).
    """

    #: example-level columns beyond the SQuAD schema; copied to each window of an example
    #: and, when numeric, collated into tensors of the training batch (e.g. a weight).
    extra_columns: tuple[str, ...] = ()
    on_bad_record: str = "raise"
    answers_optional: bool = False

    def __new__(cls, *args: Any, **kwargs: Any) -> Reader:
        self = super().__new__(cls)
        self._arguments = _arguments(cls, args, kwargs)
        return self

    def read(self) -> datasets.Dataset:
        raise NotImplementedError(f"{type(self).__qualname__} must implement read()")

    def files(self) -> list[str]:
        """The files this reader reads: by default every argument naming an existing file."""
        found: list[str] = []
        for value in getattr(self, "_arguments", {}).values():
            for item in value if isinstance(value, list | tuple) else [value]:
                if isinstance(item, str | os.PathLike) and str(item) and Path(item).is_file():
                    found.append(str(item))
        return found

    def identity(self) -> dict[str, Any]:
        """Plain data naming what ``read()`` returns: the feature cache's key for it. A file
        counts by its content (sha256), not its path: a copy elsewhere reuses the entry."""
        files = [str(path) for path in self.files()]
        arguments = {
            k: _FILE if isinstance(v, str | os.PathLike) and str(v) in files else v
            for k, v in getattr(self, "_arguments", {}).items()
            if k not in _SETTINGS
        }
        return {
            "reader": class_path(type(self)),
            "arguments": _plain(arguments),
            "files": [file_digest(path) for path in files],
            "on_bad_record": str(self.on_bad_record),
            "answers_optional": bool(self.answers_optional),
            "extra_columns": list(self.extra_columns),
        }

    def examples(
        self,
        records: Mapping[str, Sequence[Any]],
        *,
        source: str,
        locations: Sequence[str] | None = None,
        problems: Sequence[tuple[str, str] | None] | None = None,
        unlocated_answers: bool = False,
    ) -> datasets.Dataset:
        """Checked examples from raw column lists (:data:`COLUMNS` and the extra columns).

        ``source`` (the file) and ``locations`` (where each record sits) name a bad record;
        ``problems`` carries a reader's own findings per record (see ``validate_records``).
        """
        columns, report = validate_records(
            records,
            source=source,
            on_bad_record=self.on_bad_record,
            locations=locations,
            problems=problems,
            unlocated_answers=unlocated_answers,
        )
        ds = examples_from_columns(columns)
        for name in self.extra_columns:
            if name not in records:
                raise DataValidationError(f"{source}: extra column {name!r} is missing")
            values = records[name]
            ds = ds.add_column(name, [values[i] for i in report.kept])
        self._checked = ds._fingerprint
        return ds

    def load(self, *, source: str) -> datasets.Dataset:
        """``read()``, held to the schema: the SQuAD columns (checked, if ``read()`` did not
        build them with :meth:`examples`) and the declared extra columns, nothing else."""
        ds = self.read()
        if not isinstance(ds, datasets.Dataset):
            raise DataValidationError(
                f"{source}: {type(self).__qualname__}.read() returned "
                f"{type(ds).__name__}; it must return a datasets.Dataset"
            )
        missing = [c for c in (*COLUMNS, *self.extra_columns) if c not in ds.column_names]
        if missing:
            raise DataValidationError(
                f"{source}: {type(self).__qualname__}.read() lacks column(s) "
                f"{', '.join(map(repr, missing))}; declare extra columns in extra_columns"
            )
        checked = getattr(self, "_checked", None) == ds._fingerprint
        keep = [*COLUMNS, *self.extra_columns]
        if ds.column_names != keep:
            ds = ds.select_columns(keep)
        if not checked:
            ds = validate_examples(ds, source=source, on_bad_record=self.on_bad_record)
        return ds


class SquadJsonReader(Reader):
    """An official nested SQuAD v1.1 / v2.0 JSON file (:func:`read_squad_json`)."""

    def __init__(self, path: str, *, on_bad_record: str = "raise", answers_optional: bool = False):
        self.path, self.on_bad_record, self.answers_optional = path, on_bad_record, answers_optional

    def files(self) -> list[str]:
        return [str(self.path)]

    def read(self) -> datasets.Dataset:
        ds = read_squad_json(
            self.path, on_bad_record=self.on_bad_record, answers_optional=self.answers_optional
        )
        self._checked = ds._fingerprint
        return ds


class FlatFileReader(Reader):
    """A flat table of records, ``.jsonl``/``.json``/``.csv``/``.parquet``, ``columns``
    mapping our names to the file's (:func:`read_flat_file`)."""

    def __init__(
        self,
        path: str,
        columns: dict[str, str] | None = None,
        *,
        on_bad_record: str = "raise",
        answers_optional: bool = False,
    ):
        self.path, self.columns = path, dict(columns or {})
        self.on_bad_record, self.answers_optional = on_bad_record, answers_optional

    def files(self) -> list[str]:
        return [str(self.path)]

    def read(self) -> datasets.Dataset:
        ds = read_flat_file(
            self.path,
            columns=self.columns or None,
            on_bad_record=self.on_bad_record,
            answers_optional=self.answers_optional,
        )
        self._checked = ds._fingerprint
        return ds


class HubReader(Reader):
    """A Hugging Face Hub dataset in the "squad" schema (:func:`load_hub_squad`); its
    identity is the name and split (the Hub's content is not fingerprinted)."""

    def __init__(self, name: str, split: str = "validation", *, on_bad_record: str = "raise"):
        self.name, self.split, self.on_bad_record = name, split, on_bad_record

    def read(self) -> datasets.Dataset:
        ds = validate_examples(
            load_hub_squad(self.name, self.split),
            source=f"{self.name}[{self.split}]",
            on_bad_record=self.on_bad_record,
        )
        self._checked = ds._fingerprint
        return ds


class SyntheticReader(Reader):
    """Generated SQuAD-style examples (:func:`make_synthetic_squad`)."""

    def __init__(
        self,
        n_examples: int,
        *,
        seed: int = 0,
        unanswerable_fraction: float = 0.0,
        id_prefix: str = "syn",
        on_bad_record: str = "raise",
    ):
        self.n_examples, self.seed, self.id_prefix = n_examples, seed, id_prefix
        self.unanswerable_fraction, self.on_bad_record = unanswerable_fraction, on_bad_record

    def read(self) -> datasets.Dataset:
        ds = make_synthetic_squad(
            self.n_examples,
            seed=self.seed,
            unanswerable_fraction=self.unanswerable_fraction,
            id_prefix=self.id_prefix,
        )
        self._checked = ds._fingerprint  # generated valid: no second pass
        return ds
