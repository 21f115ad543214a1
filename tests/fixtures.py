"""Tiny tokenizers and in-vocabulary text, built offline in milliseconds for tests.

Everything here is deterministic: the same call returns a tokenizer with the same
vocabulary, so tests (and `datasets` fingerprints) are reproducible.

    from tests.fixtures import make_wordpiece_tokenizer, make_context, WORDS
    tok = make_wordpiece_tokenizer()          # transformers BertTokenizer (fast backend)
    tok = make_bpe_roberta_tokenizer()        # transformers RobertaTokenizer (byte-level BPE)
    tok = make_left_padding_tokenizer()       # WordPiece, padding_side="left"
"""

from __future__ import annotations

import json
import random
import re
import string
from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import BertTokenizer, RobertaTokenizer

# Plain lowercase words (a few hundred): enough variety for contexts, questions and answers.
_WORD_TEXT = """
the a an of to in on at by for with from about into over after before under between
and or but so because while when where who what which how why whose whom if then than
is was are were be been being has have had do does did can could will would may might
city river mountain village forest valley island ocean lake desert bridge castle tower
king queen prince princess knight soldier farmer teacher student doctor scientist artist
writer painter singer dancer sailor captain merchant baker builder gardener hunter
book letter story poem song map picture garden house school church market library museum
year month week day night morning evening winter summer spring autumn century decade
red blue green yellow black white golden silver ancient modern small large old young
first second third last early late famous quiet bright dark strong gentle rich poor
north south east west northern southern eastern western central coastal
built wrote painted discovered founded named crossed visited found opened closed began
ended ruled won lost carried sold bought taught studied played sang danced sailed
water fire stone wood iron gold salt bread wine wheat cotton silk paper glass coal
army navy council empire kingdom republic province county harbor port road railway
war peace treaty battle festival ceremony election trade journey voyage expedition
people family children friends neighbors travelers pilgrims workers monks
one two three four five six seven eight nine ten hundred thousand million
many few several most some every each other another same different
paris london rome berlin madrid vienna cairo tokyo lima oslo athens dublin
alice bob carol david emma frank grace henry irene jack laura mark nina oscar
university company museum hospital station theater stadium airport factory
government language science history music physics chemistry biology medicine
"""
WORDS: tuple[str, ...] = tuple(dict.fromkeys(_WORD_TEXT.split()))
word_list = WORDS  # alias for readability in test modules

# Digits and punctuation so every character a test may produce is in the alphabet.
_ALPHABET = list(string.ascii_lowercase + string.ascii_uppercase + string.digits + ".,;:!?'\"()-")

WORDPIECE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def make_sentence(rng: random.Random, n_words: int | None = None) -> str:
    """One sentence of in-vocabulary words: capitalised first word, a few numbers/commas."""
    n = n_words if n_words is not None else rng.randint(6, 16)
    words = []
    for i in range(n):
        w = rng.choice(WORDS)
        if rng.random() < 0.05:
            w = str(rng.randint(1, 2024))
        if rng.random() < 0.05 and i < n - 1:
            w += ","
        words.append(w)
    words[0] = words[0].capitalize()
    return " ".join(words) + "."


def make_context(n_words: int, seed: int = 0) -> str:
    """A context of roughly ``n_words`` in-vocabulary words split into sentences."""
    rng = random.Random(seed)
    sentences, count = [], 0
    while count < n_words:
        k = min(rng.randint(6, 16), max(n_words - count, 1))
        sentences.append(make_sentence(rng, k))
        count += k
    return " ".join(sentences)


def corpus(n_sentences: int = 400, seed: int = 1234) -> list[str]:
    """Default training corpus: every word at least once, plus random sentences."""
    rng = random.Random(seed)
    # Leading space: byte-level BPE then learns the "Ġword" form of every word.
    texts = [" " + " ".join(WORDS[i : i + 12]) for i in range(0, len(WORDS), 12)]
    texts += [
        " " + " ".join(w.capitalize() for w in WORDS[i : i + 12]) for i in range(0, len(WORDS), 12)
    ]
    # Every letter and digit also as a word-continuation piece, so unseen words split
    # into pieces (never [UNK]).
    chars = string.ascii_lowercase + string.digits
    texts.append(" ".join(_ALPHABET) + " " + " ".join("q" + c for c in chars))
    texts += [make_sentence(rng) for _ in range(n_sentences)]
    return texts


def _texts(texts: Iterable[str] | None) -> list[str]:
    return list(texts) if texts is not None else corpus()


