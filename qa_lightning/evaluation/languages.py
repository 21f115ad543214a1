"""Answer normalisation and tokenisation per language, for EM/F1 scoring.

SQuAD's official rules are written for English: they drop ASCII punctuation only and the
articles a/an/the, and split tokens on whitespace. Applied to another language they
mis-score answers: a Chinese answer has no spaces, so it is one token and F1 equals EM
(a prediction of 2 of an answer's 4 characters scores 0); full-width punctuation
(``，。！？``) and ``¿¡«»`` are kept, so ``北京。`` differs from ``北京``; and the target
language's articles (``la``, ``der``) count as tokens.

Cross-lingual benchmarks (MLQA, XQuAD) are scored with the MLQA official evaluation
script's rules (Lewis et al., 2020), reproduced here for every language but English:

1. lowercase;
2. remove every character of ``string.punctuation`` or of a Unicode punctuation category
   (``P*``);
3. remove the language's articles (whole words, replaced by a space): es ``un una unos unas
   el la los las``; de ``ein eine einen einem eines einer der die das den dem des``; vi
   ``của là cái chiếc những``; ar: every ``ال``, even inside a word (the script's regex
   ``\\sال^|ال`` can only match its second branch); hi and zh have none;
4. tokenise: on whitespace, except zh: "mixed segmentation", where each CJK character
   (U+4E00..U+9FA5) is a token and runs of other characters are split on whitespace;
5. the normalised text is the tokens joined by single spaces.

``en`` keeps SQuAD's official normalisation exactly (lowercase, drop
``string.punctuation``, drop a/an/the, collapse whitespace), so English scores stay the
numbers the SQuAD leaderboards report. The v1.1/v2.0 scoring rules themselves (empty
answers, no-answer questions) are :mod:`qa_lightning.evaluation.scoring`'s and do not
depend on the language.
"""

from __future__ import annotations

import functools
import re
import string
import sys
import unicodedata
from collections.abc import Callable

__all__ = [
    "SUPPORTED_LANGUAGES",
    "check_language",
    "mixed_segmentation",
    "normalize",
    "normalize_mlqa",
    "normalize_squad",
    "normalizer",
    "remove_articles",
    "remove_punctuation",
    "tokenize",
    "unicode_punctuation",
]

# -- en: SQuAD's official normalisation ------------------------------------------------------

_SQUAD_PUNCTUATION = frozenset(string.punctuation)
_SQUAD_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_squad(text: str) -> str:
    """Official SQuAD normalisation: lower, strip punctuation, drop articles, fix spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _SQUAD_PUNCTUATION)
    text = _SQUAD_ARTICLES.sub(" ", text)
    return " ".join(text.split())


# -- the other languages: the MLQA evaluation script's rules ---------------------------------

#: Each MLQA language's articles, as the script's regex alternatives (removed as whole
#: words); ar: see :func:`remove_articles`; hi and zh have none.
_ARTICLE_WORDS: dict[str, str] = {
    "es": "un|una|unos|unas|el|la|los|las",
    "de": "ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des",
    "vi": "của|là|cái|chiếc|những",
    "ar": "",
    "hi": "",
    "zh": "",
}
_ARTICLES = {
    language: re.compile(rf"\b({words})\b") for language, words in _ARTICLE_WORDS.items() if words
}
_ARABIC_ARTICLE = "ال"
#: The languages tokenised by mixed segmentation (the others on whitespace).
_MIXED_SEGMENTATION = frozenset({"zh"})
#: The CJK Unified Ideographs the MLQA script makes tokens of their own.
_CJK_FIRST, _CJK_LAST = "\u4e00", "\u9fa5"

#: Every language scored: ``en`` by SQuAD's rules, the others by MLQA's.
SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", *_ARTICLE_WORDS)


@functools.cache
def unicode_punctuation() -> frozenset[str]:
    """``string.punctuation`` and every character of a Unicode ``P*`` category (about 830
    characters; built on first use, in about 0.1 s)."""
    found = {
        ch for ch in map(chr, range(sys.maxunicode + 1)) if unicodedata.category(ch).startswith("P")
    }
    return frozenset(found.union(string.punctuation))


@functools.cache
def _punctuation_table() -> dict[int, None]:
    return dict.fromkeys(map(ord, unicode_punctuation()))


def remove_punctuation(text: str) -> str:
    """``text`` without any character of :func:`unicode_punctuation` (nothing replaces it)."""
    return text.translate(_punctuation_table())


def remove_articles(text: str, language: str) -> str:
    """``text`` with the articles of ``language`` replaced by a space.

    Arabic: the MLQA script's ``re.sub('\\sال^|ال', ' ', text)``. Its first branch never
    matches (``^`` after a character, without MULTILINE), so every ``ال`` is replaced,
    also inside words (``الكتاب`` -> `` كتاب``, ``جمال`` -> ``جم ``).
    """
    if language == "ar":
        return text.replace(_ARABIC_ARTICLE, " ")
    pattern = _ARTICLES.get(language)
    return pattern.sub(" ", text) if pattern is not None else text


def _is_cjk(ch: str) -> bool:
    return _CJK_FIRST <= ch <= _CJK_LAST


def mixed_segmentation(text: str) -> list[str]:
    """The MLQA script's Chinese tokens: each CJK character or punctuation character is a
    token of its own, the runs of other characters between them are split on whitespace
    (``"2008年 Beijing奥运"`` -> ``2008, 年, beijing, 奥, 运`` once lowercased)."""
    punctuation = unicode_punctuation()
    tokens: list[str] = []
    run_start = 0
    for i, ch in enumerate(text):
        if _is_cjk(ch) or ch in punctuation:
            tokens.extend(text[run_start:i].split())
            tokens.append(ch)
            run_start = i + 1
    tokens.extend(text[run_start:].split())
    return tokens


def tokenize(text: str, language: str) -> list[str]:
    """The tokens of (already lowercased, cleaned) ``text`` under ``language``'s rule."""
    if language in _MIXED_SEGMENTATION:
        return mixed_segmentation(text)
    return text.split()


def normalize_mlqa(text: str, language: str) -> str:
    """The MLQA script's ``normalize_answer``: lower, remove punctuation, remove articles,
    tokenise, join the non-empty tokens with single spaces."""
    text = remove_articles(remove_punctuation(text.lower()), language)
    return " ".join(t for t in tokenize(text, language) if t.strip())


# -- choosing the rules ------------------------------------------------------------------------

# Memoised: every validation scores the same gold answers again (and each pair twice, for
# EM and F1), a third of scoring's time; the rules are pure functions of the text.
_NORMALIZERS: dict[str, Callable[[str], str]] = {
    "en": functools.lru_cache(maxsize=1 << 16)(normalize_squad),
    **{
        language: functools.lru_cache(maxsize=1 << 16)(
            functools.partial(normalize_mlqa, language=language)
        )
        for language in _ARTICLE_WORDS
    },
}


def check_language(language: str) -> str:
    """``language`` if it is scored here, else a ``ValueError`` naming the languages."""
    if isinstance(language, str) and language in _NORMALIZERS:
        return language
    raise ValueError(
        f"answer language {language!r} is not supported; use one of "
        f"{', '.join(SUPPORTED_LANGUAGES)}"
    )


def normalizer(language: str = "en") -> Callable[[str], str]:
    """The function that normalises an answer under ``language``'s rules (text -> text
    whose whitespace-split tokens are the scoring tokens)."""
    return _NORMALIZERS[check_language(language)]


def normalize(text: str, language: str = "en") -> str:
    """``text`` normalised under ``language``'s rules (see the module docstring)."""
    return normalizer(language)(text)
