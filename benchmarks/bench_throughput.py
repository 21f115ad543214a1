"""Training and evaluation throughput: length-grouped, dynamically padded batches (the
package's SquadDataModule) against the recipe's windows padded to max_length.

Same model (bundled MiniLM with a freshly initialised QA head, the same seed), the same
plain torch loop, the same optimiser; only the batches differ.

* train: features/s over a fixed number of AdamW steps, batch 16, the v1 train subset,
  at 384/128 and 256/96 (one untimed warm-up step first).
* eval: forward passes over the v1 dev subset at 384/128, batch 64, then the package's
  postprocessing on both sets of logits: the predictions must be the same.

    .venv/bin/python benchmarks/bench_throughput.py [--steps 8] [--stages train,eval]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks.common import (
    AgreementError,
    load_examples,
    minilm_path,
    minilm_tokenizer,
    print_table,
)
from benchmarks.reference import (
    recipe_windows,
    reference_eval_features,
    reference_train_features,
)

BATCH, EVAL_BATCH = 16, 64
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def fresh_model():
    from transformers import AutoModelForQuestionAnswering

    torch.manual_seed(0)
    return AutoModelForQuestionAnswering.from_pretrained(minilm_path())


def package_datamodule(tokenizer, max_length: int, doc_stride: int, tmp: str):
    """The package's data path, as train.py builds it (v1 subsets, defaults otherwise)."""
    from omegaconf import OmegaConf

    from benchmarks.common import squad_file
    from qa_lightning.config import DataConfig
    from qa_lightning.data.datamodule import SquadDataModule

    cfg = OmegaConf.to_container(OmegaConf.structured(DataConfig), resolve=False)
    cfg.update(
        source="squad_json",
        train_file=str(squad_file("squad_v1_train_subset")),
        validation_file=str(squad_file("squad_v1_dev_subset")),
        max_length=max_length,
        doc_stride=doc_stride,
        batch_size=BATCH,
        eval_batch_size=EVAL_BATCH,
        cache_dir=tmp,
    )
    dm = SquadDataModule(cfg, tokenizer, seed=0)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def recipe_loader(features, batch_size: int, shuffle: bool, columns: list[str]):
    """The recipe's loader: windows already padded to max_length, default collation."""
    data = features.select_columns(columns).with_format("torch")
    generator = torch.Generator().manual_seed(0)
    return torch.utils.data.DataLoader(
        data, batch_size=batch_size, shuffle=shuffle, generator=generator
    )


