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
from typing import Any

import numpy as np
from datasets import Dataset

from qa_lightning.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_MAX_QUESTION_TOKENS = 64

__all__ = [
    "DEFAULT_MAX_QUESTION_TOKENS",
    "check_stride",
    "prepare_eval_features",
    "prepare_train_features",
    "resolve_max_question_tokens",
]


def resolve_max_question_tokens(max_length: int, max_question_tokens: int | None) -> int:
    """The question cap in tokens: ``max_question_tokens`` or ``min(64, max_length // 2)``."""
    if max_question_tokens is None:
        return max(1, min(DEFAULT_MAX_QUESTION_TOKENS, max_length // 2))
    if max_question_tokens < 1:
        raise ConfigError(f"data.max_question_tokens={max_question_tokens} must be >= 1 (or null)")
    return int(max_question_tokens)


def _context_room(tokenizer: Any, max_length: int, question_cap: int) -> int:
    """Tokens left for the context when the question has ``question_cap`` tokens."""
    return max_length - question_cap - tokenizer.num_special_tokens_to_add(pair=True)


def check_stride(
    tokenizer: Any, *, max_length: int, doc_stride: int, max_question_tokens: int | None
) -> None:
    """Reject a ``doc_stride`` that the tokenizer cannot honour, with a one-line message.

    The window keeps ``room = max_length - question_cap - special_tokens`` context tokens;
    HF tokenizers fail (or loop) when ``doc_stride >= room``.
    """
    cap = resolve_max_question_tokens(max_length, max_question_tokens)
    n_special = tokenizer.num_special_tokens_to_add(pair=True)
    room = _context_room(tokenizer, max_length, cap)
    if room < 1:
        raise ConfigError(
            f"data.max_length={max_length} leaves no room for the context: questions capped at "
            f"{cap} tokens plus {n_special} special tokens fill it; raise data.max_length or "
            f"lower data.max_question_tokens"
        )
    if doc_stride < 0:
        raise ConfigError(
            f"data.doc_stride={doc_stride} must be >= 0; use 0 <= doc_stride < {room}"
        )
    if doc_stride >= max_length or doc_stride >= room:
        raise ConfigError(
            f"data.doc_stride={doc_stride} leaves no room: with max_length={max_length} and "
            f"questions capped at {cap} tokens the context window is {room} tokens; "
            f"use doc_stride < {room}"
        )


def _cap_questions(questions: list[str], tokenizer: Any, cap: int) -> dict[int, str]:
    """Texts of the questions longer than ``cap`` tokens, cut after their ``cap``-th token.

    Returns ``{position: capped_text}`` for the capped questions only.
    """
    enc = tokenizer(questions, add_special_tokens=False, return_attention_mask=False)
    lengths = np.fromiter(
        (len(ids) for ids in enc["input_ids"]), dtype=np.int64, count=len(questions)
    )
    long_rows = np.flatnonzero(lengths > cap).tolist()
    if not long_rows:
        return {}
    texts = [questions[i] for i in long_rows]
    # Cut each text after its `cap`-th token. For WordPiece and BPE the cut text re-tokenises
    # to <= cap tokens; re-check anyway and cut one token more where a tokenizer disagrees.
    for attempt in range(8):
        enc = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
        too_long = False
        for j, offsets in enumerate(enc["offset_mapping"]):
            if len(offsets) > cap:
                too_long = True
                texts[j] = texts[j][: offsets[max(cap - attempt, 1) - 1][1]]
        if not too_long:
            break
    return dict(zip(long_rows, texts, strict=True))


def _prepare(
    examples: Dataset,
    tokenizer: Any,
    *,
    max_length: int,
    doc_stride: int,
    max_question_tokens: int | None,
    num_proc: int | None,
    train: bool,
) -> Dataset:
    check_stride(
        tokenizer,
        max_length=max_length,
        doc_stride=doc_stride,
        max_question_tokens=max_question_tokens,
    )
    cap = resolve_max_question_tokens(max_length, max_question_tokens)
    questions = [q.lstrip() for q in examples["question"]]
    capped = _cap_questions(questions, tokenizer, cap) if questions else {}
    if capped:
        log.warning(
            "%d of %d questions were longer than %d tokens and were truncated to fit "
            "(data.max_question_tokens)",
            len(capped),
            len(questions),
            cap,
        )
    fn_kwargs = {
        "tokenizer": tokenizer,
        "max_length": max_length,
        "doc_stride": doc_stride,
        "capped": capped,
        "train": train,
    }
    return examples.map(
        _featurize,
        batched=True,
        with_indices=True,
        remove_columns=examples.column_names,
        fn_kwargs=fn_kwargs,
        num_proc=num_proc,
        desc="Building train features" if train else "Building eval features",
    )


def _featurize(
    batch: dict[str, list],
    indices: list[int],
    *,
    tokenizer: Any,
    max_length: int,
    doc_stride: int,
    capped: dict[int, str],
    train: bool,
) -> dict[str, list]:
    """Tokenise one batch of examples into windows and label/annotate each window."""
    questions = [
        capped.get(idx, q.lstrip()) for idx, q in zip(indices, batch["question"], strict=True)
    ]
    contexts = list(batch["context"])
    context_first = tokenizer.padding_side == "left"
    enc = tokenizer(
        contexts if context_first else questions,
        questions if context_first else contexts,
        truncation="only_first" if context_first else "only_second",
        max_length=max_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )
    context_id = 0 if context_first else 1
    sample_map = enc["overflow_to_sample_mapping"]
    cls_id = tokenizer.cls_token_id
    n = len(enc["input_ids"])

    out: dict[str, list] = {
        key: enc[key] for key in ("input_ids", "attention_mask", "token_type_ids") if key in enc
    }
    cls_index = [0] * n
    example_index = [0] * n
    starts = [0] * n
    ends = [0] * n
    offset_out: list = [None] * n
    answers = batch["answers"] if train else None

    for i in range(n):
        sample = sample_map[i]
        example_index[i] = indices[sample]
        ids = enc["input_ids"][i]
        cls = ids.index(cls_id) if cls_id is not None and cls_id in ids else 0
        cls_index[i] = cls
        seq = np.array(enc.sequence_ids(i), dtype=np.float64)  # None -> nan
        in_context = seq == context_id
        ctx = np.flatnonzero(in_context)
        offsets = np.asarray(enc["offset_mapping"][i], dtype=np.int64).reshape(-1, 2)
        if not train:
            offsets[~in_context] = -1
            offset_out[i] = offsets.tolist()
            continue
        starts[i] = ends[i] = cls
        ans = answers[sample]
        if not ans["answer_start"] or len(ctx) == 0:
            continue
        start_char = int(ans["answer_start"][0])
        end_char = start_char + len(ans["text"][0])
        c0, c1 = ctx[0], ctx[-1]
        ctx_offsets = offsets[c0 : c1 + 1]
        # The window must hold the whole answer, else both labels point at CLS.
        if ctx_offsets[0, 0] > start_char or ctx_offsets[-1, 1] < end_char:
            continue
        # First token: the last one starting at or before start_char (mid-word starts map
        # to the token holding them; a start on whitespace maps to the token before it, as
        # in HF run_qa). Last token: the first one ending at or after end_char.
        s = int(np.searchsorted(ctx_offsets[:, 0], start_char, side="right")) - 1
        e = int(np.searchsorted(ctx_offsets[:, 1], end_char, side="left"))
        starts[i] = c0 + s
        ends[i] = c0 + max(e, s)

    out["cls_index"] = cls_index
    out["example_index"] = example_index
    if train:
        out["start_positions"] = starts
        out["end_positions"] = ends
    else:
        out["offset_mapping"] = offset_out
    return out


def prepare_train_features(
    examples: Dataset,
    tokenizer: Any,
    *,
    max_length: int,
    doc_stride: int,
    max_question_tokens: int | None = None,
    num_proc: int | None = None,
) -> Dataset:
    """Training windows with ``start_positions``/``end_positions`` labels (unpadded)."""
    return _prepare(
        examples,
        tokenizer,
        max_length=max_length,
        doc_stride=doc_stride,
        max_question_tokens=max_question_tokens,
        num_proc=num_proc,
        train=True,
    )


def prepare_eval_features(
    examples: Dataset,
    tokenizer: Any,
    *,
    max_length: int,
    doc_stride: int,
    max_question_tokens: int | None = None,
    num_proc: int | None = None,
) -> Dataset:
    """Evaluation windows with context-only ``offset_mapping`` (unpadded)."""
    return _prepare(
        examples,
        tokenizer,
        max_length=max_length,
        doc_stride=doc_stride,
        max_question_tokens=max_question_tokens,
        num_proc=num_proc,
        train=False,
    )
