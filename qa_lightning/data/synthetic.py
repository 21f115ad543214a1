"""A deterministic generator of small, learnable SQuAD-style examples.

Each context is a paragraph about one to three made-up entities (rivers, people, towns),
stating some of their attributes in templated sentences mixed with filler sentences.
Questions ask for one attribute of one entity (who / where / when / how many / what), so the
answer is a span of the sentence that states it; offsets are computed while the paragraph is
built, so every ``answer_start`` is correct by construction. Unanswerable questions ask about
an attribute that the paragraph does not state for that entity (SQuAD 2.0 style). About a
fifth of the contexts are long (over ~200 words: several windows at ``max_length=128``).

The vocabulary is fixed in this file, so the same seed gives the same dataset everywhere.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import datasets

from qa_lightning.data.checks import check_synthetic
from qa_lightning.data.validation import examples_from_columns

__all__ = ["LONG_CONTEXT_FRACTION", "make_synthetic_squad"]

#: The share of contexts that are padded with filler to well over 200 words.
LONG_CONTEXT_FRACTION = 0.2

# --------------------------------------------------------------------------- vocabulary

_FIRST_NAMES = (
    "Ilse", "Marten", "Odile", "Bram", "Sabine", "Tobias", "Lena", "Casimir", "Anouk", "Joris",
    "Elodie", "Fenna", "Gideon", "Hester", "Ivo", "Katrien", "Lucas", "Mirre", "Niels", "Oona",
    "Pieter", "Rosalind", "Silas", "Tamsin", "Ulrich", "Vera", "Wendel", "Yara", "Zeno", "Agnes",
)  # fmt: skip
_LAST_NAMES = (
    "Marrow", "Vandel", "Okonkwo", "Teller", "Brandt", "Hollis", "Quist", "Fairweather", "Lindqvist",
    "Dorn", "Aster", "Kestrel", "Mereweather", "Ravel", "Stroud", "Thorne", "Ulven", "Wick",
    "Ashby", "Calder", "Drummond", "Everly", "Fenwick", "Garrow", "Harlan", "Ingram", "Jessup",
)  # fmt: skip
_TOWNS = (
    "Velden", "Corvath", "Ambleton", "Brisk", "Dunmarrow", "Eskerby", "Farrowgate", "Glimmerholt",
    "Harrowfield", "Istrel", "Jorvale", "Kestwick", "Lornhaven", "Morrowdale", "Norgate", "Ostrava",
    "Pellmoor", "Quillon", "Rookham", "Saltmere", "Tavistal", "Umberlee", "Vorne", "Westerhal",
)  # fmt: skip
_RIVERS = (
    "Ombra", "Lis", "Tavel", "Sorrow", "Brenne", "Aldra", "Kelvane", "Morva", "Quenne", "Rillet",
    "Sarn", "Tiva", "Ulla", "Varre", "Wend", "Yselle", "Zora", "Drava", "Elsk", "Fennel",
)  # fmt: skip
_MOUNTAINS = (
    "Korath", "Grey Fell", "Ashen", "Hollow Crown", "Varn", "Silverback", "Tallow", "Eldmark",
    "Frost Teeth", "Brannoch",
)  # fmt: skip
_SEAS = ("Amber", "Northern", "Glass", "Pale", "Salt", "Morning", "Iron", "Quiet")
_PROVINCES = (
    "Westmark", "Oldreach", "Lowfen", "Highmoor", "Brackenshire", "Eastvale", "Sunder", "Marl",
)  # fmt: skip
_ORGS = (
    "Society of Lantern Makers", "Velden Institute of Optics", "Guild of Cartographers",
    "Northern Botanical Society", "Academy of Clockwork", "Harbour Observatory",
    "School of River Engineering", "College of Glass Arts", "Order of Map Readers",
)  # fmt: skip
_PRIZES = ("Halden", "Orrery", "Tessel", "Brightwater", "Copperfield")
_TOPICS = ("bird migration", "tidal clocks", "mountain lichens", "old maps", "glass lenses",
           "river floods", "star charts", "bee keeping")  # fmt: skip
_GOODS = ("wool", "salt", "glassware", "clocks", "cheese", "copper pots", "paper", "rope")

_FILLERS = (
    "The surrounding countryside is known for its orchards and low stone walls.",
    "Local markets are held every week during the summer months.",
    "Several historians have written about the area and its customs.",
    "Travellers often describe the landscape as quiet and green.",
    "In the winter, fog settles over the valley for days at a time.",
    "Old records from the period are kept in a small archive.",
    "Many of the older houses are built from pale yellow stone.",
    "The region was long a meeting point for merchants from the coast.",
    "A narrow road links the area to the larger towns of the south.",
    "Farmers in the district grow barley, beans and apples.",
    "The climate is mild, with wet springs and dry autumns.",
    "Visitors come each year to walk the old trails through the hills.",
    "A number of small chapels stand along the main road.",
    "Songs about the area are still sung at village festivals.",
    "The local dialect has many words for different kinds of rain.",
    "Most families in the district have lived there for generations.",
    "A weekly newspaper reports on events in the nearby villages.",
    "During the summer, the meadows are full of wild flowers.",
    "The area was surveyed again by a team of engineers some years later.",
    "Its name is said to come from an old word for a crossing.",
)
_NUMBER_FILLERS = (
    "Around {n} visitors come to the festival each spring.",
    "A storm in {year} damaged many of the roofs in the district.",
    "The old mill, built in {year}, still stands by the road.",
    "The market square is lined with {n} linden trees.",
    "A census in {year} counted {n} farms in the surrounding district.",
)


@dataclass(frozen=True)
class _Attribute:
    name: str
    statement: str  # with {name} for the entity and {ans} for the answer span
    questions: tuple[str, ...]  # with {name}


_RIVER_ATTRS = (
    _Attribute(
        "city",
        "The river {name} flows through the city of {ans}.",
        ("Which city does the river {name} flow through?",
         "Through which city does the {name} flow?"),
    ),
    _Attribute(
        "length",
        "The {name} is {ans} kilometres long.",
        ("How many kilometres long is the river {name}?",
         "What is the length of the {name} in kilometres?"),
    ),
    _Attribute(
        "source",
        "The {name} rises in the {ans} Mountains.",
        ("In which mountains does the {name} rise?",
         "Where is the source of the river {name}?"),
    ),
    _Attribute(
        "mapper",
        "The {name} was first mapped by the explorer {ans}.",
        ("Who first mapped the river {name}?", "Which explorer mapped the {name} first?"),
    ),
    _Attribute(
        "year",
        "The course of the {name} was recorded in {ans}.",
        ("When was the course of the {name} recorded?",
         "In what year was the course of the river {name} recorded?"),
    ),
    _Attribute(
        "bridges",
        "There are {ans} bridges across the {name}.",
        ("How many bridges cross the {name}?", "How many bridges span the river {name}?"),
    ),
    _Attribute(
        "sea",
        "The {name} empties into the {ans} Sea.",
        ("Into which sea does the {name} empty?", "Where does the river {name} end?"),
    ),
)  # fmt: skip
_PERSON_ATTRS = (
    _Attribute(
        "birthplace",
        "{name} was born in the town of {ans}.",
        ("Where was {name} born?", "In which town was {name} born?"),
    ),
    _Attribute(
        "birthyear",
        "{name} was born in the year {ans}.",
        ("When was {name} born?", "In what year was {name} born?"),
    ),
    _Attribute(
        "teacher",
        "As a student, {name} studied under {ans}.",
        ("Who taught {name}?", "Under whom did {name} study?"),
    ),
    _Attribute(
        "books",
        "{name} wrote {ans} books about {topic}.",
        ("How many books did {name} write?", "How many books were written by {name}?"),
    ),
    _Attribute(
        "org",
        "{name} founded the {ans}.",
        ("What did {name} found?", "Which society was founded by {name}?"),
    ),
    _Attribute(
        "deathplace",
        "{name} spent the last years of their life in {ans}.",
        ("Where did {name} spend their last years?", "In which town did {name} live at the end?"),
    ),
    _Attribute(
        "prizeyear",
        "{name} received the {prize} Prize in {ans}.",
        ("When did {name} receive the {prize} Prize?",
         "In which year was {name} given the {prize} Prize?"),
    ),
)  # fmt: skip
_TOWN_ATTRS = (
    _Attribute(
        "province",
        "{name} is a town in the province of {ans}.",
        ("In which province is {name}?", "Where is the town of {name}?"),
    ),
    _Attribute(
        "population",
        "{name} has a population of {ans} people.",
        ("How many people live in {name}?", "What is the population of {name}?"),
    ),
    _Attribute(
        "founded",
        "The town of {name} was founded in {ans}.",
        ("When was {name} founded?", "In what year was the town of {name} founded?"),
    ),
    _Attribute(
        "founder",
        "{name} was founded by the merchant {ans}.",
        ("Who founded {name}?", "Which merchant founded the town of {name}?"),
    ),
    _Attribute(
        "river",
        "The river {ans} runs along the northern edge of {name}.",
        ("Which river runs along the edge of {name}?", "What river flows past {name}?"),
    ),
    _Attribute(
        "towers",
        "{name} has {ans} stone towers.",
        ("How many stone towers does {name} have?", "How many towers stand in {name}?"),
    ),
    _Attribute(
        "goods",
        "{name} is best known for its {ans}.",
        ("What is {name} best known for?", "What is the town of {name} famous for?"),
    ),
)  # fmt: skip


@dataclass
class _Entity:
    kind: str
    name: str  # how sentences and questions refer to it
    title: str
    attrs: tuple[_Attribute, ...]
    values: dict[str, str]
    extra: dict[str, str]  # other slots in the templates ({topic}, {prize})


def _person(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"


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
        name = fresh(lambda: rng.choice(_RIVERS))
        values = {
            "city": rng.choice(_TOWNS),
            "length": str(rng.randint(40, 990)),
            "source": rng.choice(_MOUNTAINS),
            "mapper": fresh(lambda: _person(rng)),
            "year": _year(rng),
            "bridges": str(rng.randint(2, 40)),
            "sea": rng.choice(_SEAS),
        }
        return _Entity(kind, name, f"{name} (river)", _RIVER_ATTRS, values, {})
    if kind == "person":
        name = fresh(lambda: _person(rng))
        values = {
            "birthplace": rng.choice(_TOWNS),
            "birthyear": _year(rng),
            "teacher": fresh(lambda: _person(rng)),
            "books": str(rng.randint(2, 60)),
            "org": rng.choice(_ORGS),
            "deathplace": rng.choice(_TOWNS),
            "prizeyear": _year(rng),
        }
        extra = {"topic": rng.choice(_TOPICS), "prize": rng.choice(_PRIZES)}
        return _Entity(kind, name, name, _PERSON_ATTRS, values, extra)
    name = fresh(lambda: rng.choice(_TOWNS))
    values = {
        "province": rng.choice(_PROVINCES),
        "population": f"{rng.randint(2, 950) * 100:,}",
        "founded": _year(rng),
        "founder": fresh(lambda: _person(rng)),
        "river": rng.choice(_RIVERS),
        "towers": str(rng.randint(2, 25)),
        "goods": rng.choice(_GOODS),
    }
    return _Entity(kind, name, name, _TOWN_ATTRS, values, {})


def _fillers(rng: random.Random, n: int) -> list[str]:
    """``n`` filler sentences, no plain one repeated; about a third carry distractor numbers."""
    n_numbers = sum(rng.random() < 0.3 for _ in range(n))
    plain = rng.sample(_FILLERS, min(n - n_numbers, len(_FILLERS)))
    numbers = [
        rng.choice(_NUMBER_FILLERS).format(n=rng.randint(12, 900), year=_year(rng))
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
    stated: list[tuple[_Entity, _Attribute]] = []
    unstated: list[tuple[_Entity, _Attribute]] = []
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
