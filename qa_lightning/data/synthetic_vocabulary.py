"""The fixed vocabulary and templates of the synthetic data (``synthetic.py``): made-up
names, filler sentences, and for each kind of entity the attributes it may state, each with
its sentence and the questions that ask for it.

Fixed here, so that the same seed gives the same dataset everywhere: an edit changes every
synthetic dataset (and the features cached from it).
"""

from __future__ import annotations

from dataclasses import dataclass

FIRST_NAMES = (
    "Ilse", "Marten", "Odile", "Bram", "Sabine", "Tobias", "Lena", "Casimir", "Anouk", "Joris",
    "Elodie", "Fenna", "Gideon", "Hester", "Ivo", "Katrien", "Lucas", "Mirre", "Niels", "Oona",
    "Pieter", "Rosalind", "Silas", "Tamsin", "Ulrich", "Vera", "Wendel", "Yara", "Zeno", "Agnes",
)  # fmt: skip
LAST_NAMES = (
    "Marrow", "Vandel", "Okonkwo", "Teller", "Brandt", "Hollis", "Quist", "Fairweather", "Lindqvist",
    "Dorn", "Aster", "Kestrel", "Mereweather", "Ravel", "Stroud", "Thorne", "Ulven", "Wick",
    "Ashby", "Calder", "Drummond", "Everly", "Fenwick", "Garrow", "Harlan", "Ingram", "Jessup",
)  # fmt: skip
TOWNS = (
    "Velden", "Corvath", "Ambleton", "Brisk", "Dunmarrow", "Eskerby", "Farrowgate", "Glimmerholt",
    "Harrowfield", "Istrel", "Jorvale", "Kestwick", "Lornhaven", "Morrowdale", "Norgate", "Ostrava",
    "Pellmoor", "Quillon", "Rookham", "Saltmere", "Tavistal", "Umberlee", "Vorne", "Westerhal",
)  # fmt: skip
RIVERS = (
    "Ombra", "Lis", "Tavel", "Sorrow", "Brenne", "Aldra", "Kelvane", "Morva", "Quenne", "Rillet",
    "Sarn", "Tiva", "Ulla", "Varre", "Wend", "Yselle", "Zora", "Drava", "Elsk", "Fennel",
)  # fmt: skip
MOUNTAINS = (
    "Korath", "Grey Fell", "Ashen", "Hollow Crown", "Varn", "Silverback", "Tallow", "Eldmark",
    "Frost Teeth", "Brannoch",
)  # fmt: skip
SEAS = ("Amber", "Northern", "Glass", "Pale", "Salt", "Morning", "Iron", "Quiet")
PROVINCES = (
    "Westmark", "Oldreach", "Lowfen", "Highmoor", "Brackenshire", "Eastvale", "Sunder", "Marl",
)  # fmt: skip
ORGS = (
    "Society of Lantern Makers", "Velden Institute of Optics", "Guild of Cartographers",
    "Northern Botanical Society", "Academy of Clockwork", "Harbour Observatory",
    "School of River Engineering", "College of Glass Arts", "Order of Map Readers",
)  # fmt: skip
PRIZES = ("Halden", "Orrery", "Tessel", "Brightwater", "Copperfield")
TOPICS = ("bird migration", "tidal clocks", "mountain lichens", "old maps", "glass lenses",
          "river floods", "star charts", "bee keeping")  # fmt: skip
GOODS = ("wool", "salt", "glassware", "clocks", "cheese", "copper pots", "paper", "rope")

