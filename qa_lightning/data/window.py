"""The tokenizer window's arithmetic: ``data.max_length``, ``data.doc_stride`` and
``data.max_question_tokens`` together. Checked at start without a tokenizer (what holds for
every tokenizer) and again by ``features.check_stride`` with the tokenizer's special tokens.
"""

from __future__ import annotations

from qa_lightning.errors import ConfigError

DEFAULT_MAX_QUESTION_TOKENS = 64  # HF's max_question_length


def resolve_max_question_tokens(max_length: int, max_question_tokens: int | None) -> int:
    """The question cap in tokens: ``data.max_question_tokens`` or ``min(64, max_length // 2)``."""
    if max_question_tokens is None:
        return max(1, min(DEFAULT_MAX_QUESTION_TOKENS, max_length // 2))
    if max_question_tokens < 1:
        raise ConfigError(f"data.max_question_tokens={max_question_tokens} must be >= 1 (or null)")
    return int(max_question_tokens)


def check_window(
    *,
    max_length: int,
    doc_stride: int,
    max_question_tokens: int | None,
    n_special: int | None = None,
) -> None:
    """``data.max_length``, ``data.doc_stride`` and ``data.max_question_tokens`` together.

    The window keeps ``room = max_length - question_cap - n_special`` context tokens, and HF
    tokenizers fail (or loop) when ``doc_stride >= room``. ``n_special``, the special tokens
    the tokenizer adds to a pair, is known once the tokenizer is loaded (features.check_stride);
    without it only what holds for every tokenizer is checked.
    """
    cap = resolve_max_question_tokens(max_length, max_question_tokens)
    room = max_length - cap - (n_special or 0)
    if room < 1:
        specials = f" plus {n_special} special tokens" if n_special is not None else ""
        raise ConfigError(
            f"data.max_length={max_length} leaves no room for the context: questions capped at "
            f"{cap} tokens{specials} fill it; raise data.max_length or lower "
            "data.max_question_tokens"
        )
    if n_special is None:
        if not 0 <= doc_stride < max_length:
            raise ConfigError(
                f"data.doc_stride={doc_stride} must be >= 0 and < data.max_length={max_length}"
            )
        return
    if doc_stride < 0:
        raise ConfigError(
            f"data.doc_stride={doc_stride} must be >= 0; use 0 <= doc_stride < {room}"
        )
    if doc_stride >= max_length or doc_stride >= room:
        raise ConfigError(
            f"data.doc_stride={doc_stride} leaves no room: with max_length={max_length} and "
            f"questions capped at {cap} tokens the context window is {room} tokens; "
            f"use doc_stride < {room}"
        )
