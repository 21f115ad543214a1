"""onnxruntime (fp32 and int8) against PyTorch eager evaluation of the same exported model.

    python export.py run=<run folder> quantize=dynamic out=/tmp/export
    python export.py run=<run folder> quantize=static out=/tmp/export_static
    python -m benchmarks.bench_onnx --model /tmp/export --static /tmp/export_static --bf16

The v1 dev subset becomes windows once (the package's datamodule, with the export's own
max_length/doc_stride from ``qa_decoding.json``); every backend runs the same batches in
the same order (``eval.py``'s loader: length-sorted, dynamically padded) and the logits
are decoded by the same ``postprocess_predictions`` and scored by ``squad_scores``.
Timed: the forward passes over every batch (what the backend changes); the rows are run
in turns (eager, fp32, int8, eager, ...) so drift on a shared machine hits each alike,
and the median of ``--repeats`` is reported. Answers are compared with eager's, and each
row's F1 with eager fp32's question by question (paired bootstrap interval). Each int8
graph runs as the runner runs it: dynamic window by window, static batched.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import difference_text, paired_f1, print_table, squad_file

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# the targets on 2 CPU cores: speed-up over eager, and what may change
TARGETS = {
    "onnx fp32": (1.5, "identical >= 99.5%"),
    "onnx int8 static (batched)": (2.5, "F1 within 1 point, faster than eager bf16"),
}


def eval_batches(folder: Path, batch_size: int, tmp: str):
    """The v1 dev windows as eval.py batches them, with the examples and features."""
    from omegaconf import OmegaConf

    from qa_lightning.config import DataConfig
    from qa_lightning.data.datamodule import SquadDataModule
    from qa_lightning.inference import DecodingSettings
    from qa_lightning.models.loading import load_tokenizer

    settings = DecodingSettings.of_folder(folder)
    cfg = OmegaConf.to_container(OmegaConf.structured(DataConfig), resolve=False)
    cfg.update(
        source="squad_json",
        validation_file=str(squad_file("squad_v1_dev_subset")),
        max_length=settings.max_length,
        doc_stride=settings.doc_stride,
        max_question_tokens=settings.max_question_tokens,
        eval_batch_size=batch_size,
        cache_dir=tmp,
    )
    datamodule = SquadDataModule(cfg, load_tokenizer(str(folder)), with_train=False)
    datamodule.prepare_data()
    datamodule.setup("validate")
    batches = list(datamodule.val_dataloader())
    return batches, datamodule.eval_examples, datamodule.eval_features, settings


def torch_runner(folder: Path, *, bf16: bool = False):
    """The saved model in eager PyTorch; ``bf16``: under CPU autocast, as eval.py's
    ``trainer.precision=auto`` runs it on a CPU with native bf16."""
    from qa_lightning.inference.answerer import with_saved_head
    from qa_lightning.models.loading import load_qa_model

    model = with_saved_head(load_qa_model(str(folder)), folder).eval()

    def run(batch: dict[str, torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            out = model(**batch)
        return out.start_logits.float().numpy(), out.end_logits.float().numpy()

    return run


def onnx_runner(folder: Path, *, quantized: bool, threads: int):
    from qa_lightning.inference.onnx_runner import OnnxSpanModel

    model = OnnxSpanModel.from_folder(folder, quantized=quantized, threads=threads)

    def run(batch: dict[str, torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
        out = model(**batch)
        return out.start_logits.numpy(), out.end_logits.numpy()

    return run


def logits_of(run, batches, n_features: int) -> tuple[float, list, list]:
    """Seconds for the forward passes, and each feature's logits by its feature index."""
    starts: list = [None] * n_features
    ends: list = [None] * n_features
    seconds = 0.0
    for batch in batches:
        inputs = {k: batch[k] for k in INPUTS if k in batch}
        began = time.perf_counter()
        start, end = run(inputs)
        seconds += time.perf_counter() - began
        lengths = batch["attention_mask"].sum(1).tolist()
        for row, index in enumerate(batch["feature_index"].tolist()):
            starts[index] = start[row, : lengths[row]]
            ends[index] = end[row, : lengths[row]]
    return seconds, starts, ends


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="an export.py folder with onnx/ graphs")
    parser.add_argument("--static", help="an export of the same run with quantize=static")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument(
        "--bf16", action="store_true", help="add eager under bf16 autocast (CPUs with bf16)"
    )
    args = parser.parse_args()

    from qa_lightning.evaluation import postprocess_predictions, squad_scores
    from qa_lightning.inference.onnx_runner import is_static_int8

    folder = Path(args.model)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        batches, examples, features, settings = eval_batches(folder, args.batch_size, tmp)
        runners = {"torch eager": torch_runner(folder)}
        if args.bf16:
            runners["torch bf16 autocast"] = torch_runner(folder, bf16=True)
        runners["onnx fp32"] = onnx_runner(folder, quantized=False, threads=args.threads)
        int8 = "static (batched)" if is_static_int8(folder) else "dynamic (window by window)"
        runners[f"onnx int8 {int8}"] = onnx_runner(folder, quantized=True, threads=args.threads)
        if args.static:
            static = Path(args.static)
            if not is_static_int8(static):
                raise SystemExit(f"--static {static}: its int8 graph is not static")
            runners["onnx int8 static (batched)"] = onnx_runner(
                static, quantized=True, threads=args.threads
            )
        for run in runners.values():  # warm-up: first-call allocations, lazy init
            run({k: batches[0][k] for k in INPUTS if k in batches[0]})
        times: dict[str, list[float]] = {name: [] for name in runners}
        answers: dict[str, dict[str, str]] = {}
        for _ in range(args.repeats):
            for name, run in runners.items():
                seconds, starts, ends = logits_of(run, batches, len(features))
                times[name].append(seconds)
                answers[name] = postprocess_predictions(
                    examples,
                    features,
                    starts,
                    ends,
                    n_best_size=settings.n_best_size,
                    max_answer_length=settings.max_answer_length,
                )
    reference = answers["torch eager"]
    eager = statistics.median(times["torch eager"])
    rows = []
    for name in runners:
        seconds = statistics.median(times[name])
        scores = squad_scores(examples, answers[name], version_2=False)
        same = sum(answers[name][k] == v for k, v in reference.items())
        test = paired_f1(examples, answers[name], reference) if name != "torch eager" else None
        rows.append(
            [
                name,
                seconds,
                f"{min(times[name]):.1f}-{max(times[name]):.1f}",
                len(features) / seconds,
                f"{eager / seconds:.2f}x",
                f"{same}/{len(reference)} ({100 * same / len(reference):.1f}%)",
                scores["exact"],
                scores["f1"],
                difference_text(test) if test else "",
            ]
        )
    print_table(
        f"v1 dev subset: {len(reference)} questions, {len(features)} windows at "
        f"{settings.max_length}/{settings.doc_stride}, batch {args.batch_size}, "
        f"{args.threads} threads, median of {args.repeats}",
        [
            "backend",
            "s",
            "range",
            "windows/s",
            "speed-up",
            "same answers",
            "EM",
            "F1",
            "F1 - eager [95% CI]",
        ],
        rows,
    )
    for name, (target, accuracy) in TARGETS.items():
        if name not in times:
            continue
        ratio = eager / statistics.median(times[name])
        print(f"{name}: {ratio:.2f}x against the target {target}x ({accuracy})")


if __name__ == "__main__":
    main()