FILLERS = (
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
NUMBER_FILLERS = (
    "Around {n} visitors come to the festival each spring.",
    "A storm in {year} damaged many of the roofs in the district.",
    "The old mill, built in {year}, still stands by the road.",
    "The market square is lined with {n} linden trees.",
    "A census in {year} counted {n} farms in the surrounding district.",
)


@dataclass(frozen=True)
class Attribute:
    """One fact an entity may state: its sentence and the questions that ask for it."""

    name: str
    statement: str  # with {name} for the entity and {ans} for the answer span
    questions: tuple[str, ...]  # with {name}


RIVER_ATTRS = (
    Attribute(
        "city",
        "The river {name} flows through the city of {ans}.",
        ("Which city does the river {name} flow through?",
         "Through which city does the {name} flow?"),
    ),
    Attribute(
        "length",
        "The {name} is {ans} kilometres long.",
        ("How many kilometres long is the river {name}?",
         "What is the length of the {name} in kilometres?"),
    ),
    Attribute(
        "source",
        "The {name} rises in the {ans} Mountains.",
        ("In which mountains does the {name} rise?",
         "Where is the source of the river {name}?"),
    ),
    Attribute(
        "mapper",
        "The {name} was first mapped by the explorer {ans}.",
        ("Who first mapped the river {name}?", "Which explorer mapped the {name} first?"),
    ),
    Attribute(
        "year",
        "The course of the {name} was recorded in {ans}.",
        ("When was the course of the {name} recorded?",
         "In what year was the course of the river {name} recorded?"),
    ),
    Attribute(
        "bridges",
        "There are {ans} bridges across the {name}.",
        ("How many bridges cross the {name}?", "How many bridges span the river {name}?"),
    ),
    Attribute(
        "sea",
        "The {name} empties into the {ans} Sea.",
        ("Into which sea does the {name} empty?", "Where does the river {name} end?"),
    ),
)  # fmt: skip
PERSON_ATTRS = (
    Attribute(
        "birthplace",
        "{name} was born in the town of {ans}.",
        ("Where was {name} born?", "In which town was {name} born?"),
    ),
    Attribute(
        "birthyear",
        "{name} was born in the year {ans}.",
        ("When was {name} born?", "In what year was {name} born?"),
    ),
    Attribute(
        "teacher",
        "As a student, {name} studied under {ans}.",
        ("Who taught {name}?", "Under whom did {name} study?"),
    ),
    Attribute(
        "books",
        "{name} wrote {ans} books about {topic}.",
        ("How many books did {name} write?", "How many books were written by {name}?"),
    ),
    Attribute(
        "org",
        "{name} founded the {ans}.",
        ("What did {name} found?", "Which society was founded by {name}?"),
    ),
    Attribute(
        "deathplace",
        "{name} spent the last years of their life in {ans}.",
        ("Where did {name} spend their last years?", "In which town did {name} live at the end?"),
    ),
    Attribute(
        "prizeyear",
        "{name} received the {prize} Prize in {ans}.",
        ("When did {name} receive the {prize} Prize?",
         "In which year was {name} given the {prize} Prize?"),
    ),
)  # fmt: skip
TOWN_ATTRS = (
    Attribute(
        "province",
        "{name} is a town in the province of {ans}.",
        ("In which province is {name}?", "Where is the town of {name}?"),
    ),
    Attribute(
        "population",
        "{name} has a population of {ans} people.",
        ("How many people live in {name}?", "What is the population of {name}?"),
    ),
    Attribute(
        "founded",
        "The town of {name} was founded in {ans}.",
        ("When was {name} founded?", "In what year was the town of {name} founded?"),
    ),
    Attribute(
        "founder",
        "{name} was founded by the merchant {ans}.",
        ("Who founded {name}?", "Which merchant founded the town of {name}?"),
    ),
    Attribute(
        "river",
        "The river {ans} runs along the northern edge of {name}.",
        ("Which river runs along the edge of {name}?", "What river flows past {name}?"),
    ),
    Attribute(
        "towers",
        "{name} has {ans} stone towers.",
        ("How many stone towers does {name} have?", "How many towers stand in {name}?"),
    ),
    Attribute(
        "goods",
        "{name} is best known for its {ans}.",
        ("What is {name} best known for?", "What is the town of {name} famous for?"),
    ),
)  # fmt: skip
