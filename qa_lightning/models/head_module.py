"""HeadQAModule: one of our span heads on an ``AutoModel`` encoder, with freezing policies.

With the whole encoder frozen (``freeze="all"``) and ``encoder_cache=True``, the encoder's
hidden states of each set's features are computed once by the data side (the datamodule is
handed ``encoder_states()``; see ``data/encoder_states.py``) and arrive in each batch as
``hidden_states``: every step then runs the head alone. Everything else (loss, logits,
logging) is the QAModule's.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from qa_lightning.config import HeadArgs
from qa_lightning.errors import ConfigError
from qa_lightning.models.encoder_head import (
    EncoderWithHead,
    FrozenEncoderStates,
    parameter_counts,
)
from qa_lightning.models.heads import SpanHead, head_label, head_node, make_head
from qa_lightning.models.loading import load_encoder, resolve_model_path
from qa_lightning.models.qa_module import _FORMER_EVAL_SETTINGS, QAModule

log = logging.getLogger(__name__)

HEAD_CONFIG = "qa_head.json"
HEAD_WEIGHTS = "qa_head.safetensors"


# what save_pretrained writes to qa_head.json: the head's node (class path and keyword
# arguments) and the layer it reads; folders saved before heads were nodes have the head's
# name and its head_args instead
SAVED_HEAD_KEYS = ("head", "head_args", "hidden_layer")


def saved_head_settings(directory: str | Path) -> dict[str, Any] | None:
    """The head settings saved beside an encoder by ``save_pretrained``, if any, checked:
    the file is plain data, so a key it never holds (a ``_target_``) is refused, not run."""
    path = Path(directory) / HEAD_CONFIG
    if not path.is_file():
        return None
    try:
        settings = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path} is not valid JSON ({err})") from None
    check_saved_head(settings, path)
    return settings


def check_saved_head(settings: Any, path: Path) -> None:
    """``settings`` (read from ``path``) holds only what ``save_pretrained`` writes, as plain
    data; the head's class path is resolved later, only to a ``SpanHead`` subclass."""
    if not isinstance(settings, dict) or "head" not in settings:
        raise ConfigError(f"{path} must be an object with keys {', '.join(SAVED_HEAD_KEYS)}")
    unknown = sorted(set(settings) - set(SAVED_HEAD_KEYS))
    if unknown:
        raise ConfigError(
            f"{path} has unexpected key {unknown[0]!r}; allowed: {', '.join(SAVED_HEAD_KEYS)}"
        )
    head = settings["head"]
    if isinstance(head, dict):
        if not isinstance(head.get("_target_"), str):
            raise ConfigError(f"{path}: head must name its class in _target_")
        return
    head_arg_keys = tuple(HeadArgs.__dataclass_fields__)
    head_args = settings.get("head_args") or {}
    if not isinstance(head_args, dict):
        raise ConfigError(f"{path}: head_args must be an object with {', '.join(head_arg_keys)}")
    unknown = sorted(set(head_args) - set(head_arg_keys))
    if unknown:
        raise ConfigError(
            f"{path} has unexpected key head_args.{unknown[0]}; allowed head_args: "
            f"{', '.join(head_arg_keys)}"
        )


def load_saved_head(directory: str | Path, hidden_size: int) -> tuple[SpanHead, dict] | None:
    """The head ``save_pretrained`` wrote beside an encoder, with its settings; None when
    ``directory`` holds none."""
    settings = saved_head_settings(directory)
    if settings is None:
        return None
    node = head_node(settings["head"], settings.get("head_args"))
    head = make_head(node, hidden_size, where=str(Path(directory) / HEAD_CONFIG))
    head.load_state_dict(load_file(Path(directory) / HEAD_WEIGHTS))
    return head, {**settings, "head": node}


class HeadQAModule(QAModule):
    """A QAModule whose network is ``EncoderWithHead``; see the module docstring."""

    def __init__(
        self,
        model_name_or_path: str,
        *,
        head: str | dict[str, Any] = "linear",
        head_args: dict[str, Any] | None = None,
        freeze: str = "all",
        freeze_layers: int = 0,
        hidden_layer: int = -1,
        encoder_cache: bool = True,
        **kwargs: Any,
    ):
        # the head as its node (plain data) from here on, whichever way it was given; the
        # hyper-parameters below are read from these locals
        head = head_node(head, head_args)
        head_args = None
        super().__init__(model_name_or_path, **kwargs)
        self.save_hyperparameters(ignore=[*_FORMER_EVAL_SETTINGS, "model_config"])

    def build_model(self) -> EncoderWithHead:
        hp = self.hparams
        encoder = load_encoder(
            hp.model_name_or_path,
            revision=hp.revision,
            trust_remote_code=hp.trust_remote_code,
            attn_implementation=hp.get("attn_implementation"),
            config=self._saved_config,
        )
        head = make_head(hp.head, encoder.config.hidden_size)
        if self._saved_config is None:  # else a checkpoint's weights follow
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
        settings = {k: self.hparams[k] for k in ("head", "hidden_layer")}
        (directory / HEAD_CONFIG).write_text(json.dumps(settings, indent=2))

    @property
    def model_config(self) -> Any:
        return self.model.encoder.config

    def encoder_states(self, autocast: torch.dtype | None = None) -> FrozenEncoderStates | None:
        """The frozen encoder for the data side to cache the outputs of, or None when its
        outputs are not to be cached (``encoder_cache=False``, or a trainable encoder).
        ``autocast``: the dtype the trainer's mixed precision computes in, if any."""
        if self.hparams.encoder_cache and self.model.encoder_frozen:
            return FrozenEncoderStates(self.model, autocast)
        return None

    def on_fit_start(self) -> None:
        counts = parameter_counts(self.model)
        log.info(
            "Parameters: %d trainable, %d frozen (model.freeze=%s, model.head=%s)",
            counts["trainable"],
            counts["frozen"],
            self.hparams.freeze,
            head_label(self.hparams.head),
        )
        for logger in self.loggers:
            logger.log_hyperparams({f"params/{k}": v for k, v in counts.items()})

    # -- steps ---------------------------------------------------------------------------
    def forward(self, batch: dict[str, torch.Tensor]):
        """From the encoder's cached states when the batch carries them, else from tokens."""
        hidden = batch.get("hidden_states")
        if hidden is None:
            return super().forward(batch)
        return self.model(
            hidden_states=hidden.float(),  # stored in float16
            attention_mask=batch["attention_mask"],
        )
