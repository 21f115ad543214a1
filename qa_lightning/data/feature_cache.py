"""The examples and windowed features of one data set, built once and cached on disk.

An entry is named by a key that hashes everything the features depend on: the reader's
identity (its class, arguments and files' sha256), the sample cap, the window settings and
the tokenizer's content; a change of any is a new entry. Entries are built under a file lock
(parallel sweep jobs build one once), renamed into place whole, and checked against their
marker before they are trusted: a damaged entry is reported and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from datasets import Dataset, load_from_disk
from transformers import PreTrainedTokenizerBase

from qa_lightning.data.features import prepare_eval_features, prepare_train_features
from qa_lightning.data.loading import PREDICT, TRAIN, load_examples
from qa_lightning.data.readers import Reader
from qa_lightning.errors import DataFileNotFoundError
from qa_lightning.storage.atomic import atomic_directory, entry_lock
from qa_lightning.storage.cache_integrity import entry_damage, remove_entry, write_marker

log = logging.getLogger(__name__)

# Bump when feature building changes in a way that invalidates cached features.
FEATURES_VERSION = 1
MARKER = "_COMPLETE"


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    """Identity of a tokenizer by content (vocabulary, normaliser, special tokens, side)."""
    if tokenizer.is_fast:
        backend = json.loads(tokenizer.backend_tokenizer.to_str())
        # Truncation and padding are call state the last encode left behind, not identity.
        backend.pop("truncation", None)
        backend.pop("padding", None)
    else:
        backend = repr(tokenizer)
    text = json.dumps([backend, tokenizer.padding_side, tokenizer.truncation_side], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def feature_kind(name: str) -> str:
    """Train features carry labels; every other set has eval features."""
    return "train" if name == TRAIN else "validation"


class CachedFeatures:
    """The (examples, features) of the set ``name``, read by ``reader`` with ``spec`` (the
    data config that reads it, a ``data/loading.py:data_sets`` value), under ``cache_dir``.

    ``seed`` draws a capped train subset. The key is computed once: the reader's identity
    hashes its files.
    """

    def __init__(
        self,
        name: str,
        spec: Mapping[str, Any],
        reader: Reader,
        tokenizer: PreTrainedTokenizerBase,
        *,
        cache_dir: str | Path,
        seed: int = 0,
    ):
        self.name = name
        self.spec = spec
        self.reader = reader
        self.tokenizer = tokenizer
        self.cache_dir = Path(cache_dir)
        self.seed = seed
        self.kind = feature_kind(name)
        self._key: str | None = None

    @property
    def key(self) -> str:
        """Everything the features depend on, hashed; a change is a new entry."""
        if self._key is None:
            self._key = self._make_key()
        return self._key

    def _make_key(self) -> str:
        spec, kind = self.spec, self.kind
        max_samples = spec.get("max_train_samples" if kind == "train" else "max_eval_samples")
        try:  # the class, its arguments and its files' sha256: what the examples are
            identity = self.reader.identity()
        except DataFileNotFoundError as err:
            raise DataFileNotFoundError(f"{err} ({spec['reader_key']})") from None
        recipe = {
            "features_version": FEATURES_VERSION,
            "split": kind,
            "reader": identity,
            "max_samples": max_samples,
            # a capped train set is a seeded random subset (data/loading.py)
            "subset_seed": self.seed if kind == "train" and max_samples is not None else None,
            "max_length": spec["max_length"],
            "doc_stride": spec["doc_stride"],
            "max_question_tokens": spec.get("max_question_tokens"),
            "tokenizer": tokenizer_fingerprint(self.tokenizer),
        }
        text = json.dumps(recipe, sort_keys=True, default=str)
        digest = hashlib.sha256(text.encode()).hexdigest()
        return f"{self.name}-{digest[:20]}"  # named after the set, for a reader of the cache

    @property
    def path(self) -> Path:
        return self.cache_dir / self.key

    def build(self) -> tuple[Dataset, Dataset]:
        """Read, check and select the examples, then window them (no cache involved)."""
        spec, name = self.spec, self.name
        examples = load_examples(self.reader, spec, self.kind, seed=self.seed)
        if name != PREDICT and not spec.get("version_2"):
            n_unanswerable = sum(1 for a in examples["answers"] if not a["text"])
            if n_unanswerable:
                log.warning(
                    "%d %s examples have no answer but data.version_2=false; they train the "
                    "model to point at CLS and score as SQuAD v1.1. Set data.version_2=true for v2.",
                    n_unanswerable,
                    name,
                )
        prepare = prepare_train_features if self.kind == "train" else prepare_eval_features
        features = prepare(
            examples,
            self.tokenizer,
            max_length=spec["max_length"],
            doc_stride=spec["doc_stride"],
            max_question_tokens=spec.get("max_question_tokens"),
            num_proc=spec.get("preprocessing_num_proc"),
            extra_columns=tuple(self.reader.extra_columns),
        )
        return examples, features

    def _intact(self, path: Path) -> bool:
        """Whether ``path`` holds a complete entry whose files match its marker's sizes and
        hashes; a damaged one is reported (one line) and deleted, so it is rebuilt."""
        if not (path / MARKER).exists():
            return False  # absent, or a build that never finished: nothing to report
        damage = entry_damage(path, MARKER, datasets=("examples", "features"))
        if damage is None:
            return True
        log.warning(
            "Cached %s features %s are damaged (%s); rebuilding them", self.name, path, damage
        )
        remove_entry(path)
        return False

    def ensure(self, *, rebuild: bool = False) -> None:
        """Build the entry unless an intact one exists (``rebuild``: one that could not be
        loaded is replaced). One process at a time: parallel sweep jobs that need the same
        entry build it once."""
        path = self.path
        with entry_lock(path):
            if not rebuild and self._intact(path):
                log.info("Using cached %s features: %s", self.name, path)
                return
            examples, features = self.build()
            with atomic_directory(path) as tmp:
                examples.save_to_disk(str(tmp / "examples"))
                features.save_to_disk(str(tmp / "features"))
                # last: lists every file above with its size and hash (storage/cache_integrity.py)
                write_marker(tmp, MARKER, {"examples": len(examples), "features": len(features)})
        log.info(
            "Cached %d %s features of %d examples: %s",
            len(features),
            self.name,
            len(examples),
            path,
        )

    def load(self) -> tuple[Dataset, Dataset]:
        """(examples, features) from the entry, built first if need be; an entry whose files
        are as written yet unreadable (e.g. by another ``datasets``) is rebuilt once."""
        path = self.path
        self.ensure()
        try:
            return load_from_disk(str(path / "examples")), load_from_disk(str(path / "features"))
        except Exception as err:
            first_line = (str(err).strip().splitlines() or [""])[0]
            log.warning(
                "Cached %s features %s could not be loaded (%s: %s); rebuilding them",
                self.name,
                path,
                type(err).__name__,
                first_line,
            )
        self.ensure(rebuild=True)
        return load_from_disk(str(path / "examples")), load_from_disk(str(path / "features"))
