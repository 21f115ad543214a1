"""Examples -> model features for extractive QA (sliding windows over long contexts).

One row per window, UNPADDED, in the order the tokenizer produced them.

Train features: ``input_ids, attention_mask[, token_type_ids], start_positions,
end_positions, cls_index, example_index``. The labels are the token indices of the first
answer's first/last token inside the window, or ``cls_index`` for both when the window does
not hold the whole answer or the example has none (SQuAD 2.0).

Eval features: ``input_ids, attention_mask[, token_type_ids], cls_index, example_index,
offset_mapping``: context tokens keep their ``[start_char, end_char]`` in the context,
every other token (question, special) gets ``[-1, -1]``.

Tokenizers that pad on the left get the context first and the question second.
Questions are stripped of leading whitespace and capped at ``max_question_tokens``
(default ``min(64, max_length // 2)``; 64 is HF's ``max_question_length``), and
``doc_stride`` is checked against the room the longest allowed question leaves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from datasets import Dataset

from qa_lightning.data.window import (
    DEFAULT_MAX_QUESTION_TOKENS,
    check_window,
    resolve_max_question_tokens,
)

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_MAX_QUESTION_TOKENS",
    "check_stride",
    "count_windows",
    "prepare_eval_features",
    "prepare_train_features",
    "resolve_max_question_tokens",
]


def check_stride(
    tokenizer: Any, *, max_length: int, doc_stride: int, max_question_tokens: int | None
) -> None:
    """Reject a ``doc_stride`` that the tokenizer cannot honour, with a one-line ConfigError.

    The window keeps ``room = max_length - question_cap - special_tokens`` context tokens;
    HF tokenizers fail (or loop) when ``doc_stride >= room`` (the rule is
    ``qa_lightning.data.window.check_window``'s, with this tokenizer's special tokens).
    """
    check_window(
        max_length=max_length,
        doc_stride=doc_stride,
        max_question_tokens=max_question_tokens,
        n_special=tokenizer.num_special_tokens_to_add(pair=True),
    )


@dataclass(frozen=True)
class PairTemplate:
    """Where the tokenizer puts special tokens (and token types) around a (first, second) pair.

    Read once from the tokenizer's own pair encoding, so BERT's ``[CLS] a [SEP] b [SEP]``,
    RoBERTa's ``<s> a </s></s> b </s>`` and any other post-processor are reproduced exactly.
    """

    prefix: tuple[int, ...]
    middle: tuple[int, ...]
    suffix: tuple[int, ...]
    # token types of (prefix, first, middle, second, suffix); None: no token_type_ids
    types: tuple[tuple[int, ...], int, tuple[int, ...], int, tuple[int, ...]] | None

    @classmethod
    def of(cls, tokenizer: Any) -> PairTemplate:
        enc = tokenizer("first", "second", return_token_type_ids=None)
        ids, seq = enc["input_ids"], enc.sequence_ids(0)
        first = [i for i, s in enumerate(seq) if s == 0]
        second = [i for i, s in enumerate(seq) if s == 1]
        a0, a1, b0, b1 = first[0], first[-1] + 1, second[0], second[-1] + 1
        types = None
        if "token_type_ids" in enc:
            t = enc["token_type_ids"]
            types = (tuple(t[:a0]), t[a0], tuple(t[a1:b0]), t[b0], tuple(t[b1:]))
        return cls(tuple(ids[:a0]), tuple(ids[a1:b0]), tuple(ids[b1:]), types)

    @property
    def segments(self) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        return self.prefix, self.middle, self.suffix

    @property
    def n_special(self) -> int:
        return len(self.prefix) + len(self.middle) + len(self.suffix)


def window_starts(length: int, room: int, doc_stride: int) -> list[int]:
    """First context token of each window, as HF tokenizers overflow: windows of ``room``
    tokens advancing by ``room - doc_stride`` until one reaches the end."""
    starts = [0]
    while starts[-1] + room < length:
        starts.append(starts[-1] + room - doc_stride)
    return starts


def _prepare(
    examples: Dataset,
    tokenizer: Any,
    *,
    max_length: int,
    doc_stride: int,
    max_question_tokens: int | None,
    num_proc: int | None,
    train: bool,
    extra_columns: tuple[str, ...] = (),
) -> Dataset:
    check_stride(
        tokenizer,
        max_length=max_length,
        doc_stride=doc_stride,
        max_question_tokens=max_question_tokens,
    )
    fn_kwargs = {
        "tokenizer": tokenizer,
        "template": PairTemplate.of(tokenizer),
        "max_length": max_length,
        "doc_stride": doc_stride,
        "question_cap": resolve_max_question_tokens(max_length, max_question_tokens),
        "train": train,
        "extra_columns": tuple(extra_columns),
    }
    features = examples.map(
        _featurize,
        batched=True,
        batch_size=1000,
        with_indices=True,
        remove_columns=examples.column_names,
        fn_kwargs=fn_kwargs,
        num_proc=num_proc,
        desc="Building train features" if train else "Building eval features",
    )
    # Counted over the whole set (map runs in batches, maybe in several processes).
    n_capped = sum(features["question_capped"]) if len(features) else 0
    if n_capped:
        log.warning(
            "%d of %d questions were longer than %d tokens and were truncated to fit "
            "(data.max_question_tokens)",
            n_capped,
            len(examples),
            fn_kwargs["question_cap"],
        )
    return features.remove_columns("question_capped") if len(features) else features


def _featurize(
    batch: dict[str, list],
    indices: list[int],
    *,
    tokenizer: Any,
    template: PairTemplate,
    max_length: int,
    doc_stride: int,
    question_cap: int,
    train: bool,
    extra_columns: tuple[str, ...] = (),
) -> dict[str, list]:
    """Windows of one batch of examples, each paragraph tokenised once; a reader's
    ``extra_columns`` are copied to every window of their example.

    SQuAD asks several questions about each paragraph, so the batch's distinct contexts
    and its questions are tokenised separately (no special tokens) and every window is
    assembled from the two with the tokenizer's own pair template; the windows, token
    types and offsets are those of tokenising each (question, context) pair with overflow,
    which is what this replaces (see tests/data/test_features.py).
    """
    questions = [q.lstrip() for q in batch["question"]]
    contexts = list(batch["context"])
    distinct = list(dict.fromkeys(contexts))
    ctx_enc = tokenizer(
        distinct,
        add_special_tokens=False,
        return_offsets_mapping=True,
        return_attention_mask=False,
        verbose=False,  # whole paragraphs may exceed model_max_length: windows will not
    )
    ctx_of = {c: i for i, c in enumerate(distinct)}
    ctx_ids = [np.asarray(ids, dtype=np.int64) for ids in ctx_enc["input_ids"]]
    ctx_offsets = [np.asarray(o, dtype=np.int64).reshape(-1, 2) for o in ctx_enc["offset_mapping"]]
    q_enc = tokenizer(questions, add_special_tokens=False, return_attention_mask=False)
    context_first = tokenizer.padding_side == "left"
    cls_id = tokenizer.cls_token_id
    pre, mid, suf = (np.asarray(t, dtype=np.int64) for t in template.segments)
    answers = batch["answers"] if train else None

    # Rows are numpy arrays: datasets writes them to Arrow far faster than nested lists.
    out: dict[str, list] = {"input_ids": [], "attention_mask": []}
    if template.types is not None:
        out["token_type_ids"] = []
        t_pre, t_first, t_mid, t_second, t_suf = template.types
    cls_index, example_index, starts_out, ends_out, offsets_out = [], [], [], [], []
    capped_out = []  # True on the first window of a capped question: summed in _prepare
    extras: dict[str, list] = {name: [] for name in extra_columns}
    for row, q_list in enumerate(q_enc["input_ids"]):
        capped = len(q_list) > question_cap
        question = np.asarray(q_list[:question_cap], dtype=np.int64)
        c = ctx_of[contexts[row]]
        c_ids, c_offsets = ctx_ids[c], ctx_offsets[c]
        room = max_length - template.n_special - len(question)
        span = _answer_tokens(answers[row], c_offsets) if train else None
        for ws in window_starts(len(c_ids), room, doc_stride):
            we = min(ws + room, len(c_ids))
            window = c_ids[ws:we]
            first, second = (window, question) if context_first else (question, window)
            ids = np.concatenate((pre, first, mid, second, suf))
            ctx_at = len(pre) if context_first else len(pre) + len(question) + len(mid)
            out["input_ids"].append(ids)
            out["attention_mask"].append(np.ones(len(ids), dtype=np.int64))
            if template.types is not None:
                out["token_type_ids"].append(
                    np.concatenate(
                        (
                            t_pre,
                            np.full(len(first), t_first, dtype=np.int64),
                            t_mid,
                            np.full(len(second), t_second, dtype=np.int64),
                            t_suf,
                        )
                    )
                )
            hits = np.flatnonzero(ids == cls_id) if cls_id is not None else ()
            cls = int(hits[0]) if len(hits) else 0
            cls_index.append(cls)
            example_index.append(indices[row])
            capped_out.append(capped and ws == 0)
            for name, values in extras.items():
                values.append(batch[name][row])
            if train:
                s, e = cls, cls
                if span is not None and ws <= span[0] and span[1] < we:
                    s, e = ctx_at + span[0] - ws, ctx_at + span[1] - ws
                starts_out.append(s)
                ends_out.append(e)
            else:
                offsets = np.full((len(ids), 2), -1, dtype=np.int64)
                offsets[ctx_at : ctx_at + len(window)] = c_offsets[ws:we]
                offsets_out.append(offsets)
    out["cls_index"] = cls_index
    out["example_index"] = example_index
    out["question_capped"] = capped_out
    out.update(extras)
    if train:
        out["start_positions"] = starts_out
        out["end_positions"] = ends_out
    else:
        out["offset_mapping"] = offsets_out
    return out


def _answer_tokens(answer: dict, offsets: np.ndarray) -> tuple[int, int] | None:
    """Context-token span (first, last) of the first answer; None when there is none.

    First token: the last one starting at or before the answer's first character (a start
    inside a word maps to the token holding it; a start on whitespace to the token before
    it, as in HF run_qa). Last token: the first one ending at or after its end.
    A window holds the answer when it holds both tokens; otherwise both labels are CLS.
    """
    if not answer["answer_start"] or len(offsets) == 0:
        return None
    start_char = int(answer["answer_start"][0])
    end_char = start_char + len(answer["text"][0])
    if offsets[0, 0] > start_char or offsets[-1, 1] < end_char:
        return None
    first = int(np.searchsorted(offsets[:, 0], start_char, side="right")) - 1
    last = int(np.searchsorted(offsets[:, 1], end_char, side="left"))
    return first, max(last, first)


def prepare_train_features(
    examples: Dataset,
    tokenizer: Any,
    *,
    max_length: int,
    doc_stride: int,
    max_question_tokens: int | None = None,
    num_proc: int | None = None,
    extra_columns: tuple[str, ...] = (),
) -> Dataset:
    """Training windows with ``start_positions``/``end_positions`` labels (unpadded).
    ``extra_columns``: example columns copied to each window (a reader's)."""
    return _prepare(
        examples,
        tokenizer,
        max_length=max_length,
        doc_stride=doc_stride,
        max_question_tokens=max_question_tokens,
        num_proc=num_proc,
        train=True,
        extra_columns=extra_columns,
    )


def eval_windows(
    questions: list[str],
    contexts: list[str],
    tokenizer: Any,
    *,
    max_length: int,
    doc_stride: int,
    max_question_tokens: int | None = None,
) -> dict[str, list]:
    """The windows :func:`prepare_eval_features` builds, as columns in memory.

    For answering a handful of questions at a time (the pipeline, the service): no Arrow
    table, no cache, no progress bar; ``example_index`` counts from 0 over ``questions``.
    """
    check_stride(
        tokenizer,
        max_length=max_length,
        doc_stride=doc_stride,
        max_question_tokens=max_question_tokens,
    )
    columns = _featurize(
        {"question": list(questions), "context": list(contexts)},
        list(range(len(questions))),
        tokenizer=tokenizer,
        template=PairTemplate.of(tokenizer),
        max_length=max_length,
        doc_stride=doc_stride,
        question_cap=resolve_max_question_tokens(max_length, max_question_tokens),
        train=False,
    )
    del columns["question_capped"]
    return columns


def count_windows(
    questions: list[str],
    contexts: list[str],
    tokenizer: Any,
    *,
    max_length: int,
    doc_stride: int,
    max_question_tokens: int | None = None,
) -> list[int]:
    """How many windows :func:`eval_windows` makes of each (question, context) pair.

    The same rule (:func:`window_starts` over the context's tokens) from token counts alone:
    no offsets, no window rows, so a service can refuse a huge context before it queues.
    """
    check_stride(
        tokenizer,
        max_length=max_length,
        doc_stride=doc_stride,
        max_question_tokens=max_question_tokens,
    )
    cap = resolve_max_question_tokens(max_length, max_question_tokens)
    n_special = PairTemplate.of(tokenizer).n_special
    plain = {"add_special_tokens": False, "return_attention_mask": False, "verbose": False}
    q_ids = tokenizer([q.lstrip() for q in questions], **plain)["input_ids"]
    c_ids = tokenizer(list(contexts), **plain)["input_ids"]
    return [
        len(window_starts(len(c), max_length - n_special - min(len(q), cap), doc_stride))
        for q, c in zip(q_ids, c_ids, strict=True)
    ]


def prepare_eval_features(
    examples: Dataset,
    tokenizer: Any,
    *,
    max_length: int,
    doc_stride: int,
    max_question_tokens: int | None = None,
    num_proc: int | None = None,
    extra_columns: tuple[str, ...] = (),
) -> Dataset:
    """Evaluation windows with context-only ``offset_mapping`` (unpadded).
    ``extra_columns``: example columns copied to each window (a reader's)."""
    return _prepare(
        examples,
        tokenizer,
        max_length=max_length,
        doc_stride=doc_stride,
        max_question_tokens=max_question_tokens,
        num_proc=num_proc,
        train=False,
        extra_columns=extra_columns,
    )
