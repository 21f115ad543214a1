"""Tests for the data sources (SQuAD JSON, flat files, the Hub) and the example checks."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from qa_lightning.data.sources import (
    HubUnavailableError,
    load_hub_squad,
    read_flat_file,
    read_squad_json,
)
from qa_lightning.data.synthetic import make_synthetic_squad
from qa_lightning.data.validation import (
    SQUAD_FEATURES,
    DataValidationError,
    validate_examples,
)

SQUAD_DIR = Path(__file__).resolve().parents[3] / "shared/data/squad"

CTX1 = "The river Ombra flows through the city of Velden. Its length is 412 kilometres."
CTX2 = "Ilse Marrow was born in Corvath in 1874. She wrote 12 books about lichens, naïvely."

# (id, title, context, question, texts, starts)
RECORDS = [
    ("q1", "Ombra", CTX1, "Which city does the Ombra flow through?", ["Velden"], [42]),
    ("q2", "Ombra", CTX1, "How long is the Ombra?", ["412 kilometres", "412"], [64, 64]),
    ("q3", "Ombra", CTX1, "Who mapped the Ombra?", [], []),
    ("q4", "Ilse Marrow", CTX2, "Where was Ilse Marrow born?", ["Corvath"], [24]),
    ("q5", "Ilse Marrow", CTX2, "How many books did she write?", ["12"], [51]),
]


def expected_rows(records=RECORDS):
    return [
        {
            "id": i,
            "title": t,
            "context": c,
            "question": q,
            "answers": {"text": texts, "answer_start": starts},
        }
        for i, t, c, q, texts, starts in records
    ]


def squad_doc(records=RECORDS, *, version="v2.0"):
    """Nested SQuAD JSON for ``records`` (one paragraph per distinct context)."""
    articles: dict[str, dict] = {}
    for id_, title, context, question, texts, starts in records:
        article = articles.setdefault(title, {"title": title, "paragraphs": []})
        paras = [p for p in article["paragraphs"] if p["context"] == context]
        if not paras:
            paras = [{"context": context, "qas": []}]
            article["paragraphs"].append(paras[0])
        qa = {
            "id": id_,
            "question": question,
            "answers": [{"text": t, "answer_start": s} for t, s in zip(texts, starts, strict=True)],
        }
        if not texts:
            qa["is_impossible"] = True
            qa["plausible_answers"] = [{"text": "Velden", "answer_start": 42}]
        paras[0]["qas"].append(qa)
    return {"version": version, "data": list(articles.values())}


def write_squad(path: Path, doc) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
    return path


def flat_rows(records=RECORDS):
    """Flat answer_text/answer_start rows: one per question, its first answer only."""
    return [
        {
            "id": i,
            "title": t,
            "context": c,
            "question": q,
            "answer_text": texts[0] if texts else "",
            "answer_start": starts[0] if starts else "",
        }
        for i, t, c, q, texts, starts in records
    ]


def first_answer_only(rows):
    return [{**r, "answers": {k: v[:1] for k, v in r["answers"].items()}} for r in rows]


def test_fixture_offsets_are_right():
    for _, _, context, _, texts, starts in RECORDS:
        for text, start in zip(texts, starts, strict=True):
            assert context[start : start + len(text)] == text


# --------------------------------------------------------------------------- real subsets

REAL_COUNTS = {  # file: (questions, unanswerable, articles) from the data README
    "squad_v2_train_subset.json": (4719, 348, 10),
    "squad_v2_dev_subset.json": (1905, 910, 6),
    "squad_v1_train_subset.json": (4371, 0, 10),
    "squad_v1_dev_subset.json": (995, 0, 6),
}


@pytest.mark.parametrize("name", sorted(REAL_COUNTS))
def test_real_subsets_counts(name):
    path = SQUAD_DIR / name
    if not path.exists():
        pytest.skip(f"real SQuAD subsets not found at {SQUAD_DIR}")
    ds = read_squad_json(path)
    questions, unanswerable, articles = REAL_COUNTS[name]
    assert len(ds) == questions
    assert sum(1 for a in ds["answers"] if not a["text"]) == unanswerable
    assert len(set(ds["title"])) == articles
    assert ds.features == SQUAD_FEATURES
    assert ds.column_names == ["id", "title", "context", "question", "answers"]
    assert validate_examples(ds, source=name) is ds


# --------------------------------------------------------------------------- round trips


def test_squad_json_round_trip(tmp_path):
    ds = read_squad_json(write_squad(tmp_path / "tiny.json", squad_doc()))
    assert ds.to_list() == expected_rows()  # plausible_answers of q3 ignored


def test_squad_json_v1_without_is_impossible_and_title(tmp_path):
    doc = squad_doc(RECORDS[:2], version="1.1")
    del doc["data"][0]["title"]
    ds = read_squad_json(write_squad(tmp_path / "v1.json", doc))
    assert list(ds["title"]) == ["", ""]
    assert list(ds["id"]) == ["q1", "q2"]


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_jsonl_round_trip_with_answers_struct(tmp_path, suffix):
    ds = read_flat_file(write_jsonl(tmp_path / f"tiny{suffix}", expected_rows()))
    assert ds.to_list() == expected_rows()


def test_json_array_round_trip(tmp_path):
    path = tmp_path / "array.json"
    path.write_text(json.dumps(expected_rows()), encoding="utf-8")
    assert read_flat_file(path).to_list() == expected_rows()


def test_jsonl_flat_answer_columns(tmp_path):
    ds = read_flat_file(write_jsonl(tmp_path / "flat.jsonl", flat_rows()))
    assert ds.to_list() == first_answer_only(expected_rows())


def test_csv_round_trip_flat_columns(tmp_path):
    path = tmp_path / "tiny.csv"
    rows = flat_rows()
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    ds = read_flat_file(path)
    assert ds.to_list() == first_answer_only(expected_rows())


def test_csv_answers_as_json_strings(tmp_path):
    path = tmp_path / "struct.csv"
    rows = expected_rows()
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([{**r, "answers": json.dumps(r["answers"])} for r in rows])
    assert read_flat_file(path).to_list() == rows


def test_parquet_round_trip(tmp_path):
    path = tmp_path / "tiny.parquet"
    pq.write_table(pa.Table.from_pylist(expected_rows()), path)
    ds = read_flat_file(path)
    assert ds.to_list() == expected_rows()


def test_flat_file_column_mapping_missing_id_and_title(tmp_path):
    rows = [
        {
            "passage": c,
            "query": q,
            "ans": texts[0] if texts else None,
            "pos": starts[0] if starts else None,
        }
        for _, _, c, q, texts, starts in RECORDS
    ]
    path = tmp_path / "mapped.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    ds = read_flat_file(
        path,
        columns={
            "context": "passage",
            "question": "query",
            "answer_text": "ans",
            "answer_start": "pos",
        },
    )
    assert list(ds["id"]) == ["0", "1", "2", "3", "4"]
    assert list(ds["title"]) == [""] * 5
    assert ds[2]["answers"] == {"text": [], "answer_start": []}
    assert ds[1]["answers"] == {"text": ["412 kilometres"], "answer_start": [64]}


def test_flat_file_bad_column_mapping(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", expected_rows())
    with pytest.raises(ValueError, match="unknown key.*'ctx'.*allowed keys are id, title"):
        read_flat_file(path, columns={"ctx": "context"})
    with pytest.raises(DataValidationError, match=r"t\.jsonl: missing required column 'passage'"):
        read_flat_file(path, columns={"context": "passage"})


def test_flat_file_without_answers(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "answers"} for r in expected_rows()]
    with pytest.raises(DataValidationError, match="no answers: give an 'answers' column"):
        read_flat_file(write_jsonl(tmp_path / "noans.jsonl", rows))


def test_flat_file_unsupported_suffix(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"unsupported file type '\.txt'.*\.jsonl"):
        read_flat_file(path)


def test_identical_features_across_sources(tmp_path):
    squad = read_squad_json(write_squad(tmp_path / "a.json", squad_doc()))
    jsonl = read_flat_file(write_jsonl(tmp_path / "b.jsonl", expected_rows()))
    pq.write_table(pa.Table.from_pylist(expected_rows()), tmp_path / "c.parquet")
    parquet = read_flat_file(tmp_path / "c.parquet")
    flat = read_flat_file(write_jsonl(tmp_path / "d.jsonl", flat_rows()))
    synthetic = make_synthetic_squad(10, seed=0, unanswerable_fraction=0.5)
    for ds in (squad, jsonl, parquet, flat, synthetic):
        assert ds.features == SQUAD_FEATURES
        assert ds.data.schema.equals(squad.data.schema)
        assert ds.column_names == ["id", "title", "context", "question", "answers"]
    assert pa.types.is_int32(
        squad.data.schema.field("answers").type.field("answer_start").type.value_type
    )


# --------------------------------------------------------------------------- bad input


def bad_doc(**changes):
    """squad_doc() with one qa of q2 (data[0].paragraphs[0].qas[1]) changed."""
    doc = squad_doc()
    qa = doc["data"][0]["paragraphs"][0]["qas"][1]
    for key, value in changes.items():
        if value is None:
            del qa[key]
        else:
            qa[key] = value
    return doc


def read_bad(tmp_path, doc, name="bad.json", **kw):
    return read_squad_json(write_squad(tmp_path / name, doc), **kw)


def test_malformed_json_names_file_line_and_column(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"version": "v2.0",\n "data": [\n  {"title": "x",, }]}', encoding="utf-8")
    with pytest.raises(DataValidationError) as info:
        read_squad_json(path)
    msg = str(info.value)
    assert str(path) in msg and "malformed JSON at line 3 column 17" in msg
    assert "\n" not in msg


def test_malformed_jsonl_names_line(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(expected_rows()[0]) + "\n{not json}\n", encoding="utf-8")
    with pytest.raises(
        DataValidationError, match=r"broken\.jsonl: malformed JSON at line 2 column 2"
    ):
        read_flat_file(path)


def test_not_a_squad_file(tmp_path):
    with pytest.raises(
        DataValidationError, match=r"not a SQuAD JSON file: expected an object with a 'data' list"
    ):
        read_bad(tmp_path, [1, 2])


def test_nested_squad_given_to_flat_reader(tmp_path):
    path = write_squad(tmp_path / "nested.json", squad_doc())
    with pytest.raises(
        DataValidationError,
        match="looks like a nested SQuAD JSON file; read it with read_squad_json",
    ):
        read_flat_file(path)


def test_missing_field(tmp_path):
    with pytest.raises(DataValidationError) as info:
        read_bad(tmp_path, bad_doc(question=None))
    msg = str(info.value)
    assert msg.startswith(str(tmp_path / "bad.json") + ": ")
    assert "record id 'q2' (data[0].paragraphs[0].qas[1])" in msg
    assert "missing required field 'question'" in msg


def test_missing_id(tmp_path):
    with pytest.raises(
        DataValidationError,
        match=r"record \(data\[0\]\.paragraphs\[0\]\.qas\[1\]\) \(no id\): missing required field 'id'",
    ):
        read_bad(tmp_path, bad_doc(id=None))


def test_missing_answers(tmp_path):
    with pytest.raises(
        DataValidationError, match="record id 'q2'.*missing required field 'answers'"
    ):
        read_bad(tmp_path, bad_doc(answers=None))


def test_non_string_field(tmp_path):
    with pytest.raises(
        DataValidationError, match="record id 'q2'.*field 'question' must be a string, got int"
    ):
        read_bad(tmp_path, bad_doc(question=7))


def test_off_by_one_answer_start(tmp_path):
    doc = bad_doc(answers=[{"text": "412 kilometres", "answer_start": 65}])
    with pytest.raises(DataValidationError) as info:
        read_bad(tmp_path, doc)
    msg = str(info.value)
    assert str(tmp_path / "bad.json") in msg and "record id 'q2'" in msg
    assert (
        "answer '412 kilometres' is not at answer_start=65 in the context (found '12 kilometres.')"
        in msg
    )


def test_answer_start_past_the_end(tmp_path):
    doc = bad_doc(answers=[{"text": "412", "answer_start": len(CTX1)}])
    with pytest.raises(DataValidationError) as info:
        read_bad(tmp_path, doc)
    msg = str(info.value)
    assert "record id 'q2'" in msg and "bad.json" in msg
    assert (
        f"answer_start={len(CTX1)} for answer '412' is out of range for a context of {len(CTX1)} characters"
        in msg
    )
    assert f"0 <= answer_start <= {len(CTX1) - 3} is required" in msg


def test_negative_and_non_integer_answer_start(tmp_path):
    with pytest.raises(
        DataValidationError, match="answer_start=-1 for answer '412' is out of range"
    ):
        read_bad(tmp_path, bad_doc(answers=[{"text": "412", "answer_start": -1}]))
    with pytest.raises(
        DataValidationError, match="answer_start for answer '412' must be an integer, got str '66'"
    ):
        read_bad(tmp_path, bad_doc(answers=[{"text": "412", "answer_start": "66"}]))


def test_answer_count_mismatch(tmp_path):
    rows = expected_rows()
    rows[1]["answers"] = {"text": ["412", "412"], "answer_start": [64]}
    with pytest.raises(
        DataValidationError,
        match=r"record id 'q2' \(line 2\): answers has 2 text\(s\) but 1 answer_start",
    ):
        read_flat_file(write_jsonl(tmp_path / "mismatch.jsonl", rows))


def test_duplicate_ids(tmp_path):
    doc = bad_doc(id="q1")
    with pytest.raises(DataValidationError) as info:
        read_bad(tmp_path, doc)
    msg = str(info.value)
    assert "bad.json" in msg
    assert "id 'q1' is duplicated (first used at data[0].paragraphs[0].qas[0])" in msg


def test_empty_context(tmp_path):
    doc = squad_doc()
    doc["data"][1]["paragraphs"][0]["context"] = "   "
    with pytest.raises(
        DataValidationError,
        match=r"bad\.json: record id 'q4' \(data\[1\]\.paragraphs\[0\]\.qas\[0\]\): empty context",
    ):
        read_bad(tmp_path, doc)


def test_empty_question(tmp_path):
    with pytest.raises(
        DataValidationError,
        match=r"bad\.json: record id 'q2' .*: empty question \(a non-empty string is required\)",
    ):
        read_bad(tmp_path, bad_doc(question=" \t"))


def test_non_utf8_bytes(tmp_path):
    path = tmp_path / "latin1.json"
    good = json.dumps(squad_doc(), ensure_ascii=False).encode("utf-8")
    offset = good.index("naïvely".encode()) + 2
    path.write_bytes(good.replace("naïvely".encode(), "naïvely".encode("latin-1")))
    with pytest.raises(DataValidationError) as info:
        read_squad_json(path)
    msg = str(info.value)
    assert str(path) in msg and f"not valid UTF-8: byte 0xef at byte offset {offset}" in msg
    with pytest.raises(DataValidationError, match="not valid UTF-8"):
        read_flat_file(path.rename(tmp_path / "latin1.jsonl"))


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(squad_doc()).encode())
    assert len(read_squad_json(path)) == len(RECORDS)


@pytest.mark.parametrize("reader", [read_squad_json, read_flat_file])
def test_missing_file(tmp_path, reader):
    path = tmp_path / "nope" / "missing.json"
    with pytest.raises(FileNotFoundError) as info:
        reader(path)
    assert str(info.value) == f"data file not found: {str(path)!r}"


@pytest.mark.parametrize("reader", [read_squad_json, read_flat_file])
def test_on_bad_record_must_be_raise_or_drop(tmp_path, reader):
    path = write_squad(tmp_path / "ok.json", squad_doc())
    with pytest.raises(ValueError, match="on_bad_record='skip'; use one of raise, drop$"):
        reader(path, on_bad_record="skip")


def test_error_messages_are_one_line(tmp_path):
    doc = bad_doc(answers=[{"text": "412\nkilo", "answer_start": 64}])
    with pytest.raises(DataValidationError) as info:
        read_bad(tmp_path, doc)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- drop mode


def test_drop_counts_reasons(tmp_path, caplog):
    doc = squad_doc()
    qas0 = doc["data"][0]["paragraphs"][0]["qas"]
    qas0[1]["answers"] = [{"text": "412", "answer_start": 67}]  # answer_mismatch
    qas0[2]["id"] = "q1"  # duplicate_id
    doc["data"][1]["paragraphs"][0]["qas"][1]["question"] = ""  # empty_question
    with caplog.at_level(logging.WARNING, logger="qa_lightning.data.validation"):
        ds = read_bad(tmp_path, doc, on_bad_record="drop")
    assert list(ds["id"]) == ["q1", "q4"]
    assert ds.features == SQUAD_FEATURES
    text = caplog.text
    assert "dropped 3 of 5 records" in text and "bad.json" in text
    assert "answer_mismatch=1" in text and "duplicate_id=1" in text and "empty_question=1" in text


def test_drop_in_flat_file(tmp_path, caplog):
    rows = flat_rows()
    rows[0]["answer_start"] = 999
    with caplog.at_level(logging.WARNING):
        ds = read_flat_file(write_jsonl(tmp_path / "f.jsonl", rows), on_bad_record="drop")
    assert len(ds) == 4
    assert "answer_start_out_of_range=1" in caplog.text


def test_validate_examples_on_a_dataset(caplog):
    good = datasets.Dataset.from_list(expected_rows(), features=SQUAD_FEATURES)
    assert validate_examples(good, source="mem") is good
    rows = expected_rows()
    rows[3]["answers"] = {"text": ["Corvath"], "answer_start": [25]}
    bad = datasets.Dataset.from_list(rows, features=SQUAD_FEATURES)
    with pytest.raises(
        DataValidationError,
        match=r"^mem: record id 'q4' \(row 3\): answer 'Corvath' is not at answer_start=25",
    ):
        validate_examples(bad, source="mem")
    with caplog.at_level(logging.WARNING):
        kept = validate_examples(bad, source="mem", on_bad_record="drop")
    assert list(kept["id"]) == ["q1", "q2", "q3", "q5"]
    assert "mem: dropped 1 of 5 records (answer_mismatch=1)" in caplog.text
    with pytest.raises(ValueError, match="on_bad_record=.ignore.; use one of raise, drop"):
        validate_examples(good, source="mem", on_bad_record="ignore")


def test_validate_examples_after_select_and_missing_columns():
    ds = datasets.Dataset.from_list(expected_rows(), features=SQUAD_FEATURES).select([4, 0])
    assert validate_examples(ds, source="sel") is ds
    with pytest.raises(DataValidationError, match=r"sel: missing column\(s\) 'answers'"):
        validate_examples(ds.remove_columns("answers"), source="sel")


# --------------------------------------------------------------------------- the Hub


def test_load_hub_squad_offline_message(monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubUnavailableError) as info:
        load_hub_squad("rajpurkar/squad", "train", cache_dir=tmp_path)
    msg = str(info.value)
    assert "\n" not in msg
    assert "'rajpurkar/squad'" in msg and "split 'train'" in msg
    assert "use data=squad_json with local SQuAD JSON files, or data=synthetic" in msg
    assert isinstance(info.value, ConnectionError)


def test_load_hub_squad_wraps_connection_errors_only(monkeypatch):
    def no_network(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'x' on the Hub\n(LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", no_network)
    with pytest.raises(
        HubUnavailableError,
        match=r"could not load dataset 'x' \(split 'validation'\).*LocalEntryNotFoundError",
    ):
        load_hub_squad("x", "validation")

    def bad_split(*args, **kwargs):
        raise ValueError('Unknown split "tran"')

    monkeypatch.setattr(datasets, "load_dataset", bad_split)
    with pytest.raises(ValueError, match="Unknown split"):
        load_hub_squad("x", "tran")


def test_load_hub_squad_casts_to_the_schema(monkeypatch):
    rows = [{**r, "extra": 1} for r in expected_rows()]
    features = datasets.Features({**SQUAD_FEATURES, "extra": datasets.Value("int64")})
    features["answers"] = {
        "text": datasets.List(datasets.Value("string")),
        "answer_start": datasets.List(datasets.Value("int64")),
    }
    fake = datasets.Dataset.from_list(rows, features=features)
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: fake)
    ds = load_hub_squad("fake/squad", "train")
    assert ds.features == SQUAD_FEATURES
    assert ds.to_list() == expected_rows()
