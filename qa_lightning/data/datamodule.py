"""SquadDataModule: examples -> cached features -> dynamically padded batches + evaluators.

Data comes in named sets: ``train``, ``validation`` (it picks the best checkpoint), any
number of ``data.eval_sets`` (scored after training and by eval.py) and, for predict.py,
``predict``. Features of each set are built once in ``prepare_data`` (rank 0; one process
at a time per entry) and saved under an explicit cache key (``feature_cache.py``); ``setup``
only loads them.
Every eval batch carries ``feature_index`` (the row of the feature in its set's feature
table), so logits are matched to features by index, whatever the sampler or the number of
processes, and :meth:`SquadDataModule.evaluators` gives the evaluator of each set the loop
is running, in the order of its dataloaders.

Given a frozen encoder (``encoder``: a model's ``encoder_states()``), the datamodule also
caches that encoder's outputs for every set (``encoder_states.py``) and puts each batch's
in the batch as ``hidden_states``, so the model runs its head alone.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytorch_lightning as pl
import torch
from datasets import Dataset
from pytorch_lightning.trainer.states import TrainerFn
from torch.utils.data import DataLoader
from transformers import PreTrainedTokenizerBase

from qa_lightning.data.batches import IndexedFeatures, collated, feature_lengths, padded_columns
from qa_lightning.data.encoder_states import (
    STATES_DTYPE,
    TEACHER_DTYPE,
    EncodedFeatures,
    StateEncoder,
    encoded_features,
    encoder_cache_key,
)
from qa_lightning.data.feature_cache import CachedFeatures
from qa_lightning.data.features import check_stride
from qa_lightning.data.loading import TRAIN, CheckedSets, build_reader, check_readers
from qa_lightning.data.readers import Reader
from qa_lightning.data.sampling import EpochShuffleSampler, ResumableBatchSampler
from qa_lightning.evaluation.evaluator import PREDICT, VALIDATION, DecodingSettings, Evaluator
from qa_lightning.evaluation.slices import DEFAULT_SLICES, Slice


def tokenizer_from_checkpoint(checkpoint: Mapping[str, Any]) -> PreTrainedTokenizerBase | None:
    """The tokenizer a checkpoint was trained with, from the files its datamodule state
    keeps; None for a checkpoint without them."""
    from transformers import AutoTokenizer

    files = (checkpoint.get(SquadDataModule.__qualname__) or {}).get("tokenizer_files")
    if not files:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        for name, content in files.items():
            (Path(tmp) / Path(name).name).write_bytes(content)
        return AutoTokenizer.from_pretrained(tmp)


class SquadDataModule(pl.LightningDataModule):
    """SQuAD v1.1/v2.0 data for any fast tokenizer; ``data`` is the ``data`` config node.

    ``with_train=False`` (eval.py) leaves the train set out; ``predict=True`` (predict.py)
    reads ``data.predict_file`` alone, with answers optional. ``encoder``: a frozen encoder
    whose outputs batches carry (cached under ``data.encoder_cache_dir``); it may also be
    handed over later (:meth:`use_encoder`), so that the data is read before the model loads.
    ``slices``: the slice families its evaluators label questions with (the built-ins).
    ``sets``: the sets the entry point's start check returned (``loading.check_readers``:
    ``data.eval_sets`` resolved and every reader node checked), read as they are; None (a
    caller without the CLI): the sets of ``data``, ``with_train`` and ``predict``, checked here.
    """

    def __init__(
        self,
        data: Mapping[str, Any],
        tokenizer: PreTrainedTokenizerBase,
        *,
        seed: int = 0,
        with_train: bool = True,
        predict: bool = False,
        encoder: StateEncoder | None = None,
        slices: Sequence[Slice] = DEFAULT_SLICES,
        sets: CheckedSets | None = None,
    ):
        super().__init__()
        self.cfg = dict(data)
        self.tokenizer = tokenizer
        self.seed = seed
        self.encoder = encoder
        self.teacher: StateEncoder | None = None  # use_teacher: its logits in train batches
        self.slices = tuple(slices)
        self._encoded: dict[str, EncodedFeatures] = {}  # by set name
        self._teacher_logits: EncodedFeatures | None = None
        self._tokenizer_bytes: dict[str, bytes] | None = None
        # (epoch, batches trained in it, whether those were all of it)
        self._resume_at: tuple[int, int, bool] | None = None
        if sets is None:
            task = "predict" if predict else "train" if with_train else "eval"
            sets = check_readers(self.cfg, task=task)
        # set name -> the data config that reads it (as its train or validation split), with
        # its checked reader node (data/loading.py)
        self.set_data: dict[str, dict[str, Any]] = dict(sets)
        self.splits = tuple(self.set_data)
        # every reader built now (cheap: nothing is read before prepare_data)
        self.readers: dict[str, Reader] = {
            name: build_reader(spec, answers_optional=name == PREDICT)
            for name, spec in self.set_data.items()
        }
        # Fail now, not after the data is read, when the windows cannot honour the stride.
        check_stride(
            tokenizer,
            max_length=self.cfg["max_length"],
            doc_stride=self.cfg["doc_stride"],
            max_question_tokens=self.cfg.get("max_question_tokens"),
        )
        self._caches = {
            name: CachedFeatures(
                name,
                spec,
                self.readers[name],
                tokenizer,
                cache_dir=self.cfg["cache_dir"],
                seed=seed,
            )
            for name, spec in self.set_data.items()
        }
        self._tables: dict[str, tuple[Dataset, Dataset]] = {}  # name -> (examples, features)

    def use_encoder(self, encoder: StateEncoder | None) -> None:
        """The frozen encoder whose outputs batches carry, once the model is built: train.py
        reads and checks the data first, so that a bad file fails before the weights load."""
        self.encoder = encoder

    def use_teacher(self, teacher: StateEncoder | None) -> None:
        """A teacher whose start/end logits every training batch carries
        (``teacher_start_logits``, ``teacher_end_logits``: a distillation loss reads them).
        It scores every training window once, when the train loader is first asked for;
        the logits are cached like a frozen encoder's states (float32, 2 per token)."""
        self.teacher = teacher
        self._teacher_logits = None

    def teacher_logits(self) -> EncodedFeatures:
        """The teacher's cached logits of every training feature, built on first use."""
        if self._teacher_logits is None:
            key = f"teacher-{self.teacher.key}"
            self._teacher_logits = self._cached_outputs(self.teacher, key, TRAIN, TEACHER_DTYPE)
        return self._teacher_logits

    @property
    def eval_set_names(self) -> list[str]:
        """Every set that is scored: validation first, then ``data.eval_sets`` in order."""
        return [n for n in self.splits if n not in (TRAIN, PREDICT)]

    def examples(self, split: str) -> Dataset:
        return self._tables[split][0]

    def features(self, split: str) -> Dataset:
        return self._tables[split][1]

    def lengths(self, split: str) -> list[int]:
        """Token count of every feature of ``split``."""
        return feature_lengths(self.features(split))

    # the names benchmarks and notebooks use
    @property
    def train_features(self) -> Dataset | None:
        return self._tables[TRAIN][1] if TRAIN in self._tables else None

    @property
    def eval_examples(self) -> Dataset | None:
        return self._tables[VALIDATION][0] if VALIDATION in self._tables else None

    @property
    def eval_features(self) -> Dataset | None:
        return self._tables[VALIDATION][1] if VALIDATION in self._tables else None

    # -- caching (feature_cache.py) -------------------------------------------------------
    def cache_key(self, split: str) -> str:
        """Everything the features of ``split`` depend on, hashed; a change is a new entry."""
        return self._caches[split].key

    def cache_path(self, split: str) -> Path:
        return self._caches[split].path

    def encoder_states(self, split: str) -> EncodedFeatures:
        """The frozen encoder's cached outputs for every feature of ``split``, built on first
        use: when Lightning first asks for a loader, the model already is on its device."""
        if split not in self._encoded:
            self._encoded[split] = self._cached_outputs(self.encoder, self.encoder.key, split)
        return self._encoded[split]

    def _cached_outputs(
        self, model: StateEncoder, key: str, split: str, dtype: str = STATES_DTYPE
    ) -> EncodedFeatures:
        """``model``'s outputs for every feature of ``split``: the cache entry named by
        ``key`` and the features, opened, or built once under its lock."""
        name = encoder_cache_key(key, self.cache_key(split), dtype)
        path = Path(self.cfg.get("encoder_cache_dir") or self._default_encoder_dir) / name
        loader = self.feature_loader(split, with_states=False)
        return encoded_features(path, model, loader, self.lengths(split), dtype)

    @property
    def _default_encoder_dir(self) -> Path:
        return Path(self.cfg["cache_dir"]).parent / "encoder"

    # -- Lightning hooks -----------------------------------------------------------------
    def prepare_data(self) -> None:
        for split in self.splits:
            self._caches[split].ensure()

    def setup(self, stage: str | None = None) -> None:
        for split in self.splits:
            if split == TRAIN and stage not in (None, "fit"):
                continue
            if split not in self._tables:
                self._tables[split] = self._caches[split].load()

    @property
    def model_inputs(self) -> list[str]:
        names = ["input_ids", "attention_mask", "token_type_ids"]
        present = next(iter(self._tables.values()))[1].column_names if self._tables else names
        return [n for n in names if n in present and n in self.tokenizer.model_input_names]

    @property
    def _pad_values(self) -> dict[str, int]:
        """What each token column is padded with: the tokenizer's own choices."""
        if self.tokenizer.pad_token_id is None:
            raise ValueError(
                f"the tokenizer {type(self.tokenizer).__name__} has no padding token; "
                "give it one (tokenizer.pad_token) to batch windows of different lengths"
            )
        pads = {
            "input_ids": self.tokenizer.pad_token_id,
            "attention_mask": 0,
            "token_type_ids": self.tokenizer.pad_token_type_id,
        }
        return {name: pads[name] for name in self.model_inputs}

    def _collate(
        self,
        rows: pa.Table,
        states: EncodedFeatures | None = None,
        extra: tuple[str, ...] = (),
        teacher: EncodedFeatures | None = None,
    ) -> dict[str, Any]:
        extras = {name: rows.column(name).to_pylist() for name in extra}
        batch: dict[str, Any] = padded_columns(
            rows.drop_columns(list(extra)),
            self._pad_values,
            width=self.cfg["max_length"] if self.cfg.get("pad_to_max_length") else None,
            multiple_of=self.cfg.get("pad_to_multiple_of"),
        )  # on the right: logits then line up with the unpadded offsets
        if states is not None:  # the frozen encoder's outputs, float16, padded alike
            batch["hidden_states"] = states.batch(
                batch["feature_index"], batch["input_ids"].shape[1]
            )
        if teacher is not None:  # the teacher's logits, zero-padded (a loss masks padding)
            logits = teacher.batch(batch["feature_index"], batch["input_ids"].shape[1])
            batch["teacher_start_logits"] = logits[..., 0]
            batch["teacher_end_logits"] = logits[..., 1]
        for name, values in extras.items():
            batch[name] = collated(values)
        return batch

    def train_dataloader(self) -> DataLoader:
        extra = tuple(self.readers[TRAIN].extra_columns)  # a reader's, for a loss to see
        columns = [*self.model_inputs, "start_positions", "end_positions", *extra]
        dataset = IndexedFeatures(self.train_features, columns)
        batch_size = self.cfg["batch_size"]
        # Batches of similar length (little padding) or plain shuffled ones, in an order
        # drawn from (seed, epoch) alone, so that a resumed run replays the same epoch.
        grouped = self.cfg.get("group_by_length", True)
        sampler = EpochShuffleSampler(
            len(dataset),
            seed=self.seed,
            batch_size=batch_size,
            lengths=feature_lengths(self.train_features) if grouped else None,
        )
        batch_sampler = ResumableBatchSampler(
            sampler, batch_size, drop_last=False, skip_first=self._batches_to_skip
        )
        if self._resume_at is not None:
            epoch, batches, epoch_done = self._resume_at
            # it stopped after the epoch's last batch: the sampler's last, or the last that
            # trainer.limit_train_batches let it train (checkpoints that predate the flag
            # only know the former)
            if epoch_done or batches >= len(batch_sampler):
                epoch, batches = epoch + 1, 0
            sampler.set_epoch(epoch)
            self._resume_at = (epoch, batches, False)
        states = self.encoder_states(TRAIN) if self.encoder is not None else None
        teacher = self.teacher_logits() if self.teacher is not None else None
        collate = functools.partial(self._collate, states=states, extra=extra, teacher=teacher)
        return DataLoader(
            dataset,
            batch_sampler=batch_sampler,
            collate_fn=collate,
            num_workers=self.cfg.get("num_workers", 0),
            persistent_workers=self.cfg.get("num_workers", 0) > 0,
            # the loader's own generator: creating an epoch's iterator draws a seed for the
            # workers, which must not move the global RNG (dropout) of a resumed run
            generator=torch.Generator().manual_seed(self.seed),
        )

    # -- resuming mid-epoch ----------------------------------------------------------------
    # Lightning restores a datamodule's state before it first asks for the train loader
    # (unlike a stateful loader's own state, which arrives after the trainer has already
    # built the loader to count steps for the LR schedule).
    def state_dict(self) -> dict[str, int]:
        """Where training is: the epoch, the batches of it already trained, and whether
        those were all the epoch trains (``limit_train_batches`` may stop it early)."""
        trainer = self.trainer
        if trainer is None:
            return {}
        loop = trainer.fit_loop
        # The epoch the batch counts belong to: the last one started. (current_epoch has
        # already moved on when a checkpoint is saved after an epoch's last batch.)
        epoch = max(loop.epoch_progress.current.ready - 1, 0)
        trained = loop.epoch_loop.batch_progress.current.processed
        return {
            "epoch": epoch,
            "batches_trained": trained,
            "epoch_done": int(trained >= trainer.num_training_batches),
            # the tokenizer's files: a checkpoint then scores without the base model's
            "tokenizer_files": self._tokenizer_files(),
        }

    def _tokenizer_files(self) -> dict[str, bytes]:
        if self._tokenizer_bytes is None:  # written once; checkpoints come every few steps
            with tempfile.TemporaryDirectory() as tmp:
                self.tokenizer.save_pretrained(tmp)
                self._tokenizer_bytes = {
                    p.name: p.read_bytes() for p in sorted(Path(tmp).iterdir()) if p.is_file()
                }
        return self._tokenizer_bytes

    def load_state_dict(self, state: dict[str, int]) -> None:
        if "epoch" in state:
            done = bool(state.get("epoch_done", False))
            self._resume_at = (state["epoch"], state["batches_trained"], done)

    def _batches_to_skip(self) -> int:
        """Batches the next epoch starts in: those a resumed run already trained, once."""
        if self._resume_at is None:
            return 0
        batches, self._resume_at = self._resume_at[1], None
        return batches

    def _evaluated_sets(self) -> list[str]:
        """The sets the running loop evaluates: while fitting, the validation set (it picks
        the checkpoint); when predicting, the predict file; otherwise every scored set."""
        state = self.trainer.state.fn if self.trainer is not None else None
        if state == TrainerFn.PREDICTING or PREDICT in self.splits:
            return [PREDICT]
        if state == TrainerFn.FITTING:
            return [VALIDATION]
        return self.eval_set_names

    def evaluator(self, split: str) -> Evaluator:
        """A fresh evaluator of ``split`` with this config's decoding settings."""
        cfg = self.set_data[split]
        examples, features = self._tables[split]
        return Evaluator(
            split,
            examples,
            features,
            version_2=bool(cfg.get("version_2")),
            max_length=self.cfg["max_length"],
            decoding=DecodingSettings(
                n_best_size=self.cfg["n_best_size"],
                max_answer_length=self.cfg["max_answer_length"],
                null_score_diff_threshold=self.cfg["null_score_diff_threshold"],
            ),
            labelled=split != PREDICT,
            seed=self.seed,
            slices=self.slices,
            language=str(cfg.get("language") or "en"),
        )

    def evaluators(self) -> list[Evaluator]:
        """One evaluator per set the running loop evaluates, in its dataloaders' order."""
        return [self.evaluator(name) for name in self._evaluated_sets()]

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        loaders = [self.feature_loader(name) for name in self._evaluated_sets()]
        return loaders[0] if len(loaders) == 1 else loaders

    def predict_dataloader(self) -> DataLoader:
        return self.feature_loader(PREDICT)

    def feature_loader(self, split: str, *, with_states: bool = True) -> DataLoader:
        """Model inputs and ``feature_index`` of every feature of ``split``, in eval order
        (plus the frozen encoder's ``hidden_states``, if given one, unless ``with_states`` is
        false). Evaluation uses it; so does anything that must see each feature once."""
        states = None
        if with_states and self.encoder is not None:
            states = self.encoder_states(split)
        features = self.features(split)
        dataset = IndexedFeatures(features, self.model_inputs)
        sampler = None
        if self.cfg.get("group_by_length", True):
            # Longest first: no padding waste and out-of-memory shows up on the first batch.
            lengths = feature_lengths(features)
            sampler = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        return DataLoader(
            dataset,
            batch_size=self.cfg["eval_batch_size"],
            sampler=sampler,
            shuffle=False,
            collate_fn=functools.partial(self._collate, states=states),
            num_workers=self.cfg.get("num_workers", 0),
            persistent_workers=self.cfg.get("num_workers", 0) > 0,
            # its own generator, so that validating does not move the global RNG: a run
            # resumed after a validation must draw the dropout masks the original drew
            generator=torch.Generator().manual_seed(self.seed),
        )
