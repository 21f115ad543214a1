"""Language-aware answer normalisation: en keeps SQuAD's rules bit for bit, the other
languages follow the MLQA evaluation script (Unicode punctuation, the language's articles,
zh split into characters). Expected values are worked out by hand in the comments."""

from __future__ import annotations

import random
import re
import string
import sys
import unicodedata
from pathlib import Path

import pytest

from qa_lightning.config import LANGUAGES
from qa_lightning.evaluation import normalize_answer, squad_scores
from qa_lightning.evaluation.languages import (
    SUPPORTED_LANGUAGES,
    mixed_segmentation,
    remove_articles,
    unicode_punctuation,
)
from qa_lightning.evaluation.scoring import (
    exact_match_v1,
    f1_v1,
    f1_v2,
    get_tokens,
    per_question_scores,
    score_prediction,
)
from tests.evaluation.builders import make_examples

XQUAD = Path(__file__).resolve().parents[3] / "shared" / "data" / "xquad"


def ex(answers):
    """Examples whose only relevant field is the gold answers (start offsets unused)."""
    return make_examples(["ctx"] * len(answers), [[(a, 0) for a in golds] for golds in answers])


def scores(pred: str, gold: str, language: str) -> tuple[float, float]:
    """(EM, F1) of one prediction against one gold answer, SQuAD v1.1 rules."""
    return (
        exact_match_v1(pred, gold, language=language),
        f1_v1(pred, gold, language=language),
    )


# -- the languages ----------------------------------------------------------------------------


def test_the_config_s_closed_set_is_the_scorer_s_languages():
    """config/data.py cannot import the evaluation layer: the two lists are kept equal here."""
    assert LANGUAGES == SUPPORTED_LANGUAGES == ("en", "es", "de", "vi", "ar", "hi", "zh")


@pytest.mark.parametrize("language", ["xx", "EN", "fr", "", None])
def test_an_unknown_language_is_refused_naming_the_supported_ones(language):
    message = r"use one of en, es, de, vi, ar, hi, zh$"
    with pytest.raises(ValueError, match=message):
        normalize_answer("x", language=language)
    with pytest.raises(ValueError, match=message):
        f1_v2("x", "x", language=language)
    # refused up front, even where there is nothing to score
    with pytest.raises(ValueError, match=message):
        squad_scores([], {}, version_2=False, language=language)


# -- en: exactly the old rules -----------------------------------------------------------------