def epoch_sample(loader, steps: int) -> list[dict]:
    """A warm-up batch, then ``steps`` batches whose widths stand for one epoch of ``loader``.

    The first batches of a length-grouped epoch are its longest (transformers' sampler puts
    them first to surface out-of-memory at once), and a few consecutive batches are a noisy
    sample anyway, so the epoch's batches are ordered by width and taken at evenly spaced
    quantiles: their mean width is the epoch's. The warm-up is the median batch.
    """
    batches = sorted(loader, key=lambda b: b["input_ids"].shape[1])
    picked = [batches[int((i + 0.5) * len(batches) / steps)] for i in range(steps)]
    return [batches[len(batches) // 2], *picked]


def timed_train_steps(batches, steps: int) -> tuple[float, int, int]:
    """(seconds, features, tokens incl. padding) of ``steps`` AdamW steps after a warm-up."""
    model = fresh_model().train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-5)
    iterator = iter(epoch_sample(batches, steps))

    def step() -> tuple[int, int]:
        batch = {k: v for k, v in next(iterator).items() if k != "feature_index"}
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return len(batch["input_ids"]), batch["input_ids"].numel()

    step()  # warm-up: allocator, kernels
    features = tokens = 0
    started = time.perf_counter()
    for _ in range(steps):
        n, t = step()
        features += n
        tokens += t
    return time.perf_counter() - started, features, tokens


def bench_train(tokenizer, steps: int, tmp: str) -> list[list]:
    examples = load_examples("squad_v1_train_subset")
    rows = []
    for max_length, doc_stride in ((384, 128), (256, 96)):
        dm = package_datamodule(tokenizer, max_length, doc_stride, tmp)
        columns = [*dm.model_inputs, "start_positions", "end_positions"]
        recipe = recipe_windows(
            examples,
            reference_train_features,
            tokenizer,
            max_length=max_length,
            doc_stride=doc_stride,
        )
        ref_s, ref_n, ref_tokens = timed_train_steps(
            recipe_loader(recipe, BATCH, True, columns), steps
        )
        ours_s, ours_n, ours_tokens = timed_train_steps(dm.train_dataloader(), steps)
        ref_rate, ours_rate = ref_n / ref_s, ours_n / ours_s
        rows.append(
            [
                f"{max_length}/{doc_stride}",
                steps,
                f"{ref_tokens // ref_n}",
                f"{ours_tokens // ours_n}",
                ref_rate,
                ours_rate,
                f"{ours_rate / ref_rate:.2f}x",
            ]
        )
    return rows


def eval_logits(
    model, loader, n: int, width: int, *, autocast: torch.dtype | None = None, device: str = "cpu"
) -> tuple[np.ndarray, np.ndarray, float]:
    """Logits of every feature in feature order (padded to ``width``, float32) and the
    seconds, with the forward passes under ``autocast`` if given, on ``device``."""
    start = np.full((n, width), -1e4, dtype=np.float32)
    end = start.copy()
    row = 0
    precision = torch.autocast(device, dtype=autocast, enabled=autocast is not None)
    started = time.perf_counter()
    with torch.inference_mode(), precision:
        for batch in loader:
            index = batch.pop("feature_index", None)
            out = model(**{k: v.to(device) for k, v in batch.items() if k in INPUTS})
            rows = (
                index.numpy() if index is not None else np.arange(row, row + len(out.start_logits))
            )
            row += len(rows)
            w = out.start_logits.shape[1]
            # (copying to the CPU waits for the device: the clock sees finished work)
            start[rows, :w] = out.start_logits.float().cpu().numpy()
            end[rows, :w] = out.end_logits.float().cpu().numpy()
    return start, end, time.perf_counter() - started


def bench_eval(tokenizer, tmp: str) -> list[list]:
    from qa_lightning.evaluation.postprocessing import postprocess_predictions

    max_length, doc_stride = 384, 128
    dm = package_datamodule(tokenizer, max_length, doc_stride, tmp)
    examples, features = dm.eval_examples, dm.eval_features
    recipe = recipe_windows(
        examples, reference_eval_features, tokenizer, max_length=max_length, doc_stride=doc_stride
    )
    model = fresh_model().eval()
    n = len(features)
    ref_start, ref_end, ref_s = eval_logits(
        model, recipe_loader(recipe, EVAL_BATCH, False, dm.model_inputs), n, max_length
    )
    ours_start, ours_end, ours_s = eval_logits(model, dm.val_dataloader(), n, max_length)
    ref_pred = postprocess_predictions(examples, features, ref_start, ref_end)
    ours_pred = postprocess_predictions(examples, features, ours_start, ours_end)
    same = sum(ref_pred[q] == ours_pred[q] for q in ref_pred)
    if same != len(ref_pred):
        raise AgreementError(f"{len(ref_pred) - same} of {len(ref_pred)} predictions differ")
    return [
        [
            f"{max_length}/{doc_stride}",
            n,
            ref_s,
            ours_s,
            n / ref_s,
            n / ours_s,
            f"{ref_s / ours_s:.2f}x",
            f"{same}/{len(ref_pred)}",
        ]
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--stages", default="train,eval")
    args = parser.parse_args()
    import tempfile

    import datasets

    datasets.disable_caching()
    datasets.logging.disable_progress_bar()
    tokenizer = minilm_tokenizer()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, MiniLM")
    with tempfile.TemporaryDirectory() as tmp:
        if "train" in args.stages:
            print_table(
                f"Training throughput (features/s, {args.steps} AdamW steps, batch {BATCH})",
                [
                    "windows",
                    "steps",
                    "recipe tokens/feature",
                    "package tokens/feature",
                    "recipe feat/s",
                    "package feat/s",
                    "speed-up",
                ],
                bench_train(tokenizer, args.steps, tmp),
            )
        if "eval" in args.stages:
            print_table(
                f"Evaluation throughput (forward passes, batch {EVAL_BATCH}, v1 dev subset)",
                [
                    "windows",
                    "features",
                    "recipe s",
                    "package s",
                    "recipe feat/s",
                    "package feat/s",
                    "speed-up",
                    "same predictions",
                ],
                bench_eval(tokenizer, tmp),
            )


if __name__ == "__main__":
    main()
