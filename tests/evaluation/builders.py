"""Hand-built examples/features for the evaluation tests (no tokenizer needed).

A "token" is a whitespace-separated word of the context. A window is laid out as
``[CLS] q_1 .. q_n [SEP] word_w0 .. word_w1 [SEP]``: ``cls_index`` 0, offsets ``[-1, -1]``
for every non-context token, the word's character span for context tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from datasets import Dataset


def word_spans(context: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"\S+", context)]


@dataclass
class Built:
    examples: Dataset
    features: Dataset
    word_at: list[list[int]]  # per feature: token position -> context word index or -1

    def positions_of_word(self, feature: int, word: int) -> int | None:
        row = self.word_at[feature]
        return row.index(word) if word in row else None

    def features_of(self, example: int) -> list[int]:
        ex = list(self.features["example_index"])
        return [i for i, e in enumerate(ex) if e == example]


def make_examples(contexts, answers, ids=None, questions=None) -> Dataset:
    """answers[i]: list of (text, answer_start) pairs, [] for unanswerable."""
    n = len(contexts)
    ids = ids or [f"q{i}" for i in range(n)]
    questions = questions or [f"question {i}?" for i in range(n)]
    return Dataset.from_dict(
        {
            "id": ids,
            "title": ["t"] * n,
            "context": list(contexts),
            "question": questions,
            "answers": [
                {"text": [a for a, _ in ans], "answer_start": [s for _, s in ans]}
                for ans in answers
            ],
        }
    )


def build(
    contexts,
    answers=None,
    *,
    question_lens=3,
    window_words=6,
    stride_words=3,
    ids=None,
) -> Built:
    """Overlapping windows of ``window_words`` words, starting every ``stride_words``."""
    answers = answers or [[] for _ in contexts]
    rows, word_at = [], []
    for ex, ctx in enumerate(contexts):
        spans = word_spans(ctx)
        qlen = question_lens[ex] if isinstance(question_lens, list) else question_lens
        w0 = 0
        while True:
            words = list(range(w0, min(w0 + window_words, len(spans))))
            head = [[-1, -1]] * (qlen + 2)
            offsets = head + [list(spans[w]) for w in words] + [[-1, -1]]
            n_tok = len(offsets)
            rows.append(
                {
                    "input_ids": list(range(n_tok)),
                    "attention_mask": [1] * n_tok,
                    "example_index": ex,
                    "offset_mapping": offsets,
                    "cls_index": 0,
                }
            )
            word_at.append([-1] * (qlen + 2) + words + [-1])
            if w0 + window_words >= len(spans):
                break
            w0 += stride_words
    return Built(make_examples(contexts, answers, ids=ids), Dataset.from_list(rows), word_at)


def padded_logits(built: Built, base: float = 0.0, width: int | None = None, pad=-1e4):
    """(num_features, width) arrays filled with ``base`` inside rows, ``pad`` past them."""
    lengths = [len(w) for w in built.word_at]
    width = width or max(lengths)
    start = np.full((len(lengths), width), pad, dtype=np.float32)
    end = np.full((len(lengths), width), pad, dtype=np.float32)
    for i, n in enumerate(lengths):
        start[i, :n] = base
        end[i, :n] = base
    return start, end
