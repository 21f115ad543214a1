"""A data reader of one's own: a tab-separated file, one question per line, with a weight.

Columns: ``id``, ``question``, ``context``, ``answer`` and, optionally, ``weight`` (how much
the question counts in the loss; 1 when absent). The answer's first occurrence in the
context is its span. The weight is an extra column: it travels to every window of the
question and on to the training batch, where ``LabelSmoothedSpanLoss`` reads it.
"""

from __future__ import annotations

import csv

import datasets

from qa_lightning.data.readers import Reader


class WeightedTsvReader(Reader):
    """``path``: the TSV file (a header line naming the columns); ``title`` for every row."""

    extra_columns = ("weight",)

    def __init__(self, path: str, *, title: str = "tsv"):
        self.path, self.title = path, title

    def read(self) -> datasets.Dataset:
        with open(self.path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        records = {
            "id": [r["id"] for r in rows],
            "title": [self.title] * len(rows),
            "question": [r["question"] for r in rows],
            "context": [r["context"] for r in rows],
            "answers": [
                {"text": [r["answer"]], "answer_start": [r["context"].find(r["answer"])]}
                if r.get("answer")
                else {"text": [], "answer_start": []}
                for r in rows
            ],
            "weight": [float(r.get("weight") or 1.0) for r in rows],
        }
        # each record is checked as a SQuAD record is: an answer not in its context (-1),
        # an empty question ... fail naming the line, or are dropped (data.on_bad_record)
        lines = [f"line {i + 2}" for i in range(len(rows))]
        return self.examples(records, source=self.path, locations=lines)
