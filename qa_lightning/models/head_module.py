"""HeadQAModule: one of our span heads on an ``AutoModel`` encoder, with freezing policies.

With the whole encoder frozen (``freeze="all"``) and ``encoder_cache=True``, the encoder's
hidden states of each set's features (train, validation, every evaluation set) are computed
once, stored on disk in float16 and memory-mapped (see ``encoder_cache``); every step then
runs the head alone. Everything else (loss, logits, logging) is the QAModule's.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from qa_lightning.models.encoder_cache import (
    EncodedFeatures,
    build_encoded_features,
    encoder_cache_key,
    encoder_fingerprint,
    open_encoded_features,
)
from qa_lightning.models.encoder_head import EncoderWithHead, parameter_counts
from qa_lightning.models.heads import build_head
from qa_lightning.models.loading import load_encoder, resolve_model_path
from qa_lightning.models.qa_module import _FORMER_EVAL_SETTINGS, _NOT_MODEL_INPUTS, QAModule

log = logging.getLogger(__name__)

HEAD_CONFIG = "qa_head.json"
HEAD_WEIGHTS = "qa_head.safetensors"


def saved_head_settings(directory: str | Path) -> dict[str, Any] | None:
    """The head settings saved beside an encoder by ``save_pretrained``, if any."""
    path = Path(directory) / HEAD_CONFIG
    return json.loads(path.read_text()) if path.is_file() else None


class HeadQAModule(QAModule):
    """A QAModule whose network is ``EncoderWithHead``; see the module docstring.

    ``encoder_cache_dir`` is where cache entries live; it is not a hyper-parameter (a
    checkpoint moved to another machine uses that machine's cache).
    """

    def __init__(
        self,
        model_name_or_path: str,
        *,
        head: str = "linear",
        head_args: dict[str, Any] | None = None,
        freeze: str = "all",
        freeze_layers: int = 0,
        hidden_layer: int = -1,
        encoder_cache: bool = True,
        encoder_cache_dir: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(model_name_or_path, **kwargs)
        self.save_hyperparameters(ignore=["encoder_cache_dir", *_FORMER_EVAL_SETTINGS])
        self.encoder_cache_dir = Path(encoder_cache_dir or ".cache/encoder")
        self._encoded: dict[str, EncodedFeatures] = {}
        self._fingerprint: str | None = None

    def build_model(self) -> EncoderWithHead:
        hp = self.hparams
        encoder = load_encoder(
            hp.model_name_or_path,
            revision=hp.revision,
            trust_remote_code=hp.trust_remote_code,
            attn_implementation=hp.get("attn_implementation"),
        )
        head = build_head(hp.head, encoder.config.hidden_size, hp.head_args)
        saved_head = Path(resolve_model_path(hp.model_name_or_path)) / HEAD_WEIGHTS
        if saved_head.is_file():  # a directory written by save_pretrained below
            head.load_state_dict(load_file(saved_head))
        return EncoderWithHead(
            encoder,
            head,
            hidden_layer=hp.hidden_layer,
            freeze=hp.freeze,
            freeze_layers=hp.freeze_layers,
        )

    def save_pretrained(self, directory: str | Path) -> None:
        """The encoder as ``save_pretrained`` writes it, plus the head's weights and settings;
        ``HeadQAModule(directory, **saved_head_settings(directory))`` loads it back."""
        directory = Path(directory)
        self.model.encoder.save_pretrained(directory)
        save_file(
            {k: v.contiguous() for k, v in self.model.head.state_dict().items()},
            directory / HEAD_WEIGHTS,
        )
        settings = {k: self.hparams[k] for k in ("head", "head_args", "hidden_layer")}
        (directory / HEAD_CONFIG).write_text(json.dumps(settings, indent=2))

    @property
    def uses_encoder_cache(self) -> bool:
        return bool(self.hparams.encoder_cache) and self.model.encoder_frozen

    # -- encoder cache -------------------------------------------------------------------
    def _encoded_features(self, split: str) -> EncodedFeatures:
        if self._fingerprint is None:  # the encoder is frozen: its weights cannot change
            self._fingerprint = encoder_fingerprint(self.model.encoder)
        key = encoder_cache_key(
            self._fingerprint,
            self.trainer.datamodule.cache_key(split),
            self.hparams.hidden_layer,
        )
        if key in self._encoded:  # keyed by entry: another datamodule gets its own
            return self._encoded[key]
        path = self.encoder_cache_dir / key
        encoded = open_encoded_features(path)
        if encoded is None:
            encoded = self._build_cache(path, split)
            log.info("Built the encoder cache of %s: %s", split, path)
        size_mb = encoded.nbytes / 2**20
        log.info(
            "Encoder cache of %s: %d features, %.1f MB at %s", split, len(encoded), size_mb, path
        )
        self._encoded[key] = encoded
        return encoded

    def _build_cache(self, path: Path, split: str) -> EncodedFeatures:
        datamodule = self.trainer.datamodule

        def encode(batch: dict[str, torch.Tensor]) -> torch.Tensor:
            inputs = {k: v.to(self.device) for k, v in batch.items() if k not in _NOT_MODEL_INPUTS}
            with torch.inference_mode():
                return self.model.encode(**inputs)

        # Iterating a DataLoader draws from the global RNG: fork it, so that a run that
        # builds the cache and one that reads it see the same batches and dropout draws.
        # (The frozen encoder is always in eval mode: EncoderWithHead.train keeps it so.)
        with torch.random.fork_rng(devices=[]):
            return build_encoded_features(
                path,
                encode,
                datamodule.feature_loader(split),
                datamodule.lengths(split),
                self.model.encoder.config.hidden_size,
            )

    def on_fit_start(self) -> None:
        counts = parameter_counts(self.model)
        log.info(
            "Parameters: %d trainable, %d frozen (model.freeze=%s, model.head=%s)",
            counts["trainable"],
            counts["frozen"],
            self.hparams.freeze,
            self.hparams.head,
        )
        for logger in self.loggers:
            logger.log_hyperparams({f"params/{k}": v for k, v in counts.items()})

    def on_train_start(self) -> None:
        if self.uses_encoder_cache:
            self._encoded_features("train")

    # -- steps ---------------------------------------------------------------------------
    def forward(self, batch: dict[str, torch.Tensor], split: str = "train"):
        if not self.uses_encoder_cache:
            return super().forward(batch, split)
        width = batch["input_ids"].shape[1]
        hidden = self._encoded_features(split).batch(batch["feature_index"], width)
        return self.model(
            hidden_states=hidden.to(self.device),
            attention_mask=batch["attention_mask"],
            start_positions=batch.get("start_positions"),
            end_positions=batch.get("end_positions"),
        )
