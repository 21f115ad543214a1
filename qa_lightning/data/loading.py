"""Pick the source named by the data config and select examples (never features)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datasets import Dataset

from qa_lightning.config import DataSource, EvalSetConfig, choice, file_source
from qa_lightning.data.sources import load_hub_squad, read_flat_file, read_squad_json
from qa_lightning.data.synthetic import make_synthetic_squad
from qa_lightning.data.validation import validate_examples


def _source(cfg: Mapping[str, Any]) -> str:
    return choice(DataSource, cfg["source"], "data.source").value


def eval_set_data(cfg: Mapping[str, Any], spec: EvalSetConfig) -> dict[str, Any]:
    """The data config that reads an extra evaluation set as its ``validation`` split."""
    data = dict(cfg)
    if spec.file is not None:
        data.update(
            source=file_source(spec.file).value,
            validation_file=spec.file,
            columns=spec.columns if spec.columns is not None else cfg.get("columns"),
        )
    else:
        data.update(source="hub", hub_name=spec.hub_name, validation_split=spec.split)
    version_2 = cfg.get("version_2", False) if spec.version_2 is None else spec.version_2
    data.update(version_2=version_2, max_eval_samples=spec.max_samples)
    return data


def predict_data(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The data config that reads ``data.predict_file`` as its ``validation`` split."""
    path = cfg["predict_file"]
    return {**cfg, "source": file_source(path).value, "validation_file": path}


def load_examples(
    cfg: Mapping[str, Any], split: str, *, seed: int = 0, answers_optional: bool = False
) -> Dataset:
    """Examples of ``split`` ("train" or "validation") in the HF "squad" schema, checked.

    ``max_train_samples`` takes a seeded random subset (so a small budget still spans many
    articles); ``max_eval_samples`` takes the first examples, a stable prefix of the dev set.
    ``answers_optional``: records without answers are read with empty ones (prediction).
    """
    source = _source(cfg)
    on_bad = cfg.get("on_bad_record", "raise")
    if source == "hub":
        examples = load_hub_squad(cfg["hub_name"], cfg[f"{split}_split"])
        examples = validate_examples(
            examples, source=f"{cfg['hub_name']}[{split}]", on_bad_record=on_bad
        )
    elif source == "squad_json":
        examples = read_squad_json(
            cfg[f"{split}_file"], on_bad_record=on_bad, answers_optional=answers_optional
        )
    elif source == "flat":
        examples = read_flat_file(
            cfg[f"{split}_file"],
            columns=cfg.get("columns"),
            on_bad_record=on_bad,
            answers_optional=answers_optional,
        )
    else:  # synthetic
        syn = cfg["synthetic"]
        examples = make_synthetic_squad(
            syn["n_train"] if split == "train" else syn["n_eval"],
            seed=syn["seed"] + (0 if split == "train" else 10_000),
            unanswerable_fraction=syn["unanswerable_fraction"],
            id_prefix=f"syn-{split}",
        )

    limit = cfg.get("max_train_samples" if split == "train" else "max_eval_samples")
    if limit is not None and limit < len(examples):
        if split == "train":
            examples = examples.shuffle(seed=seed).select(range(limit)).flatten_indices()
        else:
            examples = examples.select(range(limit))
    return examples
