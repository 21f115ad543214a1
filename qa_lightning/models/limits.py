"""What the model's own config (``transformers.AutoConfig``) allows: the longest input its
position embeddings take and the layers its encoder has; checked once the config is read,
before the weights load (``check_against_model``), and by the modules that freeze layers or
read a hidden layer (``encoder_head``), with the same messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from qa_lightning.errors import ConfigError

# Model types whose position ids start after the padding index (fairseq's RoBERTa lineage):
# max_position_embeddings counts pad_token_id + 1 positions (2 for RoBERTa) no token gets.
PADDING_OFFSET_MODEL_TYPES = frozenset(
    {
        "roberta",
        "roberta-prelayernorm",
        "xlm-roberta",
        "xlm-roberta-xl",
        "camembert",
        "longformer",
        "data2vec-text",
        "mpnet",
        "ibert",
        "luke",
        "markuplm",
    }
)


def position_limit(model_config: Any) -> tuple[int, int] | None:
    """(the longest input the model takes, the positions its ids start after), or None when
    it has no absolute position embeddings (DeBERTa's relative positions) or no known limit.
    ``model_config``: a ``transformers.PretrainedConfig`` (its attributes only are read)."""
    n = getattr(model_config, "max_position_embeddings", None)
    if not isinstance(n, int) or getattr(model_config, "position_biased_input", True) is False:
        return None
    offset = 0
    if getattr(model_config, "model_type", None) in PADDING_OFFSET_MODEL_TYPES:
        pad = getattr(model_config, "pad_token_id", None)
        offset = (pad if isinstance(pad, int) else 1) + 1
    return n - offset, offset


def layer_count(model_config: Any) -> int | None:
    """The encoder's transformer layers (``num_hidden_layers``; DistilBERT: ``n_layers``)."""
    n = getattr(model_config, "num_hidden_layers", None) or getattr(model_config, "n_layers", None)
    return n if isinstance(n, int) else None


def check_freeze_layers(freeze_layers: int, n_layers: int | None = None) -> None:
    """``model.freeze_layers``: 0 up to the encoder's layers (where known)."""
    if n_layers is None:
        if freeze_layers < 0:
            raise ConfigError(f"model.freeze_layers={freeze_layers} must be >= 0")
    elif not 0 <= freeze_layers <= n_layers:
        raise ConfigError(
            f"model.freeze_layers={freeze_layers}; the encoder has {n_layers} layers "
            f"(use 0..{n_layers})"
        )


def check_hidden_layer(hidden_layer: int, n_layers: int) -> None:
    """``model.hidden_layer``: an index into ``hidden_states`` (the embeddings, then each layer)."""
    entries = n_layers + 1
    if not -entries <= hidden_layer < entries:
        raise ConfigError(
            f"model.hidden_layer={hidden_layer}; the encoder's hidden_states has {entries} "
            f"entries (the embeddings, then {n_layers} layers): use {-entries}..{n_layers} "
            "(-1: the last layer)"
        )


def check_against_model(
    cfg: Mapping[str, Any], model_config: Any, *, name: str, head_settings: bool = True
) -> None:
    """The config values that depend on the model ``name``, whose own config (``AutoConfig``)
    is ``model_config``; called before the weights load.

    ``data.max_length`` must fit its position embeddings (``max_position_embeddings`` less
    the offset of RoBERTa-like models). With ``head_settings`` (the module is built from
    ``cfg.model``, not read from a checkpoint) and one of our heads, ``model.hidden_layer``
    and, for ``freeze=layers``, ``model.freeze_layers`` must name layers it has.
    """
    max_length = cfg["data"]["max_length"]
    limit = position_limit(model_config)
    if limit is not None and max_length > limit[0]:
        size, offset = limit
        how = f"max_position_embeddings={size + offset}" + (
            f" less the {offset} positions before its first token" if offset else ""
        )
        raise ConfigError(
            f"data.max_length={max_length} is longer than the model {name!r} takes: its "
            f"position limit is {size} tokens ({how}); use data.max_length <= {size}"
        )
    model = cfg["model"]
    n_layers = layer_count(model_config)
    if head_settings and model.get("head") is not None and n_layers is not None:
        check_hidden_layer(model["hidden_layer"], n_layers)
        if model.get("freeze") == "layers":
            check_freeze_layers(model["freeze_layers"], n_layers)
    student = model.get("student_layers")
    if head_settings and student and n_layers is not None:
        check_student_layers(student, n_layers)


def check_student_layers(layers: Any, n_layers: int | None = None) -> None:
    """``model.student_layers``: increasing layer indices of the teacher (below
    ``n_layers`` when the teacher's layer count is known)."""
    chosen = list(layers) if isinstance(layers, Sequence) and not isinstance(layers, str) else None
    top = n_layers - 1 if n_layers is not None else None
    valid = (
        chosen
        and all(isinstance(i, int) and not isinstance(i, bool) for i in chosen)
        and chosen == sorted(set(chosen))
        and chosen[0] >= 0
        and (top is None or chosen[-1] <= top)
    )
    if not valid:
        example = list(range(0, n_layers, 2)) if n_layers else [0, 2, 4]
        upto = f" from 0 to {top}" if top is not None else ""
        raise ConfigError(
            f"model.student_layers={layers}: give increasing layer indices{upto} of the "
            f"teacher, e.g. {example}"
        )