_OLD_PUNCTUATION = frozenset(string.punctuation)
_OLD_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def old_normalize_answer(text: str) -> str:
    """scoring.normalize_answer before languages existed, copied verbatim."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _OLD_PUNCTUATION)
    text = _OLD_ARTICLES.sub(" ", text)
    return " ".join(text.split())


SAMPLE_PIECES = [
    "The",
    "a",
    "an",
    "Eiffel",
    "tower's",
    "U.S.A.",
    "北京。",
    "¿Dónde?",
    "«Paris»",
    "la",
    "der",
    "الكتاب",
    "2008年",
    "  ",
    "\t",
    "-",
    "(1976)",
    "Café",
    "—",
    "！",
]


def sample_strings(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(SAMPLE_PIECES, k=rng.randint(0, 6))) for _ in range(n)]


def test_en_normalisation_is_the_old_function_on_a_sample():
    texts = sample_strings(500)
    for text in texts:
        expected = old_normalize_answer(text)
        assert normalize_answer(text) == expected, text
        assert normalize_answer(text, language="en") == expected, text
    # the sample does exercise what en leaves in and takes out
    assert old_normalize_answer("¿Dónde? 北京。") == "¿dónde 北京。"


def test_en_scores_are_bit_identical_with_and_without_the_keyword():
    rng = random.Random(1)
    texts = sample_strings(200, seed=2)
    answers = [rng.sample(texts, k=rng.randint(0, 3)) for _ in range(120)]
    predictions = {f"q{i}": rng.choice(texts) for i in range(120)}
    examples = ex(answers)
    for version_2 in (False, True):
        plain = squad_scores(examples, predictions, version_2=version_2)
        en = squad_scores(examples, predictions, version_2=version_2, language="en")
        assert plain == en  # floats compared exactly
        assert 0 < plain["f1"] < 100


# -- punctuation ------------------------------------------------------------------------------


def test_unicode_punctuation_is_every_p_category_and_ascii_punctuation():
    punct = unicode_punctuation()
    assert (
        set("，。！？（）¿¡«»「」、・।") <= punct
    )  # full-width, Spanish, CJK, Devanagari (Po/Ps/Pe/Pi/Pf)
    assert set(string.punctuation) <= punct  # "$+<=>^`|~" are symbols (S*), kept by the union
    assert not set("€£¥°©") & punct  # other symbols stay
    assert all(unicodedata.category(ch)[0] == "P" for ch in punct - set(string.punctuation))
    assert 800 < len(punct) < 900


def test_full_width_punctuation():
    # zh: "。" is Unicode punctuation (Po), removed -> "北 京" on both sides: EM 1, F1 1
    assert scores("北京。", "北京", "zh") == (1.0, 1.0)
    # en: "。" is not in string.punctuation -> "北京。" vs "北京", one token each: 0 / 0
    assert scores("北京。", "北京", "en") == (0.0, 0.0)
    # es: "¿" and "?" both go -> "dónde" == "dónde"; en keeps "¿" -> "¿dónde" != "dónde"
    assert scores("¿Dónde?", "dónde", "es") == (1.0, 1.0)
    assert scores("¿Dónde?", "dónde", "en") == (0.0, 0.0)
    # hi: the danda "।" (Po) goes under hi only
    assert scores("भारत।", "भारत", "hi") == (1.0, 1.0)
    assert scores("भारत।", "भारत", "en") == (0.0, 0.0)
    # a symbol is never punctuation: "€" stays in both rule sets
    assert normalize_answer("5 €", language="es") == "5 €"


# -- articles ---------------------------------------------------------------------------------


def test_spanish_articles():
    # es: "la" is an article -> "casa" == "casa": EM 1, F1 1
    assert scores("la casa", "casa", "es") == (1.0, 1.0)
    # en: "la" is a token: EM 0; common {casa} = 1, P = 1/2, R = 1/1 -> F1 = 2*.5*1/1.5 = 2/3
    em, f1 = scores("la casa", "casa", "en")
    assert em == 0.0 and f1 == pytest.approx(2 / 3)
    # and the other way round: "a" is an English article, a Spanish preposition
    assert scores("a casa", "casa", "en") == (1.0, 1.0)
    em, f1 = scores("a casa", "casa", "es")
    assert em == 0.0 and f1 == pytest.approx(2 / 3)  # [a, casa] vs [casa]: as above
    assert normalize_answer("Los Ángeles y El Niño", language="es") == "ángeles y niño"


def test_german_articles_are_whole_words():
    # de: "der" removed -> "rhein" == "rhein"; en: [der, rhein] vs [rhein] -> 0 / 2/3
    assert scores("der Rhein", "Rhein", "de") == (1.0, 1.0)
    em, f1 = scores("der Rhein", "Rhein", "en")
    assert em == 0.0 and f1 == pytest.approx(2 / 3)
    # "dieser" and "dessen" contain articles but are not articles; "des" and "die" are
    assert normalize_answer("Dieser Vertrag des Rates, dessen Die", language="de") == (
        "dieser vertrag rates dessen"
    )


def test_vietnamese_articles():
    # vi: "của" removed -> "nhà tôi" == "nhà tôi"; en: [nhà, của, tôi] vs [nhà, tôi]:
    # common 2, P = 2/3, R = 1 -> F1 = 2*(2/3)/(5/3) = 4/5
    assert scores("Nhà của tôi", "nhà tôi", "vi") == (1.0, 1.0)
    em, f1 = scores("Nhà của tôi", "nhà tôi", "en")
    assert em == 0.0 and f1 == pytest.approx(4 / 5)


def test_arabic_al_is_removed_everywhere_like_the_mlqa_regex():
    # the article prefix: "الكتاب" -> " كتاب" -> "كتاب"
    assert normalize_answer("الكتاب", language="ar") == "كتاب"
    assert scores("كتاب", "الكتاب", "ar") == (1.0, 1.0)
    assert scores("كتاب", "الكتاب", "en") == (0.0, 0.0)
    # also inside a word, as the script does: "جمال" (beauty) -> "جم " -> "جم"
    assert normalize_answer("جمال", language="ar") == "جم"
    # a word with "ال" in the middle is cut in two: "فالكتاب" -> "ف كتاب" (2 tokens)
    assert get_tokens("فالكتاب", language="ar") == ["ف", "كتاب"]
    # the script's own regex, on the sample strings: the same text
    script = re.compile(r"\sال^|ال")
    for text in [*sample_strings(200, seed=3), "ال", " ال", "الال", "\nال"]:
        assert remove_articles(text, "ar") == script.sub(" ", text), text


@pytest.mark.parametrize("language", ["hi", "zh"])
def test_hindi_and_chinese_have_no_articles(language):
    assert remove_articles("the la der của ال", language) == "the la der của ال"


# -- zh: mixed segmentation -------------------------------------------------------------------


def test_chinese_gets_partial_credit():
    # zh: pred [北, 京], gold [北, 京, 大, 学]: common 2, P = 2/2, R = 2/4
    #     F1 = 2 * 1 * 0.5 / 1.5 = 2/3; EM 0
    em, f1 = scores("北京", "北京大学", "zh")
    assert em == 0.0 and f1 == pytest.approx(2 / 3)
    # en: one token each ("北京" vs "北京大学"), no common token: F1 = 0 = EM
    assert scores("北京", "北京大学", "en") == (0.0, 0.0)


def test_mixed_segmentation_splits_cjk_characters_and_keeps_latin_runs():
    assert get_tokens("2008年北京奥运会", language="zh") == [
        "2008",
        "年",
        "北",
        "京",
        "奥",
        "运",
        "会",
    ]
    assert normalize_answer("iPhone手机 Pro Max版", language="zh") == "iphone 手 机 pro max 版"
    # punctuation is removed before segmentation; on its own, it is a token too
    assert normalize_answer("“北京”，中国", language="zh") == "北 京 中 国"
    assert mixed_segmentation("a。b") == ["a", "。", "b"]
    # the script's range is U+4E00..U+9FA5: "龥" (U+9FA5) is split, "龦" (U+9FA6) is not
    assert get_tokens("龥龥", language="zh") == ["龥", "龥"]
    assert get_tokens("龦龦", language="zh") == ["龦龦"]
    # en and the whitespace languages keep the whole run as one token
    assert get_tokens("2008年北京奥运会", language="en") == ["2008年北京奥运会"]
    assert get_tokens("2008年北京奥运会", language="es") == ["2008年北京奥运会"]


def test_mixed_chinese_f1():
    # gold 7 tokens [2008, 年, 北, 京, 奥, 运, 会], pred "北京奥运会" 5 tokens, all common:
    # P = 5/5, R = 5/7 -> F1 = 2 * (5/7) / (12/7) = 10/12 = 5/6
    em, f1 = scores("北京奥运会", "2008年北京奥运会", "zh")
    assert em == 0.0 and f1 == pytest.approx(5 / 6)
    # a wrong year: pred [2009, 年, 北, 京] vs the same gold: common 3 (年 北 京),
    # P = 3/4, R = 3/7 -> F1 = 2 * (9/28) / (33/28) = 18/33 = 6/11
    assert f1_v1("2009年北京", "2008年北京奥运会", language="zh") == pytest.approx(6 / 11)


# -- v1.1 / v2.0 rules with a language -------------------------------------------------------


def test_v2_drops_a_gold_that_normalises_to_nothing_under_its_language():
    # gold "。": under zh it normalises to "" -> v2 keeps no gold text -> the gold is "";
    #   the prediction "" then scores EM 1, F1 1 (both sides empty)
    assert score_prediction("", ["。"], version_2=True, language="zh") == (1.0, 1.0)
    # under en "。" stays a token: "" vs "。" -> EM 0, F1 0
    assert score_prediction("", ["。"], version_2=True, language="en") == (0.0, 0.0)
    # v1.1 under zh: EM compares "" == "" -> 1; F1 has no common token -> 0 (as for en "the")
    assert score_prediction("", ["。"], version_2=False, language="zh") == (1.0, 0.0)
    # a real gold beside it is kept and the dropped one no longer helps ""
    assert score_prediction("", ["。", "北京"], version_2=True, language="zh") == (0.0, 0.0)


def test_v2_scores_with_a_language():
    examples = ex([["。"], ["北京大学"], []])
    # q0: HasAns (raw list non-empty), gold dropped -> "" right: 1 / 1 under zh; 0 / 0 en
    # q1: "北京" -> zh 0 / 2/3; en 0 / 0
    # q2: NoAns, pred "" -> 1 / 1 in both
    predictions = {"q0": "", "q1": "北京", "q2": ""}
    zh = squad_scores(examples, predictions, version_2=True, language="zh")
    assert zh["HasAns_total"] == 2 and zh["NoAns_total"] == 1
    assert zh["exact"] == pytest.approx(100 * (1 + 0 + 1) / 3)
    assert zh["f1"] == pytest.approx(100 * (1 + 2 / 3 + 1) / 3)
    assert zh["HasAns_f1"] == pytest.approx(100 * (1 + 2 / 3) / 2)
    en = squad_scores(examples, predictions, version_2=True)
    assert en["exact"] == en["f1"] == pytest.approx(100 / 3)
    pq = per_question_scores(examples, predictions, version_2=True, language="zh")
    assert pq.f1.tolist() == pytest.approx([1.0, 2 / 3, 1.0])


# -- the MLQA script itself, transcribed, as a second opinion ----------------------------------

_MLQA_PUNCT = {
    chr(i) for i in range(sys.maxunicode) if unicodedata.category(chr(i)).startswith("P")
}.union(string.punctuation)
_MLQA_ARTICLES = {
    "es": r"\b(un|una|unos|unas|el|la|los|las)\b",
    "vi": r"\b(của|là|cái|chiếc|những)\b",
    "de": r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b",
    "ar": r"\sال^|ال",
}


def mlqa_normalize_answer(s: str, lang: str) -> str:
    """The MLQA script's normalize_answer, written the script's way (a character loop with
    a temporary string) to check ours against."""
    s = "".join(ch for ch in s.lower() if ch not in _MLQA_PUNCT)
    if lang in _MLQA_ARTICLES:
        s = re.sub(_MLQA_ARTICLES[lang], " ", s)
    if lang == "zh":
        tokens, temp = [], ""
        for char in s:
            if re.search(r"[\u4e00-\u9fa5]", char) or char in _MLQA_PUNCT:
                if temp != "":
                    tokens.extend(temp.split())
                    temp = ""
                tokens.append(char)
            else:
                temp += char
        if temp != "":
            tokens.extend(temp.split())
    else:
        tokens = s.split()
    return " ".join(t for t in tokens if t.strip() != "")


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_every_language_agrees_with_the_transcribed_script(language):
    for text in sample_strings(300, seed=4):
        assert normalize_answer(text, language=language) == mlqa_normalize_answer(text, language), (
            text
        )


# -- real data --------------------------------------------------------------------------------


def _xquad(language: str):
    path = XQUAD / f"xquad.{language}.json"
    if not path.is_file():
        pytest.skip(f"{path} is not here")
    from qa_lightning.data import read_squad_json

    return read_squad_json(str(path))


@pytest.mark.parametrize("language", ["zh", "es"])
def test_xquad_answers_normalise_like_the_script(language):
    examples = _xquad(language)
    texts = [t for answers in examples["answers"] for t in answers["text"]]
    assert len(texts) >= 1190
    for text in texts:
        assert normalize_answer(text, language=language) == mlqa_normalize_answer(text, language), (
            text
        )


def test_xquad_zh_truncated_answers_get_partial_credit_only_under_zh():
    examples = _xquad("zh")
    golds = {qid: a["text"][0] for qid, a in zip(examples["id"], examples["answers"], strict=True)}
    truncated = {qid: text[: max(1, 2 * len(text) // 3)] for qid, text in golds.items()}
    assert squad_scores(examples, golds, version_2=False, language="zh")["exact"] == 100.0
    en = squad_scores(examples, truncated, version_2=False)
    zh = squad_scores(examples, truncated, version_2=False, language="zh")
    # en: a Chinese answer is one token, so a cut answer scores (almost) nothing
    assert en["f1"] < 10 < 50 < zh["f1"] < 90
