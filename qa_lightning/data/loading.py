"""Which reader reads each data set, from the data config, and selecting examples (never
features).

Every set (``train``, ``validation``, each ``data.eval_sets`` entry, ``predict``) gets a
reader node: the one the config gives (``data.train_file={_target_: ...}``), or one made
from a path (by its suffix and, for ``.jsonl``, its first line) or from ``data.source`` (a
shorthand for the built-in readers: ``hub``, ``squad_json``, ``flat``, ``mrqa``,
``synthetic``). :func:`check_readers` checks every node before anything loads, once: what
it returns is what the datamodule builds its readers from.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from datasets import Dataset

from qa_lightning.components import check_component, class_path
from qa_lightning.config import EvalSetConfig, choice_error
from qa_lightning.data.checks import SOURCES, resolve_eval_sets
from qa_lightning.data.mrqa import MrqaReader, is_mrqa_file
from qa_lightning.data.readers import (
    FlatFileReader,
    HubReader,
    Reader,
    SquadJsonReader,
    SyntheticReader,
)

TRAIN, VALIDATION, PREDICT = "train", "validation", "predict"
WHAT = "data reader"


def _node(cls: type, **kwargs: Any) -> dict[str, Any]:
    return {"_target_": class_path(cls), **kwargs}


def path_reader(path: str, columns: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The reader node of a data file named by its path: ``.json`` is nested SQuAD, a
    ``.jsonl``/``.jsonl.gz`` starting with an MRQA header or context is MRQA, anything
    else a flat file read with ``columns``."""
    if Path(path).suffix.lower() == ".json":
        return _node(SquadJsonReader, path=path)
    if is_mrqa_file(path):
        return _node(MrqaReader, path=path)
    return _node(FlatFileReader, path=path, columns=dict(columns) if columns else None)


def _split_reader(cfg: Mapping[str, Any], split: str) -> tuple[str, dict[str, Any]]:
    """(config key, reader node) of the main config's ``train`` or ``validation`` set."""
    key = f"{split}_file"
    value = cfg.get(key)
    if isinstance(value, Mapping):
        return f"data.{key}", dict(value)
    source = cfg["source"]  # checked at start: checks.check_data
    if source == "hub":
        node = _node(HubReader, name=cfg["hub_name"], split=cfg[f"{split}_split"])
        return "data.hub_name", node
    if source == "synthetic":
        syn = cfg["synthetic"]
        node = _node(
            SyntheticReader,
            n_examples=syn["n_train"] if split == TRAIN else syn["n_eval"],
            seed=syn["seed"] + (0 if split == TRAIN else 10_000),
            unanswerable_fraction=syn["unanswerable_fraction"],
            id_prefix=f"syn-{split}",
        )
        return "data.synthetic", node
    if source in ("squad_json", "mrqa"):
        reader = SquadJsonReader if source == "squad_json" else MrqaReader
        return f"data.{key}", _node(reader, path=value)
    if source == "flat":
        columns = cfg.get("columns") or None
        return f"data.{key}", _node(
            FlatFileReader, path=value, columns=dict(columns) if columns else None
        )
    raise choice_error(SOURCES, source, "data.source")  # a caller that skipped check_data


def eval_set_data(cfg: Mapping[str, Any], name: str, spec: EvalSetConfig) -> dict[str, Any]:
    """The data config that reads an extra evaluation set as its ``validation`` split."""
    key = f"data.eval_sets.{name}"
    if spec.reader is not None:
        given = (cfg.get("eval_sets") or {}).get(name)
        node = dict(spec.reader)
        if isinstance(given, Mapping) and "reader" in given:
            key += ".reader"
    elif spec.file is not None:
        columns = spec.columns if spec.columns is not None else cfg.get("columns")
        node = path_reader(spec.file, columns)
    else:
        node = _node(HubReader, name=spec.hub_name, split=spec.split)
    version_2 = cfg.get("version_2", False) if spec.version_2 is None else spec.version_2
    language = spec.language if spec.language is not None else cfg.get("language", "en")
    return {
        **cfg,
        "version_2": version_2,
        "language": language,
        "max_eval_samples": spec.max_samples,
        "reader": node,
        "reader_key": key,
    }


