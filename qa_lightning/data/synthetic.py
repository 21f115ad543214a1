"""A deterministic generator of small, learnable SQuAD-style examples.

Each context is a paragraph about one to three made-up entities (rivers, people, towns),
stating some of their attributes in templated sentences mixed with filler sentences.
Questions ask for one attribute of one entity (who / where / when / how many / what), so the
answer is a span of the sentence that states it; offsets are computed while the paragraph is
built, so every ``answer_start`` is correct by construction. Unanswerable questions ask about
an attribute that the paragraph does not state for that entity (SQuAD 2.0 style). About a
fifth of the contexts are long (over ~200 words: several windows at ``max_length=128``).

The vocabulary and templates are fixed (``synthetic_vocabulary.py``), so the same seed gives
the same dataset everywhere.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import datasets

from qa_lightning.data.checks import check_synthetic
from qa_lightning.data.synthetic_vocabulary import (
    FILLERS,
    FIRST_NAMES,
    GOODS,
    LAST_NAMES,
    MOUNTAINS,
    NUMBER_FILLERS,
    ORGS,
    PERSON_ATTRS,
    PRIZES,
    PROVINCES,
    RIVER_ATTRS,
    RIVERS,
    SEAS,
    TOPICS,
    TOWN_ATTRS,
    TOWNS,
    Attribute,
)
from qa_lightning.data.validation import examples_from_columns

__all__ = ["LONG_CONTEXT_FRACTION", "make_synthetic_squad"]

#: The share of contexts that are padded with filler to well over 200 words.
LONG_CONTEXT_FRACTION = 0.2


@dataclass
class _Entity:
    kind: str
    name: str  # how sentences and questions refer to it
    title: str
    attrs: tuple[Attribute, ...]
    values: dict[str, str]
    extra: dict[str, str]  # other slots in the templates ({topic}, {prize})


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _year(rng: random.Random) -> str:
    return str(rng.randint(1150, 1985))


def _make_entity(rng: random.Random, kind: str, used: set[str]) -> _Entity:
    def fresh(pick) -> str:
        for _ in range(50):
            value = pick()
            if value not in used:
                break
        used.add(value)
        return value

    if kind == "river":
        name = fresh(lambda: rng.choice(RIVERS))
        values = {
            "city": rng.choice(TOWNS),
            "length": str(rng.randint(40, 990)),
            "source": rng.choice(MOUNTAINS),
            "mapper": fresh(lambda: _person(rng)),
            "year": _year(rng),
            "bridges": str(rng.randint(2, 40)),
            "sea": rng.choice(SEAS),
        }
        return _Entity(kind, name, f"{name} (river)", RIVER_ATTRS, values, {})
    if kind == "person":
        name = fresh(lambda: _person(rng))
        values = {
            "birthplace": rng.choice(TOWNS),
            "birthyear": _year(rng),
            "teacher": fresh(lambda: _person(rng)),
            "books": str(rng.randint(2, 60)),
            "org": rng.choice(ORGS),
            "deathplace": rng.choice(TOWNS),
            "prizeyear": _year(rng),
        }
        extra = {"topic": rng.choice(TOPICS), "prize": rng.choice(PRIZES)}
        return _Entity(kind, name, name, PERSON_ATTRS, values, extra)
    name = fresh(lambda: rng.choice(TOWNS))
    values = {
        "province": rng.choice(PROVINCES),
        "population": f"{rng.randint(2, 950) * 100:,}",
        "founded": _year(rng),
        "founder": fresh(lambda: _person(rng)),
        "river": rng.choice(RIVERS),
        "towers": str(rng.randint(2, 25)),
        "goods": rng.choice(GOODS),
    }
    return _Entity(kind, name, name, TOWN_ATTRS, values, {})


def _fillers(rng: random.Random, n: int) -> list[str]:
    """``n`` filler sentences, no plain one repeated; about a third carry distractor numbers."""
    n_numbers = sum(rng.random() < 0.3 for _ in range(n))
    plain = rng.sample(FILLERS, min(n - n_numbers, len(FILLERS)))
    numbers = [
        rng.choice(NUMBER_FILLERS).format(n=rng.randint(12, 900), year=_year(rng))
        for _ in range(n - len(plain))
    ]
    return plain + numbers


def _make_block(rng: random.Random, n_answerable: int, n_unanswerable: int, long: bool):
    """One context: (title, context, [(question, answer_text | None, answer_start | None)])."""
    kind = rng.choice(("river", "person", "town"))
    n_entities = rng.choice((2, 3)) if long else rng.choice((1, 1, 2))
    used: set[str] = set()
    entities = [_make_entity(rng, kind, used) for _ in range(n_entities)]

    # Each entity states some of its attributes; at least one is left unstated.
    stated: list[tuple[_Entity, Attribute]] = []
    unstated: list[tuple[_Entity, Attribute]] = []
    for entity in entities:
        attrs = list(entity.attrs)
        rng.shuffle(attrs)
        k = rng.randint(3, len(attrs) - 1)
        stated += [(entity, a) for a in attrs[:k]]
        unstated += [(entity, a) for a in attrs[k:]]

    # Sentences: (text, key of the fact it states or None), shuffled with filler.
    sentences: list[tuple[str, tuple[str, str] | None, int]] = []
    for entity, attr in stated:
        marked = attr.statement.format(name=entity.name, ans="\x00", **entity.extra)
        offset = marked.index("\x00")
        text = marked.replace("\x00", entity.values[attr.name])
        sentences.append((text, (entity.name, attr.name), offset))
    n_fill = rng.randint(17, 26) if long else rng.randint(0, 3)
    sentences += [(text, None, -1) for text in _fillers(rng, n_fill)]
    rng.shuffle(sentences)

    context_parts: list[str] = []
    fact_start: dict[tuple[str, str], int] = {}
    pos = 0
    for text, key, offset in sentences:
        if context_parts:
            pos += 1  # the joining space
        if key is not None:
            fact_start[key] = pos + offset
        context_parts.append(text)
        pos += len(text)
    context = " ".join(context_parts)

    qas: list[tuple[str, str | None, int | None]] = []
    for pool, count, answerable in (
        (stated, n_answerable, True),
        (unstated, n_unanswerable, False),
    ):
        picks = rng.sample(pool, min(count, len(pool)))
        picks += [rng.choice(pool) for _ in range(count - len(picks))]
        for entity, attr in picks:
            question = rng.choice(attr.questions).format(name=entity.name, **entity.extra)
            if answerable:
                answer = entity.values[attr.name]
                qas.append((question, answer, fact_start[(entity.name, attr.name)]))
            else:
                qas.append((question, None, None))
    rng.shuffle(qas)
    return entities[0].title, context, qas


def make_synthetic_squad(
    n_examples: int,
    *,
    seed: int = 0,
    unanswerable_fraction: float = 0.0,
    id_prefix: str = "syn",
) -> datasets.Dataset:
    """``n_examples`` synthetic SQuAD-style examples (ids ``f"{id_prefix}-{i}"``).

    Deterministic for a seed. Contexts carry 2-6 questions each; about
    :data:`LONG_CONTEXT_FRACTION` of them are long. ``round(n_examples *
    unanswerable_fraction)`` questions are unanswerable (empty answers).
    """
    # the config's own check (data.synthetic), with this function's argument names
    check_synthetic(
        n_examples, unanswerable_fraction, key="make_synthetic_squad", count="n_examples"
    )
    rng = random.Random(f"qa-lightning-synthetic-{seed}")
    n_unanswerable = round(n_examples * float(unanswerable_fraction))
    is_unanswerable = [True] * n_unanswerable + [False] * (n_examples - n_unanswerable)
    rng.shuffle(is_unanswerable)

    columns: dict[str, list] = {
        "id": [],
        "title": [],
        "context": [],
        "question": [],
        "answers": [],
    }
    i = 0
    while i < n_examples:
        size = min(rng.randint(2, 6), n_examples - i)
        n_unans = sum(is_unanswerable[i : i + size])
        long = rng.random() < LONG_CONTEXT_FRACTION
        title, context, qas = _make_block(rng, size - n_unans, n_unans, long)
        for question, answer, start in qas:
            columns["id"].append(f"{id_prefix}-{i}")
            columns["title"].append(title)
            columns["context"].append(context)
            columns["question"].append(question)
            if answer is None:
                columns["answers"].append({"text": [], "answer_start": []})
            else:
                columns["answers"].append({"text": [answer], "answer_start": [start]})
            i += 1
    return examples_from_columns(columns)
