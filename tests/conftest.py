"""Shared pytest fixtures: tiny offline tokenizers (see tests/fixtures.py)."""

from __future__ import annotations

import os

import pytest

# Tests never reach the Hub or W&B servers: fail fast instead of retrying, log offline.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tests.fixtures import (
    make_bpe_roberta_tokenizer,
    make_left_padding_tokenizer,
    make_wordpiece_tokenizer,
)


@pytest.fixture(scope="session")
def wordpiece_tokenizer():
    """BERT-style WordPiece tokenizer (lowercasing, token_type_ids, padding on the right)."""
    return make_wordpiece_tokenizer()


@pytest.fixture(scope="session")
def bpe_tokenizer():
    """RoBERTa-style byte-level BPE tokenizer (no token_type_ids)."""
    return make_bpe_roberta_tokenizer()


@pytest.fixture(scope="session")
def left_tokenizer():
    """The WordPiece tokenizer with padding_side="left" (context goes first)."""
    return make_left_padding_tokenizer()


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory, wordpiece_tokenizer):
    """A saved 2-layer BERT QA model + WordPiece tokenizer (a local model directory)."""
    from tests.tiny_model import save_tiny_qa_model

    return save_tiny_qa_model(
        tmp_path_factory.mktemp("tiny-bert"), wordpiece_tokenizer, arch="bert"
    )


@pytest.fixture(scope="session")
def tiny_roberta_dir(tmp_path_factory, bpe_tokenizer):
    """A saved 2-layer RoBERTa QA model + byte-level BPE tokenizer."""
    from tests.tiny_model import save_tiny_qa_model

    return save_tiny_qa_model(
        tmp_path_factory.mktemp("tiny-roberta"), bpe_tokenizer, arch="roberta"
    )
