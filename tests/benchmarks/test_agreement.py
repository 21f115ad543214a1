"""The benchmarks' agreement checks: the package matches the plain recipe, and a
difference fails loudly instead of printing a ratio."""

from __future__ import annotations

import numpy as np
import pytest
from datasets import Dataset

from benchmarks.bench_features import compare_windows
from benchmarks.common import AgreementError
from benchmarks.reference import (
    reference_eval_features,
    reference_postprocess,
    reference_train_features,
)
from qa_lightning.data.features import prepare_eval_features, prepare_train_features
from qa_lightning.evaluation.postprocessing import postprocess_predictions
from tests.fixtures import make_squad_examples

MAX_LENGTH, STRIDE = 64, 16


@pytest.fixture(scope="module")
def examples() -> Dataset:
    return Dataset.from_list(
        make_squad_examples(30, context_words=90, seed=3, unanswerable_every=5)
    )


def recipe(examples, fn, tokenizer):
    return examples.map(
        fn,
        batched=True,
        remove_columns=examples.column_names,
        fn_kwargs={"tokenizer": tokenizer, "max_length": MAX_LENGTH, "doc_stride": STRIDE},
    )


def test_train_and_eval_windows_agree_and_a_changed_label_fails(examples, wordpiece_tokenizer):
    ours = prepare_train_features(
        examples, wordpiece_tokenizer, max_length=MAX_LENGTH, doc_stride=STRIDE
    )
    ref = recipe(examples, reference_train_features, wordpiece_tokenizer)
    compare_windows(examples, ours, ref, train=True)
    ours_eval = prepare_eval_features(
        examples, wordpiece_tokenizer, max_length=MAX_LENGTH, doc_stride=STRIDE
    )
    compare_windows(
        examples,
        ours_eval,
        recipe(examples, reference_eval_features, wordpiece_tokenizer),
        train=False,
    )

    answered = next(
        i
        for i, (s, c) in enumerate(zip(ours["start_positions"], ours["cls_index"], strict=True))
        if s != c
    )
    starts = list(ours["start_positions"])
    starts[answered] += 1
    tampered = ours.remove_columns("start_positions").add_column("start_positions", starts)
    with pytest.raises(AgreementError, match="labels differ"):
        compare_windows(examples, tampered, ref, train=True)


@pytest.mark.parametrize("version_2", [False, True])
def test_postprocessing_gives_the_recipe_s_answers(examples, wordpiece_tokenizer, version_2):
    features = prepare_eval_features(
        examples, wordpiece_tokenizer, max_length=MAX_LENGTH, doc_stride=STRIDE
    )
    ref_features = recipe(examples, reference_eval_features, wordpiece_tokenizer)
    rng = np.random.default_rng(0)
    lengths = np.array([len(r) for r in features["input_ids"]])
    start = rng.normal(size=(len(features), MAX_LENGTH)).astype(np.float32)
    end = rng.normal(size=(len(features), MAX_LENGTH)).astype(np.float32)
    padding = np.arange(MAX_LENGTH)[None, :] >= lengths[:, None]
    start[padding] = end[padding] = -1e4
    strong_null = np.array(features["example_index"]) % 2 == 0  # some v2 answers are ""
    start[strong_null, 0] += 4.0
    end[strong_null, 0] += 4.0
    ours = postprocess_predictions(examples, features, start, end, version_2=version_2)
    ref = reference_postprocess(examples, ref_features, start, end, version_2=version_2)
    assert ours == ref
    if version_2:
        assert "" in ours.values() and any(ours.values())  # both kinds of answer occur


def test_bench_vs_trainer_judges_the_paired_f1_difference_not_identical_answers() -> None:
    """bf16 may change many answers and still agree in F1; a shift beyond one point whose
    interval excludes 0 fails; identical answers are judged only when asked."""
    from benchmarks.bench_vs_trainer import check_agreement
    from qa_lightning.compare.stats import paired_test

    rng = np.random.default_rng(0)
    fp32 = rng.uniform(0, 100, 400)
    noisy = fp32 + rng.normal(0, 5, 400)  # many answers moved, no shift
    shifted = fp32 - 3.0  # every question 3 F1 lower
    counts = {"bf16 vs fp32": 300}
    check_agreement({"bf16 vs fp32": paired_test(noisy, fp32)}, counts, 400, None)
    with pytest.raises(AgreementError, match=r"bf16 vs fp32: F1 -3.00 \[-3.00, -3.00\]"):
        check_agreement({"bf16 vs fp32": paired_test(shifted, fp32)}, counts, 400, None)
    with pytest.raises(AgreementError, match="answers identical below 99%"):
        check_agreement({"bf16 vs fp32": paired_test(noisy, fp32)}, counts, 400, 0.99)
