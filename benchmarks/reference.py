"""The plain QA fine-tuning recipe that the benchmarks measure the package against.

Written here as the common recipe is usually written (the Hugging Face run_qa example and
course notebooks follow it): every (question, context) pair goes through the tokenizer,
every window is padded to ``max_length``, answers are labelled by walking the offsets
token by token, and answers are decoded by a double loop over the n best start and end
positions of each window. Kept beside the benchmarks; the package never imports it.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np


def _padded_windows(examples: dict[str, list], tokenizer: Any, max_length: int, doc_stride: int):
    """Every (question, context) pair through the tokenizer, overflowing into windows that
    are all padded to ``max_length``."""
    return tokenizer(
        [q.lstrip() for q in examples["question"]],
        examples["context"],
        truncation="only_second",
        max_length=max_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length",
    )


def reference_train_features(
    examples: dict[str, list], tokenizer: Any, *, max_length: int, doc_stride: int
) -> dict[str, list]:
    """Padded training windows with labels found by per-token loops (CLS = 0 when absent)."""
    enc = _padded_windows(examples, tokenizer, max_length, doc_stride)
    sample_map = enc.pop("overflow_to_sample_mapping")
    offset_mapping = enc.pop("offset_mapping")
    starts, ends = [], []
    for i, offsets in enumerate(offset_mapping):
        input_ids = enc["input_ids"][i]
        cls_index = input_ids.index(tokenizer.cls_token_id)
        sequence_ids = enc.sequence_ids(i)
        answers = examples["answers"][sample_map[i]]
        if len(answers["answer_start"]) == 0:
            starts.append(cls_index)
            ends.append(cls_index)
            continue
        start_char = answers["answer_start"][0]
        end_char = start_char + len(answers["text"][0])
        token_start = 0
        while sequence_ids[token_start] != 1:
            token_start += 1
        token_end = len(input_ids) - 1
        while sequence_ids[token_end] != 1:
            token_end -= 1
        if not (offsets[token_start][0] <= start_char and offsets[token_end][1] >= end_char):
            starts.append(cls_index)
            ends.append(cls_index)
            continue
        while token_start < len(offsets) and offsets[token_start][0] <= start_char:
            token_start += 1
        starts.append(token_start - 1)
        while offsets[token_end][1] >= end_char:
            token_end -= 1
        ends.append(token_end + 1)
    enc["start_positions"] = starts
    enc["end_positions"] = ends
    enc["example_id"] = [examples["id"][i] for i in sample_map]
    return dict(enc)


def reference_eval_features(
    examples: dict[str, list], tokenizer: Any, *, max_length: int, doc_stride: int
) -> dict[str, list]:
    """Padded evaluation windows; offsets of non-context tokens set to None."""
    enc = _padded_windows(examples, tokenizer, max_length, doc_stride)
    sample_map = enc.pop("overflow_to_sample_mapping")
    enc["example_id"] = [examples["id"][i] for i in sample_map]
    for i in range(len(enc["input_ids"])):
        sequence_ids = enc.sequence_ids(i)
        enc["offset_mapping"][i] = [
            o if sequence_ids[k] == 1 else None for k, o in enumerate(enc["offset_mapping"][i])
        ]
    return dict(enc)


def reference_postprocess(
    examples: Any,
    features: Any,
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    *,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    version_2: bool = False,
    null_score_diff_threshold: float = 0.0,
) -> dict[str, str]:
    """{id: answer} from the recipe's (padded) eval features: per example, per window, the
    n best starts x n best ends in Python loops, reading the features row by row."""
    example_index = {qid: i for i, qid in enumerate(examples["id"])}
    features_per_example = collections.defaultdict(list)
    for i, feature in enumerate(features):
        features_per_example[example_index[feature["example_id"]]].append(i)
    predictions = {}
    for ex, example in enumerate(examples):
        context = example["context"]
        min_null = None
        candidates = []
        for f in features_per_example[ex]:
            start, end = start_logits[f], end_logits[f]
            offsets = features[f]["offset_mapping"]
            null = start[0] + end[0]  # the recipe's null: position 0 (CLS for BERT models)
            if min_null is None or null < min_null:
                min_null = null
            best_starts = np.argsort(start)[-1 : -n_best_size - 1 : -1].tolist()
            best_ends = np.argsort(end)[-1 : -n_best_size - 1 : -1].tolist()
            for s in best_starts:
                for e in best_ends:
                    if s >= len(offsets) or e >= len(offsets):
                        continue
                    if offsets[s] is None or offsets[e] is None:
                        continue
                    if e < s or e - s + 1 > max_answer_length:
                        continue
                    candidates.append((start[s] + end[e], context[offsets[s][0] : offsets[e][1]]))
        candidates.sort(key=lambda c: c[0], reverse=True)
        candidates = candidates[:n_best_size]
        if not version_2:
            predictions[example["id"]] = candidates[0][1] if candidates else ""
            continue
        best = next(((score, text) for score, text in candidates if text), None)
        if best is None or min_null - best[0] > null_score_diff_threshold:
            predictions[example["id"]] = ""
        else:
            predictions[example["id"]] = best[1]
    return predictions


def recipe_windows(examples: Any, build: Any, tokenizer: Any, *, max_length: int, doc_stride: int):
    """The recipe's windows of a ``datasets.Dataset`` of examples, built by ``build``
    (``reference_train_features`` or ``reference_eval_features``) through ``Dataset.map``."""
    return examples.map(
        build,
        batched=True,
        remove_columns=examples.column_names,
        fn_kwargs={"tokenizer": tokenizer, "max_length": max_length, "doc_stride": doc_stride},
    )
