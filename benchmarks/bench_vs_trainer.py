"""Side by side with Hugging Face Trainer, and bf16 against fp32.

The same model, data and settings everywhere: the v1 train and dev subsets at 256/96,
batch 16, AdamW at 5e-5 with gradient clipping at 1.0. On CPU the model is the bundled
MiniLM with a fresh QA head; on a GPU it is a BERT-base-sized model initialised from its
config (no Hub access needed). Both sides load one saved copy of it.

* **precision**: this project's training step (a Lightning ``Trainer`` over the
  datamodule's length-grouped, dynamically padded batches) in fp32 and in bf16 autocast on
  the same batches; then evaluation forward passes over the dev subset in both precisions,
  and how many answers are identical.
* **trainer**: Hugging Face ``Trainer`` on run_qa-style features (every window padded to
  max_length; fp32 on CPU, its bf16/fp16 mixed precision on GPU) against this project's
  step in the precision ``trainer.precision=auto`` picks on this machine (and, on a GPU or
  with ``--compile``, that step compiled as ``model.compile=true`` does); then evaluation
  (``Trainer.predict`` on the padded windows against the package's length-sorted loader),
  the answers compared; then the whole recipe run (2 epochs, one evaluation) estimated
  from the two rates.

Steps are taken at evenly spaced points of an epoch ordered by batch width (see
``bench_throughput.epoch_sample``): the first batches of a length-grouped epoch are its
longest. One untimed warm-up step comes first on every side. Answers come from the
package's postprocessing on each side's logits. Every table is printed first; then each
pair (bf16 against fp32, the package against the Trainer) is judged by its paired F1
difference on the dev questions: ``AgreementError`` when its 95% interval neither lies
within +-1 F1 nor contains 0. Identical answers are reported beside it (and judged only
with ``--min-agreement``). Pass ``--model`` (a fine-tuned QA model folder) for a difference
that means something: a fresh head scores near 0 F1 on both sides.

    .venv/bin/python -m benchmarks.bench_vs_trainer [--steps 8] [--model DIR] [--compile]

On a GPU machine, benchmarks/gpu_session.sh runs it (with the GPU tests and the recipe).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch

from benchmarks.bench_throughput import epoch_sample, eval_logits, package_datamodule
from benchmarks.common import (
    AgreementError,
    difference_text,
    load_examples,
    minilm_path,
    paired_f1,
    print_table,
)
from benchmarks.reference import (
    recipe_windows,
    reference_eval_features,
    reference_train_features,
)

BATCH, EVAL_BATCH, LR, WEIGHT_DECAY, EPOCHS = 16, 64, 5e-5, 0.01, 2
MAX_LENGTH, DOC_STRIDE = 256, 96
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
LABELS = ("start_positions", "end_positions")
STARTED = time.perf_counter()


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def saved_model(folder: Path, model: str | None) -> tuple[str, str]:
    """(model folder, description): ``model`` as given, else MiniLM with a fresh QA head
    (CPU) or BERT-base from its config (GPU), saved once so that every side loads it."""
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer, BertConfig

    if model:
        return model, f"{model} (given)"
    torch.manual_seed(0)
    if device() == "cuda":
        net, what = AutoModelForQuestionAnswering.from_config(BertConfig()), "BERT-base (config)"
    else:
        net, what = AutoModelForQuestionAnswering.from_pretrained(minilm_path()), "MiniLM-L6"
    net.save_pretrained(folder)
    AutoTokenizer.from_pretrained(minilm_path()).save_pretrained(folder)  # bert-base vocab
    return str(folder), f"{what}, fresh QA head"


# -- training -------------------------------------------------------------------------


class StepClock(pl.Callback):
    """Seconds from the end of the warm-up steps to the end of the last."""

    def __init__(self, warmup: int = 1) -> None:
        self.warmup = warmup
        self.started = self.ended = 0.0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        _sync()
        self.ended = time.perf_counter()
        if batch_idx == self.warmup - 1:
            self.started = self.ended


def package_steps(model_dir: str, batches: list[dict], precision: str, compile: bool = False):
    """Seconds of ``len(batches) - 1`` steps of this project's training step. With
    ``compile``, the model is compiled as ``model.compile=true`` does (dynamic shapes), and
    two more untimed steps on the narrowest and widest batches come first, so that the
    clock sees no compilation."""
    from qa_lightning.models.qa_module import QAModule

    torch.manual_seed(0)
    optimizer = {"_target_": "torch.optim.AdamW", "_partial_": True, "lr": LR}
    module = QAModule(model_dir, optimizer={**optimizer, "weight_decay": WEIGHT_DECAY})
    warmup = 1
    if compile:
        module.model.compile(dynamic=True)
        timed = batches[1:]
        batches = [batches[0], min(timed, key=_width), max(timed, key=_width), *timed]
        warmup = 3
    clock = StepClock(warmup)
    trainer = pl.Trainer(
        accelerator=device(),
        devices=1,
        precision=precision,
        max_steps=len(batches),
        gradient_clip_val=1.0,
        logger=False,
        callbacks=[clock],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    loader = torch.utils.data.DataLoader(batches, batch_size=None)  # batches as collated
    trainer.fit(module, train_dataloaders=loader)
    return clock.ended - clock.started


def _width(batch: dict) -> int:
    return batch["input_ids"].shape[1]


def hf_arguments(folder: str, **kwargs):
    from transformers import TrainingArguments

    cuda = device() == "cuda"
    return TrainingArguments(
        output_dir=folder,
        per_device_train_batch_size=BATCH,
        per_device_eval_batch_size=EVAL_BATCH,
        learning_rate=LR,
        weight_decay=WEIGHT_DECAY,
        max_grad_norm=1.0,
        use_cpu=not cuda,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        fp16=cuda and not torch.cuda.is_bf16_supported(),
        report_to="none",
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        dataloader_num_workers=0,
        seed=0,
        **kwargs,
    )


def hf_trainer_steps(model_dir: str, features, steps: int, folder: str) -> float:
    """Seconds of ``steps`` steps of Hugging Face Trainer after one warm-up step. Its
    windows are all max_length wide, so any of its batches stands for the epoch."""
    from transformers import AutoModelForQuestionAnswering, Trainer, TrainerCallback

    class Clock(TrainerCallback):
        started = ended = 0.0

        def on_step_end(self, args, state, control, **kwargs):
            _sync()
            self.ended = time.perf_counter()
            if state.global_step == 1:
                self.started = self.ended

    torch.manual_seed(0)
    clock = Clock()
    trainer = Trainer(
        model=AutoModelForQuestionAnswering.from_pretrained(model_dir),
        args=hf_arguments(folder, max_steps=steps + 1),
        train_dataset=features,
        callbacks=[clock],
    )
    trainer.train()
    return clock.ended - clock.started


# -- evaluation -----------------------------------------------------------------------


def package_logits(model_dir: str, loader, n: int, autocast: torch.dtype | None):
    """(start, end, seconds): forward passes of the package's model (span layer in float32)
    over its validation loader, logits in feature order."""
    from qa_lightning.models.qa_module import QAModule

    model = QAModule(model_dir).model.to(device()).eval()
    return eval_logits(model, loader, n, MAX_LENGTH, autocast=autocast, device=device())


def hf_trainer_logits(model_dir: str, features, folder: str):
    """(start, end, seconds): ``Trainer.predict`` over the padded windows, in order."""
    from transformers import AutoModelForQuestionAnswering, Trainer

    trainer = Trainer(
        model=AutoModelForQuestionAnswering.from_pretrained(model_dir),
        args=hf_arguments(folder),
    )
    _sync()
    began = time.perf_counter()
    start, end = trainer.predict(features).predictions
    _sync()
    return start.astype(np.float32), end.astype(np.float32), time.perf_counter() - began


def compared(examples, features, a: tuple, b: tuple) -> tuple[int, Any]:
    """How many answers the two sets of logits share, and ``a``'s F1 minus ``b``'s question
    by question (a paired test: the difference, its 95% interval and p-value)."""
    from qa_lightning.evaluation.postprocessing import postprocess_predictions

    first = postprocess_predictions(examples, features, *a[:2])
    second = postprocess_predictions(examples, features, *b[:2])
    return sum(first[q] == second[q] for q in first), paired_f1(examples, first, second)


def progress(stage: str, seconds: float, rate: str = "") -> None:
    """One line on stderr after each stage, flushed: a run stopped by a time limit still
    shows how far it got and the rates measured so far (the tables print only at the end)."""
    print(
        f"[{time.perf_counter() - STARTED:6.1f} s] {stage}: {seconds:.1f} s {rate}".rstrip(),
        file=sys.stderr,
        flush=True,
    )


F1_MARGIN = 1.0  # a paired F1 difference within +-1 (or not different from 0) is agreement


def check_agreement(
    tests: dict[str, Any], counts: dict[str, int], total: int, minimum: float | None
) -> None:
    """Raises once the tables are printed: their numbers are read beside the failure."""
    far = [
        f"{what}: F1 {difference_text(t)}"
        for what, t in tests.items()
        if not (-F1_MARGIN <= t.ci_low <= t.ci_high <= F1_MARGIN)
        and not (t.ci_low <= 0.0 <= t.ci_high)
    ]
    if far:
        raise AgreementError(
            f"paired F1 difference beyond +-{F1_MARGIN:g} and not 0: {'; '.join(far)}"
        )
    if minimum is None:
        return
    low = [f"{what}: {same} of {total}" for what, same in counts.items() if same < minimum * total]
    if low:
        raise AgreementError(f"answers identical below {minimum:.0%}: {'; '.join(low)}")


# -- the stages -----------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--model", help="a fine-tuned QA model folder for the evaluation")
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also time the step with model.compile (default: on a GPU only)",
    )
    parser.add_argument(
        "--min-agreement",
        type=float,
        help="also raise when the share of identical answers is below this (default: "
        "not judged; the paired F1 difference is)",
    )
    args = parser.parse_args()
    if args.compile is None:
        args.compile = device() == "cuda"

    import datasets
    import transformers

    from qa_lightning.cli.precision import auto_precision
    from qa_lightning.models.precision import autocast_dtype

    datasets.disable_caching()
    datasets.logging.disable_progress_bar()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    for name in ("pytorch_lightning", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    auto, why = auto_precision("auto")
    native = auto != "32-true"  # else bf16 is emulated here, and the package runs fp32
    if not native:
        print(f"note: {why}: the bf16 rows run emulated bf16, the Trainer rows are fp32 vs fp32")
    fast = auto if native else "bf16-mixed"
    with tempfile.TemporaryDirectory() as tmp:
        model_dir, what = saved_model(Path(tmp) / "model", args.model)
        print(
            f"torch {torch.__version__}, transformers {transformers.__version__}, "
            f"{device()} ({torch.get_num_threads()} threads), {what}; auto precision: {auto}"
        )
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        dm = package_datamodule(tokenizer, MAX_LENGTH, DOC_STRIDE, tmp)
        batches = epoch_sample(dm.train_dataloader(), args.steps)
        train = load_examples("squad_v1_train_subset")
        recipe = recipe_windows(
            train, reference_train_features, tokenizer, max_length=MAX_LENGTH, doc_stride=DOC_STRIDE
        ).select_columns([*dm.model_inputs, *LABELS])
        n_train = len(dm.train_features)
        features = sum(len(b["input_ids"]) for b in batches[1:])
        width = sum(b["input_ids"].shape[1] for b in batches[1:]) / args.steps

        progress("features and batches", time.perf_counter() - STARTED)
        fp32_s = package_steps(model_dir, batches, "32-true")
        progress("package train fp32", fp32_s, f"{features / fp32_s:.1f} feat/s")
        bf16_s = package_steps(model_dir, batches, fast)
        progress(f"package train {fast}", bf16_s, f"{features / bf16_s:.1f} feat/s")
        compiled_s = None
        if args.compile:
            compiled_s = package_steps(model_dir, batches, fast, compile=True)
            progress("package train compiled", compiled_s, f"{features / compiled_s:.1f} feat/s")
        hf_s = hf_trainer_steps(model_dir, recipe, args.steps, f"{tmp}/hf")
        hf_rate = args.steps * BATCH / hf_s
        progress("Trainer train", hf_s, f"{hf_rate:.1f} feat/s")
        ours_s = bf16_s if native else fp32_s

        examples, eval_features = dm.eval_examples, dm.eval_features
        n_eval = len(eval_features)
        loader = dm.val_dataloader()
        fp32_logits = package_logits(model_dir, loader, n_eval, None)
        progress("package eval fp32", fp32_logits[2], f"{n_eval / fp32_logits[2]:.1f} feat/s")
        bf16_logits = package_logits(model_dir, loader, n_eval, autocast_dtype(fast))
        progress(f"package eval {fast}", bf16_logits[2], f"{n_eval / bf16_logits[2]:.1f} feat/s")
        ours_logits = bf16_logits if native else fp32_logits
        padded = recipe_windows(
            examples,
            reference_eval_features,
            tokenizer,
            max_length=MAX_LENGTH,
            doc_stride=DOC_STRIDE,
        ).select_columns(dm.model_inputs)
        hf_logits = hf_trainer_logits(model_dir, padded, f"{tmp}/hf-eval")
        progress("Trainer eval", hf_logits[2], f"{n_eval / hf_logits[2]:.1f} feat/s")
        n_questions = len(examples)
        bf16_same, bf16_test = compared(examples, eval_features, bf16_logits, fp32_logits)
        hf_same, hf_test = compared(examples, eval_features, ours_logits, hf_logits)

    print_table(
        f"bf16 against fp32: this project's step on the same batches ({args.steps} steps, "
        f"batch {BATCH}, {width:.0f} tokens on average), evaluation on the v1 dev subset",
        ["stage", "fp32 feat/s", "bf16 feat/s", "speed-up", "same answers", "F1 bf16 - fp32"],
        [
            ["train", features / fp32_s, features / bf16_s, f"{fp32_s / bf16_s:.2f}x", "-", "-"],
            [
                "eval",
                n_eval / fp32_logits[2],
                n_eval / bf16_logits[2],
                f"{fp32_logits[2] / bf16_logits[2]:.2f}x",
                f"{bf16_same}/{n_questions}",
                difference_text(bf16_test),
            ],
        ],
    )
    ours_rate = features / ours_s
    compiled_row = []
    if compiled_s is not None:
        rate = features / compiled_s
        compiled_row = [["train, model.compile", hf_rate, rate, f"{rate / hf_rate:.2f}x", "-", "-"]]
    hf_train_s = EPOCHS * n_train / hf_rate
    ours_train_s = EPOCHS * n_train / ours_rate
    hf_recipe = hf_train_s + hf_logits[2]
    ours_recipe = ours_train_s + ours_logits[2]
    print_table(
        f"Hugging Face Trainer (padded to {MAX_LENGTH}, {_hf_precision()}) against this project "
        f"(dynamic padding, length grouping, {auto})",
        ["stage", "Trainer feat/s", "package feat/s", "speed-up", "same answers", "F1 diff"],
        [
            ["train", hf_rate, ours_rate, f"{ours_rate / hf_rate:.2f}x", "-", "-"],
            *compiled_row,
            [
                "eval",
                n_eval / hf_logits[2],
                n_eval / ours_logits[2],
                f"{hf_logits[2] / ours_logits[2]:.2f}x",
                f"{hf_same}/{n_questions}",
                difference_text(hf_test),
            ],
        ],
    )
    print_table(
        f"The recipe run, estimated from the rates above: {EPOCHS} epochs over {n_train} "
        f"windows, one evaluation of {n_eval}",
        ["", "Trainer s", "package s", "package / Trainer"],
        [
            ["train", hf_train_s, ours_train_s, f"{ours_train_s / hf_train_s:.2f}x"],
            ["whole run", hf_recipe, ours_recipe, f"{ours_recipe / hf_recipe:.2f}x"],
        ],
    )
    tests = {"bf16 vs fp32": bf16_test, "package vs Trainer": hf_test}
    agreement = {"bf16 vs fp32": bf16_same, "package vs Trainer": hf_same}
    check_agreement(tests, agreement, n_questions, args.min_agreement)


def _hf_precision() -> str:
    if device() == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


if __name__ == "__main__":
    main()
