"""Compare runs: ``python -m qa_lightning.compare multirun/train/<time>`` (or ``qa-compare``).

Reads the run folders (and offline W&B runs where a folder has no final scores), prints a
table sorted by the metric with the swept parameters as columns, and writes
``comparison.md``, ``comparison.csv`` and PNG plots beside the runs.
"""

from qa_lightning.compare.report import compare_runs, main

__all__ = ["compare_runs", "main"]
