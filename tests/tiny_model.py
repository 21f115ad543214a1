"""Tiny QA models saved to disk with a tokenizer, so every entry point can load them offline."""

from __future__ import annotations

from pathlib import Path

from transformers import (
    BertConfig,
    BertForQuestionAnswering,
    PreTrainedTokenizerBase,
    RobertaConfig,
    RobertaForQuestionAnswering,
)


def save_tiny_qa_model(
    path: str | Path,
    tokenizer: PreTrainedTokenizerBase,
    *,
    arch: str = "bert",
    seed: int = 0,
    hidden_size: int = 32,
    num_attention_heads: int = 2,
    max_position_embeddings: int | None = None,
) -> Path:
    """A 2-layer model of ``arch`` (bert | roberta), 32 wide unless told, plus its tokenizer
    in ``path``. ``max_position_embeddings``: 512 (BERT) / 514 (RoBERTa) unless told."""
    import torch

    torch.manual_seed(seed)
    common = dict(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=2,
        num_attention_heads=num_attention_heads,
        intermediate_size=2 * hidden_size,
        pad_token_id=tokenizer.pad_token_id,
    )
    if arch == "bert":
        positions = max_position_embeddings or 512
        model = BertForQuestionAnswering(BertConfig(max_position_embeddings=positions, **common))
    elif arch == "roberta":
        model = RobertaForQuestionAnswering(
            RobertaConfig(
                max_position_embeddings=max_position_embeddings or 514,
                bos_token_id=0,
                eos_token_id=2,
                type_vocab_size=1,
                **common,
            )
        )
    else:
        raise ValueError(arch)
    path = Path(path)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
