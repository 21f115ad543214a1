"""Train and eval features: the package (each paragraph tokenised once) against the recipe.

On the SQuAD v2 train subset with the bundled MiniLM tokenizer at 384/128 and 256/96. Both
go through ``datasets.map`` (batched, caching off); the windows must match (the recipe's
padding stripped), and so must every label, except where the recipe itself mislabels a
window: its start loop runs past the context when the answer starts at the window's last
context token. Those windows are counted and checked to be right in the package.
Then the package alone on synthetic SQuAD-sized sets (10k to 88k examples), each size in
a fresh process: time and peak memory, to show both grow linearly.

    .venv/bin/python benchmarks/bench_features.py [--repeats 3] [--sizes 10000,44000,88000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

from benchmarks.common import (
    ROOT,
    AgreementError,
    load_examples,
    median_time,
    minilm_tokenizer,
    print_table,
)
from benchmarks.reference import reference_eval_features, reference_train_features

SETTINGS = [(384, 128), (256, 96)]


def _ours(examples, tokenizer, max_length, doc_stride, train):
    from qa_lightning.data.features import prepare_eval_features, prepare_train_features

    fn = prepare_train_features if train else prepare_eval_features
    return fn(examples, tokenizer, max_length=max_length, doc_stride=doc_stride)


def _reference(examples, tokenizer, max_length, doc_stride, train):
    fn = reference_train_features if train else reference_eval_features
    return examples.map(
        fn,
        batched=True,
        remove_columns=examples.column_names,
        fn_kwargs={"tokenizer": tokenizer, "max_length": max_length, "doc_stride": doc_stride},
    )


def compare_windows(examples, ours, ref, train: bool) -> int:
    """Raise unless the windows agree; returns how many labels the recipe gets wrong."""
    ids = list(examples["id"])
    if [ids[i] for i in ours["example_index"]] != list(ref["example_id"]):
        raise AgreementError("the windows belong to different examples")
    ref_ids = [
        row[: sum(mask)] for row, mask in zip(ref["input_ids"], ref["attention_mask"], strict=True)
    ]
    if list(ours["input_ids"]) != ref_ids:
        raise AgreementError("the windows hold different tokens")
    if not train:
        ref_offsets = [
            [[-1, -1] if o is None else o for o in row[: len(ids_)]]
            for row, ids_ in zip(ref["offset_mapping"], ref_ids, strict=True)
        ]
        if list(ours["offset_mapping"]) != ref_offsets:
            raise AgreementError("the windows carry different offsets")
        return 0
    mislabelled = 0
    labels = zip(
        ours["start_positions"],
        ours["end_positions"],
        ref["start_positions"],
        ref["end_positions"],
        ours["input_ids"],
        strict=True,
    )
    for s, e, rs, re_, window in labels:
        if (s, e) == (rs, re_):
            continue
        # The recipe's known slip: a start past the context (on [SEP] or padding).
        if rs >= len(window) - 1 and e == len(window) - 2 and s == e:
            mislabelled += 1
            continue
        raise AgreementError(f"labels differ: package ({s}, {e}), recipe ({rs}, {re_})")
    return mislabelled


class PeakRSS:
    """Peak resident memory above the level at entry, sampled from /proc every 5 ms
    (``ru_maxrss`` cannot be reset, and tracemalloc misses Arrow's and Rust's buffers)."""

    def __enter__(self) -> PeakRSS:
        self.baseline = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    @property
    def mib(self) -> float:
        return (self.peak - self.baseline) / 2**20


def measure_size(n: int) -> dict:
    """Run in a fresh process: features of ``n`` synthetic examples, time and peak RSS."""
    from qa_lightning.data.synthetic import make_synthetic_squad

    tokenizer = minilm_tokenizer()
    examples = make_synthetic_squad(n, unanswerable_fraction=0.33)
    _ours(examples.select(range(100)), tokenizer, 384, 128, train=True)  # warm up
    with PeakRSS() as memory:
        started = time.perf_counter()
        train = _ours(examples, tokenizer, 384, 128, train=True)
        evalf = _ours(examples, tokenizer, 384, 128, train=False)
        seconds = time.perf_counter() - started
    return {
        "examples": n,
        "windows": len(train) + len(evalf),
        "seconds": seconds,
        "peak_mib": memory.mib,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="10000,44000,88000")
    parser.add_argument("--measure-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    import datasets

    datasets.disable_caching()
    datasets.logging.disable_progress_bar()
    if args.measure_size:
        print(json.dumps(measure_size(args.measure_size)))
        return

    examples = load_examples("squad_v2_train_subset")
    tokenizer = minilm_tokenizer()
    print(f"{len(examples)} examples (SQuAD v2 train subset), MiniLM tokenizer")
    rows = []
    for max_length, doc_stride in SETTINGS:
        for train in (True, False):
            ref_s, ref = median_time(
                lambda ml=max_length, ds=doc_stride, t=train: _reference(
                    examples, tokenizer, ml, ds, t
                ),
                args.repeats,
            )
            ours_s, ours = median_time(
                lambda ml=max_length, ds=doc_stride, t=train: _ours(examples, tokenizer, ml, ds, t),
                args.repeats,
            )
            mislabelled = compare_windows(examples, ours, ref, train)
            rows.append(
                [
                    f"{max_length}/{doc_stride}",
                    "train" if train else "eval",
                    len(ours),
                    ref_s,
                    ours_s,
                    f"{ref_s / ours_s:.2f}x",
                    "yes",
                    mislabelled if train else "-",
                ]
            )
    print_table(
        "Features (seconds, median): recipe (pair tokenisation, padding, label loops) vs package",
        [
            "windows",
            "split",
            "count",
            "recipe s",
            "package s",
            "speed-up",
            "same",
            "recipe mislabels",
        ],
        rows,
    )

    growth = []
    for n in (int(s) for s in args.sizes.split(",")):
        cmd = [sys.executable, "-m", "benchmarks.bench_features", "--measure-size", str(n)]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
        growth.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    base = growth[0]
    print_table(
        "Package features (train + eval, 384/128) on synthetic sets: growth",
        ["examples", "windows", "seconds", "us / example", "peak MiB", "KiB / example"],
        [
            [
                g["examples"],
                g["windows"],
                g["seconds"],
                f"{1e6 * g['seconds'] / g['examples']:.0f}",
                f"{g['peak_mib']:.0f}",
                f"{1024 * g['peak_mib'] / g['examples']:.2f}",
            ]
            for g in growth
        ],
    )
    ratio = (growth[-1]["seconds"] / base["seconds"]) / (growth[-1]["examples"] / base["examples"])
    print(f"time per example at {growth[-1]['examples']} vs {base['examples']}: {ratio:.2f}x")


if __name__ == "__main__":
    main()
