"""An ``AutoModel`` encoder with one of our span heads, and the freezing policies.

The model answers from token ids (encoder + head) or from hidden states computed earlier
(head only), so a frozen encoder's outputs can be cached and the head trained on them;
``FrozenEncoderStates`` is what the data side's cache of those outputs is given.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import torch
from torch import nn
from transformers.modeling_outputs import QuestionAnsweringModelOutput

from qa_lightning.config import FREEZE_POLICIES, choice_error
from qa_lightning.errors import ConfigError
from qa_lightning.models.frozen_weights import weights_digest
from qa_lightning.models.heads import SpanHead
from qa_lightning.models.limits import check_freeze_layers, check_hidden_layer, layer_count
from qa_lightning.models.losses import SpanCrossEntropy


def encoder_layers(encoder: nn.Module) -> nn.ModuleList:
    """The encoder's stack of transformer layers (BERT, RoBERTa, DistilBERT, DeBERTa ...)."""
    n = layer_count(encoder.config) or 0
    for _, module in encoder.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) == n:
            return module
    raise ConfigError(
        f"cannot find the {n} transformer layers of {type(encoder).__name__}; "
        "use model.freeze=all, embeddings or none"
    )


def frozen_modules(encoder: nn.Module, policy: str, num_layers: int = 0) -> list[nn.Module]:
    """The parts of ``encoder`` that ``policy`` freezes.

    ``embeddings``: the embedding block; ``layers``: the embeddings and the bottom
    ``num_layers`` transformer layers; ``all``: the whole encoder; ``none``: nothing.
    """
    if policy == "none":
        return []
    if policy == "all":
        return [encoder]
    if policy not in FREEZE_POLICIES:  # a caller that skipped the start check (models/checks)
        raise choice_error(FREEZE_POLICIES, policy, "model.freeze")
    embeddings = getattr(encoder, "embeddings", None) or encoder.get_input_embeddings()
    if policy == "embeddings":
        return [embeddings]
    layers = encoder_layers(encoder)
    check_freeze_layers(num_layers, len(layers))
    return [embeddings, *layers[:num_layers]]


class EncoderWithHead(nn.Module):
    """``encoder`` (an ``AutoModel``) -> hidden states of ``hidden_layer`` -> ``head``.

    Frozen parts stay in eval mode (no dropout) whatever ``train()`` is called with, so a
    frozen encoder gives the same states on every pass and a cache of them is exact.
    ``states_dtype``: the dtype the encoder cache stored the states in when the head was
    scored from it (float16); answering from token ids then rounds them the same way, so
    the head sees what it was scored on.
    """

    def __init__(
        self,
        encoder: nn.Module,
        head: SpanHead,
        *,
        hidden_layer: int = -1,
        freeze: str = "none",
        freeze_layers: int = 0,
        states_dtype: torch.dtype | None = None,
    ):
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.states_dtype = states_dtype
        n_layers = layer_count(encoder.config)
        if n_layers is not None:
            check_hidden_layer(hidden_layer, n_layers)
        self.hidden_layer = hidden_layer
        self.frozen = frozen_modules(encoder, freeze, freeze_layers)
        for module in self.frozen:
            module.requires_grad_(False)
        self.encoder_frozen = freeze == "all"
        self.train()

    def train(self, mode: bool = True) -> EncoderWithHead:
        super().train(mode)
        for module in self.frozen:
            module.eval()
        return self

    def encode(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Hidden states (B, T, H) of the chosen layer."""
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        want_all = self.hidden_layer != -1
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.encoder_frozen):
            out = self.encoder(**inputs, output_hidden_states=want_all, return_dict=True)
        return out.hidden_states[self.hidden_layer] if want_all else out.last_hidden_state

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        start_positions: torch.Tensor | None = None,
        end_positions: torch.Tensor | None = None,
        hidden_states: torch.Tensor | None = None,
    ) -> QuestionAnsweringModelOutput:
        """From ``input_ids`` (runs the encoder) or from ``hidden_states`` (head only)."""
        if hidden_states is None:
            hidden_states = self.encode(input_ids, attention_mask, token_type_ids)
            if self.states_dtype is not None:
                hidden_states = hidden_states.to(self.states_dtype).to(hidden_states.dtype)
        start, end = self.head(hidden_states, attention_mask)
        loss = None
        if start_positions is not None and end_positions is not None:
            # as *ForQuestionAnswering models do (the modules use model.loss instead)
            labels = {"start_positions": start_positions, "end_positions": end_positions}
            loss = SpanCrossEntropy()(start, end, labels)
        return QuestionAnsweringModelOutput(loss=loss, start_logits=start, end_logits=end)


def parameter_counts(model: nn.Module) -> dict[str, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"trainable": trainable, "frozen": total - trainable}


def encoder_fingerprint(encoder: nn.Module) -> str:
    """Content hash of the encoder's weights (names, dtypes, shapes and values)."""
    return weights_digest(encoder, list(encoder.state_dict()))[:16]


class FrozenEncoderStates:
    """A frozen encoder as the data side's encoder cache uses it (``StateEncoder``): a key
    naming the states it gives, their width, and model inputs -> states.

    The inputs are moved to wherever the encoder is when called: the datamodule builds its
    cache when a loader is first asked for, by which time Lightning has moved the model to
    its device.
    """

    def __init__(self, model: EncoderWithHead, autocast: torch.dtype | None = None):
        if not model.encoder_frozen:
            raise ValueError("only a wholly frozen encoder (model.freeze=all) gives fixed states")
        self.model = model
        self.autocast = autocast  # the dtype training autocasts to: the same states as its steps
        self.hidden_size: int = model.encoder.config.hidden_size
        self._key: str | None = None

    @property
    def key(self) -> str:
        if self._key is None:  # hashed once: frozen weights cannot change
            fingerprint = encoder_fingerprint(self.model.encoder)
            # states computed under autocast differ from fp32 ones: another entry
            precision = "" if self.autocast is None else f"-{str(self.autocast).split('.')[-1]}"
            self._key = f"{fingerprint}-layer{self.model.hidden_layer}{precision}"
        return self._key

    def __call__(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        device = next(self.model.encoder.parameters()).device
        names = ("input_ids", "attention_mask", "token_type_ids")
        autocast = (
            contextlib.nullcontext()
            if self.autocast is None
            else torch.autocast(device.type, dtype=self.autocast)
        )
        with torch.inference_mode(), autocast:
            return self.model.encode(**{k: inputs[k].to(device) for k in names if k in inputs})