def make_wordpiece_tokenizer(
    texts: Iterable[str] | None = None, vocab_size: int = 2000, padding_side: str = "right"
) -> BertTokenizer:
    """A lowercasing BERT WordPiece tokenizer trained on ``texts`` (default: `corpus()`).

    Returns a transformers ``BertTokenizer`` (in transformers 5 this *is* the fast,
    `tokenizers`-backed class; ``BertTokenizerFast`` is an alias). Pair encodings are
    ``[CLS] A [SEP] B [SEP]`` with token_type_ids 0/1. Words not seen in training split
    into ``##`` pieces of the full alphabet, never into [UNK].
    """
    # The WordPiece/BPE trainers of `tokenizers` break ties in hash order, so their vocabulary
    # changes from process to process. For a reproducible vocabulary, learn the words with the
    # (deterministic) WordLevel trainer under BERT's normaliser and pre-tokeniser, then add every
    # character both as a word start and as a "##" continuation piece: words of the corpus are
    # single tokens, any other word splits into pieces (e.g. "kingdoms" -> "kingdom", "##s").
    chars = [c for c in _ALPHABET if not c.isupper()]
    pieces = chars + ["##" + c for c in chars if c.isalnum()]
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    n_words = max(vocab_size - len(WORDPIECE_SPECIALS) - len(pieces), 0)
    trainer = trainers.WordLevelTrainer(vocab_size=n_words, show_progress=False)
    tok.train_from_iterator(_texts(texts), trainer=trainer)
    words = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
    vocab: dict[str, int] = {}
    for token in [*WORDPIECE_SPECIALS, *pieces, *(w for w, _ in words)]:
        vocab.setdefault(token, len(vocab))
    # BertTokenizer rebuilds normaliser, pre-tokeniser, decoder and the BERT
    # post-processor (TemplateProcessing with token types) from the vocabulary.
    return BertTokenizer(
        vocab=vocab, do_lower_case=True, padding_side=padding_side, model_max_length=512
    )


def make_left_padding_tokenizer(texts: Iterable[str] | None = None) -> BertTokenizer:
    """The WordPiece tokenizer with ``padding_side="left"`` (features put the context first)."""
    return make_wordpiece_tokenizer(texts, padding_side="left")


def make_bpe_roberta_tokenizer(
    texts: Iterable[str] | None = None, vocab_size: int = 2500, add_prefix_space: bool = False
) -> RobertaTokenizer:
    """A byte-level BPE tokenizer in RoBERTa style.

    Specials ``<s> <pad> </s> <unk> <mask>`` (ids 0..4 as in roberta-base), pairs encode as
    ``<s> A </s></s> B </s>``, RobertaProcessing with ``trim_offsets=True``, no token_type_ids,
    and ``add_prefix_space=False`` like roberta-base.
    """
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=ROBERTA_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_texts(texts), trainer=trainer)
    model = json.loads(tok.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return RobertaTokenizer(
        vocab=model["vocab"],
        merges=merges,
        add_prefix_space=add_prefix_space,
        trim_offsets=True,
        model_max_length=512,
    )


def word_spans(context: str) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of each whitespace-separated word of ``context``."""
    return [(m.start(), m.end()) for m in re.finditer(r"\S+", context)]


def make_squad_examples(
    n: int = 8,
    *,
    context_words: int = 60,
    seed: int = 0,
    unanswerable_every: int = 0,
    answer_words: tuple[int, int] = (1, 3),
) -> list[dict]:
    """SQuAD-schema example dicts (``id, title, context, question, answers``) from the word list.

    Each answer is a run of ``answer_words`` whole words of the context, with trailing
    punctuation dropped; ``answers["answer_start"]`` is its char offset. With
    ``unanswerable_every=k`` every k-th example has empty answers (SQuAD 2.0 style).
    Build a Dataset with ``datasets.Dataset.from_list(make_squad_examples(...))``.
    """
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        context = make_context(context_words, seed=seed * 100_003 + i)
        spans = word_spans(context)
        k = rng.randint(*answer_words)
        first = rng.randrange(0, max(len(spans) - k, 1))
        start, end = spans[first][0], spans[min(first + k, len(spans)) - 1][1]
        while end > start + 1 and not context[end - 1].isalnum():
            end -= 1
        question = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))).capitalize() + "?"
        if unanswerable_every and (i + 1) % unanswerable_every == 0:
            answers = {"text": [], "answer_start": []}
        else:
            answers = {"text": [context[start:end]], "answer_start": [start]}
        rows.append(
            {
                "id": f"ex{seed}-{i}",
                "title": f"title {i % 3}",
                "context": context,
                "question": question,
                "answers": answers,
            }
        )
    return rows
