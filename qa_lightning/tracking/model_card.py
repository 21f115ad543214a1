"""The model card (README.md) of an exported run: the Hub's metadata block, the scores of
every evaluation set with their 95% intervals, how the model was trained and the command.

Pure: a run's config and metrics in, text out (export.py writes it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

BUNDLED_BASES = {"bundled:minilm": "sentence-transformers/all-MiniLM-L6-v2"}


def base_model(config: dict[str, Any]) -> str:
    name = config["model"]["name_or_path"]
    return BUNDLED_BASES.get(name, name)


def dataset_name(config: dict[str, Any]) -> str:
    """The Hub dataset the training data is (a part of)."""
    data = config["data"]
    if data.get("hub_name"):
        return data["hub_name"]
    return "rajpurkar/squad_v2" if data.get("version_2") else "rajpurkar/squad"


def _set_type(config: dict[str, Any], set_name: str) -> str:
    """The validation set's Hub dataset; an extra set's file name (SQuADShifts, ...)."""
    extra = (config["data"].get("eval_sets") or {}).get(set_name)
    if extra is None:
        return dataset_name(config)
    path = extra if isinstance(extra, str) else extra.get("file") or extra.get("hub_name")
    return Path(str(path)).stem


def _metadata(config: dict[str, Any], metrics: dict[str, Any], name: str) -> dict[str, Any]:
    results = [
        {
            "task": {"type": "question-answering", "name": "Extractive Question Answering"},
            "dataset": {"name": set_name, "type": _set_type(config, set_name)},
            "metrics": [
                {"type": "exact_match", "value": round(entry["scores"]["exact"], 2), "name": "EM"},
                {"type": "f1", "value": round(entry["scores"]["f1"], 2), "name": "F1"},
            ],
        }
        for set_name, entry in metrics["sets"].items()
    ]
    return {
        "library_name": "transformers",
        "pipeline_tag": "question-answering",
        "tags": ["question-answering", "extractive-qa", "qa-lightning"],
        "base_model": base_model(config),
        "datasets": [dataset_name(config)],
        "metrics": ["exact_match", "f1"],
        "model-index": [{"name": name, "results": results}],
    }


def _score_rows(metrics: dict[str, Any]) -> list[str]:
    rows = ["| evaluation set | questions | EM [95% CI] | F1 [95% CI] |", "|---|---:|---|---|"]
    for set_name, entry in metrics["sets"].items():
        cells = []
        for key in ("exact", "f1"):
            low, high = entry["intervals"][key]
            cells.append(f"{entry['scores'][key]:.2f} [{low:.2f}, {high:.2f}]")
        rows.append(f"| {set_name} | {entry['examples']} | {cells[0]} | {cells[1]} |")
    return rows


def model_card(
    config: dict[str, Any], metrics: dict[str, Any], *, name: str, overrides: list[str]
) -> str:
    data, trainer = config["data"], config["trainer"]
    command = " ".join(["python train.py", *overrides])
    version = "SQuAD 2.0 (unanswerable questions allowed)" if data.get("version_2") else "SQuAD 1.1"
    lines = [
        "---",
        yaml.safe_dump(_metadata(config, metrics, name), sort_keys=False).rstrip(),
        "---",
        "",
        f"# {name}",
        "",
        f"`{base_model(config)}` fine-tuned for extractive question answering ({version} "
        "style) with qa-lightning. Scores are SQuAD's official EM and "
        "F1 on each evaluation set, with 95% bootstrap intervals over its questions:",
        "",
        *_score_rows(metrics),
        "",
        "## Use",
        "",
        "```python",
        "import qa_lightning.inference  # registers the task (transformers 5 removed it)",
        "from transformers import pipeline",
        "",
        f'qa = pipeline("extractive-question-answering", model="{name}")',
        'qa(question="...", context="...")',
        "```",
        "",
        "Or over HTTP: `python serve.py model_dir=<this folder>`. `qa_decoding.json` holds the "
        "windows and decoding the scores above were measured with.",
        "",
        "## Training",
        "",
        f"- data: train `{data.get('train_file') or data.get('hub_name') or data['source']}`, "
        f"validation `{data.get('validation_file') or data.get('validation_split')}`",
        f"- windows: max_length {data['max_length']}, doc_stride {data['doc_stride']}",
        f"- optimiser: lr {config['optimizer']['lr']}, batch {data['batch_size']}, "
        f"{trainer['max_epochs']} epochs, precision {trainer['precision']}",
        f"- head: {config['model'].get('head') or 'transformers QA layer'}, "
        f"freeze {config['model'].get('freeze', 'none')}",
        "",
        "Command:",
        "",
        "```bash",
        command,
        "```",
        "",
        "<details><summary>Full training config</summary>",
        "",
        "```yaml",
        yaml.safe_dump(config, sort_keys=False).rstrip(),
        "```",
        "",
        "</details>",
        "",
    ]
    return "\n".join(lines)


def card_metadata(text: str) -> dict[str, Any]:
    """The metadata block of a card (what the Hub reads)."""
    _, block, _ = text.split("---\n", 2)
    return yaml.safe_load(block)