def predict_data(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The data config that reads ``data.predict_file`` as its ``validation`` split."""
    value = cfg["predict_file"]
    node = dict(value) if isinstance(value, Mapping) else path_reader(value, cfg.get("columns"))
    return {**cfg, "reader": node, "reader_key": "data.predict_file"}


def has_validation(cfg: Mapping[str, Any]) -> bool:
    return cfg["source"] in ("hub", "synthetic") or bool(cfg.get("validation_file"))


def data_sets(
    cfg: Mapping[str, Any],
    *,
    with_train: bool = True,
    predict: bool = False,
    eval_sets: Mapping[str, EvalSetConfig] | None = None,
) -> dict[str, dict[str, Any]]:
    """Set name -> the data config that reads it, with its ``reader`` node and the
    ``reader_key`` naming that node in messages. ``eval_sets``: ``data.eval_sets`` as the
    start check resolved it (``checks.check_data``); None: resolved here."""
    if predict:
        return {PREDICT: predict_data(cfg)}
    sets: dict[str, dict[str, Any]] = {}
    splits = ([TRAIN] if with_train else []) + (
        [VALIDATION] if with_train or has_validation(cfg) else []
    )
    for split in splits:
        key, node = _split_reader(cfg, split)
        sets[split] = {**cfg, "reader": node, "reader_key": key}
    if eval_sets is None:
        eval_sets = resolve_eval_sets(cfg)
    for name, spec in eval_sets.items():
        sets[name] = eval_set_data(cfg, name, spec)
    return sets


class CheckedSets(dict):
    """Set name -> the data config that reads it (a :func:`data_sets` value), every reader
    node checked by :func:`check_readers`: the datamodule builds these readers as they are."""


def check_readers(
    cfg: Mapping[str, Any], *, task: str, eval_sets: Mapping[str, EvalSetConfig] | None = None
) -> CheckedSets:
    """Every set the ``task`` (train, eval, predict) reads, its reader node checked before
    anything loads: it imports, subclasses :class:`Reader` and takes its keys (one line naming
    the key, a :class:`~qa_lightning.errors.ConfigError`)."""
    sets = data_sets(
        cfg, with_train=task == "train", predict=task == "predict", eval_sets=eval_sets
    )
    for spec in sets.values():
        check_component(spec["reader_key"], spec["reader"], Reader, what=WHAT)
    return CheckedSets(sets)


def build_reader(spec: Mapping[str, Any], *, answers_optional: bool = False) -> Reader:
    """The reader of one set of :func:`check_readers` (its node checked there, not again),
    with the data config's ``on_bad_record`` and ``answers_optional`` unless its node gives
    them."""
    from hydra.utils import instantiate

    node = spec["reader"]
    reader = instantiate(dict(node), _convert_="all")
    if "on_bad_record" not in node:  # data.on_bad_record, checked at start (check_data)
        reader.on_bad_record = spec.get("on_bad_record", "raise")
    if "answers_optional" not in node:
        reader.answers_optional = answers_optional
    return reader


def load_examples(
    reader: Reader, cfg: Mapping[str, Any], split: str, *, seed: int = 0, source: str = ""
) -> Dataset:
    """Examples ``reader`` reads, checked, selected for ``split`` ("train" or "validation").

    ``max_train_samples`` takes a seeded random subset (so a small budget still spans many
    articles); ``max_eval_samples`` takes the first examples, a stable prefix of the dev set.
    """
    examples = reader.load(source=source or cfg.get("reader_key", "data"))
    limit = cfg.get("max_train_samples" if split == TRAIN else "max_eval_samples")
    if limit is not None and limit < len(examples):
        if split == TRAIN:
            examples = examples.shuffle(seed=seed).select(range(limit)).flatten_indices()
        else:
            examples = examples.select(range(limit))
    return examples
