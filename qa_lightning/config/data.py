"""The ``data`` group's schema: which sets are read, how they are windowed and batched."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# data.on_bad_record: raise at the first bad record, or drop bad records and count them
# (checked at start by qa_lightning/data/checks.py)
ON_BAD_RECORD = ("raise", "drop")

# data.language and data.eval_sets.<name>.language: the rules that normalise answers for
# EM/F1: en is SQuAD's official normalisation, the others the MLQA evaluation script's
# (qa_lightning/evaluation/languages.py, which keeps the same list; checked at start by
# qa_lightning/data/checks.py)
LANGUAGES = ("en", "es", "de", "vi", "ar", "hi", "zh")


@dataclass
class SyntheticConfig:
    """``data.synthetic``: the generated SQuAD-style set of ``data.source=synthetic`` (the
    offline quick start): templated questions over generated paragraphs."""

    n_train: int = 2000  # training questions
    n_eval: int = 300  # validation questions
    unanswerable_fraction: float = 0.0  # share of v2-style questions without an answer
    seed: int = 0  # the same seed generates the same sets


@dataclass
class EvalSetConfig:
    """One more set scored after training (and by eval.py): a file, a Hub dataset or a
    reader node.

    On the command line a path or a Hub name is enough:
    ``+data.eval_sets.new_wiki=../shared/data/squad_shifts/new_wiki_subset.json``
    (``.json``: official SQuAD JSON; ``.jsonl``/``.jsonl.gz`` whose first line is an MRQA
    header or context: MRQA; other ``.jsonl``/``.csv``/``.parquet``: flat, read with
    ``data.columns``; anything else: a Hub dataset name, ``name`` or ``name:split``). A
    mapping with a ``_target_`` is a reader node (``qa_lightning.data.readers.Reader``).
    """

    file: str | None = None  # a data file (SQuAD JSON, MRQA, jsonl/csv/parquet)
    hub_name: str | None = None  # a Hub dataset in the "squad" schema (rajpurkar/squad)
    reader: Any = None  # a reader node {_target_: ..., ...}; checked by the data side
    split: str = "validation"  # of a Hub dataset
    version_2: bool | None = None  # null: data.version_2
    columns: dict[str, str] | None = None  # flat files; null: data.columns
    max_samples: int | None = None  # the first N examples; null: all of them
    language: str | None = None  # the answers' language for EM/F1; null: data.language


EVAL_SET_KEYS = tuple(EvalSetConfig.__dataclass_fields__)


@dataclass
class DataConfig:
    """``data``: which sets are read and how, how contexts are cut into windows, how windows
    are batched, and how logits become answers."""

    # the built-in reader of the train and validation sets: hub (a Hub dataset in the
    # "squad" schema), squad_json (nested SQuAD JSON files), flat (jsonl/csv/parquet with
    # data.columns), mrqa (MRQA 2019 jsonl), synthetic (generated: offline quick start).
    # A plain string: the set grows with the readers (qa_lightning/data/checks.py:SOURCES)
    source: str = "synthetic"
    # SQuAD 2.0 rules: questions may have no answer (null scores, HasAns/NoAns scores)
    version_2: bool = False
    # the answers' language for EM/F1 and eval sets' default (en: SQuAD's rules; others: MLQA's)
    language: str = "en"
    hub_name: str | None = None  # source=hub: the dataset's name (rajpurkar/squad)
    train_split: str = "train"  # source=hub: the split trained on
    validation_split: str = "validation"  # source=hub: the split validated on
    # a path (read as data.source says) or a reader node {_target_: my_pkg.MyReader, ...}
    train_file: Any = None
    validation_file: Any = None  # as train_file: the set that picks the best checkpoint
    # flat files: our column name -> the file's (`+data.columns.context=passage`); an empty
    # mapping, not null, which Hydra cannot add keys to from the command line
    columns: dict[str, str] = field(default_factory=dict)
    on_bad_record: str = "raise"  # or drop: skip and count bad records (ON_BAD_RECORD)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    max_train_samples: int | None = None  # counts examples, never features
    max_eval_samples: int | None = None  # the first N validation examples; null: all
    max_length: int = 384  # tokens per window (question + context + special tokens)
    # tokens shared by consecutive windows of a long context (less than the window's room)
    doc_stride: int = 128
    max_question_tokens: int | None = None  # cap on question tokens; null: min(64, max_length // 2)
    batch_size: int = 16  # training windows per batch (per device)
    eval_batch_size: int = 64  # evaluation windows per batch (per device)
    group_by_length: bool = True  # length-grouped train batches, length-sorted eval batches
    pad_to_max_length: bool = False  # pad every batch to max_length (the plain recipe)
    pad_to_multiple_of: int | None = None  # e.g. 8 for tensor cores on GPUs
    num_workers: int = 0  # DataLoader worker processes (0: collate in the main process)
    preprocessing_num_proc: int | None = None  # processes that build features; null: one
    cache_dir: str = "${paths.cache_dir}/features"  # token features, shared by runs
    # a frozen encoder's cached outputs (model.freeze=all, model.encoder_cache=true)
    encoder_cache_dir: str = "${paths.cache_dir}/encoder"
    n_best_size: int = 20  # start and end candidates per window; answers kept per question
    max_answer_length: int = 30  # the longest answer span considered, in tokens
    # v2: answer "" when the null score beats the best span's score by more than this
    null_score_diff_threshold: float = 0.0
    # more evaluation sets by name, each a path, a Hub name or an EvalSetConfig mapping;
    # scored with the best checkpoint after training (logged as eval/<name>/...)
    eval_sets: dict[str, Any] = field(default_factory=dict)
    # predict.py: a SQuAD JSON (.json), MRQA or flat (.jsonl/.csv/.parquet) file, or a
    # reader node; answers optional
    predict_file: Any = None
