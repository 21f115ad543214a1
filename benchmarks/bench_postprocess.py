"""Postprocessing: the package's vectorised n-best search against the reference double loop.

On the SQuAD v2 dev subset's eval features (bundled MiniLM tokenizer, 384/128), n_best 20,
max_answer_length 30, v1 and v2 rules, with random logits and with a trained model's
logits (``--model DIR``, a saved QA model such as a run's ``best_model``). Both must give
the same answer for every example. ``postprocess_predictions`` (answers only) is the
measured call; ``postprocess`` with n-best lists, what validation runs, is timed beside it.
Also prints the cost of one numpy pass over the logits (a row-wise max), the floor any
postprocessing pays.

    .venv/bin/python benchmarks/bench_postprocess.py [--model DIR] [--repeats 5]
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import (
    AgreementError,
    load_examples,
    median_time,
    minilm_tokenizer,
    print_table,
)
from benchmarks.reference import (
    recipe_windows,
    reference_eval_features,
    reference_postprocess,
)

MAX_LENGTH, DOC_STRIDE = 384, 128
PAD_LOGIT = -1e4  # what a model puts on padding positions: never a candidate


def random_logits(lengths: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    start = rng.normal(size=(len(lengths), MAX_LENGTH)).astype(np.float32)
    end = rng.normal(size=(len(lengths), MAX_LENGTH)).astype(np.float32)
    padding = np.arange(MAX_LENGTH)[None, :] >= lengths[:, None]
    start[padding] = PAD_LOGIT
    end[padding] = PAD_LOGIT
    return start, end


def model_logits(model_dir: str, features) -> tuple[np.ndarray, np.ndarray]:
    """Logits of a saved QA model over the features (length-sorted batches, no grad)."""
    import torch
    from transformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(model_dir).eval()
    ids = features["input_ids"]
    types = features["token_type_ids"] if "token_type_ids" in features.column_names else None
    order = np.argsort([len(x) for x in ids])
    start = np.full((len(ids), MAX_LENGTH), PAD_LOGIT, dtype=np.float32)
    end = start.copy()
    with torch.inference_mode():
        for b in range(0, len(order), 64):
            rows = order[b : b + 64]
            width = max(len(ids[r]) for r in rows)
            batch = torch.zeros((len(rows), width), dtype=torch.long)
            mask = torch.zeros_like(batch)
            type_ids = torch.zeros_like(batch)
            for j, r in enumerate(rows):
                n = len(ids[r])
                batch[j, :n] = torch.tensor(ids[r])
                mask[j, :n] = 1
                if types is not None:
                    type_ids[j, :n] = torch.tensor(types[r])
            out = model(input_ids=batch, attention_mask=mask, token_type_ids=type_ids)
            for j, r in enumerate(rows):
                n = len(ids[r])
                start[r, :n] = out.start_logits[j, :n].numpy()
                end[r, :n] = out.end_logits[j, :n].numpy()
    return start, end


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a saved QA model directory for real logits")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from qa_lightning.data.features import prepare_eval_features
    from qa_lightning.evaluation.postprocessing import postprocess, postprocess_predictions

    examples = load_examples("squad_v2_dev_subset")
    tokenizer = minilm_tokenizer()
    features = prepare_eval_features(
        examples, tokenizer, max_length=MAX_LENGTH, doc_stride=DOC_STRIDE
    )
    # The recipe's own features (padded, None offsets outside the context): the same windows
    # in the same order (bench_features checks it), so the same logits apply to both.
    ref_features = recipe_windows(
        examples, reference_eval_features, tokenizer, max_length=MAX_LENGTH, doc_stride=DOC_STRIDE
    )
    ids = list(examples["id"])
    if list(ref_features["example_id"]) != [ids[i] for i in features["example_index"]]:
        raise AgreementError("the reference's windows differ from the package's")
    lengths = np.array([len(row) for row in features["input_ids"]])
    print(f"{len(examples)} examples, {len(features)} windows at {MAX_LENGTH}/{DOC_STRIDE}")

    logit_sets = {"random": random_logits(lengths, seed=0)}
    if args.model:
        logit_sets["trained"] = model_logits(args.model, features)

    rows = []
    for logits_name, (start, end) in logit_sets.items():
        for version_2 in (False, True):
            settings = {"n_best_size": 20, "max_answer_length": 30, "version_2": version_2}
            ours_s, ours = median_time(
                lambda s=start, e=end, kw=settings: postprocess_predictions(
                    examples, features, s, e, **kw
                ),
                args.repeats,
            )
            ref_s, ref = median_time(
                lambda s=start, e=end, kw=settings: reference_postprocess(
                    examples, ref_features, s, e, **kw
                ),
                max(1, args.repeats // 2),
            )
            # what validation runs: answers plus the n-best lists (with probabilities)
            nbest_s, with_nbest = median_time(
                lambda s=start, e=end, kw=settings: postprocess(examples, features, s, e, **kw),
                args.repeats,
            )
            floor_s, _ = median_time(
                lambda s=start, e=end: (s.max(axis=1), e.max(axis=1)), args.repeats
            )
            differ = [q for q in ids if ours[q] != ref[q] or with_nbest.predictions[q] != ref[q]]
            if differ:
                q = differ[0]
                raise AgreementError(
                    f"{logits_name} logits, v{2 if version_2 else 1}: {len(differ)} of "
                    f"{len(ids)} answers differ, e.g. {q}: ours {ours[q]!r}, reference {ref[q]!r}"
                )
            rows.append(
                [
                    logits_name,
                    "v2" if version_2 else "v1",
                    ref_s,
                    ours_s,
                    f"{ref_s / ours_s:.1f}x",
                    f"{ours_s / floor_s:.0f}x",
                    nbest_s,
                    f"{ref_s / nbest_s:.1f}x",
                    f"{len(ids)}/{len(ids)}",
                ]
            )
    print_table(
        "Postprocessing (seconds, median): reference double loop vs package",
        [
            "logits",
            "rules",
            "reference s",
            "package s",
            "speed-up",
            "package / one pass",
            "with n-best s",
            "speed-up",
            "same",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
